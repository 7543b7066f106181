#!/usr/bin/env python3
"""Заявка с сайта в leadgate по HTTP: POST /api/v1/intake с токеном HTTP-источника (Python, только stdlib).

Запуск:  LEADGATE_URL=https://leads.shop.example LEADGATE_TOKEN=<токен источника> python3 http_urllib.py
"""

import json
import os
import sys
import time
import urllib.error
import urllib.request
import uuid


def send_lead(base_url, token, order, idempotency_key):
    """Отправляет заявку; повторяет при сетевой ошибке, 429 и 5xx с тем же Idempotency-Key.

    Возвращает (код ответа, разобранный JSON ответа).
    """
    body = json.dumps(order, ensure_ascii=False).encode("utf-8")
    for attempt in (1, 2, 3):
        request = urllib.request.Request(
            base_url.rstrip("/") + "/api/v1/intake",
            data=body,
            method="POST",
            headers={
                "Authorization": "Bearer " + token,
                "Content-Type": "application/json; charset=utf-8",
                "Idempotency-Key": idempotency_key,
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as error:  # 4xx и 5xx: тело — {"error": {...}}
            if (error.code == 429 or error.code >= 500) and attempt < 3:
                time.sleep(attempt)
                continue
            return error.code, json.load(error)
        except urllib.error.URLError:
            if attempt == 3:
                raise
            time.sleep(attempt)


def main():
    # Заказ из интернет-магазина: товарная часть — строки заказа, по одной техкарте на строку.
    order = {
        "Тема": "Заказ №7781 из интернет-магазина",
        "Дата": time.strftime("%Y-%m-%dT%H:%M:%S%z"),  # ISO 8601 со смещением
        "ИНН": "500100732259",
        "Телефон": "+7 925 111-22-33",
        "АдресЭлектроннойПочты": "ip.kuznetsov@klient.example",
        "КонтактноеЛицо": "ИП Кузнецов Андрей",
        "Товары": [
            {
                "Номенклатура": "Наклейки 10×10 см",
                "Материал": "Плёнка глянцевая",
                "Ширина": "0,1",  # строки с десятичной запятой тоже читаются
                "Высота": "0,1",
                "Количество": 300,
                "Цена": "12,50",
                "Сумма": "3 750",
            }
        ],
    }
    status, answer = send_lead(
        os.environ["LEADGATE_URL"], os.environ["LEADGATE_TOKEN"], order, "shop-7781-" + uuid.uuid4().hex
    )
    if status in (200, 201):  # 200 — повтор уже принятой заявки
        print(f"принято: лид {answer['id']} ({answer['kind']}) в календаре «{answer['calendar']['name']}»")
        for w in answer["warnings"]:
            print(f"предупреждение {w['code']} {w['field']}: {w['message']}")
        return 0
    print(f"leadgate ответил {status}: {answer['error']['message']}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
