//! The intake pipeline every channel shares: bytes in, one ledger record (and at most one lead) out.
//!
//! A channel (mail collector, HTTP handler, `leadgate import`) turns what it received into a [`Submission`]
//! with [`Intake::parse`] (decode, parse) and [`Parsed::into_lead`] (decide), and hands it to
//! [`Intake::submit`]. Submissions from concurrent requests are committed together by a writer task (group
//! commit): the writer takes whatever has queued up while the previous transaction was being made durable,
//! commits it as one transaction, and only then answers each caller. Durability is never traded for speed:
//! every caller's answer comes after its commit (`synchronous = FULL`), but one fsync now covers many leads.
//! SQLite has one writer; PostgreSQL two, so that one group is written while the other commits or waits for a
//! row lock (see [`Ledger::concurrent_batches`](leadgate_storage::Ledger::concurrent_batches)).

pub mod mail;
pub mod reprocess;

use std::sync::Arc;

use chrono_tz::Tz;
use encoding_rs::Encoding;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tracing::{Instrument, instrument, warn};

use leadgate_domain::charset;
use leadgate_domain::payload::{Payload, PayloadError};
use leadgate_domain::warning::Warning;
use leadgate_storage::{
    Disposition, LeadDraft, LedgerEntry, SourceRef, Storage, StorageError, StoredRaw, Submission,
    SubmitOutcome,
};

/// The id of the calendar for site data whose source names none: `default_calendar` of the configuration,
/// else the one an administrator chose in the UI ([`crate::admin_settings`]); provisioning at every start
/// makes sure the configured one exists.
///
/// # Errors
/// Database errors.
pub async fn default_calendar_id(
    storage: &dyn Storage,
    settings: &crate::config::Settings,
) -> Result<Option<i64>, StorageError> {
    Ok(crate::admin_settings::load(storage, settings)
        .await?
        .default_calendar
        .value
        .id)
}

/// Why a payload cannot become a lead.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum Rejection {
    /// The payload failed the format's rules.
    #[error(transparent)]
    Payload(#[from] PayloadError),
    /// The payload failed the format's rules, and its bytes were not all valid in the charset it was read in
    /// (a Windows-1251 file declared UTF-8, say): the likely cause, said with the error.
    #[error(
        "{error} (its bytes are not all valid {charset}, the charset it was read in: declare the one it is \
         written in, e.g. charset=windows-1251)"
    )]
    Misdecoded {
        /// What the format's rules found.
        error: PayloadError,
        /// The charset the bytes were read in.
        charset: &'static str,
    },
    /// The payload is larger than `limits.max_body_bytes`.
    #[error("payload is {size} bytes, the limit is {limit}")]
    TooLarge {
        /// Size of the payload.
        size: usize,
        /// The limit.
        limit: usize,
    },
}

impl Rejection {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::Payload(e) | Rejection::Misdecoded { error: e, .. } => e.code(),
            Rejection::TooLarge { .. } => "too_large",
        }
    }
}

/// A payload that parsed, with the warnings decoding added.
#[derive(Debug, Clone)]
pub struct Parsed {
    /// The payload.
    pub payload: Payload,
    /// Warnings from outside the JSON (charset).
    pub extra_warnings: Vec<Warning>,
}

impl Parsed {
    /// The disposition "file a lead" for this payload in `calendar_id`.
    pub fn into_lead(self, calendar_id: i64, auto_tech_cards: bool) -> Disposition {
        Disposition::Lead(Box::new(LeadDraft {
            payload: self.payload,
            calendar_id,
            auto_tech_cards,
            extra_warnings: self.extra_warnings,
        }))
    }

    /// All warnings: the payload's, then decoding's.
    pub fn warnings(&self) -> impl Iterator<Item = &Warning> {
        self.payload
            .warnings
            .iter()
            .chain(self.extra_warnings.iter())
    }
}

/// Settings of the pipeline.
#[derive(Debug, Clone)]
pub struct IntakeSettings {
    /// The shop's time zone, for dates without an offset.
    pub timezone: Tz,
    /// Largest payload (HTTP body or JSON attachment).
    pub max_body_bytes: usize,
    /// Commit concurrent submissions together.
    pub group_commit: bool,
    /// Largest group.
    pub max_batch: usize,
}

/// Each submission's outcome, in order.
type Outcomes = Vec<Result<SubmitOutcome, Arc<StorageError>>>;

