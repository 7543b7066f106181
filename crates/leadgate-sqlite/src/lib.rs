//! The SQLite backend: the embedded default.
//!
//! WAL mode so readers never wait for the writer, `synchronous = FULL` so a committed lead survives a power
//! cut. Reads use a pool of connections; every write goes through one writer connection, so writers in this
//! process queue in order rather than on SQLite's busy handler. Write transactions start with
//! `BEGIN IMMEDIATE`, so a writer in another process (`leadgate collect` beside `leadgate serve`) waits on
//! the busy timeout instead of failing halfway through an upgrade from a read lock.
//!
//! One module per aggregate, each implementing its role trait: `ledger` (with the batch write path in
//! `write`), `leads` (with `counterparties` and the web UI's lead lists in `summaries`), `accounts`,
//! `collectors`, `calendars` and `personal_data`. Rows are read into typed `sqlx::FromRow` structs. The
//! driver's errors become [`StorageError`]s here, at the edge of the backend; `testing` holds the few
//! SQLite-only tricks tests need.

use std::borrow::Cow;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection, QueryBuilder, Sqlite, SqliteConnection, SqlitePool};
use tracing::instrument;

mod accounts;
mod assignment;
mod calendars;
mod collector_passwords;
mod collectors;
mod counterparties;
mod counterparty_edit;
mod edit_history;
pub(crate) mod history;
mod layout_files;
mod lead_edits;
mod lead_notes;
mod leads;
mod ledger;
mod live;
mod managed;
mod notifications;
mod personal_data;
mod reports;
mod settings;
mod summaries;
#[doc(hidden)]
pub mod testing;
mod transfer;
mod webhooks;
mod write;

use leadgate_domain::lead::LeadKind;
use leadgate_storage::{CommonTrigramsCache, LeadSearch, SearchKey, StorageError};

/// SQLite storage.
#[derive(Clone, Debug)]
pub struct SqliteStorage {
    pool: SqlitePool,
    /// The one connection every write goes through. In-process writers queue for it in order, instead of
    /// polling SQLite's write lock, whose busy handler sleeps up to 100 ms between tries.
    writer: SqlitePool,
    /// Where job lock files live (beside the database); `None` for an in-memory database.
    lock_dir: Option<std::path::PathBuf>,
    /// The database file's name, prefixing its lock files.
    lock_stem: String,
    /// The trigrams common among the leads, which a search leaves out of its index lookup.
    common_trigrams: Arc<CommonTrigramsCache>,
}

/// What the backend's own functions fail with; it becomes a [`StorageError`] at the trait's edge.
#[derive(Debug, thiserror::Error)]
enum Error {
    /// The driver failed.
    #[error(transparent)]
    Sqlx(#[from] sqlx::Error),
    /// Migrations could not be applied.
    #[error("database migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The database's directory or file, or a job's lock file, could not be made.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// A stored value could not be read back (corrupt JSON, an unknown enum value).
    #[error("stored value is corrupt: {0}")]
    Corrupt(String),
    /// A row referenced by name or id does not exist.
    #[error("{what} {key:?} does not exist")]
    NotFound {
        /// What kind of record.
        what: &'static str,
        /// Its name or id.
        key: String,
    },
    /// A unique name is taken.
    #[error("{0}")]
    Conflict(String),
    /// The database is not one this version can open (a newer leadgate wrote it).
    #[error("{0}")]
    Schema(String),
}

impl From<Error> for StorageError {
    fn from(e: Error) -> Self {
        match e {
            Error::NotFound { what, key } => StorageError::NotFound { what, key },
            Error::Conflict(message) => StorageError::Conflict(message),
            Error::Sqlx(
                e @ (sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::WorkerCrashed
                | sqlx::Error::Io(_)),
            ) => StorageError::Unavailable(Box::new(e)),
            other => StorageError::Backend(Box::new(other)),
        }
    }
}

/// The backend's own results.
type Result<T, E = Error> = std::result::Result<T, E>;

/// A unique-constraint failure becomes a `Conflict` with this message; anything else stays a database error.
/// Turns a backend result into the traits' result, at their edge.
trait Edge<T> {
    fn edge(self) -> leadgate_storage::Result<T>;
}

impl<T, E: Into<Error>> Edge<T> for std::result::Result<T, E> {
    fn edge(self) -> leadgate_storage::Result<T> {
        self.map_err(|e| StorageError::from(e.into()))
    }
}

fn conflict_on_unique(e: sqlx::Error, message: String) -> Error {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => Error::Conflict(message),
        _ => Error::Sqlx(e),
    }
}

