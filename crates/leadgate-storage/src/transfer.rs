//! Moving a whole database: the backend-neutral table transfer behind `leadgate db copy`, and the online
//! backup behind `leadgate db backup`.
//!
//! [`TABLES`] lists every table leadgate keeps, parents before children, with each column's kind. A backend
//! reads and writes rows of neutral [`Value`]s ([`TableTransfer`]), so a copy goes from either backend to
//! either backend and keeps every id. What a backend derives from the rows is not copied but rebuilt by the
//! target: full-text indexes, the rows its triggers add (a new lead queues its layout files; the copy deletes
//! those before it writes the table itself), id sequences. Its migration bookkeeping is not copied either:
//! the target is migrated by leadgate when it is opened.
//!
//! [`copy_database`] refuses a target that holds any row, writes the whole copy in ONE transaction of the
//! target, reads it back inside that transaction and compares the row count and a SHA-256 checksum
//! ([`table_checksums`]) per table (computed over the neutral values, so equal across backends) with what it
//! read from the source, and commits only when every table matches: a failed copy leaves the target empty.

use std::collections::BTreeSet;
use std::path::Path;
use std::str::FromStr;

use async_trait::async_trait;
use sha2::{Digest, Sha256};

use super::error::{Result, StorageError};

/// What a column holds, as the neutral value represents it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnKind {
    /// A 64-bit integer (ids, counts, UIDs).
    Int,
    /// A flag.
    Bool,
    /// A time: milliseconds since the Unix epoch.
    Time,
    /// Text.
    Text,
    /// A decimal number as text, never rounded through a float.
    Decimal,
    /// A JSON document as text.
    Json,
    /// Bytes (raw messages, layout files, ciphertexts).
    Bytes,
}

/// One column of a table.
#[derive(Clone, Copy, Debug)]
pub struct Column {
    /// Its name, the same on every backend.
    pub name: &'static str,
    /// What it holds.
    pub kind: ColumnKind,
}

/// One table: its columns in the order of every [`Row`], and its primary key, by which it is paged.
#[derive(Clone, Copy, Debug)]
pub struct Table {
    /// Its name, the same on every backend.
    pub name: &'static str,
    /// Every column the copy carries.
    pub columns: &'static [Column],
    /// The primary key's columns (integers or text, ordered byte-wise on every backend).
    pub key: &'static [&'static str],
    /// Rows per page: fewer for tables of large binary values, so a page stays a few megabytes.
    pub page_rows: u32,
}

impl Table {
    /// The positions of the key's columns in a row.
    pub fn key_positions(&self) -> Vec<usize> {
        self.key
            .iter()
            .filter_map(|k| self.columns.iter().position(|c| c.name == *k))
            .collect()
    }

    /// The kinds of the key's columns.
    pub fn key_kinds(&self) -> Vec<ColumnKind> {
        self.key_positions()
            .into_iter()
            .map(|i| self.columns[i].kind)
            .collect()
    }
}

/// A neutral value: what a column holds, whatever the backend stores it as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// An integer or a time in milliseconds.
    Int(i64),
    /// A flag.
    Bool(bool),
    /// Text, a decimal or a JSON document.
    Text(String),
    /// Bytes.
    Bytes(Vec<u8>),
}

/// A row: one value per column of its [`Table`], in that order.
pub type Row = Vec<Value>;

const fn col(name: &'static str, kind: ColumnKind) -> Column {
    Column { name, kind }
}

use ColumnKind::{Bool, Bytes, Decimal, Int, Json, Text, Time};

