#!/usr/bin/env python3
"""Fill a Maildir with site-order e-mails and ordinary mail, fast, for the mail benchmarks.

Usage: fill_maildir.py USERDIR N_ORDERS N_OTHER [--big-attachment-mb M]

USERDIR is the user's home as Dovecot sees it; messages go to USERDIR/Maildir/new. Files are written
straight into the Maildir (no IMAP APPEND, which fsyncs every message) and handed to the `nobody` user,
which the benchmark Dovecot runs mailboxes as.

Order messages look like what a print shop's PHP site sends with PHPMailer 6: subject `ORDER: <n>`, a
text/plain body with a small table for a human, and the product note's sample payload as a Windows-1251
attachment `order.json` in base64, with ИНН, Телефон and Тема varied per message. Ordinary messages
(letters, newsletters, invoices with a PDF) never contain "order" in their subject, so
`SEARCH SUBJECT ORDER` returns exactly the N_ORDERS order messages.

With --big-attachment-mb M, one more ORDER message is written carrying an M-MB (decoded) layout file
before its order.json, for the memory benchmark. Its base64 form is about 1.37 * M MB.
"""

import argparse
import base64
import hashlib
import os
import pathlib
import pwd
import grp
import random
import sys
import time
from email.utils import formatdate

HERE = pathlib.Path(__file__).resolve().parent
SAMPLE = HERE.parent / "sample-order.json"

INN_WEIGHTS_10 = (2, 4, 10, 3, 5, 9, 4, 6, 8)


def inn10(n: int, valid: bool = True) -> str:
    """A 10-digit organisation INN derived from n, with a correct (or deliberately wrong) check digit."""
    body = f"77{(1000000 + n * 7919) % 10000000:07d}"
    check = sum(int(d) * w for d, w in zip(body, INN_WEIGHTS_10)) % 11 % 10
    if not valid:
        check = (check + 1) % 10
    return body + str(check)


def payload_template() -> str:
    """The sample payload split around the three values that vary: Тема, ИНН, Телефон."""
    text = SAMPLE.read_text(encoding="utf-8")
    marks = {
        '"Заказ №123 от 01.06.2019 бла бла бла"': "\x00TEMA\x00",
        '"7709745454"': "\x00INN\x00",
        '"+7 925 642 42-90"': "\x00PHONE\x00",
    }
    for old, new in marks.items():
        if text.count(old) != 1:
            sys.exit(f"fill_maildir: {SAMPLE} no longer holds {old} exactly once")
        text = text.replace(old, new)
    return text


def b64_lines(data: bytes) -> bytes:
    """Base64 in 76-character lines, as PHPMailer's chunk_split(base64_encode(...), 76, LE) writes it."""
    return base64.encodebytes(data)


class Writer:
    """Writes message files into Maildir/new with Dovecot-friendly names (S= and W= sizes)."""

    def __init__(self, userdir: pathlib.Path):
        self.maildir = userdir / "Maildir"
        for sub in ("cur", "new", "tmp"):
            (self.maildir / sub).mkdir(parents=True, exist_ok=True)
        self.new = str(self.maildir / "new")
        self.stamp = int(time.time())
        self.pid = os.getpid()
        self.seq = 0
        try:
            self.uid = pwd.getpwnam("nobody").pw_uid
            self.gid = grp.getgrnam("nogroup").gr_gid
        except KeyError:
            self.uid = self.gid = None
        self.chown = os.geteuid() == 0 and self.uid is not None

    def write(self, msg: bytes) -> None:
        self.seq += 1
        size = len(msg)
        vsize = size + msg.count(b"\n")  # CRLF size, what IMAP's RFC822.SIZE reports
        name = f"{self.new}/{self.stamp}.M{self.seq:07d}P{self.pid}.bench,S={size},W={vsize}"
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, msg)
            if self.chown:
                os.fchown(fd, self.uid, self.gid)
        finally:
            os.close(fd)

    def finish(self) -> None:
        if not self.chown:
            return
        for dirpath, dirnames, _ in os.walk(self.maildir.parent):
            os.chown(dirpath, self.uid, self.gid)
        os.chown(self.maildir.parent, self.uid, self.gid)


def boundary(token: str) -> str:
    return "b1_" + token