impl SqliteStorage {
    /// Opens (creating if needed) the database at `url` (`sqlite://path` or `sqlite::memory:`), sets the
    /// connection PRAGMAs and runs the embedded migrations.
    ///
    /// # Errors
    /// `url` is not a SQLite URL (a PostgreSQL URL would otherwise name a file, and its password end up in a
    /// path), the file cannot be created or opened, or a migration fails.
    #[instrument(skip_all)]
    pub async fn connect(url: &str) -> Result<Self, StorageError> {
        if !url.starts_with("sqlite:") {
            return Err(StorageError::backend(
                "not a SQLite database URL: it starts with sqlite: (sqlite://path or sqlite::memory:)",
            ));
        }
        Ok(Self::open(url, true).await?)
    }

    /// Opens the database at `url` as [`SqliteStorage::connect`] does, but only when its file exists: what
    /// is read whole (the source of a copy, a backup) must not be an empty database made for a mistyped path.
    ///
    /// # Errors
    /// Those of [`SqliteStorage::connect`], and `NotFound` for a file that does not exist.
    pub async fn connect_existing(url: &str) -> Result<Self, StorageError> {
        if !url.starts_with("sqlite:") || url.contains(":memory:") {
            return Self::connect(url).await;
        }
        let options = SqliteConnectOptions::from_str(url).map_err(Error::from)?;
        let file = options.get_filename();
        if !file.is_file() {
            return Err(StorageError::NotFound {
                what: "SQLite database file",
                key: file.display().to_string(),
            });
        }
        Ok(Self::open(url, false).await?)
    }

    /// Closes every connection: the last one to close checkpoints the write-ahead log into the database
    /// file and removes it, so the file alone then holds every change.
    pub async fn close(&self) {
        self.pool.close().await;
        self.writer.close().await;
    }

    async fn open(url: &str, create: bool) -> Result<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(create)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            // 8 KiB pages for a new database (an existing one keeps its own): a compressed site order is about
            // 1.9 KB, so a page holds four, and a commit writes half as many WAL frames, each its own pwrite.
            // A 4 MB page cache per connection; statement journals in memory; a checkpoint every 4,096 WAL
            // pages (32 MB with 8 KiB pages) instead of 1,000, so a bulk import stops for checkpoints less often.
            .page_size(8192)
            .pragma("cache_size", "-4096")
            .pragma("temp_store", "memory")
            .pragma("wal_autocheckpoint", "4096");
        if create
            && let Some(parent) = Path::new(options.get_filename()).parent()
            && !parent.as_os_str().is_empty()
        {
            create_private_dir(parent)?;
        }
        if create && !url.contains(":memory:") && !options.get_filename().as_os_str().is_empty() {
            create_private_file(options.get_filename())?;
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .min_connections(1)
            .connect_with(options.clone())
            .await?;
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .connect_with(options.clone())
            .await?;
        // A connection of its own applies the migrations, opened after the pools so that an in-memory
        // database, shared by the connections of these options, outlives it.
        let mut migrator =
            SqliteConnection::connect_with(&migration_options(options.clone())).await?;
        migrate(&mut migrator).await?;
        migrator.close().await?;
        let file = Path::new(options.get_filename());
        let in_memory = options.get_filename().as_os_str().is_empty() || url.contains(":memory:");
        let lock_dir = (!in_memory)
            .then(|| file.parent().map(Path::to_path_buf).unwrap_or_default())
            .map(|d| {
                if d.as_os_str().is_empty() {
                    std::path::PathBuf::from(".")
                } else {
                    d
                }
            });
        let lock_stem = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok(Self {
            pool,
            writer,
            lock_dir,
            lock_stem,
            common_trigrams: Arc::default(),
        })
    }
}

/// Applies the embedded migrations ([`leadgate_storage::apply_migrations`] says which and how long).
async fn migrate(conn: &mut SqliteConnection) -> Result<()> {
    let migrator = sqlx::migrate!("./migrations");
    // A new database has no table of applied migrations yet: every migration is pending.
    let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM _sqlx_migrations")
        .fetch_all(&mut *conn)
        .await
        .unwrap_or_default();
    if let Some(newer) =
        leadgate_storage::written_by_newer(migrator.iter().map(|m| m.version), &applied)
    {
        return Err(Error::Schema(newer));
    }
    let all = migrator
        .iter()
        .map(|m| (m.version, m.description.to_string()));
    Ok(leadgate_storage::apply_migrations(all, &applied, migrator.run(conn)).await?)
}

