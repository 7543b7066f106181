//! The mail channel: one run of one mail collector: scan the mailbox, record every message it looks at in the ledger exactly
//! once, file a lead for each ORDER message, then tidy the mailbox.
//!
//! Exactly-once comes from the ledger, not from the mailbox: a message's lead and its ledger record commit in
//! one transaction, and the after-import action (seen, move, delete) runs only after that commit, and only on
//! an imported message or a copy of one; retention deletes nothing else either. A crash between the two
//! leaves the message in place; the next run finds it in the ledger (a duplicate, nothing new) and finishes
//! the action. `\Seen` is never read, and fetches use `BODY.PEEK`, so people reading the same
//! mailbox change nothing.
//!
//! IMAP remembers UIDVALIDITY and the highest UID per folder and asks the server only for newer messages whose
//! subject holds the keyword (`UID SEARCH SUBJECT`), then confirms the whole-word rule locally; with
//! `subject_filter = "local"` it lists every newer message and judges each subject itself. POP3 lists
//! UIDLs, skips those the ledger holds, and reads headers with TOP before downloading a message.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use leadgate_domain::subject::keyword_match;
use tracing::{debug, info, instrument, warn};

use crate::config::{ConfigError, read_secret};
use crate::intake::mail::{HEADER_ONLY, MailRules, UnknownCharset, submission_for};
use crate::intake::reprocess::{Downloaded, Mailboxes};
use crate::intake::{Intake, SubmitError};
use leadgate_domain::collector::{AfterImport, Protocol, SubjectFilter};
use leadgate_mail::Credentials;
use leadgate_mail::extract;
use leadgate_mail::imap::{ImapError, ImapSession};
use leadgate_mail::pop3::{Pop3Client, Pop3Error};
use leadgate_mail::tls::{Endpoint, TlsSettings};
use leadgate_storage::{
    CollectorRecord, Disposition, JobLock, LedgerEntry, RunCounts, ScanState, SourceRef, Storage,
    StorageError, StoredRaw, Submission, SubmitOutcome,
};

/// How many messages are fetched, parsed and committed together.
pub const BATCH: usize = 500;

/// How often at most a run saves its scan position (UIDVALIDITY and the highest UID done).
const SAVE_POSITION_EVERY: Duration = Duration::from_secs(1);

/// How many downloaded batches may wait for their parse and commit while the next one downloads.
const IN_FLIGHT: usize = 2;

/// The most bytes of messages in one batch. A batch stays in memory until its commit, so a mailbox of large
/// layout files is taken a few messages at a time.
const BATCH_BYTES: u64 = 8 << 20;

/// Messages larger than this are downloaded in parts of this size, so that only the message itself, not
/// also the connection's buffer, grows to its size.
const PART_BYTES: u32 = 1 << 20;

