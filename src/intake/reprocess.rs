//! Reprocessing a rejected message from the ledger: the raw bytes run through the same channel rules and the
//! same pipeline again (say, after the administrator fixed a collector's charset), and the ledger record gets
//! its new outcome. Nothing is lost either way: a message that is still rejected keeps its raw bytes and gets
//! the new reason.
//!
//! A message that was not downloaded because of its size keeps only its header fields
//! ([`HEADER_ONLY`]); reprocessing it downloads it from its collector's mailbox first, through
//! [`Mailboxes`], under the limit in force now.
//!
//! Reprocessing is atomic: the outcome is checked again inside the write transaction, so two calls at once
//! on one message (a double click, the UI and the API together) file one lead. The call that comes second,
//! at once or later, gets [`ReprocessError::AlreadyImported`] with that lead: 409 `already_imported` with
//! `details.lead_id` from the API, the lead's page from the UI.

use chrono::Utc;
use tracing::instrument;

use super::Intake;
use super::mail::{HEADER_ONLY, MailRules, WHOLE_MESSAGE, is_mail, submission_for};
use crate::config::Settings;
use leadgate_domain::charset::encoding_for_label;
use leadgate_domain::ledger::Outcome;
use leadgate_storage::{
    CollectorRecord, Disposition, MessageView, Reimport, Storage, StorageError, StoredRaw,
};

/// What reprocessing did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Reprocessed {
    /// A lead was filed.
    Imported {
        /// The new lead.
        lead_id: i64,
    },
    /// Still rejected.
    Rejected {
        /// The new reason.
        reason: String,
    },
}

