#!/usr/bin/env python3
"""Приёмник вебхуков leadgate на Python (только stdlib): проверяет подпись Leadgate-Signature.

Запуск:  LEADGATE_WEBHOOK_SECRET=whsec_... python3 webhook_receiver.py 127.0.0.1 8089
Секрет — из окружения (или файла), не в коде.
"""

import hashlib
import hmac
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

TOLERANCE_SECONDS = 300  # подпись старше пяти минут не принимается: записанный запрос не повторить


def signature_is_valid(secret, header, body, now):
    """Проверяет заголовок "t=<время>,v1=<hex>": HMAC-SHA256 секретом от "<время>.<тело>"."""
    timestamp, signatures = None, []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1":
            signatures.append(value)
    if timestamp is None or abs(now - timestamp) > TOLERANCE_SECONDS:
        return False
    signed = str(timestamp).encode() + b"." + body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    # compare_digest сравнивает за постоянное время.
    return any(hmac.compare_digest(expected, s) for s in signatures)


class Receiver(BaseHTTPRequestHandler):
    secret = ""

    def answer(self, status, text):
        data = (text + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)  # подпись считается по телу как есть, до разбора JSON
        header = self.headers.get("Leadgate-Signature", "")
        if not signature_is_valid(self.secret, header, body, int(time.time())):
            self.answer(400, "bad signature")
            return
        try:
            event = json.loads(body)
            lead = event["lead"]
            line = "получено: событие %d %s, лид %d, %s, %s" % (
                event["id"],
                event["type"],
                lead["id"],
                lead.get("subject") or "",
                (lead.get("contact") or {}).get("phone") or "",
            )
        except (ValueError, KeyError, TypeError):
            self.answer(400, "not a leadgate event")
            return
        # leadgate доставляет «хотя бы один раз»: повтор приходит с тем же event["id"] — его стоит
        # пропустить. Здесь — только запись в журнал; настоящий приёмник кладёт заявку в свою систему.
        print(line, flush=True)
        self.answer(200, "ok")

    def log_message(self, format, *args):
        pass


def main():
    secret = os.environ.get("LEADGATE_WEBHOOK_SECRET", "")
    if not secret:
        sys.exit("LEADGATE_WEBHOOK_SECRET is not set")
    host = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 8089
    Receiver.secret = secret
    HTTPServer((host, port), Receiver).serve_forever()


if __name__ == "__main__":
    main()
