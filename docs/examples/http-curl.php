<?php
// Заявка с сайта в leadgate по HTTP: POST /api/v1/intake с токеном HTTP-источника (PHP + curl).
//
// Запуск:  LEADGATE_URL=https://leads.shop.example LEADGATE_TOKEN=<токен источника> php http-curl.php
// Нужно расширение curl (Debian: php-curl).

/**
 * Отправляет заявку. Повторяет при сетевой ошибке, 429 и 5xx с тем же Idempotency-Key, так что
 * повтор никогда не создаёт второй лид. Возвращает [код ответа, разобранный JSON ответа].
 */
function send_lead(string $baseUrl, string $token, array $order, string $idempotencyKey): array
{
    $body = json_encode($order, JSON_UNESCAPED_UNICODE | JSON_THROW_ON_ERROR);
    for ($attempt = 1; ; $attempt++) {
        $ch = curl_init(rtrim($baseUrl, '/') . '/api/v1/intake');
        curl_setopt_array($ch, [
            CURLOPT_POST => true,
            CURLOPT_POSTFIELDS => $body,
            CURLOPT_HTTPHEADER => [
                'Authorization: Bearer ' . $token,
                'Content-Type: application/json; charset=utf-8',
                'Idempotency-Key: ' . $idempotencyKey,
            ],
            CURLOPT_RETURNTRANSFER => true,
            CURLOPT_CONNECTTIMEOUT => 5,
            CURLOPT_TIMEOUT => 30,
        ]);
        $answer = curl_exec($ch);
        $status = (int)curl_getinfo($ch, CURLINFO_RESPONSE_CODE);
        $error = curl_error($ch);
        curl_close($ch);
        $retry = $answer === false || $status === 429 || $status >= 500;
        if (!$retry || $attempt === 3) {
            if ($answer === false) {
                throw new RuntimeException("leadgate недоступен: $error");
            }
            return [$status, json_decode($answer, true)];
        }
        sleep($attempt); // 1 с, потом 2 с
    }
}

// Заявка «перезвоните мне»: без товаров это контактный лид.
$order = [
    'Тема' => 'Обратный звонок: визитки',
    'Дата' => date('c'), // ISO 8601 со смещением
    'Описание' => 'Визитки 500 шт., двусторонние, к пятнице',
    'Телефон' => '8 (916) 765-43-21',
    'КонтактноеЛицо' => 'Олег Петров',
];

// Один ключ на одну заявку: например, id заявки в базе сайта.
$key = 'callback-' . bin2hex(random_bytes(8));
[$status, $answer] = send_lead(getenv('LEADGATE_URL'), getenv('LEADGATE_TOKEN'), $order, $key);

if ($status === 201 || $status === 200) { // 200 — повтор уже принятой заявки
    echo "принято: лид {$answer['id']} ({$answer['kind']}) в календаре «{$answer['calendar']['name']}»\n";
    foreach ($answer['warnings'] as $w) {
        echo "предупреждение {$w['code']} {$w['field']}: {$w['message']}\n";
    }
    exit(0);
}
fwrite(STDERR, "leadgate ответил $status: " . ($answer['error']['message'] ?? '') . "\n");
exit(1);