/// Every table leadgate keeps, each after the tables it refers to.
pub const TABLES: &[Table] = &[
    Table {
        name: "users",
        columns: &[
            col("id", Int),
            col("login", Text),
            col("display_name", Text),
            col("role", Text),
            col("password_hash", Text),
            col("ics_secret_hash", Text),
            col("created_at", Time),
            col("disabled_at", Time),
            col("email", Text),
        ],
        key: &["id"],
        page_rows: 500,
    },
    Table {
        name: "api_tokens",
        columns: &[
            col("id", Int),
            col("user_id", Int),
            col("name", Text),
            col("token_hash", Text),
            col("created_at", Time),
            col("revoked_at", Time),
        ],
        key: &["id"],
        page_rows: 500,
    },
    Table {
        name: "calendars",
        columns: &[
            col("id", Int),
            col("name", Text),
            col("owner_id", Int),
            col("color", Text),
            col("created_at", Time),
            col("managed_by_file", Bool),
            col("notify_owner", Bool),
            col("assignment_rule", Text),
        ],
        key: &["id"],
        page_rows: 500,
    },
    Table {
        name: "http_sources",
        columns: &[
            col("id", Int),
            col("name", Text),
            col("calendar_id", Int),
            col("token_hash", Text),
            col("cors_origins", Json),
            col("auto_tech_cards", Bool),
            col("created_at", Time),
            col("managed_by_file", Bool),
        ],
        key: &["id"],
        page_rows: 500,
    },
    Table {
        name: "collectors",
        columns: &[
            col("id", Int),
            col("name", Text),
            col("protocol", Text),
            col("host", Text),
            col("port", Int),
            col("tls", Text),
            col("ca_file", Text),
            col("insecure_skip_verify", Bool),
            col("username", Text),
            col("password_env", Text),
            col("password_file", Text),
            col("folder", Text),
            col("keyword", Text),
            col("calendar_id", Int),
            col("default_charset", Text),
            col("after_import", Text),
            col("move_to", Text),
            col("failed_folder", Text),
            col("delete_after_days", Int),
            col("auto_tech_cards", Bool),
            col("deleted", Bool),
            col("created_at", Time),
            col("updated_at", Time),
            col("subject_filter", Text),
            col("managed_by_file", Bool),
            col("push", Bool),
        ],
        key: &["id"],
        page_rows: 500,
    },
    Table {
        name: "collector_state",
        columns: &[
            col("collector_id", Int),
            col("folder", Text),
            col("uid_validity", Int),
            col("last_uid", Int),
        ],
        key: &["collector_id", "folder"],
        page_rows: 500,
    },
    Table {
        name: "collector_runs",
        columns: &[
            col("id", Int),
            col("collector_id", Int),
            col("started_at", Time),
            col("finished_at", Time),
            col("imported", Int),
            col("duplicate", Int),
            col("skipped", Int),
            col("rejected", Int),
            col("error", Text),
        ],
        key: &["id"],
        page_rows: 500,
    },
    Table {
        name: "collector_passwords",
        columns: &[
            col("collector_id", Int),
            col("bound_to", Text),
            col("nonce", Bytes),
            col("ciphertext", Bytes),
            col("updated_at", Time),
        ],
        key: &["collector_id"],
        page_rows: 500,
    },
    Table {
        name: "counterparties",
        columns: &[
            col("id", Int),
            col("inn", Text),
            col("inn_kind", Text),
            col("name", Text),
            col("created_at", Time),
        ],
        key: &["id"],
        page_rows: 500,
    },
    Table {
        name: "counterparty_contacts",
        columns: &[
            col("id", Int),
            col("counterparty_id", Int),
            col("kind", Text),
            col("value", Text),
            col("entered_by", Int),
        ],
        key: &["id"],
        page_rows: 500,
    },
    Table {
        name: "leads",
        columns: &[
            col("id", Int),
            col("calendar_id", Int),
            col("kind", Text),
            col("status", Text),
            col("subject", Text),
            col("occurred_at", Time),
            col("received_at", Time),
            col("starts_at", Time),
            col("description", Text),
            col("contact_person", Text),
            col("phone", Text),
            col("phone_e164", Text),
            col("email", Text),
            col("inn", Text),
            col("counterparty_id", Int),
            col("layout_files", Json),
            col("warnings", Json),
            col("channel", Text),
            col("collector_id", Int),
            col("http_source_id", Int),
            col("message_id", Text),
            col("external_number", Text),
            col("assignee_id", Int),
            col("search_text", Text),
            col("updated_at", Time),
            col("erased_at", Time),
            col("first_action_at", Time),
            col("first_action_by", Int),
            col("utm_source", Text),
            col("utm_medium", Text),
            col("utm_campaign", Text),
            col("page_url", Text),
            col("referrer", Text),
            col("duplicate_of", Int),
            col("duplicate_dismissed", Bool),
        ],
        key: &["id"],
        page_rows: 500,
    },
    Table {
        name: "order_lines",
        columns: &[
            col("id", Int),
            col("lead_id", Int),
            col("position", Int),
            col("nomenclature", Text),
            col("machine_code", Text),
            col("resolution", Text),
            col("material", Text),
            col("material_code", Text),
            col("width", Decimal),
            col("height", Decimal),
            col("quantity", Decimal),
            col("price", Decimal),
            col("amount", Decimal),
            col("is_service", Bool),
            col("removed_at", Time),
            col("removed_position", Int),
        ],
        key: &["id"],
        page_rows: 500,
    },
    Table {
        name: "extra_works",
        columns: &[
            col("id", Int),
            col("line_id", Int),
            col("position", Int),
            col("kind", Text),
            col("quantity", Decimal),
            col("description", Text),
        ],
        key: &["id"],
        page_rows: 500,
    },
    Table {
        name: "tech_cards",
        columns: &[
            col("id", Int),
            col("number", Text),
            col("lead_id", Int),
            col("line_id", Int),
            col("status", Text),
            col("area_per_piece", Decimal),
            col("total_area", Decimal),
            col("perimeter", Decimal),
            col("created_at", Time),
            col("stale_at", Time),
        ],
        key: &["id"],
        page_rows: 500,
    },
    Table {
        name: "messages",
        columns: &[
            col("id", Int),
            col("channel", Text),
            col("source", Text),
            col("collector_id", Int),
            col("http_source_id", Int),
            col("ledger_key", Text),
            col("mailbox_key", Text),
            col("message_id", Text),
            col("external_number", Text),
            col("outcome", Text),
            col("reason", Text),
            col("lead_id", Int),
            col("content_type", Text),
            col("received_at", Time),
            col("raw_codec", Text),
            col("raw_size", Int),
            col("content_hash", Text),
            col("duplicate_of", Int),
            col("erased_at", Time),
        ],
        key: &["id"],
        page_rows: 500,
    },
    Table {
        name: "message_raw_parts",
        columns: &[
            col("id", Int),
            col("message_id", Int),
            col("seq", Int),
            col("bytes", Bytes),
        ],
        key: &["id"],
        // A part holds up to 1 MiB; most are a compressed message of a few kilobytes.
        page_rows: 16,
    },
    Table {
        name: "idempotency_keys",
        columns: &[
            col("http_source_id", Int),
            col("key", Text),
            col("body_hash", Text),
            col("lead_id", Int),
            col("created_at", Time),
        ],
        key: &["http_source_id", "key"],
        page_rows: 500,
    },
    Table {
        name: "layout_files",
        columns: &[
            col("id", Int),
            col("lead_id", Int),
            col("position", Int),
            col("url", Text),
            col("state", Text),
            col("attempts", Int),
            col("next_attempt_at", Time),
            col("error", Text),
            col("file_name", Text),
            col("content_type", Text),
            col("size", Int),
            col("content", Bytes),
            col("fetched_at", Time),
        ],
        key: &["id"],
        page_rows: 8,
    },
    Table {
        name: "sessions",
        columns: &[
            col("id_hash", Text),
            col("user_id", Int),
            col("csrf_token", Text),
            col("created_at", Time),
            col("expires_at", Time),
            col("last_seen_at", Time),
        ],
        key: &["id_hash"],
        page_rows: 500,
    },
    Table {
        name: "login_attempts",
        columns: &[
            col("id", Int),
            col("scope", Text),
            col("key", Text),
            col("at", Time),
        ],
        key: &["id"],
        page_rows: 500,
    },
    Table {
        name: "personal_data_erasures",
        columns: &[
            col("id", Int),
            col("erased_at", Time),
            col("user_id", Int),
            col("actor", Text),
            col("channel", Text),
            col("query_kind", Text),
            col("leads", Int),
            col("messages", Int),
            col("counterparties", Int),
            col("renamed_counterparties", Int),
            col("contacts", Int),
            col("lead_ids", Json),
            col("message_ids", Json),
            col("counterparty_ids", Json),
        ],
        key: &["id"],
        page_rows: 500,
    },
    Table {
        name: "settings",
        columns: &[
            col("key", Text),
            col("value", Text),
            col("updated_at", Time),
            col("updated_by", Int),
        ],
        key: &["key"],
        page_rows: 500,
    },
    Table {
        name: "webhooks",
        columns: &[
            col("id", Int),
            col("calendar_id", Int),
            col("url", Text),
            col("secret_nonce", Bytes),
            col("secret_ciphertext", Bytes),
            col("enabled", Bool),
            col("created_at", Time),
        ],
        key: &["id"],
        page_rows: 500,
    },
    Table {
        name: "webhook_events",
        columns: &[
            col("id", Int),
            col("type", Text),
            col("lead_id", Int),
            col("created_at", Time),
        ],
        key: &["id"],
        page_rows: 500,
    },
    Table {
        name: "webhook_deliveries",
        columns: &[
            col("id", Int),
            col("webhook_id", Int),
            col("event_id", Int),
            col("state", Text),
            col("attempts", Int),
            col("next_attempt_at", Time),
            col("retry_since", Time),
            col("last_attempt_at", Time),
            col("last_status", Int),
            col("last_answer", Text),
            col("delivered_at", Time),
            col("created_at", Time),
        ],
        key: &["id"],
        page_rows: 500,
    },
    Table {
        name: "calendar_notify_addresses",
        columns: &[col("calendar_id", Int), col("address", Text)],
        key: &["calendar_id", "address"],
        page_rows: 500,
    },
    Table {
        name: "lead_notifications",
        columns: &[
            col("id", Int),
            col("address", Text),
            col("lead_id", Int),
            col("created_at", Time),
            col("sent_at", Time),
        ],
        key: &["id"],
        page_rows: 500,
    },
    Table {
        name: "lead_events",
        columns: &[
            col("id", Int),
            col("lead_id", Int),
            col("at", Time),
            col("actor_id", Int),
            col("kind", Text),
            col("detail", Json),
        ],
        key: &["id"],
        page_rows: 500,
    },
    Table {
        name: "notification_recipients",
        columns: &[
            col("address", Text),
            col("next_send_at", Time),
            col("attempts", Int),
            col("last_attempt_at", Time),
            col("last_sent_at", Time),
            col("last_error", Text),
        ],
        key: &["address"],
        page_rows: 500,
    },
    Table {
        name: "calendar_round_robin",
        columns: &[
            col("calendar_id", Int),
            col("user_id", Int),
            col("assigned", Int),
        ],
        key: &["calendar_id", "user_id"],
        page_rows: 500,
    },
    Table {
        name: "lead_comments",
        columns: &[
            col("id", Int),
            col("lead_id", Int),
            col("author_id", Int),
            col("body", Text),
            col("created_at", Time),
        ],
        key: &["id"],
        page_rows: 500,
    },
    Table {
        name: "follow_ups",
        columns: &[
            col("id", Int),
            col("lead_id", Int),
            col("owner_id", Int),
            col("due_at", Time),
            col("note", Text),
            col("created_by", Int),
            col("created_at", Time),
            col("done_at", Time),
            col("done_by", Int),
        ],
        key: &["id"],
        page_rows: 500,
    },
];