/// The options of the connection that applies the migrations: a statement of over a second is logged at
/// DEBUG, not at WARN as sqlx does by default. A migration that rewrites every lead takes a minute at a
/// million, and the warning would carry its whole SQL text; [`leadgate_storage::apply_migrations`] logs which
/// migrations ran and how long they took.
fn migration_options(options: SqliteConnectOptions) -> SqliteConnectOptions {
    options.log_slow_statements(log::LevelFilter::Debug, Duration::from_secs(1))
}

/// Creates the data directory (and any missing parents) readable only by its owner (0700): it holds the
/// database and, on a first start without a terminal, the generated secrets. An existing directory is left as
/// it is.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Creates a missing database file readable only by its owner (0600) before SQLite opens it; SQLite gives its
/// `-wal` and `-shm` files the database file's mode. An existing file is left as it is.
fn create_private_file(file: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(file) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

// ---- values as stored -----------------------------------------------------------------------------------------

/// A time as stored: milliseconds since the epoch.
fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn from_ms(v: i64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_millis(v).ok_or_else(|| Error::Corrupt(format!("timestamp {v}")))
}

/// A decimal as stored: its text, so no precision is lost.
fn dec_text(d: Option<Decimal>) -> Option<String> {
    d.map(|d| d.to_string())
}

fn dec(col: &str, text: Option<String>) -> Result<Option<Decimal>> {
    text.map(|t| Decimal::from_str(&t).map_err(|_| Error::Corrupt(format!("{col} = {t:?}"))))
        .transpose()
}

fn json_text<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| Error::Corrupt(e.to_string()))
}

fn from_json<T: serde::de::DeserializeOwned>(col: &str, text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| Error::Corrupt(format!("{col}: {e}")))
}

fn parse_enum<T: FromStr>(col: &str, text: &str) -> Result<T> {
    text.parse()
        .map_err(|_| Error::Corrupt(format!("{col} = {text:?}")))
}

/// A stored count, which is never negative.
fn count(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

// ---- query pieces shared by the aggregates ------------------------------------------------------------------

/// Narrows a lead query (`l`) to one kind and a period of `starts_at`.
fn push_kind_and_period(
    q: &mut QueryBuilder<Sqlite>,
    kind: Option<LeadKind>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) {
    if let Some(kind) = kind {
        q.push(" AND l.kind = ").push_bind(kind.as_str());
    }
    if let Some(from) = from {
        q.push(" AND l.starts_at >= ").push_bind(ms(from));
    }
    if let Some(to) = to {
        q.push(" AND l.starts_at < ").push_bind(ms(to));
    }
}

/// Appends ` AND l.calendar_id IN (...)` (an empty list matches nothing).
fn push_calendar_ids(q: &mut QueryBuilder<Sqlite>, calendars: &[i64]) {
    q.push(" AND l.calendar_id IN (");
    let mut sep = q.separated(", ");
    for id in calendars {
        sep.push_bind(*id);
    }
    q.push(")");
}

impl SqliteStorage {
    /// The search for `key` ([`CommonTrigramsCache::search`]), sampling the newest leads' search texts when due.
    async fn lead_search(&self, key: SearchKey) -> Result<LeadSearch> {
        let sample =
            sqlx::query_as("SELECT search_text, calendar_id FROM leads ORDER BY id DESC LIMIT $1")
                .bind(CommonTrigramsCache::SAMPLE)
                .fetch_all(&self.pool);
        Ok(self.common_trigrams.search(key, sample).await?)
    }
}

/// Appends the condition that a lead (`l`) in one of `calendars` is found by `search`: its search text contains
/// the key. A key of three characters or more is first looked up in the index `leads_fts` (SQLite migration
/// 0026): it is asked for each of the search's trigrams in each of the calendars ([`LeadSearch::keys_in`]), so it hands
/// out only leads of those calendars that hold them all, and only those are read; the text then decides,
/// exactly as for a shorter key, which is a scan. The caller tests the calendars.
fn push_lead_search(q: &mut QueryBuilder<Sqlite>, search: &LeadSearch, calendars: &[i64]) {
    if let Some(keys) = lead_search_keys(search, calendars) {
        q.push("l.id IN (SELECT rowid FROM leads_fts WHERE leads_fts MATCH ")
            .push_bind(keys)
            .push(") AND ");
    }
    push_lead_contains(q, &search.key);
}

/// The FTS5 query of the index `leads_fts` that finds the leads of `calendars` holding every trigram `search`
/// looks up (a superset of those that contain its key: the index keeps no positions, keys may share a number,
/// and a search leaves common trigrams out): each trigram as its key in one of the calendars, in hexadecimal
/// as the index's words are written. `None` when it looks no trigram up (a key shorter than three characters,
/// which the index cannot serve) or there is no calendar to look in.
fn lead_search_keys(search: &LeadSearch, calendars: &[i64]) -> Option<String> {
    if search.trigrams.is_empty() || calendars.is_empty() {
        return None;
    }
    let trigrams = search.keys_in(calendars).into_iter().map(|keys| {
        let words: Vec<String> = keys.iter().map(|key| format!("{key:x}")).collect();
        match words.as_slice() {
            [one] => one.clone(),
            many => format!("({})", many.join(" OR ")),
        }
    });
    Some(trigrams.collect::<Vec<_>>().join(" AND "))
}

/// The calendars whose keys `search` by a viewer of `calendars` (`None`: every one) asks the index for
/// ([`LeadSearch::calendars`]).
async fn search_calendars<'a>(
    pool: &SqlitePool,
    search: &LeadSearch,
    calendars: Option<&'a [i64]>,
) -> Result<Cow<'a, [i64]>> {
    let all = sqlx::query_scalar("SELECT id FROM calendars ORDER BY id").fetch_all(pool);
    Ok(search.calendars(calendars, all).await?)
}