/// Why a collector run stopped early. The messages committed before it stay committed.
#[derive(Debug, thiserror::Error)]
pub enum CollectorError {
    /// The password could not be read.
    #[error("password: {0}")]
    Password(#[from] ConfigError),
    /// The collector names no password source.
    #[error(
        "the collector has neither password_env nor password_file nor a password typed in the UI"
    )]
    NoPassword,
    /// The password typed in the UI does not decrypt (the `[secrets]` key changed, or the row was altered).
    #[error(
        "the stored mailbox password cannot be decrypted with this [secrets] key: type it again"
    )]
    SealedPassword,
    /// The default charset is unknown.
    #[error(transparent)]
    Charset(#[from] UnknownCharset),
    /// IMAP failed (connect, TLS, login, command, timeout).
    #[error("IMAP: {0}")]
    Imap(#[from] ImapError),
    /// POP3 failed.
    #[error("POP3: {0}")]
    Pop3(#[from] Pop3Error),
    /// The database failed.
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    /// Committing failed.
    #[error("intake: {0}")]
    Submit(#[from] SubmitError),
    /// The run took longer than `limits.collector_run_deadline_secs`.
    #[error("the run was stopped at its deadline of {after:?}; what it committed stays")]
    Deadline {
        /// The deadline.
        after: Duration,
    },
    /// The run's job lock was lost while it ran (the database ended the session holding it), so another
    /// process may run the same collector now.
    #[error(
        "the job lock was lost (the database ended its session); the run stopped, what it committed stays"
    )]
    LockLost,
    /// The mail library panicked on what the server sent (its parser has inputs it cannot take).
    #[error("the mail server's answer could not be read: {0}")]
    Unreadable(String),
    /// A message that reprocessing looked for is no longer where its collector found it or put it.
    #[error("the message is no longer in the mailbox ({0})")]
    Gone(String),
}

/// Runs the protocol work of a collector so that a panic inside it (the IMAP library's parser panics on
/// some malformed server answers) fails this collector's run or test, not the job or the server.
pub(crate) async fn guarded<T>(
    work: impl std::future::Future<Output = Result<T, CollectorError>>,
) -> Result<T, CollectorError> {
    use futures::FutureExt;
    std::panic::AssertUnwindSafe(work)
        .catch_unwind()
        .await
        .unwrap_or_else(|panic| {
            let why = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".to_owned());
            Err(CollectorError::Unreadable(why))
        })
}

/// What one collector run needs besides the collector.
#[derive(Clone)]
pub struct CollectorEnv {
    /// Storage.
    pub storage: Arc<dyn Storage>,
    /// The pipeline.
    pub intake: Arc<Intake>,
    /// Largest e-mail.
    pub max_message_bytes: usize,
    /// Network timeout of every step: each IMAP or POP3 command as a whole, and each read or write in it.
    pub timeout: Duration,
    /// The longest one collector's run may take; the batches committed by then stay committed.
    pub run_deadline: Duration,
    /// The key of mailbox passwords typed in the UI (typed in the collector form, kept sealed).
    pub secrets: Arc<crate::secrets::SecretBox>,
}

/// The ledger record of a message that was not downloaded because of its size. Its header fields, when the
/// server gave them, are kept as its raw form ([`HEADER_ONLY`]): they name the message in the ledger, and
/// reprocessing finds it in the mailbox again by them ([`refetch`]) once the limit is raised.
fn too_large(mailbox_key: &str, size: u64, head: Option<Vec<u8>>, rules: &MailRules) -> Submission {
    let headers = head.as_deref().map(extract::headers).unwrap_or_default();
    let external_number = keyword_match(
        headers.subject.as_deref().unwrap_or_default(),
        &rules.keyword,
    )
    .and_then(|m| m.external_number);
    let message_id = headers.message_id;
    Submission {
        ledger: LedgerEntry {
            source: rules.source.clone(),
            // Keyed by its place: its content, never downloaded, has no hash to key it by or to compare.
            ledger_key: Some(mailbox_key.to_owned()),
            mailbox_key: Some(mailbox_key.to_owned()),
            message_id,
            external_number,
            received_at: Utc::now(),
            raw: head.map(StoredRaw::new).unwrap_or_default(),
            content_type: HEADER_ONLY.to_owned(),
            content_hash: None,
        },
        disposition: Disposition::Rejected {
            reason: format!(
                "the message is {size} bytes, over limits.max_message_bytes ({}); it was not downloaded \
                 and stays in the mailbox: raise the limit and reprocess it",
                rules.max_message_bytes
            ),
        },
        idempotency: None,
    }
}

impl Mailboxes for CollectorEnv {
    async fn download(
        &self,
        collector: &CollectorRecord,
        mailbox_key: Option<&str>,
        message_id: Option<&str>,
    ) -> Result<Downloaded, String> {
        let found = guarded(async {
            match collector.protocol {
                Protocol::Imap => {
                    download_from_imap(self, collector, mailbox_key, message_id).await
                }
                Protocol::Pop3 => download_from_pop3(self, collector, mailbox_key).await,
            }
        })
        .await;
        found.map_err(|e| crate::telemetry::error_chain(&e))
    }
}

/// Finds a message again in the collector's folder, or in its failed folder where a rejected message is
/// moved: by its `Message-ID` when it has a usable one, else by its UID while the folder's UIDVALIDITY is
/// the one it was found under. Downloads it under the limit in force.
async fn download_from_imap(
    env: &CollectorEnv,
    c: &CollectorRecord,
    mailbox_key: Option<&str>,
    message_id: Option<&str>,
) -> Result<Downloaded, CollectorError> {
    let message_id =
        message_id.filter(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_graphic()));
    let place = mailbox_key.and_then(|key| {
        let (validity, uid) = key.split_once(':')?;
        Some((validity.parse::<u32>().ok()?, uid.parse::<u32>().ok()?))
    });
    let credentials = credentials(env, c).await?;
    let mut session =
        ImapSession::connect_and_login(&endpoint(c, env.timeout), &credentials).await?;
    session.set_max_literal(env.max_message_bytes);
    let mut found = None;
    for folder in std::iter::once(&c.folder).chain(c.failed_folder.as_ref()) {
        let selected = session.select(folder).await?;
        let uid = match (message_id, place) {
            (Some(id), _) => session.search_message_id(id).await?.first().copied(),
            (None, Some((validity, uid)))
                if *folder == c.folder && validity == selected.uid_validity =>
            {
                Some(uid)
            }
            (None, _) => None,
        };
        if let Some(uid) = uid {
            found = Some((uid, selected.uid_validity));
            break;
        }
    }
    let (uid, uid_validity) = found.ok_or_else(|| CollectorError::Gone(searched(c)))?;
    let Some(&(_, size)) = session.fetch_sizes(&[uid]).await?.first() else {
        return Err(CollectorError::Gone(searched(c)));
    };
    let batch = Planned {
        messages: vec![(uid, size)],
        judged: Vec::new(),
        last: uid,
    };
    let fetched = download(env, &mut session, &batch, uid_validity).await?;
    session.logout().await?;
    match fetched.into_iter().next() {
        Some((_, Fetched::Raw(raw))) => Ok(Downloaded::Raw(raw)),
        Some((_, Fetched::TooLarge { size, .. })) => Ok(Downloaded::TooLarge(size)),
        None => Err(CollectorError::Gone(searched(c))),
    }
}

