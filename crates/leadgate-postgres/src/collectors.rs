//! Mail collectors in PostgreSQL: their settings, where their IMAP scans stopped, their runs, and the job
//! lock that keeps a job to one instance at a time across processes and machines.
//!
//! The job lock is a session-level advisory lock (`pg_try_advisory_lock`) held by a connection taken out of
//! the pool for as long as the [`JobLock`] lives. Dropping the guard unlocks and closes that connection, so
//! no connection that goes back to the pool ever keeps a lock; and when the holder dies, even by SIGKILL,
//! the server ends its session and the lock is free again. While held, the session is asked every two
//! seconds whether it is still there: a restarted server ended it, and the lock with it, while the holder's
//! run went on with new connections; the guard then says the lock is lost ([`JobLock::lost`]), and the job
//! stops that run before another instance starts the same collector.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex as StdMutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use sha2::{Digest, Sha256};
use sqlx::{Connection, PgConnection};
use tokio::sync::{oneshot, watch};

use super::{Error, PgStorage, Result, from_ms, ms, parse_enum};
use leadgate_domain::collector::AfterImport;
use leadgate_domain::collector::Protocol;
use leadgate_domain::collector::SubjectFilter;
use leadgate_domain::collector::TlsMode;
use leadgate_storage::{
    self as storage, CollectorRecord, Collectors, JobLock, LockLoss, RunCounts, RunView, ScanState,
};

fn tls_text(mode: TlsMode) -> &'static str {
    match mode {
        TlsMode::Implicit => "implicit",
        TlsMode::StartTls => "starttls",
        TlsMode::None => "none",
    }
}

fn tls_mode(text: &str) -> Result<TlsMode> {
    match text {
        "implicit" => Ok(TlsMode::Implicit),
        "starttls" => Ok(TlsMode::StartTls),
        "none" => Ok(TlsMode::None),
        other => Err(Error::Corrupt(format!("tls {other:?}"))),
    }
}

/// A collector as stored.
#[derive(sqlx::FromRow)]
struct CollectorRow {
    id: i64,
    name: String,
    protocol: String,
    host: String,
    port: i64,
    tls: String,
    ca_file: Option<String>,
    insecure_skip_verify: bool,
    username: String,
    password_env: Option<String>,
    password_file: Option<String>,
    folder: String,
    keyword: String,
    subject_filter: String,
    calendar_id: i64,
    default_charset: String,
    after_import: String,
    move_to: Option<String>,
    failed_folder: Option<String>,
    delete_after_days: Option<i64>,
    auto_tech_cards: bool,
    deleted: bool,
    push: bool,
}

impl CollectorRow {
    fn into_record(self) -> Result<CollectorRecord> {
        let port = self.port;
        Ok(CollectorRecord {
            id: self.id,
            name: self.name,
            protocol: parse_enum::<Protocol>("protocol", &self.protocol)?,
            host: self.host,
            port: u16::try_from(port).map_err(|_| Error::Corrupt(format!("port {port}")))?,
            tls: tls_mode(&self.tls)?,
            ca_file: self.ca_file.map(Into::into),
            insecure_skip_verify: self.insecure_skip_verify,
            username: self.username,
            password_env: self.password_env,
            password_file: self.password_file.map(Into::into),
            folder: self.folder,
            keyword: self.keyword,
            subject_filter: parse_enum::<SubjectFilter>("subject_filter", &self.subject_filter)?,
            calendar_id: self.calendar_id,
            default_charset: self.default_charset,
            after_import: parse_enum::<AfterImport>("after_import", &self.after_import)?,
            move_to: self.move_to,
            failed_folder: self.failed_folder,
            delete_after_days: self.delete_after_days.and_then(|d| u32::try_from(d).ok()),
            auto_tech_cards: self.auto_tech_cards,
            deleted: self.deleted,
            push: self.push,
        })
    }
}

const COLLECTOR_COLUMNS: &str = "id, name, protocol, host, port, tls, ca_file, insecure_skip_verify, \
     username, password_env, password_file, folder, keyword, subject_filter, calendar_id, default_charset, \
     after_import, move_to, failed_folder, delete_after_days, auto_tech_cards, deleted, push";

/// A run as stored.
#[derive(sqlx::FromRow)]
struct RunRow {
    collector_id: i64,
    started_at: i64,
    finished_at: Option<i64>,
    imported: i64,
    duplicate: i64,
    skipped: i64,
    rejected: i64,
    error: Option<String>,
}