def order_message(n: int, run: str, date: str, template: str, big: bytes | None = None) -> bytes:
    rnd = random.Random(n)
    valid = n % 100 != 0  # every 100th order carries an INN with a wrong check digit (a warning, not an error)
    inn = inn10(n % 3000, valid)
    phone = f"+7 9{rnd.randint(10, 99)} {rnd.randint(100, 999)} {rnd.randint(10, 99)}-{rnd.randint(10, 99)}"
    tema = f"Заказ №{n} от 01.06.2019 с сайта"
    payload = (
        template.replace("\x00TEMA\x00", f'"{tema}"')
        .replace("\x00INN\x00", f'"{inn}"')
        .replace("\x00PHONE\x00", f'"{phone}"')
    )
    attachment = b64_lines(payload.encode("cp1251"))
    token = hashlib.sha1(f"{run}-{n}".encode()).hexdigest()[:32]
    b = boundary(token)
    qty = 2 + n % 5
    body = (
        f"Новый заказ №{n} с сайта\n"
        "\n"
        "Товар                          | Кол-во | Цена | Сумма\n"
        f"Ролап 123 22 22                | {qty:6} |  500 | {500 * qty:5}\n"
        f"Доставка                       | {1:6} |  500 |   500\n"
        "\n"
        f"Контактное лицо: Прилепский Алексей Анатольевич, {phone}\n"
        "Данные заказа во вложении order.json (для загрузки в учётную систему).\n"
    )
    parts = []
    parts.append(
        f"--{b}\n"
        "Content-Type: text/plain; charset=UTF-8\n"
        "Content-Transfer-Encoding: 8bit\n"
        "\n" + body + "\n"
    )
    if big is not None:
        parts.append(
            f"--{b}\n"
            "Content-Type: application/pdf; name=maket.pdf\n"
            "Content-Transfer-Encoding: base64\n"
            "Content-Disposition: attachment; filename=maket.pdf\n"
            "\n"
        )
    head = (
        f"Return-Path: <noreply@shop.example>\n"
        f"Delivered-To: orders@example.ru\n"
        f"Received: from shop.example (shop.example [192.0.2.10])\n"
        f"\tby mail.example.ru with ESMTPS id {token[:12]}\n"
        f"\tfor <orders@example.ru>; {date}\n"
        f"Date: {date}\n"
        "To: orders@example.ru\n"
        "From: =?UTF-8?B?0KHQsNC50YIg0YLQuNC/0L7Qs9GA0LDRhNC40Lg=?= <noreply@shop.example>\n"
        f"Subject: ORDER: {n}\n"
        f"Message-ID: <{token}@shop.example>\n"
        "X-Mailer: PHPMailer 6.6.3 (https://github.com/PHPMailer/PHPMailer)\n"
        "MIME-Version: 1.0\n"
        "Content-Type: multipart/mixed;\n"
        f' boundary="{b}"\n'
        "Content-Transfer-Encoding: 8bit\n"
        "\n"
        "This is a multi-part message in MIME format.\n"
        "\n"
    )
    out = [head.encode(), "".join(parts).encode()]
    if big is not None:
        out.append(b64_lines(big))
        out.append(b"\n")
    out.append(
        (
            f"--{b}\n"
            "Content-Type: application/octet-stream; name=order.json\n"
            "Content-Transfer-Encoding: base64\n"
            "Content-Disposition: attachment; filename=order.json\n"
            "\n"
        ).encode()
    )
    out.append(attachment)
    out.append(f"\n--{b}--\n".encode())
    return b"".join(out)


OTHER_SUBJECTS = [
    "Счёт на оплату №{n}",
    "Re: макет визиток",
    "Рассылка: новинки материалов для широкоформатной печати",
    "Акт сверки за квартал",
    "Fwd: вопрос по доставке",
    "Weekly newsletter #{n}",
    "Напоминание о встрече",
    "Re: Re: цены на баннер",
]

LOREM = (
    "Добрый день!\n\nНаправляем вам информацию по вашему запросу. Если остались вопросы, "
    "звоните по телефону, указанному в подписи.\n\nС уважением,\nотдел продаж\n"
)


def other_message(n: int, run: str, date: str) -> bytes:
    token = hashlib.sha1(f"{run}-o{n}".encode()).hexdigest()[:32]
    subject = OTHER_SUBJECTS[n % len(OTHER_SUBJECTS)].format(n=n)
    subject_enc = "=?UTF-8?B?" + base64.b64encode(subject.encode()).decode() + "?="
    head = (
        "Return-Path: <sales@supplier.example>\n"
        "Delivered-To: orders@example.ru\n"
        f"Received: from mx.supplier.example by mail.example.ru with ESMTPS id {token[:12]};\n"
        f"\t{date}\n"
        f"Date: {date}\n"
        "From: Supplier <sales@supplier.example>\n"
        "To: orders@example.ru\n"
        f"Subject: {subject_enc}\n"
        f"Message-ID: <{token}@supplier.example>\n"
        "MIME-Version: 1.0\n"
    )
    if n % 3:
        text = LOREM * (1 + n % 4)
        return (
            head
            + "Content-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: 8bit\n\n"
            + text
        ).encode()
    b = "b1_" + token
    pdf = b64_lines(hashlib.sha512(token.encode()).digest() * 24)
    return (
        head
        + f'Content-Type: multipart/mixed; boundary="{b}"\n\n'
        + f"--{b}\nContent-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: 8bit\n\n{LOREM}\n"
        + f"--{b}\nContent-Type: application/pdf; name=invoice-{n}.pdf\n"
        + "Content-Transfer-Encoding: base64\n"
        + f"Content-Disposition: attachment; filename=invoice-{n}.pdf\n\n"
    ).encode() + pdf + f"\n--{b}--\n".encode()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("userdir", type=pathlib.Path)
    ap.add_argument("n_orders", type=int)
    ap.add_argument("n_other", type=int)
    ap.add_argument("--big-attachment-mb", type=float, default=0.0, metavar="M")
    ap.add_argument("--seed", type=int, default=1, help="order of orders and other mail (default 1)")
    args = ap.parse_args()

    started = time.monotonic()
    template = payload_template()
    writer = Writer(args.userdir)
    run = os.urandom(6).hex()
    date = formatdate(localtime=False)

    # Interleave orders and other mail the way a shared mailbox would receive them.
    kinds = [True] * args.n_orders + [False] * args.n_other
    random.Random(args.seed).shuffle(kinds)
    n_order = n_other = 0
    for is_order in kinds:
        if is_order:
            n_order += 1
            writer.write(order_message(n_order, run, date, template))
        else:
            n_other += 1
            writer.write(other_message(n_other, run, date))
    if args.big_attachment_mb > 0:
        big = os.urandom(int(args.big_attachment_mb * 1024 * 1024))
        n_order += 1
        writer.write(order_message(n_order, run, date, template, big=big))
    writer.finish()
    print(
        f"fill_maildir: orders={n_order} other={n_other} big_attachment_mb={args.big_attachment_mb:g} "
        f"seconds={time.monotonic() - started:.2f} dir={writer.maildir}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