/// Where [`download_from_imap`] looked.
fn searched(c: &CollectorRecord) -> String {
    match &c.failed_folder {
        Some(failed) => format!("looked in {:?} and {failed:?}", c.folder),
        None => format!("looked in {:?}", c.folder),
    }
}

/// Finds a message again in a POP3 mailbox by its UIDL, and downloads it under the limit in force.
async fn download_from_pop3(
    env: &CollectorEnv,
    c: &CollectorRecord,
    mailbox_key: Option<&str>,
) -> Result<Downloaded, CollectorError> {
    let credentials = credentials(env, c).await?;
    let mut client = Pop3Client::connect_and_login(&endpoint(c, env.timeout), &credentials).await?;
    let msgno = client
        .uidl_all()
        .await?
        .into_iter()
        .find(|(_, uidl)| Some(uidl.as_str()) == mailbox_key)
        .map(|(msgno, _)| msgno);
    let downloaded = match msgno {
        None => Err(CollectorError::Gone("no message has its UIDL".into())),
        Some(msgno) => match client.retr(msgno, env.max_message_bytes).await {
            Ok(raw) => Ok(Downloaded::Raw(raw)),
            Err(Pop3Error::MessageTooLarge { size, .. }) => Ok(Downloaded::TooLarge(size)),
            Err(e) => Err(e.into()),
        },
    };
    client.quit().await?;
    downloaded
}

/// Completes once any of the locks is lost.
async fn any_lost(locks: &[&JobLock]) {
    if locks.is_empty() {
        return std::future::pending().await;
    }
    futures::future::select_all(locks.iter().map(|lock| Box::pin(lock.lost()))).await;
}

/// The login and password: from the collector's variable or file when it names one, else the password
/// typed in the UI, opened only for the server and login it was typed for.
pub(crate) async fn credentials(
    env: &CollectorEnv,
    collector: &CollectorRecord,
) -> Result<Credentials, CollectorError> {
    let configured = read_secret(
        collector.password_env.as_deref(),
        collector.password_file.as_deref(),
    )?;
    let password = match configured {
        Some(p) => p,
        None => typed_password(env, collector)
            .await?
            .ok_or(CollectorError::NoPassword)?,
    };
    Ok(Credentials::new(collector.username.clone(), password))
}

async fn typed_password(
    env: &CollectorEnv,
    c: &CollectorRecord,
) -> Result<Option<String>, CollectorError> {
    let Some(stored) = env.storage.collector_password(c.id).await? else {
        return Ok(None);
    };
    let owner = leadgate_storage::StoredPassword::owner_of(c);
    if stored.bound_to != owner {
        return Ok(None);
    }
    env.secrets
        .open(&stored.sealed, &owner)
        .map(Some)
        .map_err(|_| CollectorError::SealedPassword)
}

pub(crate) fn endpoint(collector: &CollectorRecord, timeout: Duration) -> Endpoint {
    Endpoint {
        host: collector.host.clone(),
        port: collector.port,
        tls: TlsSettings {
            mode: collector.tls,
            ca_file: collector.ca_file.clone(),
            insecure_skip_verify: collector.insecure_skip_verify,
        },
        timeout,
    }
}

/// Connects and logs in, and nothing more: the administrator's "test connection".
///
/// # Errors
/// Whatever stops the connection or the login.
pub async fn test_connection(
    env: &CollectorEnv,
    collector: &CollectorRecord,
    timeout: Duration,
) -> Result<(), CollectorError> {
    let credentials = credentials(env, collector).await?;
    let endpoint = endpoint(collector, timeout);
    guarded(async {
        match collector.protocol {
            Protocol::Imap => {
                let mut session = ImapSession::connect_and_login(&endpoint, &credentials).await?;
                session.select(&collector.folder).await?;
                session.logout().await?;
            }
            Protocol::Pop3 => {
                Pop3Client::connect_and_login(&endpoint, &credentials)
                    .await?
                    .quit()
                    .await?
            }
        }
        Ok(())
    })
    .await
}

