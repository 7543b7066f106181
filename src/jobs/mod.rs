//! The built-in scheduled job "mail collector": on a cron schedule, run every collector not marked for
//! deletion, in turn.
//!
//! A run never overlaps the previous one: within a process a mutex is tried, not awaited, so a run that falls
//! due while one is going is skipped and logged; across processes sharing one database a job lock in storage
//! does the same, and a crashed holder releases it. The schedule and the switch can change while the server
//! runs ([`MailCollectorJob::set_schedule`], from the settings page): the scheduler wakes on the change and
//! follows the new schedule from then on. [`MailCollectorJob::run_once`] is one step of the scheduler and is what `leadgate collect`,
//! the API's "run now" and the tests call, so they exercise exactly what the schedule runs.

use std::sync::Arc;

use chrono::Utc;
use chrono_tz::Tz;
use croner::Cron;
use tokio::sync::{Mutex, OwnedMutexGuard, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, info, info_span, warn};

use crate::collector::{self, CollectorEnv};
use leadgate_storage::{CollectorRecord, JobLock, RunCounts, StorageError};

/// The job's name in its lock file (one run at a time across processes on one database) and in logs.
pub const MAIL_COLLECTOR: &str = "mail_collector";

/// The name of a collector's own lock (one run of a collector at a time across processes).
fn collector_lock(id: i64) -> String {
    format!("collector_{id}")
}

/// The result of one collector in a run.
#[derive(Debug, Clone)]
pub struct CollectorSummary {
    /// Collector name.
    pub collector: String,
    /// Counts per outcome.
    pub counts: RunCounts,
    /// What stopped it, if anything.
    pub error: Option<String>,
}

/// Why a run did not happen.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// A run is already going in this process.
    #[error("a mail collector run is already in progress")]
    AlreadyRunning,
    /// Another process holds the job's lock.
    #[error("another leadgate process is running the mail collector")]
    LockedElsewhere,
    /// No collector (not marked for deletion) has this name.
    #[error("no active collector named {0:?}")]
    UnknownCollector(String),
    /// The database failed.
    #[error("storage")]
    Storage(#[from] StorageError),
}

/// The "mail collector" job.
pub struct MailCollectorJob {
    env: CollectorEnv,
    running: Arc<Mutex<()>>,
    /// One mutex per collector: a scheduled run and a pushed run of one collector never overlap.
    collectors: std::sync::Mutex<std::collections::HashMap<i64, Arc<Mutex<()>>>>,
    /// The schedule the scheduler follows; `None`: switched off.
    schedule: watch::Sender<Option<Cron>>,
}

/// A run that may go: this process's run guard and the job's lock are held, the collectors chosen.
struct PreparedRun {
    _running: OwnedMutexGuard<()>,
    lock: JobLock,
    collectors: Vec<CollectorRecord>,
}

impl MailCollectorJob {
    /// A job over these services.
    pub fn new(env: CollectorEnv) -> Self {
        Self {
            env,
            running: Arc::new(Mutex::new(())),
            collectors: std::sync::Mutex::default(),
            schedule: watch::Sender::new(None),
        }
    }

    /// Whether the job is switched on (push follows it: no IDLE connections while it is off).
    pub fn is_switched_on(&self) -> bool {
        self.schedule.borrow().is_some()
    }