/// Tables a backend derives from the copied ones and keeps true itself, by triggers: not copied, but rebuilt
/// by the target's triggers as the copy writes the rows they derive from: the reports' hourly counts of
/// `leads` and the value of their `order_lines` (`lead_hours`: its value is a double on SQLite and exact on
/// PostgreSQL, so its rows could not compare equal across backends anyway), the answered leads' response
/// times per hour (`lead_response_hours`: kept in the order the leads were answered or copied), and the
/// hourly counts of `messages` and of `collector_runs`, and the same counts per day of the shop (`lead_days`,
/// `message_days`). The shop's days themselves (`report_days`, `report_zone`) are written by the application
/// for its time zone when it starts (`Reports::use_report_zone`), which rebuilds the daily counts if the target
/// had none.
pub const DERIVED_TABLES: &[&str] = &[
    "lead_hours",
    "lead_response_hours",
    "message_hours",
    "collector_run_hours",
    "lead_days",
    "message_days",
    "report_days",
    "report_zone",
];

/// A table as a backend has it: its name and the columns it stores (not those it derives itself, such as a
/// generated search column).
#[derive(Clone, Debug)]
pub struct StoredTable {
    /// The table's name.
    pub name: String,
    /// Its stored columns.
    pub columns: Vec<String>,
}

