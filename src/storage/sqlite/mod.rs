//! The SQLite backend: the embedded default.
//!
//! WAL mode so readers never wait for the writer, `synchronous = FULL` so a committed lead survives a power
//! cut. Reads use a pool of connections; every write goes through one writer connection, so writers in this
//! process queue in order rather than on SQLite's busy handler. Write transactions start with
//! `BEGIN IMMEDIATE`, so a writer in another process (`leadgate collect` beside `leadgate serve`) waits on
//! the busy timeout instead of failing halfway through an upgrade from a read lock.

use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection, SqlitePool};
use tracing::instrument;

mod personal_data;
mod web;
mod write;

use super::*;
use leadgate_domain::account::Role;
use leadgate_domain::collector::{AfterImport, Protocol, SubjectFilter, TlsMode};
use leadgate_domain::lead::{Channel, LeadKind, LeadStatus};
use leadgate_domain::ledger::Outcome;
use leadgate_domain::payload::Payload;

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
}

impl SqliteStorage {
    /// Opens (creating if needed) the database at `url` (`sqlite://path` or `sqlite::memory:`), sets the
    /// connection PRAGMAs and runs the embedded migrations.
    ///
    /// # Errors
    /// The file cannot be created or opened, or a migration fails.
    #[instrument(skip_all, fields(url = %url))]
    pub async fn connect(url: &str) -> Result<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
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
        if let Some(parent) = Path::new(options.get_filename()).parent()
            && !parent.as_os_str().is_empty()
        {
            create_private_dir(parent).map_err(|e| StorageError::Database(sqlx::Error::Io(e)))?;
        }
        if !url.contains(":memory:") && !options.get_filename().as_os_str().is_empty() {
            create_private_file(options.get_filename())
                .map_err(|e| StorageError::Database(sqlx::Error::Io(e)))?;
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
        sqlx::migrate!("./migrations/sqlite").run(&writer).await?;
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
        })
    }

    /// The underlying pool, for the web UI's read-only queries and tests.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
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

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn from_ms(v: i64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_millis(v)
        .ok_or_else(|| StorageError::Corrupt(format!("timestamp {v}")))
}

fn dec_text(d: Option<Decimal>) -> Option<String> {
    d.map(|d| d.to_string())
}

fn dec(row: &SqliteRow, col: &str) -> Result<Option<Decimal>> {
    let text: Option<String> = row.try_get(col)?;
    text.map(|t| Decimal::from_str(&t).map_err(|_| StorageError::Corrupt(format!("{col} = {t:?}"))))
        .transpose()
}

fn json_text<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| StorageError::Corrupt(e.to_string()))
}

fn parse_enum<T: FromStr>(col: &str, text: &str) -> Result<T> {
    text.parse()
        .map_err(|_| StorageError::Corrupt(format!("{col} = {text:?}")))
}

