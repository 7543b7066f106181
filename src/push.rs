//! Push for IMAP collectors: while the mail collector job is switched on, every IMAP collector with `push`
//! on (the default) whose server advertises IDLE keeps one IDLE connection on its folder, and each
//! announcement of new mail runs that collector at once, through the job ([`MailCollectorJob::run_pushed`]),
//! so the same code path, ledger, after-import rules and collector lock as a scheduled run. The schedule stays
//! as the safety net; POP3 collectors and servers without IDLE stay on it alone.
//!
//! With several instances on one database, only the one holding the push lock ([`PUSH_LOCK`], a job lock
//! of [`leadgate_storage::Collectors::try_lock_job`]) keeps IDLE connections; the others try to take it over
//! every half minute. An instance whose push lock is lost (the database ended the lock's session, as a restart
//! does) closes its IDLE connections and takes the lock again like the others. IDLE is renewed every [`RENEW_AFTER`] (RFC 2177 asks for less than 29 minutes); a
//! dropped connection comes back after a capped exponential backoff, and then runs the collector once, so
//! mail that came while it was down is imported at once too. Each collector's state (connected since when,
//! the last event, the last error) is kept in memory for the collector list of the UI and the API.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, info, info_span, warn};
use utoipa::ToSchema;

use crate::collector::{self, CollectorError};
use crate::jobs::MailCollectorJob;
use leadgate_domain::collector::Protocol;
use leadgate_mail::imap::{IdleEnd, ImapSession};
use leadgate_storage::CollectorRecord;

/// The job lock held by the instance that keeps the IDLE connections.
pub const PUSH_LOCK: &str = "mail_push";

/// How long one IDLE lasts before it is renewed.
pub const RENEW_AFTER: Duration = Duration::from_secs(25 * 60);

/// The first wait before reconnecting, doubled after each failure up to [`BACKOFF_MAX`].
const BACKOFF_MIN: Duration = Duration::from_secs(1);

/// The longest wait before reconnecting.
const BACKOFF_MAX: Duration = Duration::from_secs(300);

/// How often the collectors are read again (added, changed, removed, push switched).
const RESCAN_EVERY: Duration = Duration::from_secs(10);

/// How often an instance without the push lock tries to take it.
const TAKE_OVER_EVERY: Duration = Duration::from_secs(30);

/// One collector's push connection, as the collector list shows it.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct PushStatus {
    /// `connecting`, `connected`, `unsupported` (the server has no IDLE: schedule only) or `waiting` (to
    /// reconnect after an error).
    pub state: &'static str,
    /// Since when the IDLE connection is up.
    pub connected_since: Option<DateTime<Utc>>,
    /// When the server last announced new mail.
    pub last_event: Option<DateTime<Utc>>,
    /// The last error of the connection, with its time.
    pub last_error: Option<String>,
    /// When that error happened.
    pub last_error_at: Option<DateTime<Utc>>,
}

/// The push state of every collector this instance keeps a connection for.
#[derive(Debug, Default)]
pub struct PushStatuses(RwLock<HashMap<i64, PushStatus>>);

impl PushStatuses {
    /// A collector's push state, if this instance pushes it.
    pub fn get(&self, collector_id: i64) -> Option<PushStatus> {
        self.0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&collector_id)
            .cloned()
    }

    fn update(&self, collector_id: i64, change: impl FnOnce(&mut PushStatus)) {
        let mut map = self
            .0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        change(map.entry(collector_id).or_default());
    }

    fn remove(&self, collector_id: i64) {
        self.0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&collector_id);
    }

    fn clear(&self) {
        self.0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
    }
}

/// Keeps the IDLE connections of this instance.
pub struct PushSupervisor {
    job: Arc<MailCollectorJob>,
    statuses: Arc<PushStatuses>,
}

impl PushSupervisor {
    /// A supervisor that runs collectors through `job` and reports in `statuses`.
    pub fn new(job: Arc<MailCollectorJob>, statuses: Arc<PushStatuses>) -> Self {
        Self { job, statuses }
    }

    /// Keeps the connections until `stop` is cancelled.
    pub async fn run(self, stop: CancellationToken) {
        let storage = self.job.env().storage.clone();
        loop {
            let lock = match storage.try_lock_job(PUSH_LOCK).await {
                Ok(Some(lock)) => Some(lock),
                Ok(None) => None,
                Err(e) => {
                    warn!(error = %e, "cannot take the push lock");
                    None
                }
            };
            if let Some(lock) = lock {
                info!("this instance keeps the IMAP IDLE connections");
                // The connections end with the lock: another instance may take a lost lock and keep its own.
                let held = stop.child_token();
                tokio::select! {
                    () = self.supervise(&held) => return,
                    () = lock.lost() => {
                        warn!(
                            "the push lock was lost (the database ended its session); this instance closes \
                             its IMAP IDLE connections and tries to take the lock again"
                        );
                    }
                }
                held.cancel();
                self.statuses.clear();
                drop(lock);
                // At once: the instance that held the lock takes it back before another's next try.
                continue;
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(TAKE_OVER_EVERY) => {}
            }
        }
    }

