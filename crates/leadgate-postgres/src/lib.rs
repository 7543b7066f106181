//! The PostgreSQL backend: for a shop (or a host of many shops) that outgrows one machine, with several
//! leadgate instances on one database.
//!
//! Every connection runs with `synchronous_commit = on`, so a committed lead is on the server's disk (and its
//! synchronous standbys) before the intake answers. Writers in several processes meet in the database itself:
//! the intake's ids come from the tables' identity sequences, and everything that must happen once (a
//! ledger key, an idempotency key, a counterparty per INN) is a unique constraint written with
//! `INSERT ... ON CONFLICT`, never a read followed by a write.
//!
//! One module per aggregate, each implementing its role trait, as in the SQLite backend: `ledger` (with the
//! batch write path in `write`), `leads` (with `counterparties` and the web UI's lead lists in `summaries`),
//! `personal_data`, `accounts`, `collectors`, `calendars`, and the smaller stores. The driver's errors become
//! [`StorageError`]s here, at the edge of the backend; `testing` makes a fresh database per test.

use std::borrow::Cow;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgConnection, PgPool, Postgres, QueryBuilder};
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
pub mod test_database;
#[doc(hidden)]
pub mod testing;
mod transfer;
mod webhooks;
mod write;

pub use transfer::PgTransfer;

use leadgate_domain::lead::LeadKind;
use leadgate_storage::{CommonTrigramsCache, LeadSearch, SearchKey, StorageError};

/// PostgreSQL storage: a pool of connections to one database.
#[derive(Clone)]
pub struct PgStorage {
    pool: PgPool,
    /// Where the pool connects, for messages: `host:port/database`, never the password.
    target: Target,
    /// How the pool connects (the live relay's listener connects the same way, outside the pool).
    options: PgConnectOptions,
    /// The pool's size and patience.
    pool_settings: PoolSettings,
    /// The trigrams common among the leads, which a search leaves out of its index lookup.
    common_trigrams: std::sync::Arc<CommonTrigramsCache>,
}

/// The size of the connection pool and how long a caller waits for a connection of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolSettings {
    /// At most this many connections to the server (the live relay's listener holds one more of its own).
    pub max_connections: u32,
    /// How long a query waits for a free connection (or for the server to accept one) before it fails as
    /// unavailable.
    pub acquire_timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(10),
        }
    }
}

impl std::fmt::Debug for PgStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStorage")
            .field("target", &self.target.to_string())
            .finish_non_exhaustive()
    }
}

/// The server and database a URL names: what an error may show of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The host (or the socket directory).
    pub host: String,
    /// The port.
    pub port: u16,
    /// The database.
    pub database: String,
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "PostgreSQL at {}:{}, database {:?}",
            self.host, self.port, self.database
        )
    }
}

/// What the backend's own functions fail with; it becomes a [`StorageError`] at the trait's edge.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The driver failed.
    #[error(transparent)]
    Sqlx(#[from] sqlx::Error),
    /// Migrations could not be applied.
    #[error("database migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The database URL cannot be used; the message never repeats the URL (it may hold a password).
    #[error("the PostgreSQL database URL is not valid: {0}")]
    Url(String),
    /// The server named by the URL could not be reached or refused the connection.
    #[error("cannot connect to {target}: {reason}")]
    Connect {
        /// Where.
        target: Target,
        /// Why, in the server's or the operating system's words (never the password).
        reason: String,
        /// Whether trying again later may succeed (the server is down or starting, not refusing us).
        transient: bool,
    },
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
    /// The database is not leadgate's at this version (for what is read, never migrated).
    #[error("{0}")]
    Schema(String),
}

/// SQLSTATEs that mean the server cannot serve us right now: connection exceptions (class 08), the server
/// shutting down or starting (57P01-57P03), too many connections (53300).
fn unavailable_code(code: &str) -> bool {
    code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03" | "53300")
}

/// Whether a driver error means the database cannot be reached right now.
fn is_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|c| unavailable_code(&c)),
        _ => false,
    }
}