/// Submissions handed to the writer together (one HTTP request, or one batch of a mail collector), and
/// where their outcomes go.
type Job = (Vec<Submission>, oneshot::Sender<Outcomes>);

/// The pipeline. Cheap to share behind an `Arc`.
pub struct Intake {
    storage: Arc<dyn Storage>,
    settings: IntakeSettings,
    writer: Option<mpsc::Sender<Job>>,
    live: Option<Arc<crate::live::LiveHub>>,
}

/// Errors from submitting.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// The storage failed.
    #[error("storage failed")]
    Storage(#[source] Arc<StorageError>),
    /// The writer task is gone (shutting down).
    #[error("the intake writer has stopped")]
    WriterGone,
}

impl Intake {
    /// Builds the pipeline. With group commit on, also returns the writer task, which ends once every clone
    /// of the pipeline is dropped (after committing what was queued).
    pub fn new(
        storage: Arc<dyn Storage>,
        settings: IntakeSettings,
    ) -> (Self, Option<JoinHandle<()>>) {
        if !settings.group_commit {
            return (
                Self {
                    storage,
                    settings,
                    writer: None,
                    live: None,
                },
                None,
            );
        }
        let (tx, rx) = mpsc::channel(settings.max_batch.max(1) * 4);
        let rx = Arc::new(tokio::sync::Mutex::new(rx));
        let writers: Vec<_> = (0..storage.concurrent_batches().max(1))
            .map(|writer| {
                tokio::spawn(
                    run_writer(storage.clone(), rx.clone(), settings.max_batch.max(1))
                        .instrument(tracing::info_span!("intake_writer", writer)),
                )
            })
            .collect();
        let task = tokio::spawn(async move {
            for writer in writers {
                if let Err(e) = writer.await {
                    warn!(error = %e, "an intake writer failed");
                }
            }
        });
        (
            Self {
                storage,
                settings,
                writer: Some(tx),
                live: None,
            },
            Some(task),
        )
    }

    /// Announces every lead this pipeline commits (and those changed through [`Intake::announce`]) to the
    /// live pages.
    pub fn set_live(&mut self, hub: Arc<crate::live::LiveHub>) {
        self.live = Some(hub);
    }

    /// Tells the live pages of a committed lead, if they are served; never waits.
    pub fn announce(&self, lead_id: i64, change: crate::live::Change) {
        if let Some(hub) = &self.live {
            hub.announce(lead_id, change);
        }
    }

    /// The pipeline's settings.
    pub fn settings(&self) -> &IntakeSettings {
        &self.settings
    }

    /// Decodes and parses payload bytes: charset per the specification's order, then the v0.1 format.
    ///
    /// # Errors
    /// A [`Rejection`] when the payload must not become a lead.
    pub fn parse(
        &self,
        bytes: &[u8],
        declared_charset: Option<&str>,
        default: &'static Encoding,
    ) -> Result<Parsed, Rejection> {
        parse(bytes, declared_charset, default, &self.settings)
    }

    /// Commits one submission (through the group-commit writer when it is on) and returns what storage did.
    ///
    /// # Errors
    /// Storage failures; the submission is then not stored.
    #[instrument(skip_all)]
    pub async fn submit(&self, submission: Submission) -> Result<SubmitOutcome, SubmitError> {
        self.submit_all(vec![submission])
            .await
            .pop()
            .unwrap_or(Err(SubmitError::WriterGone))
    }

    /// Commits submissions that belong together (a mail collector's batch): through the group-commit writer
    /// when there is one, so that batches queued behind a commit share the next one; else in one
    /// transaction of their own. A failed group is committed again one submission at a time, so one bad row
    /// never loses the others; a mail message that fails on its own is recorded as rejected with the reason.
    ///
    /// # Errors
    /// Storage failures of individual submissions are returned in place, in the submissions' order.
    pub async fn submit_all(
        &self,
        batch: Vec<Submission>,
    ) -> Vec<Result<SubmitOutcome, SubmitError>> {
        let count = batch.len();
        let outcomes = match &self.writer {
            Some(writer) => {
                let (reply, answer) = oneshot::channel();
                // A job the writer cannot take is dropped with its reply, so the answer fails too.
                let _waiting = match writer.send((batch, reply)).await {
                    Ok(()) => Some(Waiting::new(count)),
                    Err(_) => None,
                };
                match answer.await {
                    Ok(outcomes) => outcomes,
                    Err(_) => return (0..count).map(|_| Err(SubmitError::WriterGone)).collect(),
                }
            }
            None => commit_with_fallback(self.storage.as_ref(), &batch).await,
        };
        for outcome in &outcomes {
            if let Ok(SubmitOutcome::Imported { lead_id, .. }) = outcome {
                self.announce(*lead_id, crate::live::Change::New);
            }
        }
        outcomes
            .into_iter()
            .map(|r| r.map_err(SubmitError::Storage))
            .collect()
    }
}