/// Runs one collector once, records the run, and returns its counts and error. The run stops, recorded as
/// such, when any of the locks it runs under is lost: another process may take them and run it.
#[instrument(skip_all, fields(collector = %collector.name))]
pub async fn run(
    env: &CollectorEnv,
    collector: &CollectorRecord,
    locks: &[&JobLock],
) -> (RunCounts, Option<String>) {
    let run_id = match env.storage.start_run(collector.id).await {
        Ok(id) => Some(id),
        Err(e) => {
            warn!(error = %e, "cannot record the start of the run");
            None
        }
    };
    let mut counts = RunCounts::default();
    let run = guarded(async {
        match collector.protocol {
            Protocol::Imap => run_imap(env, collector, &mut counts).await,
            Protocol::Pop3 => run_pop3(env, collector, &mut counts).await,
        }
    });
    let result = tokio::select! {
        result = tokio::time::timeout(env.run_deadline, run) => {
            result.unwrap_or(Err(CollectorError::Deadline {
                after: env.run_deadline,
            }))
        }
        () = any_lost(locks) => Err(CollectorError::LockLost),
    };
    let error = result.err().map(|e| crate::telemetry::error_chain(&e));
    match &error {
        None => info!(?counts, "collector run finished"),
        Some(e) => warn!(?counts, error = %e, "collector run failed"),
    }
    if let Some(run_id) = run_id
        && let Err(e) = env
            .storage
            .finish_run(run_id, &counts, error.as_deref())
            .await
    {
        warn!(error = %e, "cannot record the end of the run");
    }
    (counts, error)
}

fn count(counts: &mut RunCounts, outcome: &SubmitOutcome) {
    match outcome {
        SubmitOutcome::Imported { .. } => counts.imported += 1,
        SubmitOutcome::Duplicate { .. } | SubmitOutcome::IdempotentReplay { .. } => {
            counts.duplicate += 1
        }
        SubmitOutcome::Skipped { .. } => counts.skipped += 1,
        SubmitOutcome::Rejected { .. } => counts.rejected += 1,
        SubmitOutcome::IdempotencyConflict => {}
    }
}

/// Whether the after-import action may touch a message: it was imported, or it is a copy of one that was
/// (same key, same content). Never a skipped or rejected message, nor a copy of one.
fn is_imported(outcome: &SubmitOutcome) -> bool {
    matches!(
        outcome,
        SubmitOutcome::Imported { .. } | SubmitOutcome::Duplicate { lead_id: Some(_) }
    )
}

/// Parses a batch off the async threads (split across two blocking tasks, one per core here) and commits it
/// in one transaction; returns each message's outcome.
async fn commit_batch(
    env: CollectorEnv,
    rules: Arc<MailRules>,
    mut raws: Vec<(String, Fetched)>,
) -> Result<Vec<(String, SubmitOutcome)>, CollectorError> {
    let settings = env.intake.settings().clone();
    let parse = |raws: Vec<(String, Fetched)>| {
        let (rules, settings) = (rules.clone(), settings.clone());
        tokio::task::spawn_blocking(move || {
            raws.into_iter()
                .map(|(key, fetched)| {
                    let submission = match fetched {
                        Fetched::Raw(raw) => {
                            submission_for(raw, Some(key.clone()), &rules, &settings)
                        }
                        Fetched::TooLarge { size, head } => too_large(&key, size, head, &rules),
                    };
                    (key, submission)
                })
                .collect::<Vec<_>>()
        })
    };
    let started = Instant::now();
    let second = raws.split_off(raws.len() / 2);
    let (a, b) = tokio::join!(parse(raws), parse(second));
    let parsed = started.elapsed();
    let failed = |e: tokio::task::JoinError| {
        CollectorError::Storage(StorageError::backend(format!("parser task failed: {e}")))
    };
    let (keys, submissions): (Vec<String>, Vec<Submission>) = a
        .map_err(failed)?
        .into_iter()
        .chain(b.map_err(failed)?)
        .unzip();
    let mut out = Vec::with_capacity(keys.len());
    for (key, result) in keys
        .into_iter()
        .zip(env.intake.submit_all(submissions).await)
    {
        out.push((key, result?));
    }
    tracing::debug!(messages = out.len(), ?parsed, committed = ?(started.elapsed() - parsed), "batch done");
    Ok(out)
}