impl From<Error> for StorageError {
    fn from(e: Error) -> Self {
        match e {
            Error::NotFound { what, key } => StorageError::NotFound { what, key },
            Error::Conflict(message) => StorageError::Conflict(message),
            Error::Sqlx(e) if is_unavailable(&e) => StorageError::Unavailable(Box::new(e)),
            e @ Error::Connect {
                transient: true, ..
            } => StorageError::Unavailable(Box::new(e)),
            other => StorageError::Backend(Box::new(other)),
        }
    }
}

/// The backend's own results.
type Result<T, E = Error> = std::result::Result<T, E>;

/// Turns a backend result into the traits' result, at their edge.
#[allow(dead_code)]
trait Edge<T> {
    fn edge(self) -> leadgate_storage::Result<T>;
}

impl<T, E: Into<Error>> Edge<T> for std::result::Result<T, E> {
    fn edge(self) -> leadgate_storage::Result<T> {
        self.map_err(|e| StorageError::from(e.into()))
    }
}

/// A unique-constraint failure becomes a `Conflict` with this message; anything else stays a database error.
#[allow(dead_code)]
fn conflict_on_unique(e: sqlx::Error, message: String) -> Error {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => Error::Conflict(message),
        _ => Error::Sqlx(e),
    }
}

/// Whether a transaction lost a race and is worth running again from the start: a unique violation
/// (another transaction committed the same key; SQLSTATE 23505), a deadlock (40P01: two batches took the
/// same keys in different orders) or a serialization failure (40001).
fn lost_a_race(e: &Error) -> bool {
    matches!(e, Error::Sqlx(sqlx::Error::Database(db))
        if db.is_unique_violation() || matches!(db.code().as_deref(), Some("40P01" | "40001")))
}

/// Reads where a `postgres://` URL points, without ever echoing it (it may carry a password).
fn parse_url(url: &str) -> Result<(PgConnectOptions, Target)> {
    let parsed = url::Url::parse(url).map_err(|e| Error::Url(e.to_string()))?;
    if !matches!(parsed.scheme(), "postgres" | "postgresql") {
        return Err(Error::Url(format!(
            "the scheme is {:?}, not postgres",
            parsed.scheme()
        )));
    }
    let options = PgConnectOptions::from_str(url).map_err(|e| match e {
        // The driver's message names the part it could not read, not the URL.
        sqlx::Error::Configuration(cause) => Error::Url(cause.to_string()),
        other => Error::Url(other.to_string()),
    })?;
    let asks_ssl = parsed.query_pairs().any(|(k, _)| k == "sslmode")
        || std::env::var_os("PGSSLMODE").is_some();
    let options = if asks_ssl || !is_loopback(options.get_host()) {
        options
    } else {
        // libpq's default, `prefer`, would encrypt a loopback connection without verifying anything: it protects
        // nothing there, and through the driver it costs most of the intake's throughput (its TLS socket sends
        // without TCP_NODELAY, so statements wait out delayed ACKs). An explicit sslmode is followed as given.
        options.ssl_mode(sqlx::postgres::PgSslMode::Disable)
    };
    let target = Target {
        host: options.get_host().to_owned(),
        port: options.get_port(),
        database: options
            .get_database()
            .unwrap_or(options.get_username())
            .to_owned(),
    };
    Ok((options, target))
}