/// Why a message cannot be reprocessed.
#[derive(Debug, thiserror::Error)]
pub enum ReprocessError {
    /// No such ledger record.
    #[error("message not found")]
    NotFound,
    /// The message was imported already, by an earlier or a concurrent reprocessing (a double click, the UI
    /// and the API at once): it has its one lead.
    #[error("the message is already imported as lead {lead_id}")]
    AlreadyImported {
        /// Its lead.
        lead_id: i64,
    },
    /// Only rejected messages are reprocessed.
    #[error("only rejected messages can be reprocessed; this one is {0:?}")]
    NotRejected(Outcome),
    /// The raw bytes were not kept.
    #[error("the raw message was not kept")]
    NoRaw,
    /// The message, kept as its header fields alone, could not be downloaded from its mailbox again.
    #[error("the message could not be downloaded from its mailbox: {0}")]
    Mailbox(String),
    /// The database failed.
    #[error("storage")]
    Storage(#[from] StorageError),
}

/// Runs a rejected ledger record through its channel's rules again; a lead it files has the reprocessing in
/// its history, by `by`.
///
/// # Errors
/// See [`ReprocessError`].
#[instrument(skip(storage, intake, settings, mailboxes))]
pub async fn reprocess(
    storage: &dyn Storage,
    intake: &Intake,
    settings: &Settings,
    mailboxes: &impl Mailboxes,
    message_id: i64,
    by: Option<i64>,
) -> Result<Reprocessed, ReprocessError> {
    let max_message_bytes = settings.limits.max_message_bytes;
    let default_calendar = super::default_calendar_id(storage, settings)
        .await?
        .unwrap_or_default();
    let message: MessageView = storage
        .message(message_id)
        .await?
        .ok_or(ReprocessError::NotFound)?;
    if message.outcome != Outcome::Rejected {
        return Err(not_rejected(message.outcome, message.lead_id));
    }
    let mut raw = storage
        .message_raw(message_id)
        .await?
        .ok_or(ReprocessError::NoRaw)?;
    // Only mail is read by its collector's rules.
    let collector = match message.collector_id {
        Some(id) if is_mail(&raw.content_type) => storage.collector(id).await?,
        _ => None,
    };
    if raw.content_type == HEADER_ONLY {
        let collector = collector.as_ref().ok_or_else(|| {
            ReprocessError::Mailbox("the collector that found it no longer exists".into())
        })?;
        match mailboxes
            .download(
                collector,
                message.mailbox_key.as_deref(),
                message.message_id.as_deref(),
            )
            .await
            .map_err(ReprocessError::Mailbox)?
        {
            Downloaded::Raw(bytes) => {
                // Kept whole from now on, whatever its new outcome: the lead's original, and a message that
                // is still rejected (for its JSON, say) reprocesses from the ledger, not the mailbox.
                let whole = StoredRaw::new(bytes.clone());
                if !storage
                    .replace_raw(message_id, WHOLE_MESSAGE, &whole)
                    .await?
                {
                    return Err(resolved_meanwhile(storage, message_id).await);
                }
                raw.bytes = bytes;
                raw.content_type = WHOLE_MESSAGE.to_owned();
            }
            Downloaded::TooLarge(size) => {
                let reason = format!(
                    "the message is {size} bytes, still over limits.max_message_bytes \
                     ({max_message_bytes}); it stays in the mailbox"
                );
                return still_rejected(storage, message_id, reason).await;
            }
        }
    }
    let disposition = if is_mail(&raw.content_type) {
        let rules = collector.and_then(|c| MailRules::of(&c, max_message_bytes).ok());
        let rules = rules
            .unwrap_or_else(|| MailRules::for_saved_message(default_calendar, max_message_bytes));
        submission_for(raw.bytes, None, &rules, intake.settings()).disposition
    } else {
        let charset = super::declared_charset(&raw.content_type);
        let source = match message.http_source_id {
            Some(id) => storage.http_source(id).await?,
            None => None,
        };
        let (calendar_id, auto_tech_cards) = source.map_or((default_calendar, false), |s| {
            (s.calendar_id, s.auto_tech_cards)
        });
        let default = charset
            .as_deref()
            .and_then(encoding_for_label)
            .unwrap_or(encoding_rs::WINDOWS_1251);
        match intake.parse(&raw.bytes, charset.as_deref(), default) {
            Ok(parsed) => parsed.into_lead(calendar_id, auto_tech_cards),
            Err(rejection) => Disposition::Rejected {
                reason: rejection.to_string(),
            },
        }
    };
    match disposition {
        Disposition::Lead(draft) => match storage.import_for_message(message_id, &draft, by).await?
        {
            Reimport::Imported { lead_id } => {
                intake.announce(lead_id, crate::live::Change::New);
                Ok(Reprocessed::Imported { lead_id })
            }
            Reimport::AlreadyResolved { outcome, lead_id } => Err(not_rejected(outcome, lead_id)),
        },
        Disposition::Rejected { reason } | Disposition::Skipped { reason } => {
            still_rejected(storage, message_id, reason).await
        }
    }
}

/// Records the new reason of a message that is still rejected.
async fn still_rejected(
    storage: &dyn Storage,
    message_id: i64,
    reason: String,
) -> Result<Reprocessed, ReprocessError> {
    let reason = format!(
        "{reason} (reprocessed {})",
        Utc::now().format("%Y-%m-%d %H:%M UTC")
    );
    if storage
        .resolve_message(message_id, Outcome::Rejected, Some(&reason), None)
        .await?
    {
        return Ok(Reprocessed::Rejected { reason });
    }
    Err(resolved_meanwhile(storage, message_id).await)
}

/// The error for a record that another call resolved meanwhile: what that call did.
async fn resolved_meanwhile(storage: &dyn Storage, message_id: i64) -> ReprocessError {
    match storage.message(message_id).await {
        Ok(Some(now)) => not_rejected(now.outcome, now.lead_id),
        Ok(None) => ReprocessError::NotFound,
        Err(e) => e.into(),
    }
}

/// What a mailbox gave for a message that the ledger holds as its header fields alone.
#[derive(Debug)]
pub enum Downloaded {
    /// The whole message.
    Raw(Vec<u8>),
    /// Its size, still over `limits.max_message_bytes`: not downloaded.
    TooLarge(u64),
}

/// The collectors' mailboxes, as reprocessing needs them: implemented by the mail channel
/// (`crate::collector::CollectorEnv`), so that the pipeline does not depend on the channel.
pub trait Mailboxes: Sync {
    /// Downloads the message a collector found at `mailbox_key` (`UIDVALIDITY:UID` or the UIDL) with this
    /// `Message-ID`, wherever the collector may have moved it; the error says why it could not.
    fn download(
        &self,
        collector: &CollectorRecord,
        mailbox_key: Option<&str>,
        message_id: Option<&str>,
    ) -> impl std::future::Future<Output = Result<Downloaded, String>> + Send;
}

/// The error for a record that is no longer rejected.
fn not_rejected(outcome: Outcome, lead_id: Option<i64>) -> ReprocessError {
    match (outcome, lead_id) {
        (Outcome::Imported, Some(lead_id)) => ReprocessError::AlreadyImported { lead_id },
        (outcome, _) => ReprocessError::NotRejected(outcome),
    }
}