fn parse_mailbox_key(key: &str) -> Option<u32> {
    key.rsplit(':').next()?.parse().ok()
}

/// A batch being parsed and committed in its own task.
type CommitTask = tokio::task::JoinHandle<Result<Vec<(String, SubmitOutcome)>, CollectorError>>;

/// One batch to download: its messages' UIDs and sizes in UID order, and the highest UID it accounts for.
struct Planned {
    messages: Vec<(u32, u32)>,
    /// Messages whose subject leadgate judged from their header fields alone and found without the keyword
    /// (`subject_filter = "local"`): recorded as skipped, never downloaded.
    judged: Vec<(u32, Vec<u8>)>,
    last: u32,
}

/// Plans the batches of one chunk of UIDs: skips those the ledger holds (after a rescan), with
/// `subject_filter = "local"` reads the subjects of the rest and keeps those that hold the keyword, asks
/// their sizes, and splits them so that no batch holds more than [`BATCH_BYTES`] (but at least one message).
/// Always gives at least one batch, so the scan position moves past the whole chunk, every UID of it judged.
async fn plan_chunk(
    env: &CollectorEnv,
    session: &mut ImapSession,
    c: &CollectorRecord,
    chunk: &[u32],
    uid_validity: u32,
    rescan: Option<&str>,
    counts: &mut RunCounts,
) -> Result<Vec<Planned>, CollectorError> {
    let key = |uid: u32| format!("{uid_validity}:{uid}");
    // After a UIDVALIDITY change, skip what the ledger already holds without downloading it.
    let known = if let Some(source) = rescan {
        let keys: Vec<String> = chunk.iter().map(|uid| key(*uid)).collect();
        env.storage.known_mailbox_keys(source, &keys).await?
    } else {
        HashSet::new()
    };
    let wanted: Vec<u32> = chunk
        .iter()
        .copied()
        .filter(|uid| !known.contains(&key(*uid)))
        .collect();
    counts.duplicate += (chunk.len() - wanted.len()) as u64;
    let mut judged = Vec::new();
    let wanted = if c.subject_filter == SubjectFilter::Local && !wanted.is_empty() {
        let mut heads = session
            .fetch_subjects(&wanted)
            .await?
            .into_iter()
            .peekable();
        let mut keep = Vec::with_capacity(wanted.len());
        for uid in wanted {
            // A message the server gave no header fields for is downloaded and judged whole.
            let head = heads.next_if(|(u, _)| *u == uid).map(|(_, head)| head);
            while heads.next_if(|(u, _)| *u <= uid).is_some() {}
            match head {
                Some(head)
                    if keyword_match(
                        extract::headers(&head)
                            .subject
                            .as_deref()
                            .unwrap_or_default(),
                        &c.keyword,
                    )
                    .is_none() =>
                {
                    judged.push((uid, head));
                }
                _ => keep.push(uid),
            }
        }
        keep
    } else {
        wanted
    };
    let sizes = if wanted.is_empty() {
        Vec::new()
    } else {
        session.fetch_sizes(&wanted).await?
    };
    let mut batches = Vec::new();
    let (mut messages, mut bytes) = (Vec::new(), 0u64);
    for (uid, size) in sizes {
        // A message over the limit is not downloaded, so it takes no room.
        let cost = if size as usize <= env.max_message_bytes {
            u64::from(size)
        } else {
            0
        };
        if let Some(&(previous, _)) = messages.last()
            && bytes + cost > BATCH_BYTES
        {
            batches.push(Planned {
                messages: std::mem::take(&mut messages),
                judged: std::mem::take(&mut judged),
                last: previous,
            });
            bytes = 0;
        }
        messages.push((uid, size));
        bytes += cost;
    }
    batches.push(Planned {
        messages,
        judged,
        last: chunk.last().copied().unwrap_or_default(),
    });
    Ok(batches)
}

