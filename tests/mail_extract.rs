//! Every mail fixture (tests/fixtures/mail, made by real sender libraries) through header parsing, the
//! subject rule and payload extraction.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use encoding_rs::{UTF_8, WINDOWS_1251};
use leadgate_domain::subject::keyword_match;
use leadgate_mail::extract::{ExtractError, FoundPayload, MailHeaders, find_payload, headers};
use proptest::prelude::*;

#[path = "common/forward.rs"]
mod forward;

use forward::{Carried, forward_as_attachment};

const KEYWORD: &str = "ORDER";

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/mail/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn all_fixtures() -> &'static [(String, Vec<u8>)] {
    static FIXTURES: std::sync::OnceLock<Vec<(String, Vec<u8>)>> = std::sync::OnceLock::new();
    FIXTURES.get_or_init(read_fixtures)
}

fn read_fixtures() -> Vec<(String, Vec<u8>)> {
    let dir = format!("{}/tests/fixtures/mail", env!("CARGO_MANIFEST_DIR"));
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".eml"))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| (name.clone(), fixture(&name)))
        .collect()
}

fn header_of(name: &str) -> MailHeaders {
    headers(&fixture(name))
}

/// The external number the subject rule gives, or `None` when the message does not count.
fn selected(name: &str) -> Option<Option<String>> {
    let subject = header_of(name)
        .subject
        .expect("every fixture has a subject");
    keyword_match(&subject, KEYWORD).map(|m| m.external_number)
}