/// A database as a source or a target of `leadgate db copy`.
#[async_trait]
pub trait TableTransfer: Send + Sync {
    /// What the URL names, for messages: the backend and the database, never a password.
    fn describe(&self) -> String;

    /// Every table of leadgate's data with its stored columns; not the backend's own (migration bookkeeping,
    /// full-text index tables and the like).
    ///
    /// # Errors
    /// Database errors.
    async fn stored_tables(&self) -> Result<Vec<StoredTable>>;

    /// Starts reading a consistent snapshot of the whole database: every page read through it sees the
    /// same committed state, whatever is written meanwhile.
    ///
    /// # Errors
    /// Database errors.
    async fn read_snapshot(&self) -> Result<Box<dyn TableSession>>;

    /// Starts the one write transaction a copy loads the database in (and reads it back in).
    ///
    /// # Errors
    /// Database errors.
    async fn begin_load(&self) -> Result<Box<dyn TableSession>>;

    /// Closes the database's connections once the copy is done: a SQLite file then holds every change
    /// itself, with no write-ahead log beside it, and may be moved alone.
    async fn close(&self);
}

/// A transaction of a [`TableTransfer`]: a read snapshot, or the load of a copy.
#[async_trait]
pub trait TableSession: Send {
    /// How many rows the table has.
    ///
    /// # Errors
    /// Database errors.
    async fn count_rows(&mut self, table: &Table) -> Result<u64>;

