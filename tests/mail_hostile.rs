//! Hostile e-mails cost a small multiple of their size: what would build a huge tree or thousands of parts is
//! judged before it is decoded or parsed, rejected with a reason that says why, and its raw bytes are kept.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use base64::Engine as _;
use leadgate::intake::IntakeSettings;
use leadgate::intake::mail::{MailRules, submission_for};
use leadgate_storage::{Disposition, Submission};

const BOUNDARY: &str = "hostile-boundary";

fn settings() -> IntakeSettings {
    IntakeSettings {
        timezone: chrono_tz::Europe::Moscow,
        max_body_bytes: 1_048_576,
        group_commit: false,
        max_batch: 1,
    }
}

fn attachment(name: &str, body: &[u8]) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(body);
    let lines: Vec<&str> = encoded
        .as_bytes()
        .chunks(76)
        .map(|chunk| std::str::from_utf8(chunk).unwrap())
        .collect();
    format!(
        "--{BOUNDARY}\r\nContent-Type: application/octet-stream; name={name}\r\n\
         Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename={name}\r\n\r\n{}\r\n",
        lines.join("\r\n")
    )
}

fn order_mail(parts: &[String]) -> Vec<u8> {
    format!(
        "From: site@example.test\r\nTo: orders@example.test\r\nSubject: ORDER: 9\r\n\
         Message-ID: <hostile@example.test>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"{BOUNDARY}\"\r\n\r\n\
         --{BOUNDARY}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nЗаказ с сайта\r\n{}--{BOUNDARY}--\r\n",
        parts.concat()
    )
    .into_bytes()
}

fn order_json(description: &str) -> String {
    serde_json::json!({
        "Тема": "Заказ №9",
        "Телефон": "+7 925 642 42-90",
        "Описание": description,
    })
    .to_string()
}

fn judged(raw: Vec<u8>) -> (Submission, usize) {
    let len = raw.len();
    let rules = MailRules::for_saved_message(1, 26_214_400);
    (submission_for(raw, None, &rules, &settings()), len)
}

/// The rejection reason, after checking that the message was rejected with its raw bytes kept whole.
fn rejection(raw: Vec<u8>) -> String {
    let (submission, len) = judged(raw);
    assert_eq!(submission.ledger.raw.len(), len, "the raw message is kept");
    match submission.disposition {
        Disposition::Rejected { reason } => reason,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[test]
fn a_json_attachment_over_max_body_bytes_is_rejected_by_its_size() {
    // A valid order, 1.5 MB of ASCII: within twice the limit as text, over the limit as bytes.
    let json = order_json(&"x".repeat(1_500_000));
    let reason = rejection(order_mail(&[attachment("order.json", json.as_bytes())]));
    assert_eq!(
        reason,
        format!(
            "attachment \"order.json\": payload is {} bytes, the limit is 1048576",
            json.len()
        )
    );
}

#[test]
fn a_long_array_within_the_size_limit_is_refused_before_it_becomes_a_tree() {
    let json = format!(
        "{{\"Тема\": \"Заказ №9\", \"Телефон\": \"+7 925 642 42-90\", \"Метки\": [{}0]}}",
        "0,".repeat(300_000)
    );
    assert!(json.len() < 1_048_576);
    let reason = rejection(order_mail(&[attachment("order.json", json.as_bytes())]));
    assert_eq!(
        reason,
        "attachment \"order.json\": the JSON holds more than 100000 values"
    );
}

#[test]
fn a_message_of_thousands_of_tiny_parts_is_refused_unparsed() {
    let tiny =
        format!("--{BOUNDARY}\r\nContent-Disposition: attachment; filename=a.json\r\n\r\n{{\r\n");
    let reason = rejection(order_mail(&vec![tiny; 3_000]));
    assert_eq!(
        reason,
        "the message has more than 2000 MIME parts; refusing to parse it"
    );
}

#[test]
fn multiparts_nested_thousands_deep_are_refused_unparsed() {
    let mut raw =
        String::from("From: site@example.test\r\nSubject: ORDER: 9\r\nMIME-Version: 1.0\r\n");
    for level in 0..5_000 {
        raw.push_str(&format!(
            "Content-Type: multipart/mixed; boundary=\"n{level}\"\r\n\r\n--n{level}\r\n"
        ));
    }
    raw.push_str("Content-Type: text/plain\r\n\r\nx\r\n");
    let reason = rejection(raw.into_bytes());
    assert_eq!(
        reason,
        "the message has more than 2000 MIME parts; refusing to parse it"
    );
}

#[test]
fn reading_stops_after_sixteen_json_attachments_that_are_not_orders() {
    let mut parts: Vec<String> = (0..16)
        .map(|n| attachment(&format!("broken{n}.json"), b"{ not json"))
        .collect();
    parts.push(attachment("order.json", order_json("ok").as_bytes()));
    let reason = rejection(order_mail(&parts));
    assert!(
        reason.starts_with("attachment \"broken0.json\": not JSON"),
        "{reason}"
    );
    // Fifteen broken ones leave the order within reach.
    parts.remove(0);
    let (submission, _) = judged(order_mail(&parts));
    assert!(
        matches!(submission.disposition, Disposition::Lead(_)),
        "{:?}",
        submission.disposition
    );
}

#[test]
fn deep_json_is_rejected_as_too_deep() {
    let json = format!(
        "{{\"Телефон\": \"+7 925 642 42-90\", \"Метки\": {}{}}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let reason = rejection(order_mail(&[attachment("order.json", json.as_bytes())]));
    assert_eq!(
        reason,
        "attachment \"order.json\": the JSON nests too deeply"
    );
}

#[test]
fn a_big_layout_file_beside_the_order_does_not_stop_its_import() {
    let layout = vec![0x25u8; 3_000_000]; // "%%%…": a PDF-ish binary, not JSON
    let (submission, _) = judged(order_mail(&[
        attachment("maket.pdf", &layout),
        attachment("order.json", order_json("ok").as_bytes()),
    ]));
    assert!(
        matches!(submission.disposition, Disposition::Lead(_)),
        "{:?}",
        submission.disposition
    );
}
