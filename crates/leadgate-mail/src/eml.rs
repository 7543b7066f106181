//! The site-style ORDER e-mail, as the original 1C integration expects it from a website: subject
//! `ORDER: <n>`, a human-readable body, and the payload as a Windows-1251 JSON attachment. `leadgate make-eml`
//! writes it so site developers can see and test exactly what to send.

use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};

/// Errors building the message.
#[derive(Debug, thiserror::Error)]
pub enum EmlError {
    /// A From/To address does not parse.
    #[error("bad address {0:?}")]
    Address(String),
    /// The message builder refused.
    #[error("cannot build the message: {0}")]
    Build(String),
    /// The payload is not JSON and has characters Windows-1251 cannot hold.
    #[error(
        "the payload has characters that Windows-1251 cannot encode (and is not JSON, where they could be escaped)"
    )]
    NotEncodable,
}

/// Builds the message bytes. A JSON payload's characters that Windows-1251 cannot hold (an emoji, say) are
/// written as JSON escapes (`\ud83d\ude00`), as the site examples do: the same JSON, in Windows-1251.
///
/// # Errors
/// Bad addresses, or a payload that is not JSON and that Windows-1251 cannot encode.
pub fn site_order_email(
    payload_json: &str,
    number: &str,
    from: &str,
    to: &str,
) -> Result<Vec<u8>, EmlError> {
    let (mut cp1251, _, unmappable) = encoding_rs::WINDOWS_1251.encode(payload_json);
    if unmappable {
        if serde_json::from_str::<serde::de::IgnoredAny>(payload_json).is_err() {
            return Err(EmlError::NotEncodable);
        }
        // Valid JSON is ASCII outside its strings, so every such character is inside one.
        let escaped = escape_unencodable(payload_json);
        cp1251 = std::borrow::Cow::Owned(encoding_rs::WINDOWS_1251.encode(&escaped).0.into_owned());
    }
    let from: Mailbox = from
        .parse()
        .map_err(|_| EmlError::Address(from.to_owned()))?;
    let to: Mailbox = to.parse().map_err(|_| EmlError::Address(to.to_owned()))?;
    let content_type = ContentType::parse("application/json; charset=windows-1251")
        .map_err(|e| EmlError::Build(e.to_string()))?;
    let body = format!(
        "Заявка с сайта № {number}.\n\nДанные заявки во вложении order.json (JSON, Windows-1251).\n\
         Это письмо обрабатывается автоматически; его текст игнорируется.\n"
    );
    let message = lettre::Message::builder()
        .from(from)
        .to(to)
        .subject(format!("ORDER: {number}"))
        .multipart(
            MultiPart::mixed()
                .singlepart(SinglePart::plain(body))
                .singlepart(
                    Attachment::new("order.json".to_owned())
                        .body(cp1251.into_owned(), content_type),
                ),
        )
        .map_err(|e| EmlError::Build(e.to_string()))?;
    Ok(message.formatted())
}

/// `json` with each character Windows-1251 cannot encode written as its JSON `\uXXXX` escape (two for one
/// outside the Basic Multilingual Plane).
fn escape_unencodable(json: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(json.len());
    let mut utf8 = [0u8; 4];
    for c in json.chars() {
        let (_, _, unmappable) = encoding_rs::WINDOWS_1251.encode(c.encode_utf8(&mut utf8));
        if unmappable {
            for unit in c.encode_utf16(&mut [0u16; 2]) {
                let _ = write!(out, "\\u{unit:04x}");
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn characters_windows_1251_lacks_are_json_escapes_of_the_same_text() {
        let payload = r#"{"Тема": "Заказ 😀 ✓", "Телефон": "+7 916 000-00-00"}"#;
        let eml =
            site_order_email(payload, "1", "site@shop.example", "orders@shop.example").unwrap();
        let text = String::from_utf8_lossy(&eml);
        assert!(text.contains("ORDER: 1"), "{text}");
        let escaped = escape_unencodable(payload);
        assert_eq!(
            escaped,
            r#"{"Тема": "Заказ \ud83d\ude00 \u2713", "Телефон": "+7 916 000-00-00"}"#
        );
        let (_, _, unmappable) = encoding_rs::WINDOWS_1251.encode(&escaped);
        assert!(!unmappable);
        let same: serde_json::Value = serde_json::from_str(&escaped).unwrap();
        assert_eq!(
            same,
            serde_json::from_str::<serde_json::Value>(payload).unwrap()
        );
        assert!(matches!(
            site_order_email(
                "не JSON 😀",
                "1",
                "site@shop.example",
                "orders@shop.example"
            ),
            Err(EmlError::NotEncodable)
        ));
    }
}