/// Counts submissions in the `leadgate_intake_writer_submissions` gauge while the group-commit writer holds
/// them (queued, or in the group being committed) and has not answered them, whatever ends the wait.
struct Waiting(usize);

impl Waiting {
    fn new(count: usize) -> Self {
        metrics::gauge!("leadgate_intake_writer_submissions").increment(count as f64);
        Self(count)
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        metrics::gauge!("leadgate_intake_writer_submissions").decrement(self.0 as f64);
    }
}

/// The `charset` a request's `Content-Type` declares, if any.
pub fn declared_charset(content_type: &str) -> Option<String> {
    content_type
        .parse::<mime::Mime>()
        .ok()
        .and_then(|m| m.get_param(mime::CHARSET).map(|c| c.as_str().to_owned()))
}

/// See [`Intake::parse`].
///
/// # Errors
/// A [`Rejection`] when the payload must not become a lead.
pub fn parse(
    bytes: &[u8],
    declared_charset: Option<&str>,
    default: &'static Encoding,
    settings: &IntakeSettings,
) -> Result<Parsed, Rejection> {
    if bytes.len() > settings.max_body_bytes {
        return Err(Rejection::TooLarge {
            size: bytes.len(),
            limit: settings.max_body_bytes,
        });
    }
    let decoded = charset::decode(bytes, declared_charset, default);
    parse_text(
        &decoded.text,
        decoded.had_errors.then_some(decoded.encoding),
        settings,
    )
}

/// Parses payload text that a channel has already decoded. `replaced` names the encoding when decoding
/// replaced undecodable bytes, which becomes a warning on the lead.
///
/// # Errors
/// A [`Rejection`] when the payload must not become a lead.
pub fn parse_text(
    text: &str,
    replaced: Option<&'static Encoding>,
    settings: &IntakeSettings,
) -> Result<Parsed, Rejection> {
    within_limit(text, settings)?;
    let payload =
        Payload::from_json(text, settings.timezone).map_err(|e| misdecoded(e, replaced))?;
    Ok(parsed(payload, replaced))
}

/// [`parse_text`] for a text whose JSON has already been read: the mail channel reads it to choose the
/// attachment, and does not parse it twice.
///
/// # Errors
/// As [`parse_text`], except the JSON errors.
pub fn parse_read_json(
    text: &str,
    json: &serde_json::Value,
    replaced: Option<&'static Encoding>,
    settings: &IntakeSettings,
) -> Result<Parsed, Rejection> {
    within_limit(text, settings)?;
    let payload =
        Payload::from_value(json, settings.timezone).map_err(|e| misdecoded(e, replaced))?;
    Ok(parsed(payload, replaced))
}

/// A payload error, with the charset named when the bytes were not all valid in it. Text that is not JSON
/// at all is not blamed on the charset: replaced bytes stay valid JSON.
fn misdecoded(error: PayloadError, replaced: Option<&'static Encoding>) -> Rejection {
    match replaced {
        Some(charset) if !matches!(error, PayloadError::NotJson { .. }) => Rejection::Misdecoded {
            error,
            charset: charset.name(),
        },
        _ => Rejection::Payload(error),
    }
}

/// The limit is on bytes as received; Cyrillic in Windows-1251 takes two bytes per letter once in UTF-8.
fn within_limit(text: &str, settings: &IntakeSettings) -> Result<(), Rejection> {
    if text.len() > settings.max_body_bytes.saturating_mul(2) {
        return Err(Rejection::TooLarge {
            size: text.len(),
            limit: settings.max_body_bytes,
        });
    }
    Ok(())
}

fn parsed(payload: Payload, replaced: Option<&'static Encoding>) -> Parsed {
    let extra_warnings = replaced
        .map(|e| Warning::charset_replacement(e.name()))
        .into_iter()
        .collect();
    Parsed {
        payload,
        extra_warnings,
    }
}

