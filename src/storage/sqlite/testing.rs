//! What tests and benchmarks may do to a SQLite database that no storage trait offers, and should not: make
//! the ledger look older, make the database refuse a lead, take a table away, hold the write lock, bulk-edit
//! seeded leads. Everything else a test checks goes through the storage traits.
//!
//! Each helper opens its own connection to the database file, beside whatever process uses it (WAL lets
//! them share it), and does one named thing. None of it is used by leadgate itself.

use std::path::Path;

use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use sqlx::{Connection, SqliteConnection};

use super::Error;
use crate::storage::StorageError;

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

    /// Closes the connection.
    pub async fn close(self) {
        self.pool.close().await;
    }
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