    async fn supervise(&self, stop: &CancellationToken) {
        let mut tasks: HashMap<i64, (CollectorRecord, CancellationToken)> = HashMap::new();
        loop {
            let wanted: Vec<CollectorRecord> = if self.job.is_switched_on() {
                match self.job.env().storage.collectors(false).await {
                    Ok(all) => all
                        .into_iter()
                        .filter(|c| c.protocol == Protocol::Imap && c.push)
                        .collect(),
                    Err(e) => {
                        warn!(error = %e, "cannot read the collectors for push");
                        tasks.values().map(|(c, _)| c.clone()).collect()
                    }
                }
            } else {
                Vec::new()
            };
            tasks.retain(|id, (record, cancel)| {
                let keep = wanted.iter().any(|c| c == record);
                if !keep {
                    cancel.cancel();
                    self.statuses.remove(*id);
                }
                keep
            });
            for c in wanted {
                if tasks.contains_key(&c.id) {
                    continue;
                }
                let cancel = stop.child_token();
                let task = idle_collector(self.job.clone(), self.statuses.clone(), c.clone());
                let span = info_span!("push", collector = %c.name, id = c.id);
                let token = cancel.clone();
                tokio::spawn(
                    async move {
                        tokio::select! {
                            () = token.cancelled() => {}
                            () = task => {}
                        }
                    }
                    .instrument(span),
                );
                tasks.insert(c.id, (c, cancel));
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(RESCAN_EVERY) => {}
                () = self.job.schedule_changed() => {}
            }
        }
    }
}

/// Why a push connection ended.
enum Ended {
    /// The server has no IDLE: the collector stays on the schedule alone.
    Unsupported,
    /// It failed; it comes back after the backoff.
    Failed(CollectorError),
}

async fn idle_collector(
    job: Arc<MailCollectorJob>,
    statuses: Arc<PushStatuses>,
    c: CollectorRecord,
) {
    let mut backoff = BACKOFF_MIN;
    loop {
        statuses.update(c.id, |s| s.state = "connecting");
        let started = Instant::now();
        match connection(&job, &statuses, &c).await {
            Ended::Unsupported => {
                info!("the server does not offer IDLE: this collector stays on the schedule");
                statuses.update(c.id, |s| {
                    s.state = "unsupported";
                    s.connected_since = None;
                });
                return;
            }
            Ended::Failed(e) => {
                warn!(error = %e, "the IDLE connection failed");
                statuses.update(c.id, |s| {
                    s.state = "waiting";
                    s.connected_since = None;
                    s.last_error = Some(e.to_string());
                    s.last_error_at = Some(Utc::now());
                });
            }
        }
        // A connection that held a while starts the backoff afresh.
        if started.elapsed() > BACKOFF_MAX {
            backoff = BACKOFF_MIN;
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

/// One IDLE connection: connect, check IDLE, run the collector once (what came while disconnected), then
/// idle and run on each announcement until something fails.
async fn connection(job: &MailCollectorJob, statuses: &PushStatuses, c: &CollectorRecord) -> Ended {
    let env = job.env();
    let session = collector::guarded(async {
        let credentials = collector::credentials(env, c).await?;
        let mut session =
            ImapSession::connect_and_login(&collector::endpoint(c, env.timeout), &credentials)
                .await?;
        if !session.has_capability("IDLE") {
            let _ = session.logout().await;
            return Ok(None);
        }
        session.select(&c.folder).await?;
        Ok(Some(session))
    })
    .await;
    let mut session = match session {
        Ok(Some(session)) => session,
        Ok(None) => return Ended::Unsupported,
        Err(e) => return Ended::Failed(e),
    };
    info!("IDLE connection up");
    statuses.update(c.id, |s| {
        s.state = "connected";
        s.connected_since = Some(Utc::now());
    });
    job.run_pushed(c.id).await;
    loop {
        let idled = collector::guarded(async move {
            session
                .idle(RENEW_AFTER)
                .await
                .map_err(CollectorError::from)
        })
        .await;
        let end;
        (session, end) = match idled {
            Ok(idled) => idled,
            Err(e) => return Ended::Failed(e),
        };
        if end == IdleEnd::NewMail {
            statuses.update(c.id, |s| s.last_event = Some(Utc::now()));
            job.run_pushed(c.id).await;
        }
    }
}