    /// Up to `limit` rows ordered by primary key (text compared byte-wise), after the key `after` (values of
    /// [`Table::key`]), or from the first.
    ///
    /// # Errors
    /// Database errors, or a stored value that is not of its column's kind.
    async fn read_page(
        &mut self,
        table: &Table,
        after: Option<&[Value]>,
        limit: u32,
    ) -> Result<Vec<Row>>;

    /// Deletes every row of the table (what the triggers of the tables loaded before it have added).
    ///
    /// # Errors
    /// Database errors.
    async fn clear(&mut self, table: &Table) -> Result<()>;

    /// Inserts rows as they are, ids included.
    ///
    /// # Errors
    /// Database errors (a constraint the rows break, a value the column cannot hold).
    async fn write_rows(&mut self, table: &Table, rows: &[Row]) -> Result<()>;

    /// After every table is written: rebuilds what the backend derives (full-text indexes) and moves id
    /// sequences past the copied ids, still inside the transaction.
    ///
    /// # Errors
    /// Database errors.
    async fn finish_load(&mut self) -> Result<()>;

    /// Commits the load (a read snapshot just ends).
    ///
    /// # Errors
    /// Database errors.
    async fn commit(self: Box<Self>) -> Result<()>;
}

/// A live database written to a backup file.
#[async_trait]
pub trait DatabaseBackup: Send + Sync {
    /// Writes a consistent copy of the database, as it is at one moment, to a new file at `path` (readable
    /// only by its owner), while others go on reading and writing it.
    ///
    /// # Errors
    /// `Conflict` when `path` exists; the backend cannot make file backups; I/O or database errors.
    async fn backup_to(&self, path: &Path) -> Result<()>;
}

// ---- checksums -------------------------------------------------------------------------------------------------