/// Downloads a planned batch with `BODY.PEEK[]`: small messages in one command, large ones in parts of
/// [`PART_BYTES`]; those over `max_message_bytes` are recorded with their size, never downloaded.
async fn download(
    env: &CollectorEnv,
    session: &mut ImapSession,
    batch: &Planned,
    uid_validity: u32,
) -> Result<Vec<(String, Fetched)>, CollectorError> {
    let started = Instant::now();
    let mut fetched = Vec::with_capacity(batch.messages.len() + batch.judged.len());
    let mut small = Vec::with_capacity(batch.messages.len());
    let mut large = Vec::new();
    for (uid, head) in &batch.judged {
        fetched.push((*uid, Fetched::Raw(head.clone())));
    }
    for &(uid, size) in &batch.messages {
        if size as usize > env.max_message_bytes {
            warn!(uid, size, "message over max_message_bytes");
            large.push((uid, size));
        } else if size > PART_BYTES {
            let message = session
                .fetch_in_parts(uid, size, PART_BYTES, env.max_message_bytes)
                .await?;
            fetched.extend(message.map(|m| (m.uid, Fetched::Raw(m.raw))));
        } else {
            small.push(uid);
        }
    }
    if !small.is_empty() {
        for message in session.fetch_batch(&small).await? {
            fetched.push((message.uid, Fetched::Raw(message.raw)));
        }
    }
    if !large.is_empty() {
        let uids: Vec<u32> = large.iter().map(|(uid, _)| *uid).collect();
        let mut heads: std::collections::HashMap<u32, Vec<u8>> =
            session.fetch_subjects(&uids).await?.into_iter().collect();
        fetched.extend(large.into_iter().map(|(uid, size)| {
            let head = heads.remove(&uid);
            (
                uid,
                Fetched::TooLarge {
                    size: u64::from(size),
                    head,
                },
            )
        }));
    }
    // In UID order, so that of two copies of a message in one batch the earlier one is imported.
    fetched.sort_unstable_by_key(|(uid, _)| *uid);
    tracing::debug!(messages = fetched.len(), took = ?started.elapsed(), "batch fetched");
    Ok(fetched
        .into_iter()
        .map(|(uid, f)| (format!("{uid_validity}:{uid}"), f))
        .collect())
}

/// Waits for a batch's commit, counts its outcomes, and only then applies the after-import action and the
/// failed folder.
async fn finish_imap_batch(
    session: &mut ImapSession,
    c: &CollectorRecord,
    counts: &mut RunCounts,
    task: CommitTask,
) -> Result<(), CollectorError> {
    let outcomes = task.await.map_err(|e| {
        CollectorError::Storage(StorageError::backend(format!("commit task failed: {e}")))
    })??;
    let (mut done, mut failed) = (Vec::new(), Vec::new());
    for (key, outcome) in &outcomes {
        count(counts, outcome);
        let Some(uid) = parse_mailbox_key(key) else {
            continue;
        };
        if is_imported(outcome) {
            done.push(uid);
        } else if matches!(outcome, SubmitOutcome::Rejected { .. }) {
            failed.push(uid);
        }
    }
    after_import(session, c, &done).await?;
    if let Some(failed_folder) = c.failed_folder.as_deref().filter(|_| !failed.is_empty()) {
        session.move_to(&failed, failed_folder).await?;
    }
    Ok(())
}

async fn run_imap(
    env: &CollectorEnv,
    c: &CollectorRecord,
    counts: &mut RunCounts,
) -> Result<(), CollectorError> {
    let rules = Arc::new(MailRules::of(c, env.max_message_bytes)?);
    let credentials = credentials(env, c).await?;
    let mut session =
        ImapSession::connect_and_login(&endpoint(c, env.timeout), &credentials).await?;
    session.set_max_literal(env.max_message_bytes);
    let folder = session.select(&c.folder).await?;
    let saved = env.storage.scan_state(c.id, &c.folder).await?;
    let after = match saved {
        Some(state) if state.uid_validity == folder.uid_validity => state.last_uid,
        Some(_) => {
            info!("UIDVALIDITY changed: rescanning the folder, the ledger drops what it holds");
            0
        }
        None => 0,
    };
    // With the local subject filter every new message is listed, and judged in `plan_chunk`.
    let uids = match c.subject_filter {
        SubjectFilter::Server => session.search_new(&c.keyword, after).await?,
        SubjectFilter::Local => session.search_new("", after).await?,
    };
    let source = rules.source.key();
    let mut last_uid = after;
    // The scan position is saved after the batches' after-import actions, about once a second and at the
    // end; after a crash the next run downloads at most that second's batches again, and the ledger
    // records them as duplicates and finishes their actions.
    let mut persisted = saved
        .filter(|state| state.uid_validity == folder.uid_validity)
        .map(|state| state.last_uid);
    let mut last_saved = Instant::now();
    // A pipeline: while earlier batches are parsed and committed in their own tasks, the next one is
    // downloaded; the mailbox is touched for a batch only after its commit, and batches finish in order.
    let mut pending: VecDeque<(u32, CommitTask)> = VecDeque::with_capacity(IN_FLIGHT + 1);
    let mut chunks = uids.chunks(BATCH);
    let mut planned = VecDeque::new();
    let scanned: Result<(), CollectorError> = async {
        loop {
            if planned.is_empty()
                && let Some(chunk) = chunks.next()
            {
                let rescan = (after == 0 && saved.is_some()).then_some(source.as_str());
                planned.extend(
                    plan_chunk(
                        env,
                        &mut session,
                        c,
                        chunk,
                        folder.uid_validity,
                        rescan,
                        counts,
                    )
                    .await?,
                );
            }
            if let Some(batch) = planned.pop_front() {
                let raws = download(env, &mut session, &batch, folder.uid_validity).await?;
                let task = tokio::spawn(commit_batch(env.clone(), rules.clone(), raws));
                pending.push_back((batch.last, task));
                if pending.len() <= IN_FLIGHT {
                    continue;
                }
            }
            let Some((batch_last, task)) = pending.pop_front() else {
                break;
            };
            finish_imap_batch(&mut session, c, counts, task).await?;
            last_uid = last_uid.max(batch_last);
            if last_saved.elapsed() >= SAVE_POSITION_EVERY {
                save_position(env, c, folder.uid_validity, last_uid).await?;
                (persisted, last_saved) = (Some(last_uid), Instant::now());
            }
        }
        Ok(())
    }
    .await;
    if let Err(e) = scanned {
        // Batches still in flight commit whatever stopped the run: their leads are counted in its summary
        // (their messages are left as they are; the next run finds them in the ledger and finishes them).
        for (_, task) in pending {
            if let Ok(Ok(outcomes)) = task.await {
                for (_, outcome) in &outcomes {
                    count(counts, outcome);
                }
            }
        }
        return Err(e);
    }
    if persisted != Some(last_uid) {
        save_position(env, c, folder.uid_validity, last_uid).await?;
    }
    if let Some(days) = c.delete_after_days {
        retention_imap(env, &mut session, c, folder.uid_validity, days).await?;
    }
    session.logout().await?;
    Ok(())
}

