//! What tests and benchmarks may do to a PostgreSQL database that no storage trait offers, and should not: the
//! twin of the SQLite backend's `testing` module, with the same helpers doing the same named things: make the
//! ledger look older, make the database refuse a lead, take a table away, hold the writers back, bulk-edit
//! seeded leads. Everything else a test checks goes through the storage traits.
//!
//! Each helper uses a connection of its own to the database, beside whatever process uses it. None of it is
//! used by leadgate itself.

use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::{Connection, Executor};

use leadgate_storage::StorageError;

/// A driver error as a storage error (these helpers are for tests: the kind hardly matters).
fn backend(e: sqlx::Error) -> StorageError {
    StorageError::backend(e)
}

/// A connection to a PostgreSQL database for tests (see the module documentation).
pub struct TestDatabase {
    pool: PgPool,
}

impl TestDatabase {
    /// Connects to the existing database at `url` (`postgres://…`).
    ///
    /// # Errors
    /// The database cannot be reached.
    pub async fn open(url: &str) -> Result<Self, StorageError> {
        let options: PgConnectOptions = url.parse().map_err(backend)?;
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .map_err(backend)?;
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
            .map_err(backend)?;
        Ok(())
    }

    /// Makes the database itself refuse to store any lead with this external number (a trigger that
    /// raises `lead <number> refused`): a storage failure that hits one message of a batch.
    ///
    /// # Errors
    /// Database errors.
    pub async fn refuse_leads_numbered(&self, external_number: u32) -> Result<(), StorageError> {
        // A number is never text from outside: it is safe to write into the statement.
        self.refuse_when(
            &format!("refuse_{external_number}"),
            &format!("NEW.external_number = '{external_number}'"),
            &format!("lead {external_number} refused"),
        )
        .await
    }

    /// Makes the database itself refuse to store any lead with this subject (a trigger that raises `this lead
    /// is refused`): a storage failure that hits one submission of a group.
    ///
    /// # Errors
    /// Database errors.
    pub async fn refuse_leads_with_subject(&self, subject: &str) -> Result<(), StorageError> {
        // A SQL string literal: quotes doubled (standard_conforming_strings is on since PostgreSQL 9.1).
        let literal = subject.replace('\'', "''");
        self.refuse_when(
            "refuse_subject",
            &format!("NEW.subject = '{literal}'"),
            "this lead is refused",
        )
        .await
    }

    /// A trigger `name` that raises `message` before inserting a lead for which `condition` holds.
    async fn refuse_when(
        &self,
        name: &str,
        condition: &str,
        message: &str,
    ) -> Result<(), StorageError> {
        let message = message.replace('\'', "''");
        let function = format!(
            "CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $refuse$
             BEGIN
                 IF {condition} THEN RAISE EXCEPTION '{message}'; END IF;
                 RETURN NEW;
             END $refuse$"
        );
        let trigger = format!(
            "CREATE TRIGGER {name} BEFORE INSERT ON leads FOR EACH ROW EXECUTE FUNCTION {name}()"
        );
        let mut tx = self.pool.begin().await.map_err(backend)?;
        for sql in [function, trigger] {
            tx.execute(sqlx::AssertSqlSafe(sql))
                .await
                .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)?;
        Ok(())
    }

    /// How many collector runs there have been, and how many of them are still going.
    ///
    /// # Errors
    /// Database errors.
    pub async fn collector_runs(&self) -> Result<(i64, i64), StorageError> {
        sqlx::query_as("SELECT COUNT(*), COUNT(*) - COUNT(finished_at) FROM collector_runs")
            .fetch_one(&self.pool)
            .await
            .map_err(backend)
    }

    /// Drops the sign-in rate limit's table, so that recording an attempt fails.
    ///
    /// # Errors
    /// Database errors.
    pub async fn break_login_attempts(&self) -> Result<(), StorageError> {
        sqlx::query("DROP TABLE login_attempts")
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }

    /// Every recorded sign-in attempt as `(scope, key)`, oldest first: what the rate limit keeps of a login
    /// and an address.
    ///
    /// # Errors
    /// Database errors.
    pub async fn login_attempts(&self) -> Result<Vec<(String, String)>, StorageError> {
        sqlx::query_as("SELECT scope, key FROM login_attempts ORDER BY id")
            .fetch_all(&self.pool)
            .await
            .map_err(backend)
    }

    /// How many leads there are, and how many distinct external numbers they have (a crash test's count of
    /// what was imported, and imported once).
    ///
    /// # Errors
    /// Database errors.
    pub async fn lead_numbers(&self) -> Result<(i64, i64), StorageError> {
        sqlx::query_as("SELECT COUNT(*), COUNT(DISTINCT external_number) FROM leads")
            .fetch_one(&self.pool)
            .await
            .map_err(backend)
    }

