//! A fresh PostgreSQL database per test, on the server named by `LEADGATE_TEST_POSTGRES_URL` (written by
//! `scripts/postgres.sh start DIR` into `DIR/env`): a role that may create databases, and its URL to the
//! maintenance database.
//!
//! Each [`FreshPg`] creates a database of its own with a unique name, migrated by [`PgStorage::connect`],
//! and drops it (closing whatever connections are left) when the value is dropped, a failing test's
//! included. A test process killed before its drop leaves its database behind; the next [`FreshPg`] drops
//! such leftovers once they are an hour old (the name carries its creation time), so a run of failures
//! never piles databases up. None of it is used by leadgate itself.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, PgConnection};

use super::PgStorage;

/// The environment variable naming the test server.
pub const URL_VAR: &str = "LEADGATE_TEST_POSTGRES_URL";

/// Every test database's name starts with this.
const PREFIX: &str = "leadgate_test_";

/// Leftover test databases older than this are dropped.
const LEFTOVER_AGE: Duration = Duration::from_secs(3600);

/// The test server's URL (to its maintenance database), or a panic telling how to start it.
///
/// # Panics
/// When `LEADGATE_TEST_POSTGRES_URL` is not set.
pub fn server_url() -> String {
    std::env::var(URL_VAR).unwrap_or_else(|_| {
        panic!(
            "{URL_VAR} is not set: the PostgreSQL tests need the test server. Start it with \
             scripts/postgres.sh start DIR, then `. DIR/env` before cargo test"
        )
    })
}

/// A fresh, migrated PostgreSQL database that lives as long as this value.
pub struct FreshPg {
    storage: PgStorage,
    name: String,
    admin: PgConnectOptions,
    url: String,
}

impl FreshPg {
    /// Creates a database of its own on the test server and connects to it.
    ///
    /// # Panics
    /// Without `LEADGATE_TEST_POSTGRES_URL`, or when the server refuses: a test cannot go on then.
    pub async fn new() -> Self {
        Self::on(&server_url()).await
    }

    /// Creates a database of its own on the server at `server` (a URL to its maintenance database, as
    /// `LEADGATE_TEST_POSTGRES_URL` is) and connects to it.
    ///
    /// # Panics
    /// When the server refuses: a test cannot go on then.
    pub async fn on(server: &str) -> Self {
        let admin: PgConnectOptions = server
            .parse()
            .unwrap_or_else(|e| panic!("the test server URL is not a PostgreSQL URL: {e}"));
        let admin = admin.disable_statement_logging();
        let name = unique_name();
        let mut conn = PgConnection::connect_with(&admin)
            .await
            .unwrap_or_else(|e| panic!("cannot reach the test PostgreSQL: {e}"));
        drop_leftovers(&mut conn).await;
        // A name of our own making (letters, digits, underscores): safe to write into the statement.
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("cannot create the test database {name}: {e}"));
        let _ = conn.close().await;
        let mut url = url::Url::parse(server)
            .unwrap_or_else(|e| panic!("the test server URL is not a URL: {e}"));
        url.set_path(&name);
        let url = url.to_string();
        let storage = match PgStorage::connect(&url).await {
            Ok(storage) => storage,
            Err(e) => {
                drop_on_a_thread(admin.clone(), name.clone());
                panic!("cannot open the test database {name}: {e:?}");
            }
        };
        Self {
            storage,
            name,
            admin,
            url,
        }
    }

    /// The database's URL (with the test role's password), for a second connection or a `leadgate` process.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The storage on this database.
    pub fn storage(&self) -> &PgStorage {
        &self.storage
    }
}

impl std::ops::Deref for FreshPg {
    type Target = PgStorage;

    fn deref(&self) -> &PgStorage {
        &self.storage
    }
}

impl Drop for FreshPg {
    fn drop(&mut self) {
        drop_on_a_thread(self.admin.clone(), self.name.clone());
    }
}

/// `leadgate_test_<unix seconds>_<pid>_<n>`: unique across processes and within one.
fn unique_name() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{PREFIX}{secs}_{}_{n}", std::process::id())
}

