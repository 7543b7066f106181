//! How a mail message becomes a submission: the channel rules of the mail collectors, shared by a
//! collector's run, `leadgate import`/`check` of a saved `.eml`, and reprocessing a rejected message.
//!
//! A message is skipped when its subject does not hold the keyword as a word or it is a reply without the
//! payload attachment, rejected (raw kept) when the attachment is unusable, and otherwise parsed like any
//! other payload. Reading it is pure CPU work and never fails: a panic while reading one message makes it
//! a rejected one.

use chrono::Utc;
use encoding_rs::Encoding;
use tracing::warn;

use super::{IntakeSettings, Rejection, parse_read_json, parse_text};
use leadgate_domain::charset::encoding_for_label;
use leadgate_domain::subject::{KeywordMatch, keyword_match};
use leadgate_mail::extract;
use leadgate_storage::{
    CollectorRecord, Disposition, LedgerEntry, SourceRef, StoredRaw, Submission, content_hash,
};

/// A collector's `default_charset` names no known encoding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown default_charset {0:?}")]
pub struct UnknownCharset(pub String);

/// The mail-specific facts a raw message is judged by.
#[derive(Debug, Clone)]
pub struct MailRules {
    /// Who delivered it.
    pub source: SourceRef,
    /// Subject keyword.
    pub keyword: String,
    /// Charset for attachments that declare none and are not UTF-8.
    pub default_charset: &'static Encoding,
    /// Target calendar.
    pub calendar_id: i64,
    /// Form tech cards automatically.
    pub auto_tech_cards: bool,
    /// Largest e-mail.
    pub max_message_bytes: usize,
}

impl MailRules {
    /// The rules of a collector.
    ///
    /// # Errors
    /// An unknown default charset.
    pub fn of(
        collector: &CollectorRecord,
        max_message_bytes: usize,
    ) -> Result<Self, UnknownCharset> {
        let default_charset = encoding_for_label(&collector.default_charset)
            .ok_or_else(|| UnknownCharset(collector.default_charset.clone()))?;
        Ok(Self {
            source: SourceRef::Collector { id: collector.id },
            keyword: collector.keyword.clone(),
            default_charset,
            calendar_id: collector.calendar_id,
            auto_tech_cards: collector.auto_tech_cards,
            max_message_bytes,
        })
    }
}

impl MailRules {
    /// How a saved `.eml` outside any collector is read (`leadgate import`/`check`, reprocessing a message
    /// whose collector is gone): the keyword `ORDER`, Windows-1251 by default.
    pub fn for_saved_message(calendar_id: i64, max_message_bytes: usize) -> Self {
        Self {
            source: SourceRef::File,
            keyword: CollectorRecord::DEFAULT_KEYWORD.to_owned(),
            default_charset: encoding_rs::WINDOWS_1251,
            calendar_id,
            auto_tech_cards: false,
            max_message_bytes,
        }
    }
}

/// Judges one raw message: skipped (no keyword, or no attachment at all), rejected (with the reason) or a
/// lead draft. Pure CPU work; never fails, and a panic while reading this one message makes it a rejected
/// one (raw kept) rather than stopping its collector.
pub fn submission_for(
    raw: Vec<u8>,
    mailbox_key: Option<String>,
    rules: &MailRules,
    settings: &IntakeSettings,
) -> Submission {
    submission_with(raw, mailbox_key, rules, settings, read_message)
}

/// What reading a message found: its header fields, the keyword match and the disposition.
struct Read {
    headers: extract::MailHeaders,
    matched: Option<KeywordMatch>,
    disposition: Disposition,
}

/// The ledger key of a message (or a file) without a Message-ID: `sha256:` and its content's SHA-256
/// ([`content_hash`]), so the same bytes are one message wherever they are found.
pub fn content_key(hash: &str) -> String {
    format!("sha256:{hash}")
}

/// The content type of a ledger record that keeps a whole e-mail.
pub const WHOLE_MESSAGE: &str = "message/rfc822";

/// The content type of a ledger record that keeps only a message's header fields (RFC 6522's name for a
/// header block): a message over `limits.max_message_bytes`, which was not downloaded. Reprocessing such a
/// record downloads the message from its mailbox first.
pub const HEADER_ONLY: &str = "text/rfc822-headers";

/// Whether a ledger record's raw form is an e-mail, whole or its header fields alone: it is read by the
/// mail channel's rules, and downloaded as a `.eml` file.
pub fn is_mail(content_type: &str) -> bool {
    content_type.starts_with("message/") || content_type == HEADER_ONLY
}