fn payload(name: &str) -> FoundPayload {
    find_payload(&fixture(name), WINDOWS_1251).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn object(name: &str) -> serde_json::Map<String, serde_json::Value> {
    let found = payload(name);
    assert!(found.is_json_object(), "{name}: {}", found.text);
    assert!(
        !found.had_errors,
        "{name}: replacement characters in {}",
        found.text
    );
    serde_json::from_str(&found.text).unwrap()
}

fn num(n: &str) -> Option<Option<String>> {
    Some(Some(n.to_owned()))
}

#[test]
fn every_fixture_has_a_message_id_a_date_a_sender_and_a_subject() {
    for (name, raw) in all_fixtures() {
        let h = headers(raw);
        let id = h
            .message_id
            .unwrap_or_else(|| panic!("{name}: no Message-ID"));
        assert!(!id.starts_with('<') && !id.ends_with('>'), "{name}: {id}");
        assert!(h.date.is_some(), "{name}: no Date");
        assert!(h.from.is_some(), "{name}: no From");
        assert!(h.subject.is_some(), "{name}: no Subject");
    }
}

#[test]
fn headers_are_read_from_a_headers_only_fetch() {
    let raw = fixture("phpmailer_cp1251.eml");
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let h = headers(&raw[..end]);
    assert_eq!(h, headers(&raw));
    assert_eq!(
        h.message_id.as_deref(),
        Some("phpmailer_cp1251@shop.example")
    );
    assert_eq!(h.subject.as_deref(), Some("ORDER: 123"));
    assert_eq!(h.from.as_deref(), Some("robot@shop.example"));
    assert_eq!(h.date.unwrap().to_rfc3339(), "2019-05-29T12:15:00+00:00");
}

#[test]
fn headers_of_garbage_are_empty_not_a_panic() {
    assert_eq!(headers(b""), MailHeaders::default());
    assert_eq!(headers(b"\xff\xfe\x00"), MailHeaders::default());
}

#[test]
fn a_phpmailer_cp1251_order_without_a_declared_charset_falls_back_to_windows_1251() {
    assert_eq!(selected("phpmailer_cp1251.eml"), num("123"));
    let found = payload("phpmailer_cp1251.eml");
    assert_eq!(found.file_name.as_deref(), Some("order.json"));
    assert_eq!(found.encoding, WINDOWS_1251);
    let order = object("phpmailer_cp1251.eml");
    assert_eq!(order["КонтактноеЛицо"], "Прилепский Алексей Анатольевич");
    assert!(found.text.contains("Люверсы"));
    // PHP's json_encode escapes slashes; the URL is still the same string.
    assert_eq!(
        order["ФайлыМакета"][0]["Файл"],
        "https://demo.solvent.ru/cabinet/print/2019/DAC_noyXsAEV-Cx.jpg"
    );
}

#[test]
fn a_declared_windows_1251_text_attachment_is_decoded_as_declared() {
    assert_eq!(selected("phpmailer_cp1251_declared.eml"), num("123"));
    let found = payload("phpmailer_cp1251_declared.eml");
    assert_eq!(found.encoding, WINDOWS_1251);
    assert_eq!(found.file_name.as_deref(), Some("order.json"));
    assert!(found.text.contains("Прилепский"));
    assert!(found.text.contains("Люверсы"));
    assert!(found.is_json_object());
}

#[test]
fn the_seed_sample_survives_byte_for_byte() {
    assert_eq!(selected("seed_sample.eml"), num("123"));
    let found = payload("seed_sample.eml");
    let expected = std::fs::read_to_string(format!(
        "{}/tests/fixtures/seed_sample.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    assert_eq!(found.text, expected);
    assert_eq!(found.file_name.as_deref(), Some("zakaz_123.txt"));
    assert_eq!(found.encoding, WINDOWS_1251);
    assert!(found.is_json_object() && !found.had_errors);
    assert!(found.text.contains("\"Разрешеине\": \"360 dpi\""));
    assert!(
        found
            .text
            .contains("\t\"Тема\": \"Заказ №123 от 01.06.2019 бла бла бла\"")
    );
}

#[test]
fn the_committed_seed_sample_is_the_notes_json_without_a_trailing_newline() {
    let bytes = std::fs::read(format!(
        "{}/tests/fixtures/seed_sample.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    assert_eq!(bytes.first(), Some(&b'{'));
    assert_eq!(bytes.last(), Some(&b'}'));
    let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(value["ИНН"], "7709745454");
    assert_eq!(
        value["Товары"][0]["ДополнительныеРаботы"][0]["ВидРаботы"],
        "Люверсы"
    );
}

#[test]
fn a_nodemailer_cp1251_buffer_with_a_cyrillic_subject() {
    let h = header_of("nodemailer_cp1251.eml");
    assert_eq!(h.subject.as_deref(), Some("Новый заказ ORDER 7"));
    assert_eq!(selected("nodemailer_cp1251.eml"), num("7"));
    let found = payload("nodemailer_cp1251.eml");
    assert_eq!(found.file_name.as_deref(), Some("lead.txt"));
    assert_eq!(found.encoding, WINDOWS_1251);
    let lead = object("nodemailer_cp1251.eml");
    assert_eq!(lead["КонтактноеЛицо"], "Иванова Мария Петровна");
    assert!(found.text.contains("Люверсы"));
}

#[test]
fn a_nodemailer_utf8_json_attachment_is_recognised_as_utf8() {
    assert_eq!(selected("nodemailer_utf8_json.eml"), num("88"));
    let found = payload("nodemailer_utf8_json.eml");
    assert_eq!(found.encoding, UTF_8);
    assert_eq!(found.file_name.as_deref(), Some("order-88.json"));
    let order = object("nodemailer_utf8_json.eml");
    assert_eq!(order["КонтактноеЛицо"], "Прилепский Алексей Анатольевич");
    assert_eq!(
        order["Товары"][0]["ДополнительныеРаботы"][0]["ВидРаботы"],
        "Люверсы"
    );
}

#[test]
fn an_rfc2231_file_name_is_decoded() {
    assert_eq!(selected("python_rfc2231.eml"), num("5"));
    let found = payload("python_rfc2231.eml");
    assert_eq!(found.file_name.as_deref(), Some("заказ №5.json"));
    assert_eq!(found.encoding, WINDOWS_1251);
    assert_eq!(
        object("python_rfc2231.eml")["КонтактноеЛицо"],
        "Прилепский Алексей"
    );
}

#[test]
fn an_rfc2231_file_name_with_continuations_is_decoded() {
    assert_eq!(selected("python_rfc2231_long.eml"), num("6"));
    let found = payload("python_rfc2231_long.eml");
    assert_eq!(
        found.file_name.as_deref(),
        Some(
            "заказ №6 от 03.06.2019 — баннер 3х6 с люверсами, проклейкой и карманами, срочно.json"
        )
    );
    assert_eq!(
        object("python_rfc2231_long.eml")["Описание"],
        "Люверсы, проклейка, карманы"
    );
}

#[test]
fn an_outlook_rfc2047_file_name_and_quoted_printable_cp1251_body_are_decoded() {
    let h = header_of("outlook_rfc2047_name.eml");
    assert_eq!(h.subject.as_deref(), Some("RE: ORDER: 77 заявка"));
    assert_eq!(
        h.message_id.as_deref(),
        Some("000001d51a2b$3c4d5e60$b4e81b20$@shop.example")
    );
    assert_eq!(selected("outlook_rfc2047_name.eml"), num("77"));
    let found = payload("outlook_rfc2047_name.eml");
    assert_eq!(found.file_name.as_deref(), Some("Заявка №77.json"));
    let order = object("outlook_rfc2047_name.eml");
    assert_eq!(order["КонтактноеЛицо"], "Прилепский Алексей Анатольевич");
    assert_eq!(
        order["Товары"][0]["ДополнительныеРаботы"][0]["ВидРаботы"],
        "Люверсы"
    );
}

#[test]
fn a_lowercase_forwarded_order_counts() {
    assert_eq!(selected("fwd_lowercase.eml"), num("5"));
    assert_eq!(
        object("fwd_lowercase.eml")["КонтактноеЛицо"],
        "Прилепский Алексей"
    );
}

#[test]
fn an_order_forwarded_as_an_attached_message_is_found_inside_it() {
    assert_eq!(selected("fwd_as_attachment.eml"), num("88"));
    let found = payload("fwd_as_attachment.eml");
    assert_eq!(found.file_name.as_deref(), Some("order-88.json"));
    assert_eq!(
        object("fwd_as_attachment.eml")["КонтактноеЛицо"],
        "Прилепский Алексей Анатольевич"
    );
}

/// Every fixture, forwarded as an attachment (as it is, and in base64), gives what the original gives: the same
/// payload text decoded with the same charset, the same file name, the same parsed object, the same error,
/// and its subject the same external number.
#[test]
fn every_fixture_forwarded_as_an_attachment_reads_like_the_original() {
    for (name, raw) in all_fixtures() {
        let original = find_payload(raw, WINDOWS_1251);
        let original_number =
            keyword_match(&headers(raw).subject.unwrap(), KEYWORD).map(|m| m.external_number);
        for carried in [Carried::AsIs, Carried::Base64] {
            let forwarded = forward_as_attachment(raw, name, carried);
            let subject = headers(&forwarded).subject.unwrap();
            assert!(
                subject.starts_with("Fwd: "),
                "{name} {carried:?}: {subject}"
            );
            assert_eq!(
                keyword_match(&subject, KEYWORD).map(|m| m.external_number),
                original_number,
                "{name} {carried:?}: the subject {subject:?}"
            );
            assert_eq!(
                find_payload(&forwarded, WINDOWS_1251),
                original,
                "{name} {carried:?}: the forward reads differently"
            );
        }
    }
}

#[test]
fn a_forwarded_cp1251_order_without_a_declared_charset_keeps_its_cyrillic() {
    let raw = forward_as_attachment(&fixture("phpmailer_cp1251.eml"), "cp1251", Carried::AsIs);
    let found = find_payload(&raw, WINDOWS_1251).unwrap();
    assert_eq!(found.encoding, WINDOWS_1251);
    assert!(!found.had_errors, "{}", found.text);
    assert_eq!(found.file_name.as_deref(), Some("order.json"));
    let order: serde_json::Value = serde_json::from_str(&found.text).unwrap();
    assert_eq!(order["КонтактноеЛицо"], "Прилепский Алексей Анатольевич");
}

#[test]
fn a_forward_of_a_forward_reads_like_the_original() {
    let raw = fixture("seed_sample.eml");
    let twice = forward_as_attachment(
        &forward_as_attachment(&raw, "once", Carried::AsIs),
        "twice",
        Carried::Base64,
    );
    assert_eq!(
        find_payload(&twice, WINDOWS_1251),
        find_payload(&raw, WINDOWS_1251)
    );
}

#[test]
fn prose_is_skipped_and_the_json_is_found_three_multiparts_deep() {
    assert_eq!(selected("prose_then_json.eml"), num("12"));
    let found = payload("prose_then_json.eml");
    assert_eq!(found.file_name.as_deref(), Some("order.json"));
    assert_eq!(object("prose_then_json.eml")["ИНН"], "7709745454");
}

#[test]
fn a_cp1251_encoded_subject_is_decoded_before_matching() {
    assert_eq!(
        header_of("encoded_subject.eml").subject.as_deref(),
        Some("Заявка ORDER: 42")
    );
    assert_eq!(selected("encoded_subject.eml"), num("42"));
    assert!(object("encoded_subject.eml").contains_key("Товары"));
}

#[test]
fn a_subject_without_the_keyword_is_not_selected() {
    assert_eq!(
        header_of("no_keyword.eml").subject.as_deref(),
        Some("Вопрос по заказу")
    );
    assert_eq!(selected("no_keyword.eml"), None);
}

#[test]
fn borderline_is_not_the_keyword() {
    assert_eq!(selected("borderline.eml"), None);
}

#[test]
fn an_order_without_an_attachment_is_no_attachment() {
    assert_eq!(selected("no_attachment.eml"), num("9"));
    assert_eq!(
        find_payload(&fixture("no_attachment.eml"), WINDOWS_1251),
        Err(ExtractError::NoAttachment)
    );
}

#[test]
fn broken_json_is_returned_for_its_parse_error() {
    assert_eq!(selected("broken_json.eml"), num("10"));
    let found = payload("broken_json.eml");
    assert!(!found.is_json_object());
    assert_eq!(found.text, "{\"Тема\": \"x\",");
    let error = serde_json::from_str::<serde_json::Value>(&found.text).unwrap_err();
    assert_eq!(error.classify(), serde_json::error::Category::Eof);
    assert_eq!(error.line(), 1);
}

#[test]
fn a_json_array_is_returned_as_not_an_object() {
    assert_eq!(selected("json_array.eml"), num("11"));
    let found = payload("json_array.eml");
    assert!(!found.is_json_object());
    assert_eq!(found.text, "[1,2]");
}

#[test]
fn hostile_values_come_through_as_plain_text() {
    assert_eq!(selected("hostile.eml"), num("13"));
    let order = object("hostile.eml");
    assert_eq!(order["Тема"], "<script>alert(1)</script>");
    assert_eq!(order["КонтактноеЛицо"], "<script>alert(1)</script> Петров");
    assert_eq!(order["Описание"], "'; DROP TABLE leads; --");
}

#[test]
fn a_message_with_dot_lines_has_its_payload() {
    assert_eq!(selected("dot_line.eml"), num("14"));
    let raw = fixture("dot_line.eml");
    assert!(
        raw.windows(3).any(|w| w == b"\n.\r"),
        "the fixture must have a lone dot line"
    );
    assert_eq!(object("dot_line.eml")["КонтактноеЛицо"], "Сидоров");
}

#[test]
fn a_message_whose_attachments_are_not_json_is_no_json_attachment() {
    let raw = b"Subject: ORDER: 1\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
Content-Type: text/plain\r\n\r\nhi\r\n--b\r\nContent-Type: image/png; name=a.png\r\n\
Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--b\r\n\
Content-Type: text/plain\r\nContent-Disposition: attachment\r\n\r\nnot json\r\n--b--\r\n";
    assert_eq!(
        find_payload(raw, WINDOWS_1251),
        Err(ExtractError::NoJsonAttachment { attachments: 2 })
    );
}

#[test]
fn a_broken_attachment_before_a_good_one_does_not_win() {
    let raw = "Subject: ORDER: 1\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
Content-Type: application/json; name=a.json\r\n\r\n{\"a\":\r\n--b\r\n\
Content-Type: application/json; name=b.json; charset=utf-8\r\n\r\n{\"Тема\": 1}\r\n--b--\r\n";
    let found = find_payload(raw.as_bytes(), WINDOWS_1251).unwrap();
    assert!(found.is_json_object());
    assert_eq!(found.file_name.as_deref(), Some("b.json"));
}

#[test]
fn a_single_part_message_that_is_the_attachment_counts() {
    let raw = b"Subject: ORDER: 2\r\nContent-Type: application/json\r\n\
Content-Disposition: attachment; filename=o.json\r\n\r\n{\"x\": 1}\r\n";
    let found = find_payload(raw, WINDOWS_1251).unwrap();
    assert!(found.is_json_object());
    assert_eq!(found.file_name.as_deref(), Some("o.json"));
}

#[test]
fn a_utf16_attachment_with_a_byte_order_mark_is_decoded() {
    let mut body = vec![0xFF, 0xFE];
    for unit in "{\"Тема\": \"Люверсы\"}".encode_utf16() {
        body.extend_from_slice(&unit.to_le_bytes());
    }
    let b64 = base64_encode(&body);
    let raw = format!(
        "Subject: ORDER: 3\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
Content-Type: application/octet-stream; name=u.json\r\nContent-Transfer-Encoding: base64\r\n\r\n{b64}\r\n--b--\r\n"
    );
    let found = find_payload(raw.as_bytes(), WINDOWS_1251).unwrap();
    assert!(found.is_json_object());
    assert!(found.text.contains("Люверсы"));
}

#[test]
fn a_big_non_json_attachment_before_the_payload_is_skipped() {
    let big = "A".repeat(8 * 1024 * 1024);
    let raw = format!(
        "Subject: ORDER: 4\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
Content-Type: application/pdf; name=layout.pdf\r\n\r\n{big}\r\n--b\r\n\
Content-Type: application/json; name=o.json\r\n\r\n{{\"Тема\": \"big\"}}\r\n--b--\r\n"
    );
    let found = find_payload(raw.as_bytes(), WINDOWS_1251).unwrap();
    assert_eq!(found.file_name.as_deref(), Some("o.json"));
}

#[test]
fn deeply_nested_attached_messages_do_not_overflow_the_stack() {
    let nested = |levels: usize| {
        let mut raw = String::from("Subject: ORDER: 5\r\nContent-Type: message/rfc822\r\n\r\n");
        for _ in 0..levels {
            raw.push_str("Subject: x\r\nContent-Type: Message/RFC822\r\n\r\n");
        }
        raw.push_str("Subject: y\r\nContent-Type: application/json; name=o.json\r\n\r\n{}\r\n");
        raw
    };
    // Half a megabyte of nesting would abort the process inside mail-parser; it is refused first.
    assert_eq!(
        find_payload(nested(100_000).as_bytes(), WINDOWS_1251),
        Err(ExtractError::TooManyNestedMessages { limit: 128 })
    );
    // Within the limit, but deeper than the search goes: parsed, and the payload is out of reach. That is
    // said (the message is rejected, kept for reprocessing), not taken for a letter without an attachment.
    assert_eq!(
        find_payload(nested(100).as_bytes(), WINDOWS_1251),
        Err(ExtractError::NestedTooDeep { limit: 8 })
    );
    let mut forwarded = fixture("seed_sample.eml");
    for level in 0..10 {
        forwarded = forward_as_attachment(&forwarded, &format!("fwd {level}"), Carried::AsIs);
    }
    assert_eq!(
        find_payload(&forwarded, WINDOWS_1251),
        Err(ExtractError::NestedTooDeep { limit: 8 })
    );
    // A forward of a forward is found.
    assert!(
        find_payload(nested(2).as_bytes(), WINDOWS_1251)
            .unwrap()
            .is_json_object()
    );
}

#[test]
fn bytes_that_are_not_a_message_are_not_mime() {
    assert_eq!(find_payload(b"", WINDOWS_1251), Err(ExtractError::NotMime));
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(raw in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = headers(&raw);
        let _ = find_payload(&raw, WINDOWS_1251);
    }

    #[test]
    fn mutated_fixtures_never_panic(
        index in 0usize..64,
        edits in proptest::collection::vec((any::<proptest::sample::Index>(), any::<u8>()), 1..16),
        cut in any::<proptest::sample::Index>(),
    ) {
        let fixtures = all_fixtures();
        let (_, raw) = &fixtures[index % fixtures.len()];
        let mut raw = raw.clone();
        for (at, byte) in edits {
            let i = at.index(raw.len());
            raw[i] = byte;
        }
        let _ = headers(&raw);
        let _ = find_payload(&raw, WINDOWS_1251);
        let truncated = &raw[..cut.index(raw.len() + 1)];
        let _ = headers(truncated);
        let _ = find_payload(truncated, WINDOWS_1251);
    }
}