    /// Gives seeded leads a spread of statuses (the UI benchmark's leads): of each ten ids, two in progress,
    /// one done, the rest new, those not new with a first action; then lets PostgreSQL's planner look at the
    /// tables.
    ///
    /// # Errors
    /// Database errors.
    pub async fn spread_statuses(&self) -> Result<(), StorageError> {
        sqlx::query("UPDATE leads SET status = CASE WHEN id % 10 < 2 THEN 'in_progress' ELSE 'done' END WHERE id % 10 < 3")
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        // Their first actions, 1 to 180 minutes after receipt, by the first user (the response time report).
        sqlx::query(
            "UPDATE leads SET first_action_at = received_at + (id % 180 + 1) * 60000,
                 first_action_by = (SELECT MIN(id) FROM users) WHERE status <> 'new'",
        )
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        sqlx::query("ANALYZE")
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }

    /// Every `table.column` of the database with a value that holds this text, in table order: whether a
    /// secret reached the database anywhere. A byte string counts when its bytes hold the text (compared as
    /// hex, which is how PostgreSQL writes it as text).
    ///
    /// # Errors
    /// Database errors.
    pub async fn columns_holding(&self, needle: &str) -> Result<Vec<String>, StorageError> {
        if needle.is_empty() {
            return Ok(Vec::new());
        }
        let columns: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT table_name::text, column_name::text, data_type::text FROM information_schema.columns
              WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        let hex: String = needle.bytes().map(|b| format!("{b:02x}")).collect();
        let mut found = Vec::new();
        for (table, column, data_type) in columns {
            // The names come from information_schema itself; quotes in them are doubled.
            let (t, c) = (table.replace('"', "\"\""), column.replace('"', "\"\""));
            let (value, wanted) = if data_type == "bytea" {
                (format!("encode(\"{c}\", 'hex')"), hex.as_str())
            } else {
                (format!("\"{c}\"::text"), needle)
            };
            let holding: bool = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT EXISTS (SELECT 1 FROM \"{t}\" WHERE strpos({value}, $1) > 0)"
            )))
            .bind(wanted)
            .fetch_one(&self.pool)
            .await
            .map_err(backend)?;
            if holding {
                found.push(format!("{table}.{column}"));
            }
        }
        Ok(found)
    }

    /// Ends every other session on this database, as a database restart or a network cut would: the
    /// application's pooled connections break, and it has to connect again.
    ///
    /// # Errors
    /// Database errors.
    pub async fn terminate_other_sessions(&self) -> Result<u64, StorageError> {
        let ended: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
              WHERE datname = current_database() AND pid <> pg_backend_pid()) AS ended",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(backend)?;
        Ok(u64::try_from(ended).unwrap_or_default())
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
        .map_err(backend)?;
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
            .map_err(backend)?;
        Ok(())
    }

    /// Gives lead `lead_id` the search text `text`, as a version of leadgate before the search left out spaces
    /// and hyphens stored it, and puts the database back to that version's schema of the search: the trigram
    /// index beside the calendar as migration 0015 made it (holding `text`), and no record of the migrations
    /// since (0016 folds the stored texts, 0017 keys the trigrams by calendar). The next open runs them on this
    /// database, as an upgrade from that version does.
    ///
    /// # Errors
    /// Database errors.
    pub async fn unfold_search_text(&self, lead_id: i64, text: &str) -> Result<(), StorageError> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        sqlx::raw_sql(
            "DROP TRIGGER leads_search_keys_written ON leads;
             DROP TRIGGER leads_search_keys_changed ON leads;
             ALTER TABLE leads DROP COLUMN search_keys;
             DROP FUNCTION leads_search_keys();
             DROP FUNCTION lead_search_keys(bigint, text);
             DELETE FROM _sqlx_migrations WHERE version IN (16, 17);",
        )
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        sqlx::query("UPDATE leads SET search_text = $1 WHERE id = $2")
            .bind(text)
            .bind(lead_id)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        sqlx::raw_sql(
            "CREATE INDEX leads_search_by_calendar ON leads \
             USING gin (calendar_id, search_text gin_trgm_ops)",
        )
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(())
    }

    /// Closes the connection.
    pub async fn close(self) {
        self.pool.close().await;
    }
}

/// The writers held back by a transaction of the test's own, until released: it locks the ledger and the
/// leads in `EXCLUSIVE` mode, which lets every reader through and makes every writer wait (SQLite's write
/// lock, as near as PostgreSQL has one).
pub struct WriteLock(PgConnection);

impl WriteLock {
    /// Takes the lock.
    ///
    /// # Errors
    /// The database cannot be reached or the lock taken.
    pub async fn take(url: &str) -> Result<Self, StorageError> {
        let mut conn = PgConnection::connect(url).await.map_err(backend)?;
        conn.execute("BEGIN").await.map_err(backend)?;
        conn.execute("LOCK TABLE messages, leads IN EXCLUSIVE MODE")
            .await
            .map_err(backend)?;
        Ok(Self(conn))
    }

    /// Releases the lock without writing anything.
    ///
    /// # Errors
    /// Database errors.
    pub async fn release(mut self) -> Result<(), StorageError> {
        self.0.execute("ROLLBACK").await.map_err(backend)?;
        self.0.close().await.map_err(backend)?;
        Ok(())
    }
}
