<?php
// Приёмник вебхуков leadgate на PHP: проверяет подпись Leadgate-Signature и принимает событие.
//
// Запуск для пробы (встроенный сервер PHP):
//   LEADGATE_WEBHOOK_SECRET=whsec_... php -S 127.0.0.1:8088 webhook-receiver.php
// На сайте — обычный PHP-файл по адресу, который указан у вебхука в leadgate; секрет — из окружения
// или из файла вне каталога сайта, не в коде.

const TOLERANCE_SECONDS = 300; // подпись старше пяти минут не принимается: записанный запрос не повторить

function answer(int $status, string $text): void
{
    http_response_code($status);
    header('Content-Type: text/plain; charset=utf-8');
    echo $text, "\n";
}

/** Проверяет заголовок "t=<время>,v1=<hex>": HMAC-SHA256 секретом от "<время>.<тело>". */
function signature_is_valid(string $secret, string $header, string $body, int $now): bool
{
    $timestamp = null;
    $signatures = [];
    foreach (explode(',', $header) as $part) {
        $pair = explode('=', trim($part), 2);
        if (count($pair) !== 2) {
            continue;
        }
        if ($pair[0] === 't' && preg_match('/^[0-9]+$/', $pair[1]) === 1) {
            $timestamp = (int) $pair[1];
        } elseif ($pair[0] === 'v1') {
            $signatures[] = $pair[1];
        }
    }
    if ($timestamp === null || abs($now - $timestamp) > TOLERANCE_SECONDS) {
        return false;
    }
    $expected = hash_hmac('sha256', $timestamp . '.' . $body, $secret);
    foreach ($signatures as $signature) {
        if (hash_equals($expected, $signature)) { // сравнение за постоянное время
            return true;
        }
    }
    return false;
}

$secret = getenv('LEADGATE_WEBHOOK_SECRET');
if ($secret === false || $secret === '') {
    answer(500, 'LEADGATE_WEBHOOK_SECRET is not set');
    exit;
}
if ($_SERVER['REQUEST_METHOD'] !== 'POST') {
    answer(405, 'POST only');
    exit;
}
$body = file_get_contents('php://input'); // подпись считается по телу как есть, до разбора JSON
$header = $_SERVER['HTTP_LEADGATE_SIGNATURE'] ?? '';
if (!signature_is_valid($secret, $header, $body, time())) {
    answer(400, 'bad signature');
    exit;
}
$event = json_decode($body, true);
if (!is_array($event) || !isset($event['id'], $event['type'], $event['lead']['id'])) {
    answer(400, 'not a leadgate event');
    exit;
}
// leadgate доставляет «хотя бы один раз»: повтор приходит с тем же $event['id'] — его стоит пропустить.
// Здесь — только запись в журнал; настоящий приёмник кладёт заявку в свою систему.
$lead = $event['lead'];
file_put_contents('php://stderr', sprintf(
    "получено: событие %d %s, лид %d, %s, %s\n",
    $event['id'],
    $event['type'],
    $lead['id'],
    $lead['subject'] ?? '',
    $lead['contact']['phone'] ?? ''
));
answer(200, 'ok');