/// What the lead list and lead page search over, lower-cased once at write time.
fn search_text(payload: &Payload, external_number: Option<&str>) -> String {
    let c = &payload.contact;
    [
        payload.subject.as_deref(),
        c.person.as_deref(),
        c.phone.as_deref(),
        c.phone_e164.as_deref(),
        c.email.as_deref(),
        payload.inn.as_ref().map(|i| i.raw()),
        external_number,
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join("\n")
    .to_lowercase()
}

/// Creates the missing tech cards of a lead; existing ones are left as they are (UNIQUE(line_id)).
pub(super) async fn form_cards(conn: &mut SqliteConnection, lead_id: i64) -> Result<()> {
    let lines = sqlx::query(
        "SELECT l.id, l.position, l.width, l.height, l.quantity FROM order_lines l
         WHERE l.lead_id = $1 AND l.is_service = 0
           AND NOT EXISTS (SELECT 1 FROM tech_cards t WHERE t.line_id = l.id)
         ORDER BY l.position",
    )
    .bind(lead_id)
    .fetch_all(&mut *conn)
    .await?;
    let now = ms(Utc::now());
    for row in lines {
        let line_id: i64 = row.try_get("id")?;
        let position: i64 = row.try_get("position")?;
        let f = leadgate_domain::techcard::figures(
            dec(&row, "width")?,
            dec(&row, "height")?,
            dec(&row, "quantity")?,
        );
        sqlx::query(
            "INSERT INTO tech_cards (number, lead_id, line_id, area_per_piece, total_area, perimeter, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (line_id) DO NOTHING",
        )
        .bind(format!("{lead_id}-{position}"))
        .bind(lead_id)
        .bind(line_id)
        .bind(dec_text(f.area_per_piece))
        .bind(dec_text(f.total_area))
        .bind(dec_text(f.perimeter))
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

const LEAD_SELECT: &str =
    "SELECT l.*, c.name AS calendar_name, cp.inn AS cp_inn, cp.name AS cp_name,
        co.name AS collector_name, hs.name AS http_source_name, u.login AS assignee_login
    FROM leads l
    JOIN calendars c ON c.id = l.calendar_id
    LEFT JOIN counterparties cp ON cp.id = l.counterparty_id
    LEFT JOIN collectors co ON co.id = l.collector_id
    LEFT JOIN http_sources hs ON hs.id = l.http_source_id
    LEFT JOIN users u ON u.id = l.assignee_id";

fn lead_from_row(row: &SqliteRow) -> Result<LeadView> {
    let kind: String = row.try_get("kind")?;
    let status: String = row.try_get("status")?;
    let channel: String = row.try_get("channel")?;
    let layout: String = row.try_get("layout_files")?;
    let warnings: String = row.try_get("warnings")?;
    let counterparty_id: Option<i64> = row.try_get("counterparty_id")?;
    let occurred: Option<i64> = row.try_get("occurred_at")?;
    Ok(LeadView {
        id: row.try_get("id")?,
        kind: parse_enum::<LeadKind>("kind", &kind)?,
        status: parse_enum::<LeadStatus>("status", &status)?,
        calendar: CalendarRef {
            id: row.try_get("calendar_id")?,
            name: row.try_get("calendar_name")?,
        },
        subject: row.try_get("subject")?,
        occurred_at: occurred.map(from_ms).transpose()?,
        received_at: from_ms(row.try_get("received_at")?)?,
        description: row.try_get("description")?,
        contact: ContactView {
            person: row.try_get("contact_person")?,
            phone: row.try_get("phone")?,
            phone_e164: row.try_get("phone_e164")?,
            email: row.try_get("email")?,
        },
        inn: row.try_get("inn")?,
        counterparty: match counterparty_id {
            Some(id) => Some(CounterpartyRef {
                id,
                inn: row.try_get("cp_inn")?,
                name: row.try_get("cp_name")?,
            }),
            None => None,
        },
        layout_files: serde_json::from_str(&layout)
            .map_err(|e| StorageError::Corrupt(e.to_string()))?,
        lines: Vec::new(),
        source: SourceView {
            channel: parse_enum::<Channel>("channel", &channel)?,
            collector: row.try_get("collector_name")?,
            http_source: row.try_get("http_source_name")?,
            message_id: row.try_get("message_id")?,
            external_number: row.try_get("external_number")?,
        },
        warnings: serde_json::from_str(&warnings)
            .map_err(|e| StorageError::Corrupt(e.to_string()))?,
        assignee: row.try_get("assignee_login")?,
    })
}

fn line_from_row(row: &SqliteRow) -> Result<LineView> {
    Ok(LineView {
        position: row.try_get("position")?,
        nomenclature: row.try_get("nomenclature")?,
        machine_code: row.try_get("machine_code")?,
        resolution: row.try_get("resolution")?,
        material: row.try_get("material")?,
        material_code: row.try_get("material_code")?,
        width: dec(row, "width")?,
        height: dec(row, "height")?,
        quantity: dec(row, "quantity")?,
        price: dec(row, "price")?,
        amount: dec(row, "amount")?,
        is_service: row.try_get("is_service")?,
        extra_works: Vec::new(),
    })
}

impl SqliteStorage {
    /// Loads the lines (with extra works) of the given leads, keyed by lead id, in position order.
    async fn lines_of(&self, lead_ids: &[i64]) -> Result<HashMap<i64, Vec<LineView>>> {
        let mut out: HashMap<i64, Vec<LineView>> = HashMap::new();
        if lead_ids.is_empty() {
            return Ok(out);
        }
        let mut q = QueryBuilder::<Sqlite>::new("SELECT * FROM order_lines WHERE lead_id IN (");
        let mut sep = q.separated(", ");
        for id in lead_ids {
            sep.push_bind(*id);
        }
        q.push(") ORDER BY lead_id, position");
        let rows = q.build().fetch_all(&self.pool).await?;
        let mut line_index: HashMap<i64, (i64, usize)> = HashMap::new();
        for row in &rows {
            let lead_id: i64 = row.try_get("lead_id")?;
            let lines = out.entry(lead_id).or_default();
            line_index.insert(row.try_get("id")?, (lead_id, lines.len()));
            lines.push(line_from_row(row)?);
        }
        if line_index.is_empty() {
            return Ok(out);
        }
        let mut q = QueryBuilder::<Sqlite>::new("SELECT * FROM extra_works WHERE line_id IN (");
        let mut sep = q.separated(", ");
        for id in line_index.keys() {
            sep.push_bind(*id);
        }
        q.push(") ORDER BY line_id, position");
        for row in q.build().fetch_all(&self.pool).await? {
            let line_id: i64 = row.try_get("line_id")?;
            if let Some((lead_id, idx)) = line_index.get(&line_id)
                && let Some(line) = out.get_mut(lead_id).and_then(|l| l.get_mut(*idx))
            {
                line.extra_works.push(ExtraWorkView {
                    kind: row.try_get("kind")?,
                    quantity: dec(&row, "quantity")?,
                    description: row.try_get("description")?,
                });
            }
        }
        Ok(out)
    }

    async fn with_lines(&self, mut leads: Vec<LeadView>) -> Result<Vec<LeadView>> {
        let ids: Vec<i64> = leads.iter().map(|l| l.id).collect();
        let mut lines = self.lines_of(&ids).await?;
        for lead in &mut leads {
            lead.lines = lines.remove(&lead.id).unwrap_or_default();
        }
        Ok(leads)
    }

    async fn cards(&self, clause: &'static str, id: i64) -> Result<Vec<TechCardView>> {
        let sql = format!(
            "SELECT t.*, l.position AS line_position, l.lead_id AS line_lead FROM tech_cards t
             JOIN order_lines l ON l.id = t.line_id WHERE {clause} ORDER BY l.position"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_all(&self.pool)
            .await?;
        // Every card's line, loaded once for all the leads involved (with its extra works).
        let mut lead_ids: Vec<i64> = rows
            .iter()
            .map(|r| r.try_get("lead_id"))
            .collect::<std::result::Result<_, _>>()?;
        lead_ids.dedup();
        let mut lines = self.lines_of(&lead_ids).await?;
        let mut cards = Vec::with_capacity(rows.len());
        for row in rows {
            let lead_id: i64 = row.try_get("lead_id")?;
            let position: i64 = row.try_get("line_position")?;
            let line = lines
                .get_mut(&lead_id)
                .and_then(|lines| {
                    lines
                        .iter()
                        .position(|l| l.position == position)
                        .map(|i| lines.swap_remove(i))
                })
                .ok_or_else(|| {
                    StorageError::Corrupt(format!("tech card without line {position}"))
                })?;
            cards.push(TechCardView {
                id: row.try_get("id")?,
                number: row.try_get("number")?,
                lead_id,
                line_position: position,
                status: row.try_get("status")?,
                line,
                area_per_piece: dec(&row, "area_per_piece")?,
                total_area: dec(&row, "total_area")?,
                perimeter: dec(&row, "perimeter")?,
            });
        }
        Ok(cards)
    }

    async fn source_where(
        &self,
        clause: &'static str,
        key: String,
    ) -> Result<Option<HttpSourceRecord>> {
        let sql = format!(
            "SELECT s.id, s.name, s.calendar_id, c.name, s.cors_origins, s.auto_tech_cards
             FROM http_sources s JOIN calendars c ON c.id = s.calendar_id WHERE {clause}"
        );
        let row: Option<(i64, String, i64, String, String, bool)> =
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(key)
                .fetch_optional(&self.pool)
                .await?;
        row.map(
            |(id, name, calendar_id, calendar_name, cors, auto_tech_cards)| {
                Ok(HttpSourceRecord {
                    id,
                    name,
                    calendar_id,
                    calendar_name,
                    cors_origins: serde_json::from_str(&cors)
                        .map_err(|e| StorageError::Corrupt(e.to_string()))?,
                    auto_tech_cards,
                })
            },
        )
        .transpose()
    }

    /// Counterparties `(id, inn, inn_kind, name)` with their phones and e-mails, the contacts of all of them
    /// loaded in one query. With `calendars`, only the contacts that a lead of one of these calendars brought.
    pub(super) async fn counterparty_views(
        &self,
        rows: Vec<(i64, String, String, String)>,
        calendars: Option<&[i64]>,
    ) -> Result<Vec<CounterpartyView>> {
        let mut contacts: HashMap<i64, (Vec<String>, Vec<String>)> = HashMap::new();
        if !rows.is_empty() {
            let mut q = QueryBuilder::<Sqlite>::new(
                "SELECT cc.counterparty_id, cc.kind, cc.value FROM counterparty_contacts cc
                 WHERE cc.counterparty_id IN (",
            );
            let mut sep = q.separated(", ");
            for (id, ..) in &rows {
                sep.push_bind(*id);
            }
            q.push(")");
            if let Some(calendars) = calendars {
                // A contact is stored as the intake wrote it: the phone in E.164, else as sent; the e-mail
                // as sent.
                q.push(
                    " AND EXISTS (SELECT 1 FROM leads l WHERE l.counterparty_id = cc.counterparty_id
                     AND CASE cc.kind WHEN 'phone' THEN COALESCE(l.phone_e164, l.phone) = cc.value
                         ELSE l.email = cc.value END",
                );
                push_calendar_ids(&mut q, calendars);
                q.push(")");
            }
            q.push(" ORDER BY cc.id");
            let found: Vec<(i64, String, String)> =
                q.build_query_as().fetch_all(&self.pool).await?;
            for (id, kind, value) in found {
                let (phones, emails) = contacts.entry(id).or_default();
                if kind == "phone" {
                    phones.push(value)
                } else {
                    emails.push(value)
                }
            }
        }
        Ok(rows
            .into_iter()
            .map(|(id, inn, inn_kind, name)| {
                let (phones, emails) = contacts.remove(&id).unwrap_or_default();
                CounterpartyView {
                    id,
                    inn,
                    inn_kind,
                    name,
                    phones,
                    emails,
                }
            })
            .collect())
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

/// Appends the visibility test of a counterparty whose id is `c.id`: some lead of it is in one of these
/// calendars (nothing for `None`, every calendar). The leads are found through their counterparty index.
fn push_counterparty_visible(q: &mut QueryBuilder<Sqlite>, calendars: Option<&[i64]>) {
    if let Some(calendars) = calendars {
        q.push(" AND EXISTS (SELECT 1 FROM leads l WHERE l.counterparty_id = c.id");
        push_calendar_ids(q, calendars);
        q.push(")");
    }
}

fn page_of<T>(mut items: Vec<T>, limit: u32, id_of: impl Fn(&T) -> i64) -> Page<T> {
    let limit = limit as usize;
    let next = if items.len() > limit {
        items.truncate(limit);
        items.last().map(|i| id_of(i).to_string())
    } else {
        None
    };
    Page { items, next }
}

const MESSAGE_SELECT: &str = "SELECT m.id, m.channel, m.collector_id, m.http_source_id, m.message_id,
        m.external_number, m.outcome, m.reason, m.lead_id, m.received_at, m.raw_codec IS NOT NULL AS has_raw,
        co.name AS collector_name, hs.name AS http_source_name
    FROM messages m
    LEFT JOIN collectors co ON co.id = m.collector_id
    LEFT JOIN http_sources hs ON hs.id = m.http_source_id";

fn message_from_row(row: &SqliteRow) -> Result<MessageView> {
    let channel: String = row.try_get("channel")?;
    let outcome: String = row.try_get("outcome")?;
    Ok(MessageView {
        id: row.try_get("id")?,
        channel: parse_enum::<Channel>("channel", &channel)?,
        collector: row.try_get("collector_name")?,
        http_source: row.try_get("http_source_name")?,
        message_id: row.try_get("message_id")?,
        external_number: row.try_get("external_number")?,
        outcome: parse_enum::<Outcome>("outcome", &outcome)?,
        reason: row.try_get("reason")?,
        lead_id: row.try_get("lead_id")?,
        received_at: from_ms(row.try_get("received_at")?)?,
        has_raw: row.try_get("has_raw")?,
        collector_id: row.try_get("collector_id")?,
        http_source_id: row.try_get("http_source_id")?,
    })
}

/// A ledger record's raw message as received, when it is kept.
pub(super) async fn read_raw(conn: &mut SqliteConnection, id: i64) -> Result<Option<RawMessage>> {
    let row: Option<(Option<String>, Option<i64>, Option<String>)> =
        sqlx::query_as("SELECT raw_codec, raw_size, content_type FROM messages WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    let Some((Some(codec), size, content_type)) = row else {
        return Ok(None);
    };
    let codec = parse_enum::<RawCodec>("raw_codec", &codec)?;
    let size = usize::try_from(size.unwrap_or_default())
        .map_err(|_| StorageError::Corrupt(format!("message {id}: raw_size {size:?}")))?;
    let parts: Vec<(Vec<u8>,)> =
        sqlx::query_as("SELECT bytes FROM message_raw_parts WHERE message_id = $1 ORDER BY seq")
            .bind(id)
            .fetch_all(&mut *conn)
            .await?;
    let mut stored = Vec::with_capacity(parts.iter().map(|(p,)| p.len()).sum());
    for (part,) in parts {
        stored.extend_from_slice(&part);
    }
    let bytes = StoredRaw::from_stored(stored, codec, size)
        .into_original()
        .map_err(|e| StorageError::Corrupt(format!("message {id}: {e}")))?;
    Ok(Some(RawMessage {
        bytes,
        content_type: content_type.unwrap_or_else(|| "application/octet-stream".into()),
    }))
}

/// The ledger records (`m`) whose mail retention may delete: imported ones, and duplicates of an imported
/// record. Never a skipped or rejected message, nor a duplicate recorded before duplicates named their
/// record (its content was never compared).
const IMPORTED_OR_ITS_DUPLICATE: &str =
    "(m.outcome = 'imported' OR (m.outcome = 'duplicate' AND EXISTS
    (SELECT 1 FROM messages e WHERE e.id = m.duplicate_of AND e.outcome = 'imported')))";

#[async_trait]
impl Storage for SqliteStorage {
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    #[instrument(skip_all, fields(batch = batch.len()))]
    async fn submit_batch(&self, batch: &[Submission]) -> Result<Vec<SubmitOutcome>> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let outcomes = write::submit_all(&mut tx, batch).await?;
        tx.commit().await?;
        Ok(outcomes)
    }

    async fn lead(&self, id: i64) -> Result<Option<LeadView>> {
        let sql = format!("{LEAD_SELECT} WHERE l.id = $1");
        let Some(row) = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        Ok(self.with_lines(vec![lead_from_row(&row)?]).await?.pop())
    }

    async fn list_leads(
        &self,
        filter: &LeadFilter,
        calendars: Option<&[i64]>,
        page: PageRequest,
    ) -> Result<Page<LeadView>> {
        let mut q = QueryBuilder::<Sqlite>::new(LEAD_SELECT);
        q.push(" WHERE 1 = 1");
        if let Some(calendars) = calendars {
            push_calendar_ids(&mut q, calendars);
        }
        if let Some(cursor) = page.cursor {
            q.push(" AND l.id < ").push_bind(cursor);
        }
        if let Some(calendar) = filter.calendar.as_deref() {
            match calendar.parse::<i64>() {
                Ok(id) => q.push(" AND l.calendar_id = ").push_bind(id),
                Err(_) => q.push(" AND c.name = ").push_bind(calendar.to_owned()),
            };
        }
        if let Some(status) = filter.status {
            q.push(" AND l.status = ").push_bind(status.as_str());
        }
        push_kind_and_period(&mut q, filter.kind, filter.from, filter.to);
        if let Some(search) = filter
            .search
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            let escaped = search
                .to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            q.push(" AND l.search_text LIKE ")
                .push_bind(format!("%{escaped}%"))
                .push(" ESCAPE '\\'");
        }
        q.push(" ORDER BY l.id DESC LIMIT ")
            .push_bind(i64::from(page.limit) + 1);
        let rows = q.build().fetch_all(&self.pool).await?;
        let leads = rows.iter().map(lead_from_row).collect::<Result<Vec<_>>>()?;
        let page = page_of(leads, page.limit, |l| l.id);
        Ok(Page {
            items: self.with_lines(page.items).await?,
            next: page.next,
        })
    }

    async fn update_lead(&self, id: i64, patch: &LeadPatch) -> Result<Option<LeadView>> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM leads WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_none() {
            return Ok(None);
        }
        let now = ms(Utc::now());
        if let Some(status) = patch.status {
            sqlx::query("UPDATE leads SET status = $1, updated_at = $2 WHERE id = $3")
                .bind(status.as_str())
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        if let Some(login) = patch.assignee.as_deref() {
            let user_id: Option<i64> = if login.is_empty() {
                None
            } else {
                Some(
                    sqlx::query_scalar("SELECT id FROM users WHERE login = $1")
                        .bind(login)
                        .fetch_optional(&mut *tx)
                        .await?
                        .ok_or_else(|| StorageError::NotFound {
                            what: "user",
                            key: login.to_owned(),
                        })?,
                )
            };
            sqlx::query("UPDATE leads SET assignee_id = $1, updated_at = $2 WHERE id = $3")
                .bind(user_id)
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        self.lead(id).await
    }

    async fn form_tech_cards(&self, lead_id: i64) -> Result<Option<Vec<TechCardView>>> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM leads WHERE id = $1")
            .bind(lead_id)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_none() {
            return Ok(None);
        }
        form_cards(&mut tx, lead_id).await?;
        tx.commit().await?;
        Ok(Some(self.tech_cards_of_lead(lead_id).await?))
    }

    async fn tech_cards_of_lead(&self, lead_id: i64) -> Result<Vec<TechCardView>> {
        self.cards("t.lead_id = $1", lead_id).await
    }

    async fn tech_card(&self, id: i64) -> Result<Option<TechCardView>> {
        Ok(self.cards("t.id = $1", id).await?.pop())
    }

    async fn list_counterparties(
        &self,
        inn: Option<&str>,
        calendars: Option<&[i64]>,
        page: PageRequest,
    ) -> Result<Page<CounterpartyView>> {
        let mut q = QueryBuilder::<Sqlite>::new(
            "SELECT c.id, c.inn, c.inn_kind, c.name FROM counterparties c WHERE 1 = 1",
        );
        if let Some(inn) = inn {
            q.push(" AND c.inn = ").push_bind(inn.replace(' ', ""));
        }
        push_counterparty_visible(&mut q, calendars);
        if let Some(cursor) = page.cursor {
            q.push(" AND c.id < ").push_bind(cursor);
        }
        q.push(" ORDER BY c.id DESC LIMIT ")
            .push_bind(i64::from(page.limit) + 1);
        let rows: Vec<(i64, String, String, String)> =
            q.build_query_as().fetch_all(&self.pool).await?;
        let items = self.counterparty_views(rows, calendars).await?;
        Ok(page_of(items, page.limit, |c| c.id))
    }

    async fn list_messages(
        &self,
        outcome: Option<Outcome>,
        page: PageRequest,
    ) -> Result<Page<MessageView>> {
        let mut q = QueryBuilder::<Sqlite>::new(MESSAGE_SELECT);
        q.push(" WHERE 1 = 1");
        if let Some(outcome) = outcome {
            q.push(" AND m.outcome = ").push_bind(outcome.as_str());
        }
        if let Some(cursor) = page.cursor {
            q.push(" AND m.id < ").push_bind(cursor);
        }
        q.push(" ORDER BY m.id DESC LIMIT ")
            .push_bind(i64::from(page.limit) + 1);
        let rows = q.build().fetch_all(&self.pool).await?;
        let items = rows
            .iter()
            .map(message_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(page_of(items, page.limit, |m| m.id))
    }

    async fn message(&self, id: i64) -> Result<Option<MessageView>> {
        let sql = format!("{MESSAGE_SELECT} WHERE m.id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(message_from_row).transpose()
    }

    async fn message_raw(&self, id: i64) -> Result<Option<RawMessage>> {
        let mut conn = self.pool.acquire().await?;
        read_raw(&mut conn, id).await
    }

    async fn resolve_message(
        &self,
        id: i64,
        outcome: Outcome,
        reason: Option<&str>,
        lead_id: Option<i64>,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE messages SET outcome = $1, reason = $2, lead_id = COALESCE($3, lead_id)
             WHERE id = $4 AND outcome = 'rejected'",
        )
        .bind(outcome.as_str())
        .bind(reason)
        .bind(lead_id)
        .bind(id)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn find_personal_data(
        &self,
        query: &PersonDataQuery,
        mentioned: &[i64],
    ) -> Result<PersonalDataFound> {
        let mut conn = self.pool.acquire().await?;
        Ok(personal_data::find(&mut conn, query, mentioned).await?.0)
    }

    #[instrument(skip_all, fields(kind = query.kind().as_str(), channel = actor.channel))]
    async fn erase_personal_data(
        &self,
        query: &PersonDataQuery,
        mentioned: &[i64],
        actor: &ErasureActor,
    ) -> Result<ErasureRecord> {
        let mut conn = self.writer.acquire().await?;
        // Freed pages are zeroed, so the erased text does not linger in the file.
        sqlx::query("PRAGMA secure_delete = ON")
            .execute(&mut *conn)
            .await?;
        let erased = async {
            let mut tx = sqlx::Connection::begin_with(&mut *conn, "BEGIN IMMEDIATE").await?;
            let record = personal_data::erase(&mut tx, query, mentioned, actor).await?;
            tx.commit().await?;
            Ok::<_, StorageError>(record)
        }
        .await;
        sqlx::query("PRAGMA secure_delete = OFF")
            .execute(&mut *conn)
            .await?;
        let record = erased?;
        // Copy the zeroed pages over the old ones in the database file now, where no reader holds them.
        sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&mut *conn)
            .await?;
        Ok(record)
    }

    async fn personal_data_erasures(&self, limit: u32) -> Result<Vec<ErasureRecord>> {
        let mut conn = self.pool.acquire().await?;
        personal_data::erasures(&mut conn, limit).await
    }

    async fn upsert_calendar(&self, name: &str, owner: Option<&str>) -> Result<i64> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let owner_id = match owner {
            Some(login) => Some(upsert_user_in(&mut tx, login, None, None).await?),
            None => None,
        };
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO calendars (name, owner_id, created_at) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO UPDATE SET owner_id = excluded.owner_id RETURNING id",
        )
        .bind(name)
        .bind(owner_id)
        .bind(ms(Utc::now()))
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn calendars(&self) -> Result<Vec<CalendarView>> {
        let rows: Vec<(i64, String, Option<String>, String)> = sqlx::query_as(
            "SELECT c.id, c.name, u.login, c.color FROM calendars c LEFT JOIN users u ON u.id = c.owner_id ORDER BY c.id",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, name, owner, color)| CalendarView {
                id,
                name,
                owner,
                color,
            })
            .collect())
    }

    async fn upsert_http_source(
        &self,
        source: &HttpSourceRecord,
        token_hash: Option<&str>,
    ) -> Result<i64> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO http_sources (name, calendar_id, token_hash, cors_origins, auto_tech_cards, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (name) DO UPDATE SET calendar_id = excluded.calendar_id,
                 token_hash = COALESCE(excluded.token_hash, http_sources.token_hash),
                 cors_origins = excluded.cors_origins, auto_tech_cards = excluded.auto_tech_cards
             RETURNING id",
        )
        .bind(&source.name)
        .bind(source.calendar_id)
        .bind(token_hash)
        .bind(json_text(&source.cors_origins)?)
        .bind(source.auto_tech_cards)
        .bind(ms(Utc::now()))
        .fetch_one(&self.writer)
        .await?;
        Ok(id)
    }

    async fn http_source(&self, id: i64) -> Result<Option<HttpSourceRecord>> {
        self.source_where("s.id = CAST($1 AS INTEGER)", id.to_string())
            .await
    }

    async fn http_source_by_token(&self, token_hash: &str) -> Result<Option<HttpSourceRecord>> {
        self.source_where("s.token_hash = $1", token_hash.to_owned())
            .await
    }

    async fn upsert_user(
        &self,
        login: &str,
        role: Role,
        password_hash: Option<&str>,
    ) -> Result<i64> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let id = upsert_user_in(&mut tx, login, Some(role), password_hash).await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn add_api_token(&self, user_id: i64, name: &str, token_hash: &str) -> Result<()> {
        sqlx::query("INSERT INTO api_tokens (user_id, name, token_hash, created_at) VALUES ($1, $2, $3, $4)")
            .bind(user_id)
            .bind(name)
            .bind(token_hash)
            .bind(ms(Utc::now()))
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn provision_configured_token(&self, token: Option<(i64, &str)>) -> Result<()> {
        web::provision_configured_token(&self.writer, token).await
    }

    async fn api_tokens(&self) -> Result<Vec<ApiTokenView>> {
        web::api_tokens(&self.pool).await
    }

    async fn revoke_api_token(&self, id: i64) -> Result<bool> {
        web::revoke_api_token(&self.writer, id).await
    }

    async fn user_by_token(&self, token_hash: &str) -> Result<Option<UserRecord>> {
        let row: Option<(i64, String, String)> = sqlx::query_as(
            "SELECT u.id, u.login, u.role FROM api_tokens t JOIN users u ON u.id = t.user_id
             WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND u.disabled_at IS NULL",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|(id, login, role)| {
            Ok(UserRecord {
                id,
                login,
                role: parse_enum::<Role>("role", &role)?,
            })
        })
        .transpose()
    }

    async fn has_users(&self) -> Result<bool> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(&self.pool)
            .await?;
        Ok(n > 0)
    }

    async fn upsert_collector(&self, c: &CollectorRecord) -> Result<i64> {
        let now = ms(Utc::now());
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO collectors (name, protocol, host, port, tls, ca_file, insecure_skip_verify, username,
                 password_env, password_file, folder, keyword, calendar_id, default_charset, after_import, move_to,
                 failed_folder, delete_after_days, auto_tech_cards, deleted, created_at, updated_at, subject_filter)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $21,
                 $22)
             ON CONFLICT (name) DO UPDATE SET protocol = excluded.protocol, host = excluded.host,
                 port = excluded.port, tls = excluded.tls, ca_file = excluded.ca_file,
                 insecure_skip_verify = excluded.insecure_skip_verify, username = excluded.username,
                 password_env = excluded.password_env, password_file = excluded.password_file,
                 folder = excluded.folder, keyword = excluded.keyword, calendar_id = excluded.calendar_id,
                 default_charset = excluded.default_charset, after_import = excluded.after_import,
                 move_to = excluded.move_to, failed_folder = excluded.failed_folder,
                 delete_after_days = excluded.delete_after_days, auto_tech_cards = excluded.auto_tech_cards,
                 deleted = excluded.deleted, updated_at = excluded.updated_at,
                 subject_filter = excluded.subject_filter
             RETURNING id",
        )
        .bind(&c.name)
        .bind(c.protocol.as_str())
        .bind(&c.host)
        .bind(i64::from(c.port))
        .bind(c.tls.as_str())
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
        .fetch_one(&self.writer)
        .await?;
        Ok(id)
    }

    async fn collectors(&self, include_deleted: bool) -> Result<Vec<CollectorRecord>> {
        let rows = sqlx::query("SELECT * FROM collectors WHERE deleted = 0 OR $1 ORDER BY name")
            .bind(include_deleted)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(collector_from_row).collect()
    }

    async fn collector(&self, id: i64) -> Result<Option<CollectorRecord>> {
        let row = sqlx::query("SELECT * FROM collectors WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(collector_from_row).transpose()
    }

    async fn scan_state(&self, collector_id: i64, folder: &str) -> Result<Option<ScanState>> {
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

    async fn save_scan_state(
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

    async fn known_mailbox_keys(
        &self,
        source: &str,
        keys: &[String],
    ) -> Result<std::collections::HashSet<String>> {
        let mut known = std::collections::HashSet::new();
        for chunk in keys.chunks(500) {
            let mut q =
                QueryBuilder::<Sqlite>::new("SELECT mailbox_key FROM messages WHERE source = ");
            q.push_bind(source).push(" AND mailbox_key IN (");
            let mut sep = q.separated(", ");
            for key in chunk {
                sep.push_bind(key);
            }
            q.push(")");
            let rows: Vec<(String,)> = q.build_query_as().fetch_all(&self.pool).await?;
            known.extend(rows.into_iter().map(|(k,)| k));
        }
        Ok(known)
    }

    async fn imported_mailbox_keys(
        &self,
        source: &str,
        keys: &[String],
    ) -> Result<std::collections::HashSet<String>> {
        let mut imported = std::collections::HashSet::new();
        for chunk in keys.chunks(500) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "SELECT m.mailbox_key FROM messages m WHERE m.source = ",
            );
            q.push_bind(source).push(" AND m.mailbox_key IN (");
            let mut sep = q.separated(", ");
            for key in chunk {
                sep.push_bind(key);
            }
            q.push(") AND ").push(IMPORTED_OR_ITS_DUPLICATE);
            let rows: Vec<(String,)> = q.build_query_as().fetch_all(&self.pool).await?;
            imported.extend(rows.into_iter().map(|(k,)| k));
        }
        Ok(imported)
    }

    async fn imported_mailbox_keys_before(
        &self,
        source: &str,
        before: DateTime<Utc>,
    ) -> Result<std::collections::HashSet<String>> {
        let sql = format!(
            "SELECT m.mailbox_key FROM messages m
             WHERE m.source = $1 AND m.received_at < $2 AND m.mailbox_key IS NOT NULL AND {IMPORTED_OR_ITS_DUPLICATE}"
        );
        let rows: Vec<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(source)
            .bind(ms(before))
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(|(k,)| k).collect())
    }

    async fn start_run(&self, collector_id: i64) -> Result<i64> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO collector_runs (collector_id, started_at) VALUES ($1, $2) RETURNING id",
        )
        .bind(collector_id)
        .bind(ms(Utc::now()))
        .fetch_one(&self.writer)
        .await?;
        Ok(id)
    }

    async fn finish_run(&self, run_id: i64, counts: &RunCounts, error: Option<&str>) -> Result<()> {
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

    async fn last_runs(&self) -> Result<std::collections::HashMap<i64, RunView>> {
        let rows = sqlx::query(
            "SELECT r.* FROM collector_runs r
             WHERE r.id = (SELECT MAX(id) FROM collector_runs WHERE collector_id = r.collector_id)",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out = std::collections::HashMap::new();
        for row in rows {
            let finished: Option<i64> = row.try_get("finished_at")?;
            let count = |col: &str| -> Result<u64> {
                Ok(u64::try_from(row.try_get::<i64, _>(col)?).unwrap_or(0))
            };
            out.insert(
                row.try_get("collector_id")?,
                RunView {
                    started_at: from_ms(row.try_get("started_at")?)?,
                    finished_at: finished.map(from_ms).transpose()?,
                    counts: RunCounts {
                        imported: count("imported")?,
                        duplicate: count("duplicate")?,
                        skipped: count("skipped")?,
                        rejected: count("rejected")?,
                    },
                    error: row.try_get("error")?,
                },
            );
        }
        Ok(out)
    }

    async fn try_lock_job(&self, job: &str) -> Result<Option<JobLock>> {
        let Some(dir) = &self.lock_dir else {
            // An in-memory database lives in one process: the job's own mutex is enough.
            return Ok(Some(JobLock::new(())));
        };
        let path = dir.join(format!("{}.{job}.lock", self.lock_stem));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| StorageError::Database(sqlx::Error::Io(e)))?;
        match file.try_lock() {
            Ok(()) => Ok(Some(JobLock::new(file))),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => Err(StorageError::Database(sqlx::Error::Io(e))),
        }
    }

    async fn import_for_message(&self, message_id: i64, draft: &LeadDraft) -> Result<Reimport> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let row = sqlx::query(
            "SELECT collector_id, http_source_id, message_id, external_number, received_at, outcome, lead_id
             FROM messages WHERE id = $1",
        )
        .bind(message_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StorageError::NotFound { what: "message", key: message_id.to_string() })?;
        let outcome = parse_enum::<Outcome>("outcome", row.try_get("outcome")?)?;
        if outcome != Outcome::Rejected {
            return Ok(Reimport::AlreadyResolved {
                outcome,
                lead_id: row.try_get("lead_id")?,
            });
        }
        let collector_id: Option<i64> = row.try_get("collector_id")?;
        let http_source_id: Option<i64> = row.try_get("http_source_id")?;
        let entry = LedgerEntry {
            source: match (collector_id, http_source_id) {
                (Some(id), _) => SourceRef::Collector { id },
                (None, Some(id)) => SourceRef::Http { id },
                (None, None) => SourceRef::File,
            },
            ledger_key: None,
            mailbox_key: None,
            message_id: row.try_get("message_id")?,
            external_number: row.try_get("external_number")?,
            received_at: from_ms(row.try_get("received_at")?)?,
            raw: StoredRaw::default(),
            content_type: String::new(),
            content_hash: None,
        };
        let lead_id = write::import_for_message(&mut tx, message_id, &entry, draft).await?;
        tx.commit().await?;
        Ok(Reimport::Imported { lead_id })
    }

    // ---- web UI -------------------------------------------------------------------------------------------

    async fn user_credentials(&self, login: &str) -> Result<Option<UserCredentials>> {
        web::user_credentials(&self.pool, login).await
    }

    async fn user(&self, id: i64) -> Result<Option<UserView>> {
        web::user(&self.pool, id).await
    }

    async fn users(&self) -> Result<Vec<UserView>> {
        web::users(&self.pool).await
    }

    async fn create_user(
        &self,
        login: &str,
        display_name: &str,
        role: Role,
        password_hash: Option<&str>,
    ) -> Result<i64> {
        web::create_user(&self.writer, login, display_name, role, password_hash).await
    }

    async fn update_user(
        &self,
        id: i64,
        role: Option<Role>,
        password_hash: Option<&str>,
    ) -> Result<()> {
        web::update_user(&self.writer, id, role, password_hash).await
    }

    async fn create_session(&self, session: &NewSession) -> Result<()> {
        web::create_session(&self.writer, session).await
    }

    async fn session(&self, id_hash: &str, check: SessionCheck) -> Result<Option<SessionRecord>> {
        web::session(&self.pool, id_hash, check).await
    }

    async fn touch_session(&self, id_hash: &str, now: DateTime<Utc>) -> Result<()> {
        web::touch_session(&self.writer, id_hash, now).await
    }

    async fn set_user_disabled(&self, id: i64, disabled: bool) -> Result<bool> {
        web::set_user_disabled(&self.writer, id, disabled).await
    }

    async fn delete_session(&self, id_hash: &str) -> Result<()> {
        web::delete_session(&self.writer, id_hash).await
    }

    async fn reserve_login_attempt(
        &self,
        attempt: &LoginAttempt,
        limits: &LoginLimits,
    ) -> Result<LoginReservation> {
        web::reserve_login_attempt(&self.writer, attempt, limits).await
    }

    async fn clear_login_attempts(&self, login_key: &str, address_attempt: i64) -> Result<()> {
        web::clear_login_attempts(&self.writer, login_key, address_attempt).await
    }

    async fn set_ics_secret(&self, user_id: i64, secret_hash: &str) -> Result<()> {
        web::set_ics_secret(&self.writer, user_id, secret_hash).await
    }

    async fn user_by_ics_secret(&self, secret_hash: &str) -> Result<Option<UserRecord>> {
        web::user_by_ics_secret(&self.pool, secret_hash).await
    }

    #[instrument(skip_all)]
    async fn inbox(&self, query: &InboxQuery) -> Result<InboxPage> {
        web::inbox(&self.pool, query).await
    }

    async fn inbox_pulse(&self, calendars: Option<&[i64]>) -> Result<InboxPulse> {
        web::inbox_pulse(&self.pool, calendars).await
    }

    #[instrument(skip_all, fields(days = bounds.len().saturating_sub(1)))]
    async fn calendar_days(
        &self,
        calendars: &[i64],
        bounds: &[DateTime<Utc>],
        per_day: u32,
    ) -> Result<Vec<DaySlot>> {
        web::calendar_days(&self.pool, calendars, bounds, per_day).await
    }

    async fn calendar_feed(
        &self,
        calendar_id: i64,
        from: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<LeadSummary>> {
        web::calendar_feed(&self.pool, calendar_id, from, limit).await
    }

    async fn leads_of_counterparty(
        &self,
        counterparty_id: i64,
        limit: u32,
    ) -> Result<Vec<LeadSummary>> {
        web::leads_of_counterparty(&self.pool, counterparty_id, limit).await
    }

    async fn counterparty(
        &self,
        id: i64,
        calendars: Option<&[i64]>,
    ) -> Result<Option<CounterpartyView>> {
        web::counterparty(self, id, calendars).await
    }

    async fn search_counterparties(
        &self,
        query: &str,
        calendars: Option<&[i64]>,
        page: PageRequest,
    ) -> Result<Page<CounterpartyView>> {
        web::search_counterparties(self, query, calendars, page).await
    }

    async fn message_of_lead(&self, lead_id: i64) -> Result<Option<i64>> {
        web::message_of_lead(&self.pool, lead_id).await
    }

    async fn http_sources(&self) -> Result<Vec<HttpSourceView>> {
        web::http_sources(&self.pool).await
    }

    async fn create_http_source(
        &self,
        name: &str,
        calendar_id: i64,
        token_hash: &str,
    ) -> Result<i64> {
        web::create_http_source(&self.writer, name, calendar_id, token_hash).await
    }

    async fn revoke_http_source(&self, id: i64) -> Result<bool> {
        web::revoke_http_source(&self.writer, id).await
    }

    async fn create_calendar(&self, name: &str, owner_id: Option<i64>, color: &str) -> Result<i64> {
        web::create_calendar(&self.writer, name, owner_id, color).await
    }
}