/// A table's checksum, fed row by row in key order: SHA-256 over the neutral values, each tagged with its
/// kind and length, decimals and JSON in a canonical form (the same number or document is the same bytes
/// whichever backend stored it).
#[derive(Clone, Default)]
pub struct Checksum(Sha256);

impl Checksum {
    /// Adds a row of `table`.
    pub fn add(&mut self, table: &Table, row: &[Value]) {
        for (column, value) in table.columns.iter().zip(row) {
            match value {
                Value::Null => self.0.update([0]),
                Value::Int(v) => {
                    self.0.update([1]);
                    self.0.update(v.to_be_bytes());
                }
                Value::Bool(v) => self.0.update([2, u8::from(*v)]),
                Value::Text(text) => {
                    let canonical = match column.kind {
                        ColumnKind::Decimal => canonical_decimal(text),
                        ColumnKind::Json => canonical_json(text),
                        _ => None,
                    };
                    let bytes = canonical.as_deref().unwrap_or(text).as_bytes();
                    self.0.update([3]);
                    self.0.update((bytes.len() as u64).to_be_bytes());
                    self.0.update(bytes);
                }
                Value::Bytes(bytes) => {
                    self.0.update([4]);
                    self.0.update((bytes.len() as u64).to_be_bytes());
                    self.0.update(bytes);
                }
            }
        }
        self.0.update([0xff]);
    }

    /// The hex digest.
    pub fn finish(self) -> String {
        hex::encode(self.0.finalize())
    }
}

/// A decimal without trailing zeros (`1.50` and `1.5` are one number), or `None` when it is not one.
fn canonical_decimal(text: &str) -> Option<String> {
    rust_decimal::Decimal::from_str(text.trim())
        .ok()
        .map(|d| d.normalize().to_string())
}

/// A JSON document compact, with the keys of every object sorted (a backend may reorder them), or `None`
/// when it is not JSON.
fn canonical_json(text: &str) -> Option<String> {
    fn sorted(value: serde_json::Value) -> serde_json::Value {
        match value {
            serde_json::Value::Object(map) => {
                let mut entries: Vec<_> = map.into_iter().collect();
                entries.sort_by(|a, b| a.0.cmp(&b.0));
                serde_json::Value::Object(
                    entries.into_iter().map(|(k, v)| (k, sorted(v))).collect(),
                )
            }
            serde_json::Value::Array(items) => {
                serde_json::Value::Array(items.into_iter().map(sorted).collect())
            }
            other => other,
        }
    }
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    serde_json::to_string(&sorted(value)).ok()
}

// ---- the copy ------------------------------------------------------------------------------------------------

/// One table of a finished copy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopiedTable {
    /// The table.
    pub name: &'static str,
    /// Rows read from the source, and found in the target.
    pub rows: u64,
    /// The checksum of the source's rows, and of the target's.
    pub checksum: String,
}

/// Why a copy did not happen; the target is left as it was.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// The target holds data.
    #[error(
        "the target is not empty: table {table} has {rows} row(s); copy into a new, empty database"
    )]
    TargetNotEmpty {
        /// The first table found with rows.
        table: &'static str,
        /// How many.
        rows: u64,
    },
    /// A database's tables are not those this leadgate copies: it was made by another version.
    #[error("{which}: {problem}")]
    Schema {
        /// "source" or "target".
        which: &'static str,
        /// What does not match.
        problem: String,
    },
    /// What was written does not read back the same.
    #[error(
        "table {table}: the source has {source_rows} row(s) with checksum {source_checksum}, the target \
         {target_rows} with {target_checksum}; nothing was committed"
    )]
    Mismatch {
        /// The table.
        table: &'static str,
        /// Rows in the source.
        source_rows: u64,
        /// Rows in the target.
        target_rows: u64,
        /// The source's checksum.
        source_checksum: String,
        /// The target's checksum.
        target_checksum: String,
    },
    /// A database failed.
    #[error("{which}: {error}")]
    Storage {
        /// "source" or "target".
        which: &'static str,
        /// The error.
        #[source]
        error: StorageError,
    },
}

