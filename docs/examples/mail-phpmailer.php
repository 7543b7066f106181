<?php
// Заявка с сайта в leadgate письмом: тема с ключевым словом ORDER и номером заявки,
// JSON формата v0.1 во вложении в кодировке Windows-1251 (как у исходной интеграции с 1С).
//
// Отправить:  SMTP_HOST=smtp.shop.example SMTP_USER=robot@shop.example SMTP_PASSWORD=... \
//             LEADGATE_MAILBOX=orders@shop.example php mail-phpmailer.php
// Показать письмо, ничего не отправляя:  php mail-phpmailer.php --print
//
// PHPMailer 6: пакет Debian libphp-phpmailer (путь ниже) или Composer (require 'vendor/autoload.php').

$phpmailer = getenv('PHPMAILER_DIR') ?: '/usr/share/php/libphp-phpmailer';
require $phpmailer . '/src/Exception.php';
require $phpmailer . '/src/PHPMailer.php';
require $phpmailer . '/src/SMTP.php';

use PHPMailer\PHPMailer\PHPMailer;

/** Письмо с заявкой: тема «ORDER: <номер>», тело для человека, данные — во вложении. */
function order_mail(array $order, string $number): PHPMailer
{
    $mail = new PHPMailer(true); // ошибки — исключениями
    $mail->CharSet = PHPMailer::CHARSET_UTF8; // кодировка темы и тела письма; вложение — своя, ниже
    $mail->setFrom(getenv('MAIL_FROM') ?: 'robot@shop.example', 'Сайт типографии');
    $mail->addAddress(getenv('LEADGATE_MAILBOX') ?: 'orders@shop.example');

    // leadgate берёт письмо, если в теме есть слово ORDER (целым словом, регистр не важен);
    // то, что идёт после него, — номер заявки на сайте.
    $mail->Subject = "ORDER: $number";

    // Тело leadgate не читает: оно для менеджера, который откроет письмо сам.
    $mail->Body = "Заявка №$number с сайта.\n"
        . 'Клиент: ' . ($order['КонтактноеЛицо'] ?? '') . ', ' . ($order['Телефон'] ?? '') . "\n"
        . "Данные для загрузки — во вложении.\n";

    // Вложение: JSON в Windows-1251. Символ, которого в Windows-1251 нет (эмодзи), iconv не переведёт —
    // тогда JSON уходит с экранированием \uXXXX: такой текст одинаков в любой кодировке.
    $json = json_encode($order, JSON_UNESCAPED_UNICODE | JSON_PRETTY_PRINT | JSON_THROW_ON_ERROR);
    $attachment = @iconv('UTF-8', 'Windows-1251', $json);
    if ($attachment === false) {
        $attachment = json_encode($order, JSON_PRETTY_PRINT | JSON_THROW_ON_ERROR);
    }
    $mail->addStringAttachment(
        $attachment,
        "order-$number.json",
        PHPMailer::ENCODING_BASE64,
        'application/json; charset=windows-1251'
    );
    return $mail;
}

// Заявка, как её собирает калькулятор на сайте.
$order = [
    'Тема' => 'Заказ №1042 с калькулятора баннеров',
    'Дата' => date('c'), // ISO 8601 со смещением
    'Описание' => 'Нужна доставка до офиса, счёт на организацию',
    'ИНН' => '7707083893',
    'Телефон' => '+7 (916) 123-45-67',
    'АдресЭлектроннойПочты' => 'zakaz@klient.example',
    'КонтактноеЛицо' => 'Соколова Марина',
    'ФайлыМакета' => [['Файл' => 'https://shop.example/upload/banner-1042.pdf']],
    'Товары' => [
        [
            'Номенклатура' => 'Баннер 3x1 м',
            'СтанокКод' => 1,
            'Разрешение' => '720 dpi',
            'Материал' => 'Баннер литой 440 г/м2',
            'МатериалКод' => '00-00000021',
            'Ширина' => 3,
            'Высота' => 1,
            'Количество' => 2,
            'Цена' => 1250.5,
            'Сумма' => 2501,
            'ДополнительныеРаботы' => [
                ['ВидРаботы' => 'Люверсы', 'Количество' => 16, 'Описание' => 'шаг 30 см'],
            ],
        ],
        ['Номенклатура' => 'Доставка', 'Услуга' => true, 'Количество' => 1, 'Цена' => 500, 'Сумма' => 500],
    ],
];

$mail = order_mail($order, '1042');

if (in_array('--print', $argv, true)) {
    $mail->preSend();
    echo $mail->getSentMIMEMessage();
    exit(0);
}

$mail->isSMTP();
$mail->Host = getenv('SMTP_HOST') ?: 'localhost';
$mail->Port = (int)(getenv('SMTP_PORT') ?: 587);
$mail->SMTPSecure = PHPMailer::ENCRYPTION_STARTTLS;
$mail->SMTPAuth = getenv('SMTP_USER') !== false;
$mail->Username = getenv('SMTP_USER') ?: '';
$mail->Password = getenv('SMTP_PASSWORD') ?: '';
$mail->send();
echo "отправлено: ORDER: 1042\n";