/// Whether a URL's host is this machine: `localhost`, a loopback address, or a Unix socket's directory.
fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.starts_with('/')
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl PgStorage {
    /// Connects to the database at `url` (`postgres://user:password@host:port/db`, the password optionally
    /// from `PGPASSWORD` or a `.pgpass` file as libpq reads them) and runs the embedded migrations.
    ///
    /// # Errors
    /// One error naming the host, port and database (never the password) when the URL is wrong, the server
    /// cannot be reached, or refuses the credentials; `Unavailable` when it may answer later. A failed
    /// migration.
    #[instrument(skip_all)]
    pub async fn connect(url: &str) -> Result<Self, StorageError> {
        Self::connect_with(url, PoolSettings::default()).await
    }

    /// [`PgStorage::connect`] with a pool of this size and patience.
    ///
    /// # Errors
    /// As [`PgStorage::connect`].
    #[instrument(skip_all)]
    pub async fn connect_with(url: &str, pool: PoolSettings) -> Result<Self, StorageError> {
        Ok(Self::open(url, pool).await?)
    }

    async fn open(url: &str, pool_settings: PoolSettings) -> Result<Self> {
        let (options, target) = parse_url(url)?;
        let options = options
            .application_name("leadgate")
            // A lead is acknowledged only once its commit is durable.
            .options([("synchronous_commit", "on")]);
        // One connection first: a wrong host, port, database or password fails at once, with the server's
        // reason, instead of after the pool's acquire timeout. It applies the migrations.
        let mut first = PgConnection::connect_with(&migration_options(options.clone()))
            .await
            .map_err(|e| connect_error(&target, e))?;
        migrate(&mut first).await?;
        let _ = first.close().await;
        let pool = PgPoolOptions::new()
            .max_connections(pool_settings.max_connections.max(1))
            .min_connections(0)
            .acquire_timeout(pool_settings.acquire_timeout)
            .connect_lazy_with(options.clone());
        tracing::info!(
            target = %target,
            max_connections = pool_settings.max_connections,
            acquire_timeout_secs = pool_settings.acquire_timeout.as_secs_f64(),
            "PostgreSQL database open"
        );
        Ok(Self {
            pool,
            target,
            options,
            pool_settings,
            common_trigrams: std::sync::Arc::default(),
        })
    }

    /// Where this storage connects (host, port, database).
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Closes every connection of the pool; later calls fail as `Unavailable`.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// The one error a failed first connection gives: where, and why in the server's words.
fn connect_error(target: &Target, e: sqlx::Error) -> Error {
    // A certificate that does not verify (the TLS handshake's error comes as invalid data), or TLS the server
    // does not offer, stays so however long one waits.
    let refused_tls = match &e {
        sqlx::Error::Tls(_) => true,
        sqlx::Error::Io(io) => io.kind() == std::io::ErrorKind::InvalidData,
        _ => false,
    };
    let transient = is_unavailable(&e) && !refused_tls;
    let reason = match &e {
        sqlx::Error::Database(db) => db.message().to_owned(),
        sqlx::Error::Io(io) => io.to_string(),
        sqlx::Error::PoolTimedOut => "no answer in time".to_owned(),
        other => other.to_string(),
    };
    Error::Connect {
        target: target.clone(),
        reason,
        transient,
    }
}

// ---- values as stored -----------------------------------------------------------------------------------------

/// A time as stored: milliseconds since the epoch (as in SQLite, so copies between backends are exact).
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

// ---- query pieces shared by the aggregates ------------------------------------------------------------------

/// Narrows a lead query (`l`) to one kind and a period of `starts_at`.
fn push_kind_and_period(
    q: &mut QueryBuilder<Postgres>,
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

/// Appends ` AND l.calendar_id = ANY(...)` (an empty list matches nothing).
fn push_calendar_ids(q: &mut QueryBuilder<Postgres>, calendars: &[i64]) {
    q.push(" AND l.calendar_id = ANY(")
        .push_bind(calendars.to_vec())
        .push(")");
}

/// Applies the embedded migrations ([`leadgate_storage::apply_migrations`] says which and how long). Instances
/// started together each say so; sqlx's lock lets one of them apply them.
async fn migrate(conn: &mut PgConnection) -> Result<()> {
    let migrator = sqlx::migrate!("./migrations");
    let applied = applied_migrations(conn).await?.unwrap_or_default();
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

/// The versions of the migrations applied to the database, or `None` when it has no table of them (a new
/// database, or one leadgate never opened). Asked first, so that the server logs no error for the missing table.
async fn applied_migrations(conn: &mut PgConnection) -> Result<Option<Vec<i64>>> {
    let known: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
        .fetch_one(&mut *conn)
        .await?;
    if !known {
        return Ok(None);
    }
    Ok(Some(
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
            .fetch_all(&mut *conn)
            .await?,
    ))
}

/// Checks, without changing anything, that the database is leadgate's at this version: every embedded
/// migration applied and no other. What is only read (the source of a copy) is never migrated.
async fn ensure_current_schema(conn: &mut PgConnection, target: &Target) -> Result<()> {
    let Some(mut applied) = applied_migrations(conn).await? else {
        return Err(Error::Schema(format!(
            "{target} holds no leadgate database (it has no table of leadgate's migrations)"
        )));
    };
    applied.sort_unstable();
    let embedded: Vec<i64> = sqlx::migrate!("./migrations")
        .iter()
        .map(|m| m.version)
        .collect();
    if applied == embedded {
        return Ok(());
    }
    let why = match leadgate_storage::written_by_newer(embedded.iter().copied(), &applied) {
        Some(newer) => format!("{target}: {newer}"),
        None => format!(
            "{target} is a leadgate database of an older version ({} of {} migrations applied): \
             run `leadgate migrate` on it first",
            applied.len(),
            embedded.len()
        ),
    };
    Err(Error::Schema(why))
}

/// The options of the connection that applies the migrations: a statement of over a second is logged at
/// DEBUG, not at WARN as sqlx does by default. A migration that rewrites every lead takes minutes, and the
/// warning would carry its whole SQL text; [`leadgate_storage::apply_migrations`] logs which migrations ran
/// and how long they took.
fn migration_options(options: PgConnectOptions) -> PgConnectOptions {
    options.log_slow_statements(log::LevelFilter::Debug, Duration::from_secs(1))
}

/// Appends the condition that a lead (`l`) in one of `calendars` is found by `search`: its search text contains
/// the key. The index `leads_search_keys` (migration 0017) serves it: it is asked for each of the search's
/// trigrams in each of the calendars ([`LeadSearch::keys_in`]), so it hands out only leads of those calendars that hold
/// them all, and the key decides. A key shorter than three characters has no trigram: the leads are tested one
/// by one.
fn push_lead_search(q: &mut QueryBuilder<Postgres>, search: &LeadSearch, calendars: &[i64]) {
    for keys in search.keys_in(calendars) {
        q.push("l.search_keys && ").push_bind(keys).push(" AND ");
    }
    push_lead_contains(q, &search.key);
}

/// The calendars whose keys `search` by a viewer of `calendars` (`None`: every one) asks the index for
/// ([`LeadSearch::calendars`]).
async fn search_calendars<'a>(
    pool: &PgPool,
    search: &LeadSearch,
    calendars: Option<&'a [i64]>,
) -> Result<Cow<'a, [i64]>> {
    let all = sqlx::query_scalar("SELECT id FROM calendars ORDER BY id").fetch_all(pool);
    Ok(search.calendars(calendars, all).await?)
}

/// Ids written into a statement's text, `1, 2, 3` (integers: safe there). A statement with its ids written in
/// has no parameter to plan for: PostgreSQL plans it once per connection and text, where an array of ids bound
/// as a parameter was planned again at every execution.
fn id_list(ids: &[i64]) -> String {
    ids.iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Appends the test that decides a text search: the lead's (`l`) search text contains `key`. No index
/// serves it: [`push_lead_search`]'s trigrams narrow the leads it reads.
fn push_lead_contains(q: &mut QueryBuilder<Postgres>, key: &SearchKey) {
    q.push("strpos(l.search_text, ")
        .push_bind(key.as_str().to_owned())
        .push(") > 0");
}

impl PgStorage {
    /// The search for `key` ([`CommonTrigramsCache::search`]), sampling the newest leads' search texts when due.
    async fn lead_search(&self, key: SearchKey) -> Result<LeadSearch> {
        let sample =
            sqlx::query_as("SELECT search_text, calendar_id FROM leads ORDER BY id DESC LIMIT $1")
                .bind(i64::from(CommonTrigramsCache::SAMPLE))
                .fetch_all(&self.pool);
        Ok(self.common_trigrams.search(key, sample).await?)
    }
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
    use leadgate_storage::search_keys;

    /// libpq's default `prefer` for a server elsewhere; no TLS to this machine unless the URL asks for it.
    #[test]
    fn tls_is_left_out_on_loopback_unless_the_url_asks_for_it() {
        use sqlx::postgres::PgSslMode;
        if std::env::var_os("PGSSLMODE").is_some() {
            return; // the variable decides, as in libpq
        }
        let mode = |url: &str| parse_url(url).unwrap().0.get_ssl_mode();
        for local in ["localhost", "127.0.0.1", "127.1.2.3", "[::1]"] {
            let url = format!("postgres://shop@{local}/leads");
            assert!(matches!(mode(&url), PgSslMode::Disable), "{url}");
            assert!(
                matches!(mode(&format!("{url}?sslmode=require")), PgSslMode::Require),
                "{url}"
            );
        }
        assert!(matches!(
            mode("postgres://shop@db.example/leads"),
            PgSslMode::Prefer
        ));
        assert!(matches!(
            mode("postgres://shop@db.example/leads?sslmode=verify-full"),
            PgSslMode::VerifyFull
        ));
    }

    #[test]
    fn a_url_is_read_without_repeating_its_password() {
        let (_, target) = parse_url("postgres://shop:s3cret@db.example:6543/leads").unwrap();
        assert_eq!(
            target,
            Target {
                host: "db.example".into(),
                port: 6543,
                database: "leads".into()
            }
        );
        for bad in [
            "postgres://shop:s3cret@db.example:notaport/leads",
            "mysql://shop:s3cret@db.example/leads",
            "postgres://shop:s3cret@db.example/leads?sslmode=sometimes",
        ] {
            let message = parse_url(bad).unwrap_err().to_string();
            assert!(!message.contains("s3cret"), "{message}");
        }
    }

    /// A search asks the index of trigrams in calendars (`leads_search_keys`) for its trigrams in the viewer's
    /// calendars: the plan reads it.
    #[tokio::test]
    async fn a_search_reads_the_index_of_trigrams_in_calendars() {
        let db = testing::FreshPg::new().await;
        let mut conn = db.storage().pool.acquire().await.unwrap();
        // An empty table is read whole otherwise: what is asked here is whether the index can serve.
        sqlx::query("SET enable_seqscan = off")
            .execute(&mut *conn)
            .await
            .unwrap();
        let key = SearchKey::parse("Кузнецова").unwrap();
        let search = LeadSearch::new(key, &leadgate_storage::CommonTrigrams::default());
        let mut q = QueryBuilder::<Postgres>::new("EXPLAIN SELECT l.id FROM leads l WHERE ");
        push_lead_search(&mut q, &search, &[1, 2]);
        let plan: Vec<String> = q.build_query_scalar().fetch_all(&mut *conn).await.unwrap();
        let plan = plan.join("\n");
        assert!(
            plan.contains("Bitmap Index Scan on leads_search_keys"),
            "{plan}"
        );
    }

    /// The keys leadgate computes for the leads it writes are those the database computes for the others (a
    /// copy, a moved or edited lead, the leads stored before migration 0017): else a lead would be found or
    /// not depending on how it was written.
    #[tokio::test]
    async fn the_search_keys_are_the_databases() {
        let db = testing::FreshPg::new().await;
        let texts = [
            "заказ с сайта №17\nкузнецова анна\n+79161234567\nanna@example.ru\n7707083893",
            "ab",
            "abc",
            "",
            "ё\u{fffd}😀 x\t\u{10ffff}\u{10ffff}\u{10ffff}",
        ];
        // A long text of one-, two- and four-byte characters, as a site may send (migration 0021 reads it in
        // linear time).
        let long: String = (0..20_000_u32)
            .map(|i| ['s', 'ж', '😀', '7'][(i % 4) as usize].to_string() + &(i % 97).to_string())
            .collect();
        for calendar in [1_i64, 2, 7_000_000_000_001] {
            for text in texts.into_iter().chain([long.as_str()]) {
                let theirs: Vec<i32> = sqlx::query_scalar("SELECT lead_search_keys($1, $2)")
                    .bind(calendar)
                    .bind(text)
                    .fetch_one(&db.storage().pool)
                    .await
                    .unwrap();
                assert_eq!(search_keys(calendar, text), theirs, "{calendar} {text:?}");
            }
        }
        assert_ne!(search_keys(1, "abc"), search_keys(2, "abc"));
    }

    /// Nothing listens on the port: one error naming where, `Unavailable` (the server may come up later).
    #[tokio::test]
    async fn an_unreachable_server_is_named_and_unavailable() {
        let err = PgStorage::connect("postgres://shop:s3cret@127.0.0.1:1/leads")
            .await
            .unwrap_err();
        assert!(matches!(err, StorageError::Unavailable(_)), "{err:?}");
        let cause = std::error::Error::source(&err).unwrap().to_string();
        assert!(
            cause.contains("127.0.0.1:1") && cause.contains("\"leads\""),
            "{cause}"
        );
        assert!(!format!("{err:?}").contains("s3cret"));
    }
}