    /// Completes when the schedule (or the switch) changes next.
    pub async fn schedule_changed(&self) {
        let mut changes = self.schedule.subscribe();
        if changes.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    fn collector_mutex(&self, id: i64) -> Arc<Mutex<()>> {
        self.collectors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(id)
            .or_default()
            .clone()
    }

    /// Runs one collector under its lock: its mutex in this process, and across processes its job lock in
    /// storage; the run also stops if `job` (the whole job's lock, when the run is the job's) is lost. `None`
    /// when another process is running it.
    async fn run_locked(
        &self,
        c: &CollectorRecord,
        job: Option<&JobLock>,
    ) -> Option<(RunCounts, Option<String>)> {
        let mutex = self.collector_mutex(c.id);
        let _running = mutex.lock().await;
        let lock = match self.env.storage.try_lock_job(&collector_lock(c.id)).await {
            Ok(Some(lock)) => lock,
            Ok(None) => return None,
            Err(e) => return Some((RunCounts::default(), Some(format!("storage: {e}")))),
        };
        let span = info_span!("collector", name = %c.name, id = c.id);
        // A run whose lock is lost stops: another process may take the lock and run this collector.
        let locks: Vec<&JobLock> = std::iter::once(&lock).chain(job).collect();
        Some(collector::run(&self.env, c, &locks).instrument(span).await)
    }

    /// Records a run of the job that found the collector run by another process (whose job lock was lost, or
    /// a pushed run), so that the run asked for, "run now" too, shows in the collector's runs with why it did
    /// not happen.
    async fn record_busy(&self, c: &CollectorRecord) -> (RunCounts, Option<String>) {
        let error = "another leadgate process is running this collector".to_owned();
        let counts = RunCounts::default();
        let recorded = async {
            let run = self.env.storage.start_run(c.id).await?;
            self.env
                .storage
                .finish_run(run, &counts, Some(&error))
                .await
        };
        if let Err(e) = recorded.await {
            warn!(collector = %c.name, error = %e, "cannot record a run that did not happen");
        }
        (counts, Some(error))
    }

    /// Runs one collector because its server announced new mail (IMAP IDLE): the same run as a scheduled
    /// one, after the one going (scheduled or pushed) ends. When another process runs it, waits for that
    /// run and runs again, so mail announced during that run is not left for the schedule.
    pub async fn run_pushed(&self, collector_id: i64) {
        for _ in 0..30 {
            let c = match self.env.storage.collector(collector_id).await {
                Ok(Some(c)) if !c.deleted => c,
                Ok(_) => return,
                Err(e) => {
                    warn!(error = %e, "cannot read the collector for a pushed run");
                    return;
                }
            };
            if self.run_locked(&c, None).await.is_some() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
        warn!("a pushed run did not happen: another process kept the collector busy");
    }

    /// Sets the schedule the scheduler follows (`None`: switched off). The scheduler takes it at once: a
    /// run that was due on the old schedule and has not started does not start.
    pub fn set_schedule(&self, cron: Option<Cron>) {
        match &cron {
            Some(c) => info!(pattern = %c.pattern, "mail collector job schedule set"),
            None => info!("mail collector job switched off"),
        }
        self.schedule.send_replace(cron);
    }

    /// When the schedule in force next falls due (in `tz`), or `None` when the job is switched off.
    pub fn next_run(&self, tz: Tz) -> Option<chrono::DateTime<Tz>> {
        let schedule = self.schedule.borrow();
        schedule
            .as_ref()?
            .find_next_occurrence(&Utc::now().with_timezone(&tz), false)
            .ok()
    }

    /// What the collectors run with (storage and the key of stored mailbox passwords), for the
    /// administrator's "test connection" and the collector form.
    pub fn env(&self) -> &CollectorEnv {
        &self.env
    }

    /// The key that seals mailbox passwords typed in the UI.
    pub fn secrets(&self) -> &crate::secrets::SecretBox {
        &self.env.secrets
    }

    /// One run: every active collector (or only `only`), in turn.
    ///
    /// # Errors
    /// A run in progress, the lock held by another process, an unknown collector, or a database failure before the
    /// run starts. Collector failures are not errors of the run: they are in each summary.
    pub async fn run_once(&self, only: Option<&str>) -> Result<Vec<CollectorSummary>, JobError> {
        let run = self.prepare(only).await?;
        Ok(self.run_prepared(run).await)
    }

    /// Starts a run in a task of its own and returns once it has started (what refuses a run is checked
    /// first), so the caller (the API's and the UI's "run now") can answer at once; the run goes on to the
    /// end whatever happens to the caller.
    ///
    /// # Errors
    /// As [`MailCollectorJob::run_once`].
    pub async fn start(
        self: &Arc<Self>,
        only: Option<&str>,
    ) -> Result<JoinHandle<Vec<CollectorSummary>>, JobError> {
        let run = self.prepare(only).await?;
        let job = self.clone();
        Ok(tokio::spawn(
            async move { job.run_prepared(run).await }.instrument(info_span!("run_now")),
        ))
    }

    async fn prepare(&self, only: Option<&str>) -> Result<PreparedRun, JobError> {
        let running = self
            .running
            .clone()
            .try_lock_owned()
            .map_err(|_| JobError::AlreadyRunning)?;
        let storage = &self.env.storage;
        let mut collectors = storage.collectors(false).await?;
        if let Some(name) = only {
            collectors.retain(|c| c.name == name);
            if collectors.is_empty() {
                return Err(JobError::UnknownCollector(name.to_owned()));
            }
        }
        let lock = storage
            .try_lock_job(MAIL_COLLECTOR)
            .await?
            .ok_or(JobError::LockedElsewhere)?;
        Ok(PreparedRun {
            _running: running,
            lock,
            collectors,
        })
    }

    async fn run_prepared(&self, run: PreparedRun) -> Vec<CollectorSummary> {
        let mut summaries = Vec::with_capacity(run.collectors.len());
        for c in &run.collectors {
            let (counts, error) = match self.run_locked(c, Some(&run.lock)).await {
                Some(done) => done,
                None => self.record_busy(c).await,
            };
            summaries.push(CollectorSummary {
                collector: c.name.clone(),
                counts,
                error,
            });
        }
        summaries
    }

    /// Runs on the schedule set by [`MailCollectorJob::set_schedule`] (in the shop's time zone) until
    /// `shutdown` is cancelled, following each change of the schedule as it comes. A run in progress at
    /// shutdown is dropped between database transactions: what it committed stays, the rest is picked up
    /// next time.
    pub async fn run_scheduled(self: Arc<Self>, tz: Tz, shutdown: CancellationToken) {
        let mut changes = self.schedule.subscribe();
        loop {
            let Some(cron) = changes.borrow_and_update().clone() else {
                info!("the mail collector job is switched off");
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    changed = changes.changed() => if changed.is_err() { return } else { continue },
                }
            };
            let now = Utc::now().with_timezone(&tz);
            let Ok(next) = cron.find_next_occurrence(&now, false) else {
                warn!(
                    "the cron pattern has no next occurrence; the job waits for another schedule"
                );
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    changed = changes.changed() => if changed.is_err() { return } else { continue },
                }
            };
            let wait = (next.with_timezone(&Utc) - Utc::now())
                .to_std()
                .unwrap_or_default();
            tokio::select! {
                () = shutdown.cancelled() => return,
                changed = changes.changed() => if changed.is_err() { return } else { continue },
                () = tokio::time::sleep(wait) => {}
            }
            // A change that came as the run fell due wins: the run belongs to the old schedule. It is
            // looked at again once the run holds its locks, just before it starts.
            if changes.has_changed().unwrap_or(true) {
                continue;
            }
            let run = match self.prepare(None).await {
                Ok(run) => run,
                Err(JobError::AlreadyRunning) => {
                    info!("scheduled mail collector run skipped: the previous run is still going");
                    continue;
                }
                // With several instances on one database this is every due run of all but one of them.
                Err(JobError::LockedElsewhere) => {
                    info!(
                        "scheduled mail collector run skipped: another leadgate process is running the job"
                    );
                    continue;
                }
                Err(e) => {
                    warn!(error = %e, "scheduled mail collector run did not happen");
                    continue;
                }
            };
            if changes.has_changed().unwrap_or(true) {
                continue;
            }
            tokio::select! {
                () = shutdown.cancelled() => {
                    info!("shutdown during a mail collector run; committed batches stay");
                    return;
                }
                summaries = self.run_prepared(run) => {
                    info!(collectors = summaries.len(), "scheduled mail collector run finished");
                }
            }
            let missed = runs_between(&cron, &next, &Utc::now().with_timezone(&tz));
            if missed > 0 {
                info!(
                    missed,
                    "scheduled mail collector runs skipped: they fell due while this run was going"
                );
            }
        }
    }
}

