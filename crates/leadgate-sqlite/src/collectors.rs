//! Mail collectors in SQLite: their settings, where their IMAP scans stopped, their runs, and the job lock
//! (a file lock beside the database, which the operating system releases when its holder dies).

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::Utc;

use super::{Error, Result, SqliteStorage, count, from_ms, ms, parse_enum};
use leadgate_domain::collector::AfterImport;
use leadgate_domain::collector::Protocol;
use leadgate_domain::collector::SubjectFilter;
use leadgate_domain::collector::TlsMode;
use leadgate_storage::{
    self as storage, CollectorRecord, Collectors, JobLock, RunCounts, RunView, ScanState,
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

impl SqliteStorage {
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
        .fetch_one(&self.writer)
        .await?;
        Ok(id)
    }

    async fn collectors_in(&self, include_deleted: bool) -> Result<Vec<CollectorRecord>> {
        let rows: Vec<CollectorRow> =
            sqlx::query_as("SELECT * FROM collectors WHERE deleted = 0 OR $1 ORDER BY name")
                .bind(include_deleted)
                .fetch_all(&self.pool)
                .await?;
        rows.into_iter().map(CollectorRow::into_record).collect()
    }

    async fn collector_in(&self, id: i64) -> Result<Option<CollectorRecord>> {
        let row: Option<CollectorRow> = sqlx::query_as("SELECT * FROM collectors WHERE id = $1")
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
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn start_run_in(&self, collector_id: i64) -> Result<i64> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO collector_runs (collector_id, started_at) VALUES ($1, $2) RETURNING id",
        )
        .bind(collector_id)
        .bind(ms(Utc::now()))
        .fetch_one(&self.writer)
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
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn last_runs_in(&self) -> Result<HashMap<i64, RunView>> {
        let rows: Vec<RunRow> = sqlx::query_as(
            "SELECT r.* FROM collector_runs r
             WHERE r.id = (SELECT MAX(id) FROM collector_runs WHERE collector_id = r.collector_id)",
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

    fn try_lock_job_in(&self, job: &str) -> Result<Option<JobLock>> {
        let Some(dir) = &self.lock_dir else {
            // An in-memory database lives in one process: the job's own mutex is enough.
            return Ok(Some(JobLock::new(())));
        };
        let path = dir.join(format!("{}.{job}.lock", self.lock_stem));
        let mut options = std::fs::OpenOptions::new();
        options.create(true).truncate(false).write(true);
        // As private as the database beside it.
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(&path)?;
        match file.try_lock() {
            Ok(()) => Ok(Some(JobLock::new(file))),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => Err(e.into()),
        }
    }
}

#[async_trait]
impl Collectors for SqliteStorage {
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
        Ok(self.try_lock_job_in(job)?)
    }
}