/// Remembers that every UID up to `last_uid` of this UIDVALIDITY is done.
async fn save_position(
    env: &CollectorEnv,
    c: &CollectorRecord,
    uid_validity: u32,
    last_uid: u32,
) -> Result<(), CollectorError> {
    let state = ScanState {
        uid_validity,
        last_uid,
    };
    Ok(env.storage.set_scan_state(c.id, &c.folder, state).await?)
}

/// A message as the mailbox gave it.
enum Fetched {
    /// The whole raw message (or, for a POP3 message without the keyword, its headers).
    Raw(Vec<u8>),
    /// Not downloaded: larger than `max_message_bytes`; its header fields, when the server gave them.
    TooLarge { size: u64, head: Option<Vec<u8>> },
}

async fn after_import(
    session: &mut ImapSession,
    c: &CollectorRecord,
    uids: &[u32],
) -> Result<(), CollectorError> {
    if uids.is_empty() {
        return Ok(());
    }
    match c.after_import {
        AfterImport::Keep => {}
        AfterImport::Seen => session.mark_seen(uids).await?,
        AfterImport::Move => match c.move_to.as_deref() {
            Some(folder) => session.move_to(uids, folder).await?,
            None => warn!("after_import = \"move\" without move_to: keeping the messages"),
        },
        AfterImport::Delete => session.delete(uids).await?,
    }
    Ok(())
}

async fn retention_imap(
    env: &CollectorEnv,
    session: &mut ImapSession,
    c: &CollectorRecord,
    uid_validity: u32,
    days: u32,
) -> Result<(), CollectorError> {
    let cutoff = Utc::now().date_naive() - chrono::Days::new(u64::from(days));
    let old = session.search_before(cutoff).await?;
    if old.is_empty() {
        return Ok(());
    }
    let keys: Vec<String> = old
        .iter()
        .map(|uid| format!("{uid_validity}:{uid}"))
        .collect();
    let imported = env
        .storage
        .imported_mailbox_keys(&SourceRef::Collector { id: c.id }.key(), &keys)
        .await?;
    let doomed: Vec<u32> = old
        .iter()
        .zip(&keys)
        .filter(|(_, key)| imported.contains(*key))
        .map(|(uid, _)| *uid)
        .collect();
    if !doomed.is_empty() {
        info!(
            count = doomed.len(),
            days, "retention: deleting imported mail"
        );
        session.delete(&doomed).await?;
    }
    Ok(())
}