/// Creates a user by login or updates it; `role`/`password_hash` of `None` keep what is stored (a new user
/// defaults to a manager without a password).
async fn upsert_user_in(
    conn: &mut SqliteConnection,
    login: &str,
    role: Option<Role>,
    password_hash: Option<&str>,
) -> Result<i64> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO users (login, display_name, role, password_hash, created_at) VALUES ($1, $1, $2, $3, $4)
         ON CONFLICT (login) DO UPDATE SET
             role = CASE WHEN $5 THEN excluded.role ELSE users.role END,
             password_hash = COALESCE(excluded.password_hash, users.password_hash)
         RETURNING id",
    )
    .bind(login)
    .bind(role.unwrap_or(Role::Manager).as_str())
    .bind(password_hash)
    .bind(ms(Utc::now()))
    .bind(role.is_some())
    .fetch_one(&mut *conn)
    .await?;
    Ok(id)
}

fn collector_from_row(row: &SqliteRow) -> Result<CollectorRecord> {
    let protocol: String = row.try_get("protocol")?;
    let tls: String = row.try_get("tls")?;
    let after: String = row.try_get("after_import")?;
    let subject_filter: String = row.try_get("subject_filter")?;
    let port: i64 = row.try_get("port")?;
    let days: Option<i64> = row.try_get("delete_after_days")?;
    let ca_file: Option<String> = row.try_get("ca_file")?;
    let password_file: Option<String> = row.try_get("password_file")?;
    Ok(CollectorRecord {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        protocol: parse_enum::<Protocol>("protocol", &protocol)?,
        host: row.try_get("host")?,
        port: u16::try_from(port).map_err(|_| StorageError::Corrupt(format!("port {port}")))?,
        tls: parse_enum::<TlsMode>("tls", &tls)?,
        ca_file: ca_file.map(Into::into),
        insecure_skip_verify: row.try_get("insecure_skip_verify")?,
        username: row.try_get("username")?,
        password_env: row.try_get("password_env")?,
        password_file: password_file.map(Into::into),
        folder: row.try_get("folder")?,
        keyword: row.try_get("keyword")?,
        subject_filter: parse_enum::<SubjectFilter>("subject_filter", &subject_filter)?,
        calendar_id: row.try_get("calendar_id")?,
        default_charset: row.try_get("default_charset")?,
        after_import: parse_enum::<AfterImport>("after_import", &after)?,
        move_to: row.try_get("move_to")?,
        failed_folder: row.try_get("failed_folder")?,
        delete_after_days: days.and_then(|d| u32::try_from(d).ok()),
        auto_tech_cards: row.try_get("auto_tech_cards")?,
        deleted: row.try_get("deleted")?,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

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
        sqlx::migrate!("./migrations/sqlite")
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