/// How many times `cron` falls due after `from` and up to `until`, counting at most 1,000.
fn runs_between<T: chrono::TimeZone>(
    cron: &Cron,
    from: &chrono::DateTime<T>,
    until: &chrono::DateTime<T>,
) -> usize {
    cron.iter_after(from.clone())
        .take(1000)
        .take_while(|at| at <= until)
        .count()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::parse_cron;
    use chrono::TimeZone;

    #[test]
    fn runs_that_fell_due_during_a_long_run_are_counted() {
        let every_five_minutes = parse_cron("0 */5 * * * *").unwrap();
        let at = |h, m, s| Utc.with_ymd_and_hms(2026, 11, 28, h, m, s).unwrap();
        // A run due at 10:00 that ends at 10:17:30 overlapped the runs due at 10:05, 10:10 and 10:15.
        assert_eq!(
            runs_between(&every_five_minutes, &at(10, 0, 0), &at(10, 17, 30)),
            3
        );
        assert_eq!(
            runs_between(&every_five_minutes, &at(10, 0, 0), &at(10, 4, 59)),
            0
        );
        assert_eq!(
            runs_between(&every_five_minutes, &at(10, 0, 0), &at(10, 5, 0)),
            1
        );
    }

    #[test]
    fn six_and_five_field_patterns_both_parse() {
        let six = parse_cron("0 */5 * * * *").unwrap();
        let five = parse_cron("*/5 * * * *").unwrap();
        let tz: Tz = "Europe/Moscow".parse().unwrap();
        let at = tz.with_ymd_and_hms(2026, 11, 28, 10, 2, 30).unwrap();
        assert_eq!(
            six.find_next_occurrence(&at, false).unwrap(),
            tz.with_ymd_and_hms(2026, 11, 28, 10, 5, 0).unwrap()
        );
        assert_eq!(
            five.find_next_occurrence(&at, false).unwrap(),
            tz.with_ymd_and_hms(2026, 11, 28, 10, 5, 0).unwrap()
        );
        assert!(parse_cron("every five minutes").is_err());
    }
}
