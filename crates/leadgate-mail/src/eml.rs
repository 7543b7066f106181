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
    /// The payload has characters Windows-1251 cannot hold.
    #[error("the payload has characters that Windows-1251 cannot encode")]
    NotEncodable,
}

/// Builds the message bytes.
///
/// # Errors
/// Bad addresses, or a payload Windows-1251 cannot encode.
pub fn site_order_email(
    payload_json: &str,
    number: &str,
    from: &str,
    to: &str,
) -> Result<Vec<u8>, EmlError> {
    let (cp1251, _, unmappable) = encoding_rs::WINDOWS_1251.encode(payload_json);
    if unmappable {
        return Err(EmlError::NotEncodable);
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