/// A stored count, which is never negative.
fn count(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// The 64-bit key of an advisory lock named `name`: the first eight bytes of its SHA-256, so every
/// instance, of any version, derives the same key from the same name.
pub(super) fn advisory_key(name: &str) -> i64 {
    let digest = Sha256::digest(format!("leadgate:{name}").as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(first)
}

/// Unlocks of job locks under way in this process, by database and key. A guard dropped here unlocks on a
/// task of its own; whoever tries the same lock in this process next waits for that unlock first, so a lock
/// dropped is a lock free, with no moment in which this process still finds it held.
#[derive(Default)]
struct Releases {
    pending: AtomicUsize,
    done: tokio::sync::Notify,
}

impl Releases {
    /// Waits until no unlock started before this call is under way.
    async fn settled(&self) {
        loop {
            let done = self.done.notified();
            tokio::pin!(done);
            done.as_mut().enable();
            if self.pending.load(Ordering::Acquire) == 0 {
                return;
            }
            done.await;
        }
    }
}

/// The unlocks under way of each lock: by database name and key.
type ReleasesByLock = HashMap<(String, i64), Arc<Releases>>;

static RELEASES: LazyLock<StdMutex<ReleasesByLock>> = LazyLock::new(Default::default);

fn releases_of(database: &str, key: i64) -> Arc<Releases> {
    let mut all = RELEASES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    Arc::clone(all.entry((database.to_owned(), key)).or_default())
}

/// How often a held job lock's session is asked whether it is still there.
const LOCK_CHECK: Duration = Duration::from_secs(2);

/// How long that question may take before the session is taken for gone (a server under load answers a
/// `SELECT 1` well within it).
const LOCK_CHECK_PATIENCE: Duration = Duration::from_secs(30);

/// A held advisory lock. Its connection, out of the pool for good, is kept by a task of its own
/// ([`keep_lock`]); dropping the guard has that task unlock and close it.
struct AdvisoryLock {
    release: Option<oneshot::Sender<()>>,
    releases: Arc<Releases>,
}

impl Drop for AdvisoryLock {
    fn drop(&mut self) {
        let Some(release) = self.release.take() else {
            return;
        };
        self.releases.pending.fetch_add(1, Ordering::AcqRel);
        if release.send(()).is_err() {
            // The keeper is gone: the session ended (the lock with it), or the runtime did and the
            // connection's socket was closed, which ends the session on the server.
            self.releases.pending.fetch_sub(1, Ordering::AcqRel);
            self.releases.done.notify_waiters();
        }
    }
}

/// Tells a holder that its lock's session ended (see [`keep_lock`]).
struct SessionLoss(watch::Receiver<bool>);

impl LockLoss for SessionLoss {
    fn lost(&self) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
        let mut lost = self.0.clone();
        Box::pin(async move {
            // The keeper says "lost" before it ends; ending without a word means it released the lock.
            if lost.wait_for(|lost| *lost).await.is_err() {
                std::future::pending::<()>().await;
            }
        })
    }
}

/// Keeps the session that holds the lock `key`: asks the server every [`LOCK_CHECK`] whether the session is
/// still there, and says `lost` when it is not (a restarted server ended it, and the lock with it, while the
/// holder's run goes on with new connections of the pool); unlocks and closes the connection when the guard
/// is dropped.
async fn keep_lock(
    mut conn: PgConnection,
    key: i64,
    releases: Arc<Releases>,
    mut release: oneshot::Receiver<()>,
    lost: watch::Sender<bool>,
) {
    loop {
        tokio::select! {
            dropped = &mut release => {
                // The unlock waits for the server's answer: once it is back, the lock is free. The
                // connection is closed either way, so a session that failed to unlock ends, and its lock
                // with it.
                let unlocked = sqlx::query("SELECT pg_advisory_unlock($1)")
                    .bind(key)
                    .execute(&mut conn)
                    .await;
                if let Err(error) = unlocked {
                    tracing::warn!(%error, "a job lock could not be unlocked; its connection is closed");
                }
                let _ = conn.close().await;
                if dropped.is_ok() {
                    releases.pending.fetch_sub(1, Ordering::AcqRel);
                    releases.done.notify_waiters();
                }
                return;
            }
            () = tokio::time::sleep(LOCK_CHECK) => {
                let asked = tokio::time::timeout(
                    LOCK_CHECK_PATIENCE,
                    sqlx::query("SELECT 1").execute(&mut conn),
                )
                .await;
                if !matches!(asked, Ok(Ok(_))) {
                    tracing::warn!(
                        "the database session holding a job lock ended: the lock is lost, and its run stops"
                    );
                    let _ = lost.send(true);
                    return;
                }
            }
        }
    }
}

impl PgStorage {
    async fn upsert_collector_in(&self, c: &CollectorRecord) -> Result<i64> {
        let now = ms(Utc::now());
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO collectors (name, protocol, host, port, tls, ca_file, insecure_skip_verify, username,
                 password_env, password_file, folder, keyword, calendar_id, default_charset, after_import, move_to,
                 failed_folder, delete_after_days, auto_tech_cards, deleted, created_at, updated_at, subject_filter, push)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $21,
                 $22, $23)
             ON CONFLICT (name) DO UPDATE SET protocol = excluded.protocol, host = excluded.host,
                 port = excluded.port, tls = excluded.tls, ca_file = excluded.ca_file,
                 insecure_skip_verify = excluded.insecure_skip_verify, username = excluded.username,
                 password_env = excluded.password_env, password_file = excluded.password_file,
                 folder = excluded.folder, keyword = excluded.keyword, calendar_id = excluded.calendar_id,
                 default_charset = excluded.default_charset, after_import = excluded.after_import,
                 move_to = excluded.move_to, failed_folder = excluded.failed_folder,
                 delete_after_days = excluded.delete_after_days, auto_tech_cards = excluded.auto_tech_cards,
                 deleted = excluded.deleted, updated_at = excluded.updated_at,
                 subject_filter = excluded.subject_filter, push = excluded.push
             RETURNING id",
        )
        .bind(&c.name)
        .bind(c.protocol.as_str())
        .bind(&c.host)
        .bind(i64::from(c.port))
        .bind(tls_text(c.tls))
        .bind(c.ca_file.as_ref().map(|p| p.to_string_lossy().into_owned()))
        .bind(c.insecure_skip_verify)
        .bind(&c.username)
        .bind(c.password_env.as_deref())
        .bind(c.password_file.as_ref().map(|p| p.to_string_lossy().into_owned()))
        .bind(&c.folder)
        .bind(&c.keyword)
        .bind(c.calendar_id)
        .bind(&c.default_charset)
        .bind(c.after_import.as_str())
        .bind(c.move_to.as_deref())
        .bind(c.failed_folder.as_deref())
        .bind(c.delete_after_days.map(i64::from))
        .bind(c.auto_tech_cards)
        .bind(c.deleted)
        .bind(now)
        .bind(c.subject_filter.as_str())
        .bind(c.push)
        .fetch_one(&self.pool)
        .await?;
        Ok(id)
    }

    async fn collectors_in(&self, include_deleted: bool) -> Result<Vec<CollectorRecord>> {
        let sql = format!(
            "SELECT {COLLECTOR_COLUMNS} FROM collectors WHERE NOT deleted OR $1 ORDER BY name"
        );
        let rows: Vec<CollectorRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(include_deleted)
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter().map(CollectorRow::into_record).collect()
    }

    async fn collector_in(&self, id: i64) -> Result<Option<CollectorRecord>> {
        let sql = format!("SELECT {COLLECTOR_COLUMNS} FROM collectors WHERE id = $1");
        let row: Option<CollectorRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(CollectorRow::into_record).transpose()
    }

    async fn scan_state_in(&self, collector_id: i64, folder: &str) -> Result<Option<ScanState>> {
        let row: Option<(i64, i64)> = sqlx::query_as(
            "SELECT uid_validity, last_uid FROM collector_state WHERE collector_id = $1 AND folder = $2",
        )
        .bind(collector_id)
        .bind(folder)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(v, u)| ScanState {
            uid_validity: u32::try_from(v).unwrap_or_default(),
            last_uid: u32::try_from(u).unwrap_or_default(),
        }))
    }

    async fn set_scan_state_in(
        &self,
        collector_id: i64,
        folder: &str,
        state: ScanState,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO collector_state (collector_id, folder, uid_validity, last_uid) VALUES ($1, $2, $3, $4)
             ON CONFLICT (collector_id, folder) DO UPDATE SET uid_validity = excluded.uid_validity,
                 last_uid = excluded.last_uid",
        )
        .bind(collector_id)
        .bind(folder)
        .bind(i64::from(state.uid_validity))
        .bind(i64::from(state.last_uid))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn start_run_in(&self, collector_id: i64) -> Result<i64> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO collector_runs (collector_id, started_at) VALUES ($1, $2) RETURNING id",
        )
        .bind(collector_id)
        .bind(ms(Utc::now()))
        .fetch_one(&self.pool)
        .await?;
        Ok(id)
    }

    async fn finish_run_in(
        &self,
        run_id: i64,
        counts: &RunCounts,
        error: Option<&str>,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE collector_runs SET finished_at = $1, imported = $2, duplicate = $3, skipped = $4, rejected = $5,
                 error = $6 WHERE id = $7",
        )
        .bind(ms(Utc::now()))
        .bind(i64::try_from(counts.imported).unwrap_or(i64::MAX))
        .bind(i64::try_from(counts.duplicate).unwrap_or(i64::MAX))
        .bind(i64::try_from(counts.skipped).unwrap_or(i64::MAX))
        .bind(i64::try_from(counts.rejected).unwrap_or(i64::MAX))
        .bind(error)
        .bind(run_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn last_runs_in(&self) -> Result<HashMap<i64, RunView>> {
        let rows: Vec<RunRow> = sqlx::query_as(
            "SELECT DISTINCT ON (collector_id) collector_id, started_at, finished_at, imported, duplicate,
                 skipped, rejected, error
             FROM collector_runs ORDER BY collector_id, id DESC",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out = HashMap::new();
        for row in rows {
            out.insert(
                row.collector_id,
                RunView {
                    started_at: from_ms(row.started_at)?,
                    finished_at: row.finished_at.map(from_ms).transpose()?,
                    counts: RunCounts {
                        imported: count(row.imported),
                        duplicate: count(row.duplicate),
                        skipped: count(row.skipped),
                        rejected: count(row.rejected),
                    },
                    error: row.error,
                },
            );
        }
        Ok(out)
    }

    async fn try_lock_job_in(&self, job: &str) -> Result<Option<JobLock>> {
        let key = advisory_key(&format!("job:{job}"));
        let database = self
            .pool
            .connect_options()
            .get_database()
            .unwrap_or_default()
            .to_owned();
        let releases = releases_of(&database, key);
        // A lock this process dropped a moment ago is unlocked before it is tried again.
        releases.settled().await;
        let mut conn = self.pool.acquire().await?;
        let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(key)
            .fetch_one(&mut *conn)
            .await?;
        if !locked {
            return Ok(None);
        }
        // The connection leaves the pool with its session, and so with the lock: nothing else can borrow a
        // session that holds it, and the guard decides when it ends.
        let mut conn = conn.detach();
        // The server notices within a minute that a holder's machine is gone (not only its process), and
        // never ends the holder's session for being idle while a run works through a mailbox.
        let configured = sqlx::query(
            "SELECT set_config(v.name, v.value, false)
             FROM (VALUES ('tcp_keepalives_idle', '30'), ('tcp_keepalives_interval', '10'),
                          ('tcp_keepalives_count', '3'), ('idle_session_timeout', '0')) AS v (name, value)
             WHERE v.name IN (SELECT name FROM pg_settings)",
        )
        .execute(&mut conn)
        .await;
        if let Err(e) = configured {
            // Closing the connection ends the session and frees the lock.
            let _ = conn.close().await;
            return Err(e.into());
        }
        let (release, released) = oneshot::channel();
        let (lost, loss) = watch::channel(false);
        tokio::spawn(keep_lock(conn, key, releases.clone(), released, lost));
        let lock = AdvisoryLock {
            release: Some(release),
            releases,
        };
        Ok(Some(JobLock::losable(lock, SessionLoss(loss))))
    }
}

#[async_trait]
impl Collectors for PgStorage {
    async fn upsert_collector(&self, collector: &CollectorRecord) -> storage::Result<i64> {
        Ok(self.upsert_collector_in(collector).await?)
    }

    async fn collectors(&self, include_deleted: bool) -> storage::Result<Vec<CollectorRecord>> {
        Ok(self.collectors_in(include_deleted).await?)
    }

    async fn collector(&self, id: i64) -> storage::Result<Option<CollectorRecord>> {
        Ok(self.collector_in(id).await?)
    }

    async fn scan_state(
        &self,
        collector_id: i64,
        folder: &str,
    ) -> storage::Result<Option<ScanState>> {
        Ok(self.scan_state_in(collector_id, folder).await?)
    }

    async fn set_scan_state(
        &self,
        collector_id: i64,
        folder: &str,
        state: ScanState,
    ) -> storage::Result<()> {
        Ok(self.set_scan_state_in(collector_id, folder, state).await?)
    }

    async fn start_run(&self, collector_id: i64) -> storage::Result<i64> {
        Ok(self.start_run_in(collector_id).await?)
    }

    async fn finish_run(
        &self,
        run_id: i64,
        counts: &RunCounts,
        error: Option<&str>,
    ) -> storage::Result<()> {
        Ok(self.finish_run_in(run_id, counts, error).await?)
    }

    async fn last_runs(&self) -> storage::Result<HashMap<i64, RunView>> {
        Ok(self.last_runs_in().await?)
    }

    async fn try_lock_job(&self, job: &str) -> storage::Result<Option<JobLock>> {
        Ok(self.try_lock_job_in(job).await?)
    }
}
