//! The database the tests run against: SQLite (the default) or PostgreSQL, chosen by the environment
//! variable `LEADGATE_TEST_BACKEND` (`sqlite` or `postgres`). With PostgreSQL every test directory gets a
//! database of its own on the server that `LEADGATE_TEST_POSTGRES_URL` names (`scripts/postgres.sh` starts
//! one), dropped with the directory.
//!
//! Tests reach the database through what is here: [`TestDir::database_url`] for a command line or a second
//! storage handle, [`TestDatabase`] and [`WriteLock`] for the few things no storage trait offers (each the
//! SQLite helper or its PostgreSQL twin, doing the same named thing).

use std::path::Path;
use std::sync::Arc;

use leadgate_postgres::PgStorage;
use leadgate_postgres::test_database as pg_testing;
use leadgate_sqlite::SqliteStorage;
use leadgate_sqlite::testing as sqlite_testing;
use leadgate_storage::Storage;

/// Which database the tests run against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file in the test's directory.
    Sqlite,
    /// A database of the test's own on the test PostgreSQL server.
    Postgres,
}

/// The backend `LEADGATE_TEST_BACKEND` names (SQLite when it is unset).
pub fn backend() -> Backend {
    match std::env::var("LEADGATE_TEST_BACKEND").as_deref() {
        Err(_) | Ok("" | "sqlite") => Backend::Sqlite,
        Ok("postgres") => Backend::Postgres,
        Ok(other) => panic!("LEADGATE_TEST_BACKEND={other:?}: it is sqlite or postgres"),
    }
}

/// Whether the tests run against PostgreSQL.
pub fn on_postgres() -> bool {
    backend() == Backend::Postgres
}

/// Whether a test that needs PostgreSQL runs: `true` on PostgreSQL; otherwise it says that the test is
/// skipped and `why` (what only PostgreSQL has), and gives `false`.
pub fn postgres_only(why: &str) -> bool {
    if on_postgres() {
        return true;
    }
    eprintln!("skipped: {why} (LEADGATE_TEST_BACKEND=postgres)");
    false
}

/// A test's directory and its database: `leadgate.db` in the directory, or a fresh PostgreSQL database made
/// by [`TestDir::new`] (or when leadgate is first started in it) and dropped with this value.
pub struct TestDir {
    dir: tempfile::TempDir,
    postgres: Option<leadgate_postgres::testing::FreshPg>,
}

impl From<tempfile::TempDir> for TestDir {
    fn from(dir: tempfile::TempDir) -> Self {
        Self {
            dir,
            postgres: None,
        }
    }
}

impl TestDir {
    /// A fresh directory, with a fresh database when the tests run against PostgreSQL.
    pub async fn new() -> Self {
        let mut dir = Self::from(tempfile::tempdir().unwrap());
        dir.ensure_database().await;
        dir
    }

    /// A fresh directory with a fresh PostgreSQL database, whichever backend the other tests run against
    /// (for the tests about PostgreSQL itself).
    pub async fn new_postgres() -> Self {
        let mut dir = Self::from(tempfile::tempdir().unwrap());
        dir.postgres = Some(leadgate_postgres::testing::FreshPg::new().await);
        dir
    }

    /// Whether the database is a PostgreSQL one.
    pub fn is_postgres(&self) -> bool {
        self.postgres.is_some()
    }

    /// Makes the PostgreSQL database when the tests run against PostgreSQL and it is not made yet.
    pub async fn ensure_database(&mut self) {
        if on_postgres() && self.postgres.is_none() {
            self.postgres = Some(leadgate_postgres::testing::FreshPg::new().await);
        }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The database's URL (with its password on PostgreSQL: keep it out of assertions' messages).
    pub fn database_url(&self) -> String {
        match &self.postgres {
            Some(pg) => pg.url().to_owned(),
            None if on_postgres() => {
                panic!(
                    "the test directory has no PostgreSQL database yet: make it with TestDir::new"
                )
            }
            None => format!("sqlite://{}", self.dir.path().join("leadgate.db").display()),
        }
    }

