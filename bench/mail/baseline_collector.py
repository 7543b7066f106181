#!/usr/bin/env python3
"""Baseline: the mail collector a site integrator writes by hand in Python (standard library only).

imaplib + email + json + sqlite3: log in, select the folder, `UID SEARCH SUBJECT ORDER`, fetch
`BODY.PEEK[]` in batches, parse each message with `email`, take the first attachment whose text is a
JSON object (decoded from its declared charset, else Windows-1251), and insert a lead row plus its line
rows into SQLite, committing once per batch. This is the reference leadgate's figures are compared with;
it is written the straightforward way on purpose, not tuned.

Prints one line: messages=<n> seconds=<s> rate=<n/s> leads=<n> skipped=<n>
"""

import argparse
import email
import imaplib
import json
import os
import re
import sqlite3
import sys
import time
from email import policy

SCHEMA = """
CREATE TABLE IF NOT EXISTS leads (
    id INTEGER PRIMARY KEY,
    message_id TEXT UNIQUE,
    external_number TEXT,
    subject TEXT,
    occurred_at TEXT,
    inn TEXT,
    phone TEXT,
    email TEXT,
    contact_person TEXT,
    description TEXT,
    payload TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS lead_lines (
    lead_id INTEGER NOT NULL REFERENCES leads(id),
    position INTEGER NOT NULL,
    nomenclature TEXT,
    material TEXT,
    width TEXT,
    height TEXT,
    quantity TEXT,
    price TEXT,
    amount TEXT,
    is_service INTEGER
);
"""

NUMBER_RE = re.compile(r"ORDER\s*[:№#]*\s*(\S+)", re.IGNORECASE)


def find_payload(msg):
    """The first attachment whose decoded text is a JSON object."""
    for part in msg.walk():
        if part.is_multipart():
            continue
        if part.get_filename() is None and part.get_content_disposition() != "attachment":
            continue
        data = part.get_payload(decode=True)
        if not data:
            continue
        charset = part.get_content_charset() or "windows-1251"
        try:
            text = data.decode(charset)
        except (LookupError, UnicodeDecodeError):
            continue
        try:
            obj = json.loads(text)
        except ValueError:
            continue
        if isinstance(obj, dict):
            return obj
    return None


def s(v):
    return None if v is None else str(v)


def main() -> None:
    ap = argparse.ArgumentParser(description="hand-written Python mail collector (baseline)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--user", default="bench")
    ap.add_argument("--password", default=os.environ.get("BENCH_MAIL_PASSWORD", "secret"))
    ap.add_argument("--folder", default="INBOX")
    ap.add_argument("--keyword", default="ORDER")
    ap.add_argument("--db", required=True, help="SQLite file to write leads to")
    ap.add_argument("--batch", type=int, default=500)
    args = ap.parse_args()

    db = sqlite3.connect(args.db)
    db.executescript(SCHEMA)

    started = time.monotonic()
    imap = imaplib.IMAP4(args.host, args.port)
    imap.login(args.user, args.password)
    imap.select(args.folder)
    typ, data = imap.uid("SEARCH", None, "SUBJECT", args.keyword)
    if typ != "OK":
        sys.exit(f"SEARCH failed: {data}")
    uids = data[0].split()

    messages = leads = skipped = 0
    for i in range(0, len(uids), args.batch):
        batch = uids[i : i + args.batch]
        typ, data = imap.uid("FETCH", b",".join(batch).decode(), "(BODY.PEEK[])")
        if typ != "OK":
            sys.exit(f"FETCH failed: {data}")
        cur = db.cursor()
        for item in data:
            if not isinstance(item, tuple):
                continue  # the closing ")" of each FETCH response
            messages += 1
            msg = email.message_from_bytes(item[1], policy=policy.default)
            subject = str(msg.get("Subject", ""))
            payload = find_payload(msg)
            if payload is None:
                skipped += 1
                continue
            m = NUMBER_RE.search(subject)
            cur.execute(
                "INSERT OR IGNORE INTO leads (message_id, external_number, subject, occurred_at, inn,"
                " phone, email, contact_person, description, payload)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    str(msg.get("Message-ID", "")),
                    m.group(1) if m else None,
                    s(payload.get("Тема")),
                    s(payload.get("Дата")),
                    s(payload.get("ИНН")),
                    s(payload.get("Телефон")),
                    s(payload.get("АдресЭлектроннойПочты")),
                    s(payload.get("КонтактноеЛицо")),
                    s(payload.get("Описание")),
                    json.dumps(payload, ensure_ascii=False),
                ),
            )
            if cur.rowcount == 0:
                continue  # already imported
            leads += 1
            lead_id = cur.lastrowid
            for pos, line in enumerate(payload.get("Товары") or [], start=1):
                cur.execute(
                    "INSERT INTO lead_lines (lead_id, position, nomenclature, material, width, height,"
                    " quantity, price, amount, is_service) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        lead_id,
                        pos,
                        s(line.get("Номенклатура")),
                        s(line.get("Материал")),
                        s(line.get("Ширина")),
                        s(line.get("Высота")),
                        s(line.get("Количество")),
                        s(line.get("Цена")),
                        s(line.get("Сумма")),
                        1 if line.get("Услуга") else 0,
                    ),
                )
        db.commit()
    seconds = time.monotonic() - started
    imap.logout()
    db.close()
    print(
        f"messages={messages} seconds={seconds:.3f} rate={messages / seconds:.0f} "
        f"leads={leads} skipped={skipped}"
    )


if __name__ == "__main__":
    main()