/// Appends the test that decides a text search: the lead's (`l`) search text contains `key`.
fn push_lead_contains(q: &mut QueryBuilder<Sqlite>, key: &SearchKey) {
    q.push("instr(l.search_text, ")
        .push_bind(key.as_str().to_owned())
        .push(") > 0");
}

/// The rows of `select` (one `$1`, bound to `key`), each into a `T` whose fields are its `columns` in order,
/// read as one row: a JSON array of the rows, each the array of its columns (serde reads a struct from an
/// array). A long list (a busy lead's history, comments and follow-ups) is read so because the driver hands
/// each row over on its own, with a copy of every value and a wake-up of the reading task, which for hundreds
/// of rows cost more than the query. The order of `select` is not kept: the caller sorts. `what` names the
/// list in an error.
async fn rows_in_one<T: serde::de::DeserializeOwned>(
    pool: &SqlitePool,
    select: &str,
    columns: &str,
    key: i64,
    what: &str,
) -> Result<Vec<T>> {
    let sql =
        format!("SELECT COALESCE(json_group_array(json_array({columns})), '[]') FROM ({select})");
    let json: String = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(key)
        .fetch_one(pool)
        .await?;
    serde_json::from_str(&json).map_err(|e| Error::Corrupt(format!("{what}: {e}")))
}