    /// The environment a `leadgate` command needs to use this directory's database: its URL and, with
    /// PostgreSQL, the data directory (the secret key's place) in this directory.
    pub fn cli_env(&self) -> Vec<(&'static str, String)> {
        let mut env = vec![("LEADGATE__DATABASE__URL", self.database_url())];
        if self.is_postgres() {
            env.push((
                "LEADGATE__DATABASE__DATA_DIR",
                self.dir.path().display().to_string(),
            ));
        }
        env
    }

    /// The `[database]` section of a configuration file for this directory's database.
    pub fn database_toml(&self) -> String {
        let mut toml = format!("[database]\nurl = {:?}\n", self.database_url());
        if self.is_postgres() {
            toml.push_str(&format!(
                "data_dir = {:?}\n",
                self.dir.path().display().to_string()
            ));
        }
        toml
    }
}

/// A second handle on a database, as leadgate holds it: behind the storage traits.
pub async fn storage_at(url: &str) -> Arc<dyn Storage> {
    if url.starts_with("postgres") {
        Arc::new(PgStorage::connect(url).await.unwrap())
    } else {
        Arc::new(SqliteStorage::connect(url).await.unwrap())
    }
}

fn sqlite_path(url: &str) -> &Path {
    Path::new(url.trim_start_matches("sqlite://"))
}

/// What a test may do to the database that no storage trait offers: the SQLite backend's test helpers, or
/// their PostgreSQL twins.
pub enum TestDatabase {
    /// SQLite.
    Sqlite(sqlite_testing::TestDatabase),
    /// PostgreSQL.
    Postgres(pg_testing::TestDatabase),
}

/// Calls the same method on whichever helper it is.
macro_rules! both {
    ($self:expr, $db:ident => $call:expr) => {
        match $self {
            TestDatabase::Sqlite($db) => $call,
            TestDatabase::Postgres($db) => $call,
        }
    };
}

impl TestDatabase {
    /// Opens the database at `url`.
    pub async fn open(url: &str) -> leadgate_storage::Result<Self> {
        if url.starts_with("postgres") {
            Ok(Self::Postgres(pg_testing::TestDatabase::open(url).await?))
        } else {
            Ok(Self::Sqlite(
                sqlite_testing::TestDatabase::open(sqlite_path(url)).await?,
            ))
        }
    }

    /// Opens the database at `url` for reading; a SQLite file is not created when missing.
    pub async fn open_read_only(url: &str) -> leadgate_storage::Result<Self> {
        if url.starts_with("postgres") {
            Ok(Self::Postgres(pg_testing::TestDatabase::open(url).await?))
        } else {
            Ok(Self::Sqlite(
                sqlite_testing::TestDatabase::open_read_only(sqlite_path(url)).await?,
            ))
        }
    }

    pub async fn age_the_ledger(&self, by: chrono::Duration) -> leadgate_storage::Result<()> {
        both!(self, db => db.age_the_ledger(by).await)
    }

    pub async fn refuse_leads_numbered(&self, number: u32) -> leadgate_storage::Result<()> {
        both!(self, db => db.refuse_leads_numbered(number).await)
    }

    pub async fn refuse_leads_with_subject(&self, subject: &str) -> leadgate_storage::Result<()> {
        both!(self, db => db.refuse_leads_with_subject(subject).await)
    }

    pub async fn collector_runs(&self) -> leadgate_storage::Result<(i64, i64)> {
        both!(self, db => db.collector_runs().await)
    }

    pub async fn break_login_attempts(&self) -> leadgate_storage::Result<()> {
        both!(self, db => db.break_login_attempts().await)
    }

    pub async fn login_attempts(&self) -> leadgate_storage::Result<Vec<(String, String)>> {
        both!(self, db => db.login_attempts().await)
    }

    pub async fn lead_numbers(&self) -> leadgate_storage::Result<(i64, i64)> {
        both!(self, db => db.lead_numbers().await)
    }

    pub async fn spread_statuses(&self) -> leadgate_storage::Result<()> {
        both!(self, db => db.spread_statuses().await)
    }

