//! The bodies of leadgate's fuzz targets, one function per target.
//!
//! Each takes the fuzzer's bytes, feeds them to one of leadgate's parsers of untrusted input and checks what
//! must hold for any input: no panic, and the few invariants noted in each function. The binaries in
//! `fuzz_targets/` hand them to libFuzzer; leadgate's `tests/fuzz_replay.rs` runs them over every committed
//! corpus and regression file as an ordinary test, so a crash once found stays fixed.

use leadgate_domain::charset::{self, ChosenBy};
use leadgate_domain::payload::{MAX_LINES, MAX_WARNINGS, Payload};
use leadgate_domain::subject::keyword_match;
use leadgate_mail::{extract, imap, pop3};

/// A target's body: it takes the fuzzer's bytes and panics on a failure.
pub type Target = fn(&[u8]);

/// Every target: its name (the directory of its corpus and regressions) and its body.
pub const TARGETS: &[(&str, Target)] = &[
    ("payload", payload),
    ("charset", charset),
    ("subject", subject),
    ("extract", extract),
    ("pop3", pop3),
    ("imap", imap),
];

/// The charset labels a fuzz input can pick with its first byte (`None`: no declaration).
const LABELS: &[Option<&str>] = &[
    None,
    Some("utf-8"),
    Some("windows-1251"),
    Some("cp1251"),
    Some("koi8-r"),
    Some("utf-16le"),
    Some("utf-16be"),
    Some("iso-2022-jp"),
    Some("gb18030"),
    Some("\"x-unknown\""),
];

/// Splits off the first byte as a selector: `(selector, rest)`; `(0, [])` for empty input.
fn selector(data: &[u8]) -> (u8, &[u8]) {
    match data.split_first() {
        Some((&first, rest)) => (first, rest),
        None => (0, data),
    }
}

/// A payload (the JSON of a site's request) read leniently: rejected or read, never a panic; a read payload
/// keeps within the line and warning limits.
pub fn payload(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(read) = Payload::from_json(&text, chrono_tz::Europe::Moscow) {
        assert!(read.lines.len() <= MAX_LINES, "more lines than the limit");
        assert!(
            read.warnings.len() <= MAX_WARNINGS + 1,
            "more warnings than the limit"
        );
    }
}

/// Charset decoding with a declared label chosen by the first byte and Windows-1251 as the default: valid
/// UTF-8 without a declaration or BOM is kept as it is.
pub fn charset(data: &[u8]) {
    let (first, bytes) = selector(data);
    let declared = LABELS[usize::from(first) % LABELS.len()];
    let decoded = charset::decode(bytes, declared, encoding_rs::WINDOWS_1251);
    if decoded.chosen_by == ChosenBy::ValidUtf8 {
        assert_eq!(decoded.text.as_bytes(), bytes, "valid UTF-8 changed");
    }
}

/// Subject matching: the input's first line is the keyword, the rest the subject. A found external number
/// is a non-empty token without whitespace, `,` or `;`.
pub fn subject(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (keyword, subject) = text.split_once('\n').unwrap_or(("ORDER", &text));
    if let Some(found) = keyword_match(subject, keyword) {
        assert!(!keyword.is_empty(), "an empty keyword matched");
        if let Some(number) = found.external_number {
            assert!(!number.is_empty(), "an empty external number");
            assert!(
                !number.contains(|c: char| c.is_whitespace() || c == ',' || c == ';'),
                "the external number {number:?} runs past its end"
            );
        }
    }
}

/// MIME extraction of a whole raw message, and of its header fields alone (a POP3 `TOP` or IMAP header
/// fetch): either gives an answer, never a panic.
pub fn extract(data: &[u8]) {
    let (_, found) = extract::read(data, encoding_rs::WINDOWS_1251, 1 << 20);
    let _ = extract::headers(data);
    if let Ok(found) = found
        && let Some(object) = &found.object
    {
        assert!(
            object.is_object(),
            "a payload object that is not a JSON object"
        );
    }
}

/// A POP3 server's answers as the client reads them: the first line is a status line (greeting, `+OK`,
/// `-ERR`), the rest the dot-unstuffed body of a `UIDL`, `LIST` and `STAT` answer.
pub fn pop3(data: &[u8]) {
    let (line, body) = match data.iter().position(|&b| b == b'\n') {
        Some(at) => data.split_at(at + 1),
        None => (data, &[][..]),
    };
    if let Ok(text) = pop3::parse_status("fuzz", line) {
        let _ = pop3::parse_stat(&text);
    }
    if let Ok(uidls) = pop3::parse_uidl(body) {
        for (_, uidl) in uidls {
            assert!(
                (1..=70).contains(&uidl.len()),
                "a unique id of {} bytes",
                uidl.len()
            );
        }
    }
    let _ = pop3::parse_list(body);
}

/// An IMAP server's bytes parsed response by response, as the client's library parses them off the
/// connection.
pub fn imap(data: &[u8]) {
    let responses = imap::parse_responses(data);
    assert!(responses.len() <= data.len(), "more responses than bytes");
}