/// A page of `items` fetched with one extra row: at most `limit` of them, and the cursor of the next page
/// when there is one.
fn page_of<T>(
    mut items: Vec<T>,
    limit: u32,
    id_of: impl Fn(&T) -> i64,
) -> leadgate_storage::Page<T> {
    let limit = limit as usize;
    let next = if items.len() > limit {
        items.truncate(limit);
        items.last().map(|i| id_of(i).to_string())
    } else {
        None
    };
    leadgate_storage::Page { items, next }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use leadgate_storage::{
        CommonTrigrams, Disposition, Ledger, LedgerEntry, SourceRef, StoredRaw, Submission,
        SubmitOutcome, content_hash, search_key,
    };

    /// A URL of another database is refused before anything is made of it: it is never taken for a file name.
    #[tokio::test]
    async fn a_url_that_is_not_sqlite_is_refused_without_naming_it() {
        let url = "postgres://leadgate:secret-password@127.0.0.1:1/leadgate";
        let Err(error) = SqliteStorage::connect(url).await else {
            panic!("a PostgreSQL URL opened as SQLite");
        };
        let cause = std::error::Error::source(&error)
            .map(ToString::to_string)
            .unwrap_or_default();
        assert!(cause.contains("not a SQLite database URL"), "{error:?}");
        assert!(
            !format!("{error:?}").contains("secret-password"),
            "{error:?}"
        );
        assert!(!Path::new("postgres:").exists());
    }

    /// A job's lock file beside the database is as private as the database (0600).
    #[cfg(unix)]
    #[tokio::test]
    async fn a_jobs_lock_file_is_private() {
        use leadgate_storage::Collectors as _;
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("shop.db");
        let storage = SqliteStorage::connect(&format!("sqlite://{}", file.display()))
            .await
            .unwrap();
        let lock = storage.try_lock_job("mail-collector").await.unwrap();
        assert!(lock.is_some());
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir.path().join("shop.db.mail-collector.lock")), 0o600);
        assert_eq!(mode(&file), 0o600);
    }

    /// The plan of a lead search for `fragment`, one line per step.
    async fn search_plan(storage: &SqliteStorage, fragment: &str) -> String {
        let mut q =
            QueryBuilder::<Sqlite>::new("EXPLAIN QUERY PLAN SELECT l.id FROM leads l WHERE ");
        let key = SearchKey::parse(fragment).unwrap();
        push_lead_search(
            &mut q,
            &LeadSearch::new(key, &CommonTrigrams::default()),
            &[1, 2],
        );
        q.push(" ORDER BY l.id DESC LIMIT 50");
        let steps: Vec<(i64, i64, i64, String)> =
            q.build_query_as().fetch_all(&storage.pool).await.unwrap();
        steps
            .into_iter()
            .map(|(_, _, _, detail)| detail)
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// A search by a fragment of three characters or more (a phone's digits, part of a surname) reads the
    /// leads the trigram index names, not the whole table; a shorter fragment is a scan.
    #[tokio::test]
    async fn a_text_search_reads_the_trigram_index_not_the_table() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("search.db").display());
        let storage = SqliteStorage::connect(&url).await.unwrap();
        for fragment in ["916 123", "кузнецова", "\"x\"y"] {
            let plan = search_plan(&storage, fragment).await;
            assert!(
                plan.contains("leads_fts VIRTUAL TABLE"),
                "{fragment}: {plan}"
            );
            assert!(
                !plan.lines().any(|step| step == "SCAN l"),
                "{fragment}: {plan}"
            );
        }
        let plan = search_plan(&storage, "91").await;
        assert!(plan.lines().any(|step| step == "SCAN l"), "{plan}");
    }

    /// The index is asked for the distinct trigrams of a fragment as the search folds it (a phone's digits
    /// without their spaces), each as its keys in the viewer's calendars, in hexadecimal: one of them for each
    /// trigram. A fragment of fewer than three characters is not looked up, nor is a search in no calendar.
    #[test]
    fn a_search_asks_the_index_for_the_fragments_trigrams_in_the_calendars() {
        let keys = |fragment: &str, calendars: &[i64]| {
            let key = SearchKey::parse(fragment).unwrap();
            lead_search_keys(&LeadSearch::new(key, &CommonTrigrams::default()), calendars)
        };
        let hex = |calendar: i64, t: &str| {
            let t: Vec<char> = t.chars().collect();
            format!("{:x}", search_key(calendar, [t[0], t[1], t[2]]))
        };
        assert_eq!(keys("00000", &[7]), Some(hex(7, "000")));
        assert_eq!(
            keys("Ab\"c", &[7]),
            Some(format!("{} AND {}", hex(7, "ab\""), hex(7, "b\"c")))
        );
        assert_eq!(
            keys("916 12-3", &[1, 2]),
            Some(
                [("123"), ("161"), ("612"), ("916")]
                    .map(|t| format!("({} OR {})", hex(1, t), hex(2, t)))
                    .join(" AND ")
            )
        );
        assert_eq!(keys("ab", &[1]), None);
        assert_eq!(keys("abc", &[]), None);
    }

    /// leadgate writes a lead's keys, [`leadgate_storage::search_keys`], each one word of the index; a change of
    /// the lead's search text or calendar deletes them (the trigger of migration 0027), and leadgate writes the
    /// new ones (a lead stored before 0026 got them from that migration, with the same formula in SQL:
    /// `tests/search_upgrade.rs` finds such leads).
    #[tokio::test]
    async fn leadgate_writes_the_search_keys_and_a_change_deletes_them() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("keys.db").display());
        let storage = SqliteStorage::connect(&url).await.unwrap();
        let mut conn = storage.pool.acquire().await.unwrap();
        let calendars = [1_i64, 2, 7_000_000_000_001];
        for id in calendars {
            sqlx::query("INSERT INTO calendars (id, name, created_at) VALUES ($1, $2, 0)")
                .bind(id)
                .bind(format!("Календарь {id}"))
                .execute(&mut *conn)
                .await
                .unwrap();
        }
        sqlx::query(
            "INSERT INTO leads (id, calendar_id, kind, received_at, starts_at, channel, updated_at)
             VALUES (1, 1, 'order', 0, 0, 'file', 0)",
        )
        .execute(&mut *conn)
        .await
        .unwrap();
        sqlx::query("CREATE VIRTUAL TABLE temp.words USING fts5vocab(main, leads_fts, row)")
            .execute(&mut *conn)
            .await
            .unwrap();
        let texts = [
            "заказ с сайта №17\nкузнецова анна\n+79161234567\nanna@example.ru\n7707083893",
            "ab",
            "abc",
            "",
            "ё\u{fffd}😀 x\t\u{10ffff}\u{10ffff}\u{10ffff}",
        ];
        let words = async |conn: &mut SqliteConnection| -> Vec<String> {
            sqlx::query_scalar("SELECT term FROM temp.words ORDER BY term")
                .fetch_all(conn)
                .await
                .unwrap()
        };
        for calendar in calendars {
            for text in texts {
                let mut expected: Vec<String> = leadgate_storage::search_keys(calendar, text)
                    .iter()
                    .map(|key| format!("{key:x}"))
                    .collect();
                expected.sort();
                write::index_search_keys(&mut conn, &[(1, calendar, text)])
                    .await
                    .unwrap();
                assert_eq!(words(&mut conn).await, expected, "{calendar} {text:?}");
                sqlx::query("UPDATE leads SET calendar_id = $1, search_text = $2 WHERE id = 1")
                    .bind(calendar)
                    .bind(format!("{text} changed"))
                    .execute(&mut *conn)
                    .await
                    .unwrap();
                assert!(
                    words(&mut conn).await.is_empty(),
                    "a change deletes the keys: {calendar} {text:?}"
                );
            }
        }
    }

    /// A database that cannot be reached is `Unavailable` (the API and the UI answer 503), a failed
    /// statement a boxed backend error that names its cause, a taken name a `Conflict`.
    #[tokio::test]
    async fn driver_errors_become_the_cases_callers_tell_apart() {
        use leadgate_storage::{Accounts, Calendars};
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("errors.db").display());
        let storage = SqliteStorage::connect(&url).await.unwrap();
        storage
            .create_calendar("Заказы", None, "#000000")
            .await
            .unwrap();
        assert!(matches!(
            storage.create_calendar("Заказы", None, "#000000").await,
            Err(StorageError::Conflict(_))
        ));
        let backend = storage
            .create_user("x", "x", leadgate_domain::account::Role::Admin, None)
            .await
            .and(storage.create_api_token(9999, "t", "h").await)
            .unwrap_err();
        assert!(matches!(backend, StorageError::Backend(_)), "{backend:?}");
        let cause = std::error::Error::source(&backend).unwrap().to_string();
        assert!(cause.contains("FOREIGN KEY"), "{cause}");
        storage.pool.close().await;
        assert!(matches!(
            storage.ping().await,
            Err(StorageError::Unavailable(_))
        ));
    }

    /// A database in `dir` migrated up to `version` only, as an earlier leadgate left it; its URL and a pool.
    async fn database_at(dir: &std::path::Path, version: i64) -> (String, SqlitePool) {
        let url = format!("sqlite://{}", dir.join("old.db").display());
        let options = SqliteConnectOptions::from_str(&url)
            .unwrap()
            .create_if_missing(true);
        let old = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .unwrap();
        sqlx::migrate!("./migrations")
            .run_to(version, &old)
            .await
            .unwrap();
        (url, old)
    }

    /// A database made before migration 0005 kept raw bytes inline (and a large message's rest in parts);
    /// after upgrading, every raw download is the bytes that were stored.
    #[tokio::test]
    async fn raw_messages_stored_inline_by_an_earlier_version_survive_the_upgrade() {
        let dir = tempfile::tempdir().unwrap();
        let (url, old) = database_at(dir.path(), 4).await;
        let small = b"Subject: ORDER 1\r\n\r\nbody".to_vec();
        let first_part = vec![b'a'; write::RAW_PART];
        let rest = vec![b'b'; 10];
        for (id, raw, outcome) in [
            (1, Some(small.clone()), "imported"),
            (2, Some(first_part.clone()), "rejected"),
            (3, None, "skipped"),
        ] {
            sqlx::query(
                "INSERT INTO messages (id, channel, source, outcome, raw, content_type, received_at)
                 VALUES ($1, 'file', 'file', $2, $3, 'message/rfc822', 0)",
            )
            .bind(id)
            .bind(outcome)
            .bind(raw)
            .execute(&old)
            .await
            .unwrap();
        }
        sqlx::query("INSERT INTO message_raw_parts (message_id, seq, bytes) VALUES (2, 1, $1)")
            .bind(&rest)
            .execute(&old)
            .await
            .unwrap();
        old.close().await;

        let storage = SqliteStorage::connect(&url).await.unwrap();
        assert_eq!(storage.message_raw(1).await.unwrap().unwrap().bytes, small);
        let large = storage.message_raw(2).await.unwrap().unwrap().bytes;
        assert_eq!(large.len(), write::RAW_PART + rest.len());
        assert_eq!(large, [first_part, rest].concat());
        assert!(storage.message_raw(3).await.unwrap().is_none());
        assert!(storage.message(1).await.unwrap().unwrap().has_raw);
        assert!(!storage.message(3).await.unwrap().unwrap().has_raw);
    }

    fn rejected_file(key: &str, raw: &[u8]) -> Submission {
        Submission {
            ledger: LedgerEntry {
                source: SourceRef::File,
                ledger_key: Some(key.to_owned()),
                mailbox_key: None,
                message_id: Some(key.to_owned()),
                external_number: None,
                received_at: Utc::now(),
                raw: StoredRaw::new(raw.to_vec()),
                content_type: "message/rfc822".to_owned(),
                content_hash: Some(content_hash(raw)),
            },
            disposition: Disposition::Rejected {
                reason: "test".to_owned(),
            },
            idempotency: None,
        }
    }

    /// Records made before content hashes were kept: one whose raw message is kept is compared by its
    /// content (hashed on first use), one without raw by its key alone, as before.
    #[tokio::test]
    async fn records_from_before_content_hashes_tell_another_message_with_their_message_id_apart() {
        let dir = tempfile::tempdir().unwrap();
        let (url, old) = database_at(dir.path(), 5).await;
        let kept = b"Subject: ORDER 1\r\n\r\nfirst".to_vec();
        for (id, key, outcome, raw) in [
            (1, "kept@shop", "rejected", Some(kept.clone())),
            (2, "unkept@shop", "skipped", None),
        ] {
            sqlx::query(
                "INSERT INTO messages (id, channel, source, ledger_key, outcome, raw_codec, raw_size, content_type,
                     received_at)
                 VALUES ($1, 'file', 'file', $2, $3, $4, $5, 'message/rfc822', 0)",
            )
            .bind(id)
            .bind(key)
            .bind(outcome)
            .bind(raw.as_ref().map(|_| "identity"))
            .bind(raw.as_ref().map(|r| r.len() as i64))
            .execute(&old)
            .await
            .unwrap();
            if let Some(raw) = raw {
                sqlx::query(
                    "INSERT INTO message_raw_parts (message_id, seq, bytes) VALUES ($1, 0, $2)",
                )
                .bind(id)
                .bind(raw)
                .execute(&old)
                .await
                .unwrap();
            }
        }
        old.close().await;

        let storage = SqliteStorage::connect(&url).await.unwrap();
        let other = b"Subject: ORDER 2\r\n\r\nsecond".to_vec();
        let outcomes = storage
            .submit_batch(&[
                rejected_file("kept@shop", &kept),
                rejected_file("kept@shop", &other),
                rejected_file("unkept@shop", &other),
            ])
            .await
            .unwrap();
        assert!(
            matches!(outcomes[0], SubmitOutcome::Duplicate { .. }),
            "{outcomes:?}"
        );
        let SubmitOutcome::Rejected { message_id } = outcomes[1] else {
            panic!("another message under a known Message-ID is recorded: {outcomes:?}");
        };
        assert_eq!(
            storage
                .message_raw(message_id)
                .await
                .unwrap()
                .unwrap()
                .bytes,
            other
        );
        assert!(
            matches!(outcomes[2], SubmitOutcome::Duplicate { .. }),
            "{outcomes:?}"
        );
    }
}