/// When a test database was made, from its name.
fn created_at(name: &str) -> Option<u64> {
    name.strip_prefix(PREFIX)?.split('_').next()?.parse().ok()
}

/// Drops test databases older than [`LEFTOVER_AGE`] (left by killed test processes).
async fn drop_leftovers(conn: &mut PgConnection) {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT datname FROM pg_database WHERE datname LIKE 'leadgate\\_test\\_%'",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap_or_default();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    for name in names {
        if created_at(&name).is_some_and(|t| now.saturating_sub(t) > LEFTOVER_AGE.as_secs()) {
            let _ = drop_database(conn, &name).await;
        }
    }
}

/// Drops the database `name` (a name of letters, digits and underscores) on the server `conn` is connected
/// to, ending the connections to it first.
///
/// `DROP DATABASE … WITH (FORCE)` is not enough for a role that is not a superuser: when autovacuum works in
/// the database (a test's migrations and writes give it work soon after the database is made; CI left 11 of
/// its databases so, from empty ones to one of 4,000 leads), PostgreSQL 15 refuses the whole statement,
/// because such a role may not end an autovacuum worker ("must be a member of the role whose process is being
/// terminated"). So this ends the connections of its own role, then drops the database without `FORCE`, which
/// stops autovacuum itself and waits for the ended connections to go (up to 5 s). It tries three times: a
/// process of the role that connects again in between makes one attempt fail.
///
/// # Errors
/// The name is not one this crate makes, or the last attempt's error.
pub async fn drop_database(conn: &mut PgConnection, name: &str) -> Result<(), sqlx::Error> {
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(sqlx::Error::InvalidArgument(format!(
            "not a database name leadgate's tests make: {name:?}"
        )));
    }
    let mut attempt = 0;
    loop {
        let dropped = async {
            sqlx::query(
                "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity
                 WHERE datname = $1 AND usename = current_user AND pid <> pg_backend_pid()",
            )
            .bind(name)
            .execute(&mut *conn)
            .await?;
            // A name checked above: safe to write into the statement.
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name}"
            )))
            .execute(&mut *conn)
            .await
        }
        .await;
        attempt += 1;
        match dropped {
            Ok(_) => return Ok(()),
            Err(e) if attempt == 3 => return Err(e),
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

/// Drops a test database ([`drop_database`]) on a thread of its own: `Drop` cannot wait for a future on the
/// test's runtime.
fn drop_on_a_thread(admin: PgConnectOptions, name: String) {
    let dropped = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime
            .block_on(async {
                let mut conn = PgConnection::connect_with(&admin).await?;
                drop_database(&mut conn, &name).await?;
                conn.close().await?;
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
            })
            .map_err(std::io::Error::other)
    })
    .join();
    if let Ok(Err(e)) = dropped {
        eprintln!("the test database could not be dropped: {e}");
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_test_database_name_tells_when_it_was_made() {
        let name = unique_name();
        assert!(name.starts_with(PREFIX));
        assert!(created_at(&name).is_some_and(|t| t > 1_700_000_000));
        assert_eq!(created_at("leadgate"), None);
    }

    /// A database is dropped while connections to it are open (a test's own pool, a `leadgate` process),
    /// and a name leadgate's tests do not make is refused.
    #[tokio::test]
    async fn a_database_is_dropped_with_its_connections_open() {
        let db = FreshPg::new().await;
        let busy = db.storage().pool.clone();
        let sleeping =
            tokio::spawn(async move { sqlx::query("SELECT pg_sleep(30)").execute(&busy).await });
        let admin: PgConnectOptions = server_url().parse().unwrap();
        let mut conn = PgConnection::connect_with(&admin).await.unwrap();
        while sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = $1 AND query LIKE '%pg_sleep%'",
        )
        .bind(db.name())
        .fetch_one(&mut conn)
        .await
        .unwrap()
            == 0
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        drop_database(&mut conn, db.name()).await.unwrap();
        let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pg_database WHERE datname = $1")
            .bind(db.name())
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(left, 0);
        assert!(
            sleeping.await.unwrap().is_err(),
            "the open connection was ended"
        );
        assert!(
            drop_database(&mut conn, "postgres; SELECT 1")
                .await
                .is_err()
        );
    }
}