fn on(which: &'static str) -> impl Fn(StorageError) -> CopyError {
    move |error| CopyError::Storage { which, error }
}

/// Checks that a database has exactly the tables of [`TABLES`] with at least their columns, and, for the
/// source, no stored column the copy would leave behind.
async fn check_schema(db: &dyn TableTransfer, which: &'static str) -> Result<(), CopyError> {
    let stored = db.stored_tables().await.map_err(on(which))?;
    let schema = |problem: String| CopyError::Schema { which, problem };
    let known: BTreeSet<&str> = TABLES
        .iter()
        .map(|t| t.name)
        .chain(DERIVED_TABLES.iter().copied())
        .collect();
    if let Some(unknown) = stored.iter().find(|t| !known.contains(t.name.as_str())) {
        return Err(schema(format!(
            "table {} is not one this version of leadgate copies (is the database from a newer leadgate?)",
            unknown.name
        )));
    }
    for table in TABLES {
        let Some(found) = stored.iter().find(|t| t.name == table.name) else {
            return Err(schema(format!("table {} is missing", table.name)));
        };
        let columns: BTreeSet<&str> = found.columns.iter().map(String::as_str).collect();
        if let Some(missing) = table.columns.iter().find(|c| !columns.contains(c.name)) {
            return Err(schema(format!(
                "table {} has no column {}",
                table.name, missing.name
            )));
        }
        if which == "source" {
            let copied: BTreeSet<&str> = table.columns.iter().map(|c| c.name).collect();
            if let Some(extra) = found.columns.iter().find(|c| !copied.contains(c.as_str())) {
                return Err(schema(format!(
                    "column {}.{extra} is not one this version of leadgate copies (is the database from a \
                     newer leadgate?)",
                    table.name
                )));
            }
        }
    }
    Ok(())
}

/// Reads a table of `session` page by page in key order, writing each page to `target` when there is one;
/// returns the row count and checksum of what was read. An error names its side.
async fn walk(
    session: &mut dyn TableSession,
    table: &Table,
    mut target: Option<&mut dyn TableSession>,
    which: &'static str,
) -> Result<(u64, String), CopyError> {
    let key = table.key_positions();
    let mut after: Option<Vec<Value>> = None;
    let mut checksum = Checksum::default();
    let mut rows = 0u64;
    loop {
        let page = session
            .read_page(table, after.as_deref(), table.page_rows)
            .await
            .map_err(on(which))?;
        let Some(last) = page.last() else { break };
        after = Some(key.iter().map(|&i| last[i].clone()).collect());
        for row in &page {
            checksum.add(table, row);
        }
        rows += page.len() as u64;
        if let Some(target) = target.as_deref_mut() {
            target
                .write_rows(table, &page)
                .await
                .map_err(on("target"))?;
        }
        if page.len() < table.page_rows as usize {
            break;
        }
    }
    Ok((rows, checksum.finish()))
}

/// Copies every table of `source` into `target`, which must be empty, keeping every id; see the module
/// documentation. `progress` hears of each table as it is copied (before the copy is verified and committed).
///
/// # Errors
/// See [`CopyError`]; on any error nothing is committed to the target.
pub async fn copy_database(
    source: &dyn TableTransfer,
    target: &dyn TableTransfer,
    mut progress: impl FnMut(&CopiedTable) + Send,
) -> Result<Vec<CopiedTable>, CopyError> {
    check_schema(source, "source").await?;
    check_schema(target, "target").await?;
    let mut load = target.begin_load().await.map_err(on("target"))?;
    for table in TABLES {
        let rows = load.count_rows(table).await.map_err(on("target"))?;
        if rows > 0 {
            return Err(CopyError::TargetNotEmpty {
                table: table.name,
                rows,
            });
        }
    }
    let mut read = source.read_snapshot().await.map_err(on("source"))?;
    let mut copied = Vec::with_capacity(TABLES.len());
    for table in TABLES {
        // What the triggers of the tables before this one added to it (a new lead queues its layout files):
        // the source's own rows replace it.
        load.clear(table).await.map_err(on("target"))?;
        let (rows, checksum) = walk(read.as_mut(), table, Some(load.as_mut()), "source").await?;
        let table = CopiedTable {
            name: table.name,
            rows,
            checksum,
        };
        progress(&table);
        copied.push(table);
    }
    read.commit().await.map_err(on("source"))?;
    load.finish_load().await.map_err(on("target"))?;
    for (table, from_source) in TABLES.iter().zip(&copied) {
        let (rows, checksum) = walk(load.as_mut(), table, None, "target").await?;
        let counted = load.count_rows(table).await.map_err(on("target"))?;
        if rows != from_source.rows || counted != rows || checksum != from_source.checksum {
            return Err(CopyError::Mismatch {
                table: table.name,
                source_rows: from_source.rows,
                target_rows: counted,
                source_checksum: from_source.checksum.clone(),
                target_checksum: checksum,
            });
        }
    }
    load.commit().await.map_err(on("target"))?;
    Ok(copied)
}

