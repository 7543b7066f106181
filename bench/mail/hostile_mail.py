#!/usr/bin/env python3
"""Write the hostile e-mails of `bench/run hostile-memory`: the worst shapes for memory, each just under a size.

Usage: hostile_mail.py OUTDIR [--max-bytes N] [--maildir USERDIR SHAPE]

Without --maildir, writes OUTDIR/<shape>.eml for every shape. With --maildir, copies OUTDIR/<shape>.eml into
USERDIR/Maildir/new (Dovecot-friendly name, owned by `nobody` like fill_maildir.py's), after removing
every message already there, so the mailbox holds exactly that one message.

Every message has the subject `ORDER: <n>` (so a collector fetches it) and is at most --max-bytes long
(default 26214400, leadgate's default `limits.max_message_bytes`), so it is downloaded and parsed, not
refused by its size. The shapes:

- long-array: one base64 `order.json` attachment holding `{"Товары": [0, 0, 0, ...]}`, as long as fits;
- long-array-small: the same within `limits.max_body_bytes` (1 MiB): an accepted size, the longest array;
- many-json-attachments: 1 MiB JSON attachments (each an object with a long array) one after another;
- many-parts: as many tiny MIME parts as fit, each a JSON-looking attachment;
- deep-multipart: multipart/mixed nested in multipart/mixed as deep as fits;
- deep-rfc822: message/rfc822 nested 120 levels, a 15 MB attachment at the bottom;
- deep-json: an attachment of one object nesting arrays a million levels deep;
- big-text-body: a 25 MB text/plain body in Windows-1251 (not an attachment), no payload;
- utf16-attachment: a JSON-looking attachment declared UTF-16, as long as fits.
"""

import argparse
import base64
import os
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from fill_maildir import Writer  # noqa: E402

HEAD = (
    "From: site <site@example.test>\r\n"
    "To: orders@example.test\r\n"
    "Subject: ORDER: {n}\r\n"
    "Message-ID: <hostile-{shape}@example.test>\r\n"
    "Date: Mon, 1 Jun 2026 10:00:00 +0000\r\n"
    "MIME-Version: 1.0\r\n"
)


def b64(data: bytes) -> bytes:
    return base64.encodebytes(data).replace(b"\n", b"\r\n")


def head(shape: str, n: int) -> bytes:
    return HEAD.format(n=n, shape=shape).encode()


def attachment(boundary: str, name: str, body: bytes, extra: str = "") -> bytes:
    return (
        f"--{boundary}\r\n"
        f"Content-Type: application/octet-stream{extra}; name={name}\r\n"
        "Content-Transfer-Encoding: base64\r\n"
        f"Content-Disposition: attachment; filename={name}\r\n\r\n"
    ).encode() + b64(body)


def with_attachments(shape: str, parts: list[bytes]) -> bytes:
    b = "hostile-boundary"
    start = head(shape, 1) + f'Content-Type: multipart/mixed; boundary="{b}"\r\n\r\n'.encode()
    start += f"--{b}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nЗаказ с сайта\r\n".encode()
    return b"".join([start, *parts, f"--{b}--\r\n".encode()])


def long_array(decoded_bytes: int) -> bytes:
    prefix = '{"Телефон": "+7 925 642 42-90", "Товары": ['.encode()
    count = max(1, (decoded_bytes - len(prefix) - 2) // 2)
    return prefix + b"0," * (count - 1) + b"0]}"


def b64_budget(max_bytes: int, overhead: int) -> int:
    """Decoded bytes whose base64 (76-char lines + CRLF) fits in max_bytes - overhead."""
    return int((max_bytes - overhead) / (4 / 3) / (78 / 76)) - 64


def shapes(max_bytes: int) -> dict[str, bytes]:
    b = "hostile-boundary"
    out = {}
    out["long-array"] = with_attachments(
        "long-array", [attachment(b, "order.json", long_array(b64_budget(max_bytes, 4096)))]
    )
    out["long-array-small"] = with_attachments(
        "long-array-small", [attachment(b, "order.json", long_array(1048576 - 16))]
    )
    one = attachment(b, "order.json", long_array(1048576 - 16))
    out["many-json-attachments"] = with_attachments(
        "many-json-attachments", [one] * ((max_bytes - 4096) // len(one))
    )
    tiny = (f"--{b}\r\nContent-Disposition: attachment; filename=a.json\r\n\r\n{{\r\n").encode()
    out["many-parts"] = with_attachments("many-parts", [tiny] * ((max_bytes - 4096) // len(tiny)))

    level = "Content-Type: multipart/mixed; boundary=\"n{i}\"\r\n\r\n--n{i}\r\n"
    body, i = bytearray(), 0
    while len(body) < max_bytes - 4096 - 64:
        body += level.format(i=i).encode()
        i += 1
    out["deep-multipart"] = head("deep-multipart", 1) + bytes(body) + b"Content-Type: text/plain\r\n\r\nx\r\n"

    inner = with_attachments("deep-rfc822-inner", [attachment(b, "order.json", long_array(11 * 1024 * 1024))])
    for depth in range(120):
        inner = (
            head(f"deep-rfc822-{depth}", 1)
            + f'Content-Type: multipart/mixed; boundary="r{depth}"\r\n\r\n--r{depth}\r\n'.encode()
            + b"Content-Type: message/rfc822\r\n\r\n"
            + inner
            + f"\r\n--r{depth}--\r\n".encode()
        )
    out["deep-rfc822"] = inner

    depth = (b64_budget(max_bytes, 4096) - 16) // 2
    deep = b'{"a":' + b"[" * depth + b"]" * depth + b"}"
    out["deep-json"] = with_attachments("deep-json", [attachment(b, "order.json", deep)])

    text = ("Заказ " * ((max_bytes - 4096) // 6)).encode("cp1251")
    out["big-text-body"] = (
        head("big-text-body", 1)
        + b"Content-Type: text/plain; charset=windows-1251\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        + text
    )

    utf16 = long_array(b64_budget(max_bytes, 4096) // 2).decode().encode("utf-16-le")
    out["utf16-attachment"] = with_attachments(
        "utf16-attachment", [attachment(b, "order.json", utf16, extra="; charset=utf-16le")]
    )
    for name, raw in out.items():
        if len(raw) > max_bytes:
            sys.exit(f"hostile_mail: {name} is {len(raw)} bytes, over {max_bytes}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outdir", type=pathlib.Path)
    ap.add_argument("--max-bytes", type=int, default=26214400)
    ap.add_argument("--maildir", nargs=2, metavar=("USERDIR", "SHAPE"))
    args = ap.parse_args()
    if args.maildir:
        userdir, shape = pathlib.Path(args.maildir[0]), args.maildir[1]
        for sub in ("cur", "new"):
            for old in (userdir / "Maildir" / sub).glob("*"):
                old.unlink()
        writer = Writer(userdir)
        # Maildir files hold LF line ends; Dovecot serves them with CRLF, the size of the .eml.
        writer.write((args.outdir / f"{shape}.eml").read_bytes().replace(b"\r\n", b"\n"))
        writer.finish()
        return
    args.outdir.mkdir(parents=True, exist_ok=True)
    for name, raw in shapes(args.max_bytes).items():
        (args.outdir / f"{name}.eml").write_bytes(raw)
        print(f"hostile_mail: {name}.eml {len(raw)} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