async fn commit_with_fallback(
    storage: &dyn Storage,
    batch: &[Submission],
) -> Vec<Result<SubmitOutcome, Arc<StorageError>>> {
    match storage.submit_batch(batch).await {
        Ok(outcomes) => outcomes.into_iter().map(Ok).collect(),
        // The database cannot be reached: no message of the batch is to blame, and none is committed.
        Err(e @ StorageError::Unavailable(_)) => {
            let e = Arc::new(e);
            batch.iter().map(|_| Err(Arc::clone(&e))).collect()
        }
        Err(e) if batch.len() == 1 => vec![refused_alone(storage, &batch[0], e).await],
        Err(e) => {
            warn!(error = %e, batch = batch.len(), "group commit failed; committing one by one");
            let mut results = Vec::with_capacity(batch.len());
            for submission in batch {
                let one = storage.submit_batch(std::slice::from_ref(submission)).await;
                results.push(match one {
                    Ok(outcomes) => first_outcome(outcomes),
                    Err(e) => refused_alone(storage, submission, e).await,
                });
            }
            results
        }
    }
}

fn first_outcome(mut outcomes: Vec<SubmitOutcome>) -> Result<SubmitOutcome, Arc<StorageError>> {
    outcomes
        .pop()
        .ok_or_else(|| Arc::new(StorageError::backend("storage returned no outcome")))
}

/// What becomes of a submission that storage refused on its own. A mail message is recorded as rejected
/// with the storage's reason instead (with its raw message, or, should storage refuse that too, without it
/// and without its key), so that one message that always fails never blocks its collector: the rest of its
/// batch commits and the scan moves on. Nobody waits on a mail message for an answer; an HTTP client does, so
/// other channels get the error. A database that cannot be reached refuses nothing: that error is passed on
/// for every channel, so that the collector stops before its scan position and imports the message next time.
async fn refused_alone(
    storage: &dyn Storage,
    submission: &Submission,
    error: StorageError,
) -> Result<SubmitOutcome, Arc<StorageError>> {
    if !matches!(submission.ledger.source, SourceRef::Collector { .. })
        || matches!(error, StorageError::Unavailable(_))
    {
        return Err(Arc::new(error));
    }
    let reason = format!(
        "storage refused the message: {}",
        crate::telemetry::error_chain(&error)
    );
    warn!(%reason, "recording the message as rejected");
    let rejected = Submission {
        ledger: submission.ledger.clone(),
        disposition: Disposition::Rejected { reason },
        idempotency: None,
    };
    if let Ok(outcomes) = storage.submit_batch(std::slice::from_ref(&rejected)).await {
        return first_outcome(outcomes);
    }
    let bare = Submission {
        ledger: LedgerEntry {
            ledger_key: None,
            raw: StoredRaw::default(),
            ..rejected.ledger
        },
        ..rejected
    };
    match storage.submit_batch(std::slice::from_ref(&bare)).await {
        Ok(outcomes) => first_outcome(outcomes),
        Err(_) => Err(Arc::new(error)),
    }
}

/// One writer of the group commit. With several (see
/// [`Ledger::concurrent_batches`](leadgate_storage::Ledger::concurrent_batches)), each takes the queue in turn
/// to gather its group, and commits it while the next writer gathers the next.
async fn run_writer(
    storage: Arc<dyn Storage>,
    queue: Arc<tokio::sync::Mutex<mpsc::Receiver<Job>>>,
    max_batch: usize,
) {
    let mut submissions = Vec::with_capacity(max_batch);
    let mut replies = Vec::new();
    loop {
        {
            let mut rx = queue.lock().await;
            let Some((first, reply)) = rx.recv().await else {
                return;
            };
            replies.push((first.len(), reply));
            submissions.extend(first);
            // Take every job that queued while the previous group was being fsynced, while the group is
            // under `max_batch` (a job is never split).
            while submissions.len() < max_batch {
                match rx.try_recv() {
                    Ok((more, reply)) => {
                        replies.push((more.len(), reply));
                        submissions.extend(more);
                    }
                    Err(_) => break,
                }
            }
        }
        metrics::histogram!("leadgate_intake_group_size").record(submissions.len() as f64);
        let mut results = commit_with_fallback(storage.as_ref(), &submissions)
            .await
            .into_iter();
        for (len, reply) in replies.drain(..) {
            // The caller may have gone (client disconnected); its lead is committed all the same.
            let _ = reply.send(results.by_ref().take(len).collect());
        }
        submissions.clear();
    }
}