/// Counts and checksums every table of a database, as [`copy_database`] verifies them; for comparing two
/// databases.
///
/// # Errors
/// Database errors.
pub async fn table_checksums(db: &dyn TableTransfer) -> Result<Vec<CopiedTable>, CopyError> {
    let mut read = db.read_snapshot().await.map_err(on("source"))?;
    let mut tables = Vec::with_capacity(TABLES.len());
    for table in TABLES {
        let (rows, checksum) = walk(read.as_mut(), table, None, "source").await?;
        tables.push(CopiedTable {
            name: table.name,
            rows,
            checksum,
        });
    }
    read.commit().await.map_err(on("source"))?;
    Ok(tables)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Every key column is a column of its table, and every table comes after the tables it names.
    #[test]
    fn the_catalog_is_well_formed() {
        for table in TABLES {
            assert_eq!(
                table.key_positions().len(),
                table.key.len(),
                "{}",
                table.name
            );
            assert!(table.page_rows > 0);
        }
        let names: Vec<_> = TABLES.iter().map(|t| t.name).collect();
        let unique: BTreeSet<_> = names.iter().collect();
        assert_eq!(unique.len(), names.len());
    }

    /// The same number or JSON document written two ways has one checksum; another value another.
    #[test]
    fn checksums_see_values_not_their_spelling() {
        const COLUMNS: &[Column] = &[col("d", Decimal), col("j", Json), col("t", Text)];
        let table = Table {
            name: "t",
            columns: COLUMNS,
            key: &["d"],
            page_rows: 1,
        };
        let sum = |row: Row| {
            let mut c = Checksum::default();
            c.add(&table, &row);
            c.finish()
        };
        let a = sum(vec![
            Value::Text("1.50".into()),
            Value::Text(r#"{"b": [1, 2], "a": "x"}"#.into()),
            Value::Text("same".into()),
        ]);
        let b = sum(vec![
            Value::Text("1.5".into()),
            Value::Text(r#"{"a":"x","b":[1,2]}"#.into()),
            Value::Text("same".into()),
        ]);
        assert_eq!(a, b);
        let c = sum(vec![
            Value::Text("1.5".into()),
            Value::Text(r#"{"a":"x","b":[2,1]}"#.into()),
            Value::Text("same".into()),
        ]);
        assert_ne!(a, c);
        let d = sum(vec![
            Value::Text("1.5".into()),
            Value::Text(r#"{"a":"x","b":[1,2]}"#.into()),
            Value::Null,
        ]);
        assert_ne!(b, d);
        // A value does not run into the next: ("ab", "c") is not ("a", "bc").
        const TWO: &[Column] = &[col("x", Text), col("y", Text)];
        let two = Table {
            name: "t",
            columns: TWO,
            key: &["x"],
            page_rows: 1,
        };
        let mut e = Checksum::default();
        e.add(&two, &[Value::Text("ab".into()), Value::Text("c".into())]);
        let mut f = Checksum::default();
        f.add(&two, &[Value::Text("a".into()), Value::Text("bc".into())]);
        assert_ne!(e.finish(), f.finish());
    }
}