/// [`submission_for`] with the reading step given, so that its containment of a panic can be tested.
fn submission_with(
    raw: Vec<u8>,
    mailbox_key: Option<String>,
    rules: &MailRules,
    settings: &IntakeSettings,
    read: fn(&[u8], &MailRules, &IntakeSettings) -> Read,
) -> Submission {
    let content_hash = Some(content_hash(&raw));
    let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        read(&raw, rules, settings)
    }))
    .unwrap_or_else(|panic| {
        let why = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        warn!(
            mailbox_key,
            why, "reading a message panicked; recording it as rejected"
        );
        Read {
            headers: extract::MailHeaders::default(),
            matched: None,
            disposition: Disposition::Rejected {
                reason: format!(
                    "leadgate failed reading this message ({why}); it is kept for reprocessing"
                ),
            },
        }
    });
    let Read {
        headers,
        matched,
        disposition,
    } = read;
    let ledger = LedgerEntry {
        source: rules.source.clone(),
        // Without a Message-ID, the content names the message: the same bytes found again under another
        // UIDVALIDITY, or over another protocol, are the same message.
        ledger_key: headers
            .message_id
            .clone()
            .or_else(|| content_hash.as_deref().map(content_key)),
        mailbox_key,
        message_id: headers.message_id,
        external_number: matched.and_then(|m| m.external_number),
        received_at: Utc::now(),
        // The ledger keeps no raw bytes of a skipped message, so there is nothing to compress.
        raw: match disposition {
            Disposition::Skipped { .. } => StoredRaw::default(),
            _ => StoredRaw::new(raw),
        },
        content_type: WHOLE_MESSAGE.to_owned(),
        content_hash,
    };
    Submission {
        ledger,
        disposition,
        idempotency: None,
    }
}

fn read_message(raw: &[u8], rules: &MailRules, settings: &IntakeSettings) -> Read {
    // A message over the limit is refused unparsed; any other is parsed once, for its headers and payload.
    let size = raw.len();
    let (headers, payload) = if size > rules.max_message_bytes {
        (extract::headers(raw), None)
    } else {
        let (headers, payload) = extract::read(raw, rules.default_charset, settings.max_body_bytes);
        (headers, Some(payload))
    };
    let subject = headers.subject.as_deref().unwrap_or_default();
    let matched = keyword_match(subject, &rules.keyword);
    let disposition = match (&matched, payload) {
        (None, _) => Disposition::Skipped {
            reason: format!("the subject does not hold {:?} as a word", rules.keyword),
        },
        (Some(_), None) => Disposition::Rejected {
            reason: format!(
                "the message is {size} bytes, the limit is {}",
                rules.max_message_bytes
            ),
        },
        (Some(_), Some(payload)) => judge(payload, rules, settings),
    };
    Read {
        headers,
        matched,
        disposition,
    }
}

fn judge(
    payload: Result<extract::FoundPayload, extract::ExtractError>,
    rules: &MailRules,
    settings: &IntakeSettings,
) -> Disposition {
    let found = match payload {
        Ok(found) => found,
        // A reply to an order or an auto-reply quotes the keyword; the mailbox may be a person's own.
        Err(e @ extract::ExtractError::NoAttachment) => {
            return Disposition::Skipped {
                reason: format!("{e}: a reply or a letter, not a site order"),
            };
        }
        Err(e) => {
            return Disposition::Rejected {
                reason: e.to_string(),
            };
        }
    };
    let replaced = found.had_errors.then_some(found.encoding);
    let parsed = match (&found.object, found.oversized) {
        (_, Some(size)) => Err(Rejection::TooLarge {
            size,
            limit: settings.max_body_bytes,
        }),
        (Some(json), None) => parse_read_json(&found.text, json, replaced, settings),
        // Not an object: parsing the text gives the reason (the JSON error, or its type).
        (None, None) => parse_text(&found.text, replaced, settings),
    };
    match parsed {
        Ok(parsed) => parsed.into_lead(rules.calendar_id, rules.auto_tech_cards),
        Err(rejection) => Disposition::Rejected {
            reason: match found.file_name {
                Some(name) => format!("attachment {name:?}: {rejection}"),
                None => rejection.to_string(),
            },
        },
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    fn rules() -> MailRules {
        MailRules {
            source: SourceRef::Collector { id: 1 },
            ..MailRules::for_saved_message(1, 1 << 20)
        }
    }

    fn settings() -> IntakeSettings {
        IntakeSettings {
            timezone: chrono_tz::Europe::Moscow,
            max_body_bytes: 1 << 20,
            group_commit: false,
            max_batch: 1,
        }
    }

    fn breaks(_: &[u8], _: &MailRules, _: &IntakeSettings) -> Read {
        panic!("a bug reading this message")
    }

    #[test]
    fn a_panic_while_reading_one_message_makes_it_rejected_with_its_raw_kept() {
        let raw = b"Subject: ORDER: 1\r\n\r\nbody".to_vec();
        let submission = submission_with(
            raw.clone(),
            Some("7:42".to_owned()),
            &rules(),
            &settings(),
            breaks,
        );
        let Disposition::Rejected { reason } = &submission.disposition else {
            panic!("{:?}", submission.disposition);
        };
        assert!(reason.contains("a bug reading this message"), "{reason}");
        assert_eq!(
            submission.ledger.ledger_key,
            Some(content_key(&content_hash(&raw)))
        );
        assert_eq!(submission.ledger.mailbox_key.as_deref(), Some("7:42"));
        assert_eq!(submission.ledger.raw.clone().into_original().unwrap(), raw);
        // The same message read by the real reader is judged as usual.
        let judged = submission_for(raw, Some("7:42".to_owned()), &rules(), &settings());
        assert!(matches!(judged.disposition, Disposition::Skipped { .. }));
    }
}