    pub async fn answered_after(
        &self,
        lead_id: i64,
        after: chrono::Duration,
    ) -> leadgate_storage::Result<()> {
        both!(self, db => db.answered_after(lead_id, after).await)
    }

    pub async fn run_started_at(
        &self,
        run_id: i64,
        at: chrono::DateTime<chrono::Utc>,
    ) -> leadgate_storage::Result<()> {
        both!(self, db => db.run_started_at(run_id, at).await)
    }

    pub async fn columns_holding(&self, needle: &str) -> leadgate_storage::Result<Vec<String>> {
        both!(self, db => db.columns_holding(needle).await)
    }

    pub async fn unfold_search_text(
        &self,
        lead_id: i64,
        text: &str,
    ) -> leadgate_storage::Result<()> {
        both!(self, db => db.unfold_search_text(lead_id, text).await)
    }

    pub async fn close(self) {
        both!(self, db => db.close().await)
    }
}

/// Writers held back by a connection of the test's own until released (SQLite's write lock; on PostgreSQL
/// the ledger and the leads locked in `EXCLUSIVE` mode): readers pass, commits wait.
pub enum WriteLock {
    /// SQLite.
    Sqlite(sqlite_testing::WriteLock),
    /// PostgreSQL.
    Postgres(pg_testing::WriteLock),
}

impl WriteLock {
    /// Takes the lock on the database at `url`.
    pub async fn take(url: &str) -> leadgate_storage::Result<Self> {
        if url.starts_with("postgres") {
            Ok(Self::Postgres(pg_testing::WriteLock::take(url).await?))
        } else {
            Ok(Self::Sqlite(
                sqlite_testing::WriteLock::take(sqlite_path(url)).await?,
            ))
        }
    }

    /// Releases it without writing anything.
    pub async fn release(self) -> leadgate_storage::Result<()> {
        match self {
            Self::Sqlite(lock) => lock.release().await,
            Self::Postgres(lock) => lock.release().await,
        }
    }
}

/// Polls until one of leadgate's connections waits for a lock (the intake's write behind the test's lock).
pub async fn until_a_write_waits(db: &mut sqlx::PgConnection) {
    use std::time::{Duration, Instant};
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity
             WHERE datname = current_database() AND application_name = 'leadgate'
               AND wait_event_type = 'Lock'",
        )
        .fetch_one(&mut *db)
        .await
        .unwrap();
        if waiting > 0 {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the intake's write never waited"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Ends the sessions that hold advisory locks (leadgate's job locks) on the connection's database, as a
/// restarting or failing-over server ends every session; returns how many it ended.
pub async fn end_lock_sessions(conn: &mut sqlx::PgConnection) -> usize {
    let ended: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_locks
         WHERE locktype = 'advisory' AND granted
           AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    ended.into_iter().filter(|ended| *ended).count()
}

/// Ends the session holding leadgate's advisory lock named `name` in the test's database (its key as every
/// instance derives it: the first eight bytes of SHA-256 of `leadgate:NAME`; a job lock's name is `job:JOB`),
/// and says whether one held it.
pub async fn end_lock_session_of(conn: &mut sqlx::PgConnection, name: &str) -> bool {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(format!("leadgate:{name}").as_bytes());
    let key = i64::from_be_bytes(digest[..8].try_into().unwrap());
    let ended: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_locks
         WHERE locktype = 'advisory' AND granted
           AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
           AND ((classid::bigint << 32) | objid::bigint) = $1",
    )
    .bind(key)
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    ended.contains(&true)
}

/// The ledger entry of `body` received just now from the HTTP source `source`, as the intake records a post.
pub fn http_ledger_entry(source: i64, body: &str) -> leadgate_storage::LedgerEntry {
    leadgate_storage::LedgerEntry {
        source: leadgate_storage::SourceRef::Http { id: source },
        ledger_key: None,
        mailbox_key: None,
        message_id: None,
        external_number: None,
        received_at: chrono::Utc::now(),
        content_hash: None,
        raw: leadgate_storage::StoredRaw::new(body.as_bytes().to_vec()),
        content_type: "application/json".to_owned(),
    }
}
