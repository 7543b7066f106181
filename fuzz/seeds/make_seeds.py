#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora from leadgate's fixtures (tests/fixtures) and a few hand-written
server answers. Run from the repository root: python3 fuzz/seeds/make_seeds.py. The files are named by the
SHA-1 of their content, as libFuzzer names its corpus files, so rerunning adds nothing twice."""
import email
import email.policy
import hashlib
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
CORPUS = ROOT / "fuzz" / "corpus"


def put(target, data):
    if isinstance(data, str):
        data = data.encode()
    directory = CORPUS / target
    directory.mkdir(parents=True, exist_ok=True)
    (directory / hashlib.sha1(data).hexdigest()).write_bytes(data)


emls = sorted((FIXTURES / "mail").glob("*.eml"))
payloads = [(FIXTURES / "seed_sample.json").read_bytes()]
subjects = []
for path in emls:
    raw = path.read_bytes()
    put("extract", raw)
    message = email.message_from_bytes(raw, policy=email.policy.default)
    subjects.append(str(message.get("Subject", "")))
    for part in message.walk():
        if part.get_content_disposition() == "attachment" and not part.is_multipart():
            body = part.get_payload(decode=True)
            if body:
                payloads.append(body)

for body in payloads:
    for encoding in ("utf-8", "cp1251"):
        try:
            text = body.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    put("payload", text)
    # The charset target's first byte picks the declared label (see fuzz/src/lib.rs): 0 none, 1 utf-8,
    # 2 windows-1251, 4 koi8-r, 5 utf-16le.
    put("charset", b"\x00" + body)
    put("charset", b"\x02" + body)
    put("charset", b"\x01" + text.encode("utf-8"))
    put("charset", b"\x05" + text.encode("utf-16le"))
    put("charset", b"\x04" + text.encode("koi8-r", errors="replace"))

for subject in subjects + ["Fwd: order: 5", "Новый заказ ORDER 7", "ORDER #88", "RE: ORDER: 77 заявка",
                           "ORDER № 12; ещё", "BORDERLINE 5", "ORDER", "заявка_ORDER 1"]:
    put("subject", "ORDER\n" + subject)
    put("subject", "заказ\n" + subject)

pop3 = [
    "+OK Dovecot ready.\r\n",
    "+OK 2 320\r\n",
    "-ERR [AUTH] Authentication failed.\r\n",
    "+OK\r\n1 whqtswO00WBw418f9t5JxYwZ\r\n2 QhdPYR:00WBw1Ph7x7\r\n",
    "+OK 2 messages:\r\n1 120\r\n2 200\r\n",
    "+ok lowercase\r\n1 a\r\n",
    "+OKAY\r\n",
]
for answer in pop3:
    put("pop3", answer)

imap = [
    "* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS AUTH=PLAIN] Dovecot ready.\r\n",
    "* CAPABILITY IMAP4rev1 LITERAL+ MOVE UIDPLUS AUTH=PLAIN\r\nA1 OK done\r\n",
    "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n* 3 EXISTS\r\n* 0 RECENT\r\n"
    "* OK [UIDVALIDITY 1700000000] UIDs valid\r\n* OK [UIDNEXT 4] Predicted next UID\r\nA2 OK [READ-WRITE] Select completed.\r\n",
    "* SEARCH 1 2 3\r\nA3 OK Search completed.\r\n",
    "* 1 FETCH (UID 1 RFC822.SIZE 4447)\r\n* 2 FETCH (UID 2 FLAGS (\\Seen $Label1))\r\nA4 OK Fetch completed.\r\n",
    "* 1 FETCH (UID 7 BODY[] {26}\r\nSubject: ORDER: 1\r\n\r\nhello)\r\nA5 OK Fetch completed.\r\n",
    "* 1 FETCH (UID 7 BODY[]<0> {5}\r\nhello)\r\nA6 OK done\r\n",
    "A7 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n",
    "+ idling\r\n",
    "* BYE server shutting down\r\n",
    "* LIST (\\HasNoChildren) \".\" \"&BBcEMAQ6BDAENwRL-\"\r\nA8 OK done\r\n",
]
for answer in imap:
    put("imap", answer)