async fn run_pop3(
    env: &CollectorEnv,
    c: &CollectorRecord,
    counts: &mut RunCounts,
) -> Result<(), CollectorError> {
    let rules = Arc::new(MailRules::of(c, env.max_message_bytes)?);
    let credentials = credentials(env, c).await?;
    let mut client = Pop3Client::connect_and_login(&endpoint(c, env.timeout), &credentials).await?;
    let listing = client.uidl_all().await?;
    let source = rules.source.key();
    let uidls: Vec<String> = listing.iter().map(|(_, uidl)| uidl.clone()).collect();
    let known = env.storage.known_mailbox_keys(&source, &uidls).await?;
    let fresh: Vec<(u32, String)> = listing
        .iter()
        .filter(|(_, u)| !known.contains(u))
        .cloned()
        .collect();
    let mut to_delete = Vec::new();
    if c.after_import == AfterImport::Delete && !known.is_empty() {
        // Deletions take effect only at QUIT: a session cut before it (the server or the network gone
        // mid-run) leaves mail whose lead is committed. The ledger skips it from then on, so it is deleted
        // here, imported as it is, or the mailbox would keep it for good.
        let held: Vec<String> = known.iter().cloned().collect();
        let imported = env.storage.imported_mailbox_keys(&source, &held).await?;
        let left: Vec<u32> = listing
            .iter()
            .filter(|(_, uidl)| imported.contains(uidl))
            .map(|(msgno, _)| *msgno)
            .collect();
        if !left.is_empty() {
            info!(
                collector = %c.name,
                messages = left.len(),
                "POP3: deleting messages imported by an earlier run that ended before the server deleted them"
            );
        }
        to_delete.extend(left);
    }
    let mut rest = fresh.as_slice();
    while !rest.is_empty() {
        // A batch ends at BATCH messages or once it holds BATCH_BYTES of mail.
        let (mut raws, mut bytes) = (Vec::new(), 0u64);
        let mut taken = 0;
        for (msgno, uidl) in rest.iter().take(BATCH) {
            if bytes >= BATCH_BYTES {
                break;
            }
            taken += 1;
            // The header tells whether the message is wanted; one too long to read so is judged as a
            // whole, within the limit of a message.
            let wanted = match client.top_headers(*msgno, POP3_HEADER_BYTES).await {
                Ok(head) => {
                    let headers = extract::headers(&head);
                    let subject = headers.subject.as_deref().unwrap_or_default();
                    match keyword_match(subject, &c.keyword) {
                        Some(_) => Ok(Some(head)),
                        None => Err(head),
                    }
                }
                Err(Pop3Error::MessageTooLarge { size, .. }) => {
                    debug!(
                        msgno,
                        size, "POP3 header over its limit: reading the whole message"
                    );
                    Ok(None)
                }
                Err(e) => return Err(e.into()),
            };
            let raw = match wanted {
                // Recorded as skipped; the body is never downloaded.
                Err(head) => Fetched::Raw(head),
                Ok(head) => match client.retr(*msgno, env.max_message_bytes).await {
                    Ok(raw) => Fetched::Raw(raw),
                    Err(Pop3Error::MessageTooLarge { size, .. }) => {
                        Fetched::TooLarge { size, head }
                    }
                    Err(e) => return Err(e.into()),
                },
            };
            if let Fetched::Raw(raw) = &raw {
                bytes += raw.len() as u64;
            }
            raws.push((uidl.clone(), raw));
        }
        let (chunk, after) = rest.split_at(taken);
        rest = after;
        let by_uidl: std::collections::HashMap<&str, u32> = chunk
            .iter()
            .map(|(msgno, uidl)| (uidl.as_str(), *msgno))
            .collect();
        for (uidl, outcome) in commit_batch(env.clone(), rules.clone(), raws).await? {
            count(counts, &outcome);
            if is_imported(&outcome)
                && c.after_import == AfterImport::Delete
                && let Some(msgno) = by_uidl.get(uidl.as_str())
            {
                to_delete.push(*msgno);
            }
        }
    }
    if let Some(days) = c.delete_after_days {
        let cutoff = Utc::now() - chrono::Duration::days(i64::from(days));
        let old = env
            .storage
            .imported_mailbox_keys_before(&source, cutoff)
            .await?;
        to_delete.extend(
            listing
                .iter()
                .filter(|(_, uidl)| old.contains(uidl))
                .map(|(msgno, _)| *msgno),
        );
    }
    to_delete.sort_unstable();
    to_delete.dedup();
    for msgno in to_delete {
        client.dele(msgno).await?;
    }
    // Deletions take effect at QUIT, after the leads are committed.
    client.quit().await?;
    Ok(())
}

/// The most bytes of a POP3 message's header read to tell whether it is wanted (`TOP n 0`). A message
/// whose header is longer (thousands of `Received:` lines, say) is downloaded whole, within
/// `max_message_bytes`, and judged as a whole.
const POP3_HEADER_BYTES: usize = 256 * 1024;

/// Default network timeout of collector steps.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
