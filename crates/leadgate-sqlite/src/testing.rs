//! What tests and benchmarks may do to a SQLite database that no storage trait offers, and should not: make
//! the ledger look older, make the database refuse a lead, take a table away, hold the write lock, bulk-edit
//! seeded leads, search every column for a secret, write a database as an earlier version left it. Everything else a test checks goes through the storage traits.
//!
//! Each helper opens its own connection to the database file, beside whatever process uses it (WAL lets
//! them share it), and does one named thing. None of it is used by leadgate itself.

use std::path::Path;

use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use sqlx::{Connection, SqliteConnection};

use super::Error;
use leadgate_storage::StorageError;

/// A connection to a SQLite database file for tests (see the module documentation).
pub struct TestDatabase {
    pool: SqlitePool,
}

impl TestDatabase {
    /// Opens the existing database file at `path`.
    ///
    /// # Errors
    /// The file cannot be opened.
    pub async fn open(path: &Path) -> Result<Self, StorageError> {
        let options = SqliteConnectOptions::new().filename(path);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .map_err(Error::from)?;
        Ok(Self { pool })
    }

    /// Opens the database file at `path` for reading only: it is not created when missing.
    ///
    /// # Errors
    /// The file does not exist or cannot be opened.
    pub async fn open_read_only(path: &Path) -> Result<Self, StorageError> {
        let options = SqliteConnectOptions::new().filename(path).read_only(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .map_err(Error::from)?;
        Ok(Self { pool })
    }

    /// Makes every ledger record look `by` older, as if it had been received then (mail retention).
    ///
    /// # Errors
    /// Database errors.
    pub async fn age_the_ledger(&self, by: chrono::Duration) -> Result<(), StorageError> {
        sqlx::query("UPDATE messages SET received_at = received_at - $1")
            .bind(by.num_milliseconds())
            .execute(&self.pool)
            .await
            .map_err(Error::from)?;
        Ok(())
    }

    /// Makes the database itself refuse to store any lead with this external number (a trigger that
    /// aborts with `lead <number> refused`): a storage failure that hits one message of a batch.
    ///
    /// # Errors
    /// Database errors.
    pub async fn refuse_leads_numbered(&self, external_number: u32) -> Result<(), StorageError> {
        // A number is never text from outside: it is safe to write into the statement.
        let sql = format!(
            "CREATE TRIGGER refuse_{external_number} BEFORE INSERT ON leads
             WHEN NEW.external_number = '{external_number}'
             BEGIN SELECT RAISE(ABORT, 'lead {external_number} refused'); END"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&self.pool)
            .await
            .map_err(Error::from)?;
        Ok(())
    }

    /// Makes the database itself refuse to store any lead with this subject (a trigger that aborts with
    /// `this lead is refused`): a storage failure that hits one submission of a group.
    ///
    /// # Errors
    /// Database errors.
    pub async fn refuse_leads_with_subject(&self, subject: &str) -> Result<(), StorageError> {
        // A SQL string literal: quotes doubled.
        let literal = subject.replace('\'', "''");
        let sql = format!(
            "CREATE TRIGGER refuse_subject BEFORE INSERT ON leads WHEN NEW.subject = '{literal}'
             BEGIN SELECT RAISE(ABORT, 'this lead is refused'); END"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&self.pool)
            .await
            .map_err(Error::from)?;
        Ok(())
    }

    /// How many collector runs there have been, and how many of them are still going.
    ///
    /// # Errors
    /// Database errors.
    pub async fn collector_runs(&self) -> Result<(i64, i64), StorageError> {
        let counts =
            sqlx::query_as("SELECT COUNT(*), COUNT(*) - COUNT(finished_at) FROM collector_runs")
                .fetch_one(&self.pool)
                .await
                .map_err(Error::from)?;
        Ok(counts)
    }

    /// Drops the sign-in rate limit's table, so that recording an attempt fails.
    ///
    /// # Errors
    /// Database errors.
    pub async fn break_login_attempts(&self) -> Result<(), StorageError> {
        sqlx::query("DROP TABLE login_attempts")
            .execute(&self.pool)
            .await
            .map_err(Error::from)?;
        Ok(())
    }

    /// Every recorded sign-in attempt as `(scope, key)`, oldest first: what the rate limit keeps of a login
    /// and an address.
    ///
    /// # Errors
    /// Database errors.
    pub async fn login_attempts(&self) -> Result<Vec<(String, String)>, StorageError> {
        Ok(
            sqlx::query_as("SELECT scope, key FROM login_attempts ORDER BY id")
                .fetch_all(&self.pool)
                .await
                .map_err(Error::from)?,
        )
    }

    /// How many leads there are, and how many distinct external numbers they have (a crash test's count of
    /// what was imported, and imported once).
    ///
    /// # Errors
    /// Database errors.
    pub async fn lead_numbers(&self) -> Result<(i64, i64), StorageError> {
        Ok(
            sqlx::query_as("SELECT COUNT(*), COUNT(DISTINCT external_number) FROM leads")
                .fetch_one(&self.pool)
                .await
                .map_err(Error::from)?,
        )
    }

    /// Gives seeded leads a spread of statuses (the UI benchmark's 100,000 leads): of each ten ids, two in
    /// progress, one done, the rest new, those not new with a first action; then lets SQLite's planner look
    /// at the tables.
    ///
    /// # Errors
    /// Database errors.
    pub async fn spread_statuses(&self) -> Result<(), StorageError> {
        sqlx::query("UPDATE leads SET status = CASE WHEN id % 10 < 2 THEN 'in_progress' ELSE 'done' END WHERE id % 10 < 3")
            .execute(&self.pool)
            .await
            .map_err(Error::from)?;
        // Their first actions, 1 to 180 minutes after receipt, by the first user (the response time report).
        sqlx::query(
            "UPDATE leads SET first_action_at = received_at + (id % 180 + 1) * 60000,
                 first_action_by = (SELECT MIN(id) FROM users) WHERE status <> 'new'",
        )
        .execute(&self.pool)
        .await
        .map_err(Error::from)?;
        sqlx::query("PRAGMA optimize")
            .execute(&self.pool)
            .await
            .map_err(Error::from)?;
        Ok(())
    }

    /// Every `table.column` of the database with a value that holds this text (as bytes, in text and blob
    /// columns alike), in table order: whether a secret reached the file anywhere. No storage trait can
    /// answer it: each reads back only the records it owns, in its own shape, while the question is about
    /// every byte the database file holds, whichever table it is in.
    ///
    /// # Errors
    /// Database errors.
    pub async fn columns_holding(&self, needle: &str) -> Result<Vec<String>, StorageError> {
        use sqlx::{Column, Row, ValueRef};
        let tables: Vec<String> =
            sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
                .fetch_all(&self.pool)
                .await
                .map_err(Error::from)?;
        let needle = needle.as_bytes();
        let mut found = Vec::new();
        for table in tables {
            // The names come from sqlite_master itself; quotes in them are doubled.
            let sql = format!("SELECT * FROM \"{}\"", table.replace('"', "\"\""));
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .fetch_all(&self.pool)
                .await
                .map_err(Error::from)?;
            for row in rows {
                for (i, column) in row.columns().iter().enumerate() {
                    if row.try_get_raw(i).map_err(Error::from)?.is_null() {
                        continue;
                    }
                    let bytes: Vec<u8> = row
                        .try_get::<Vec<u8>, _>(i)
                        .or_else(|_| row.try_get::<String, _>(i).map(String::into_bytes))
                        .unwrap_or_default();
                    let name = format!("{table}.{}", column.name());
                    if !needle.is_empty()
                        && bytes.windows(needle.len()).any(|w| w == needle)
                        && !found.contains(&name)
                    {
                        found.push(name);
                    }
                }
            }
        }
        Ok(found)
    }

    /// Makes the first manager action leadgate recorded on a lead look as if it came `after` its receipt
    /// (a report fixture with known response times); a lead without a recorded action is left alone.
    ///
    /// # Errors
    /// Database errors.
    pub async fn answered_after(
        &self,
        lead_id: i64,
        after: chrono::Duration,
    ) -> Result<(), StorageError> {
        sqlx::query(
            "UPDATE leads SET first_action_at = received_at + $1
             WHERE id = $2 AND first_action_at IS NOT NULL",
        )
        .bind(after.num_milliseconds())
        .bind(lead_id)
        .execute(&self.pool)
        .await
        .map_err(Error::from)?;
        Ok(())
    }

    /// Makes a collector run look as if it had started at `at` (a report fixture over past months).
    ///
    /// # Errors
    /// Database errors.
    pub async fn run_started_at(
        &self,
        run_id: i64,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), StorageError> {
        sqlx::query("UPDATE collector_runs SET started_at = $1, finished_at = $1 WHERE id = $2")
            .bind(at.timestamp_millis())
            .bind(run_id)
            .execute(&self.pool)
            .await
            .map_err(Error::from)?;
        Ok(())
    }

    /// Gives lead `lead_id` the search text `text`, as a version of leadgate before the search left out spaces
    /// and hyphens stored it, and puts the database back to that version's schema of the search: the trigram
    /// index as migration 0021 made it (holding `text`), and no record of the migrations since (0024 folds the
    /// stored texts, 0025 gives the index the calendars, 0026 keys the trigrams by calendar). The next open
    /// runs them on this database, as an upgrade from that version does.
    ///
    /// # Errors
    /// Database errors.
    pub async fn unfold_search_text(&self, lead_id: i64, text: &str) -> Result<(), StorageError> {
        sqlx::query("UPDATE leads SET search_text = $1 WHERE id = $2")
            .bind(text)
            .bind(lead_id)
            .execute(&self.pool)
            .await
            .map_err(Error::from)?;
        // 0021 drops the index and its triggers and makes them again, from the leads' texts as they are. Since
        // 0026 the index has no insert trigger (leadgate keys the leads it inserts): one to drop stands in.
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        sqlx::query("CREATE TRIGGER leads_fts_insert AFTER INSERT ON leads BEGIN SELECT 1; END")
            .execute(&mut *tx)
            .await
            .map_err(Error::from)?;
        sqlx::raw_sql(include_str!(
            "../migrations/0021_lead_search_index_without_positions.sql"
        ))
        .execute(&mut *tx)
        .await
        .map_err(Error::from)?;
        sqlx::query("DELETE FROM _sqlx_migrations WHERE version >= 24")
            .execute(&mut *tx)
            .await
            .map_err(Error::from)?;
        tx.commit().await.map_err(Error::from)?;
        Ok(())
    }

    /// Closes the connection.
    pub async fn close(self) {
        self.pool.close().await;
    }
}

/// Creates a database file at `path` as the version before records managed by the configuration file left
/// it (the migrations up to 0008): one calendar, `calendar`, and in it these IMAP collectors, all alike, so
/// that one the file declares and one made in the UI cannot be told apart. It tests the upgrade of such a
/// database, which no storage trait can make: the traits write the current schema, and the backend migrates
/// every database it opens to it.
///
/// # Errors
/// The file cannot be created, or database errors.
pub async fn database_before_file_management(
    path: &Path,
    calendar: &str,
    collectors: &[&str],
) -> Result<(), StorageError> {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true);
    let old = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .map_err(Error::from)?;
    sqlx::migrate!("./migrations")
        .run_to(8, &old)
        .await
        .map_err(Error::from)?;
    sqlx::query("INSERT INTO calendars (id, name, created_at) VALUES (1, $1, 0)")
        .bind(calendar)
        .execute(&old)
        .await
        .map_err(Error::from)?;
    for name in collectors {
        sqlx::query(
            "INSERT INTO collectors (name, protocol, host, port, tls, username, calendar_id, created_at,
                 updated_at)
             VALUES ($1, 'imap', 'mail.example.ru', 993, 'implicit', 'orders', 1, 0, 0)",
        )
        .bind(*name)
        .execute(&old)
        .await
        .map_err(Error::from)?;
    }
    old.close().await;
    Ok(())
}

/// SQLite's write lock on a database file, held by a connection of the test's own until released: the
/// leadgate beside it can read but not commit meanwhile.
pub struct WriteLock(SqliteConnection);

impl WriteLock {
    /// Takes the write lock (`BEGIN IMMEDIATE`).
    ///
    /// # Errors
    /// The file cannot be opened or the lock taken.
    pub async fn take(path: &Path) -> Result<Self, StorageError> {
        let options = SqliteConnectOptions::new().filename(path);
        let mut conn = SqliteConnection::connect_with(&options)
            .await
            .map_err(Error::from)?;
        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut conn)
            .await
            .map_err(Error::from)?;
        Ok(Self(conn))
    }

    /// Releases the lock without writing anything.
    ///
    /// # Errors
    /// Database errors.
    pub async fn release(mut self) -> Result<(), StorageError> {
        sqlx::query("ROLLBACK")
            .execute(&mut self.0)
            .await
            .map_err(Error::from)?;
        self.0.close().await.map_err(Error::from)?;
        Ok(())
    }
}
