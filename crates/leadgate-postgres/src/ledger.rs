//! The ledger in PostgreSQL: the intake's batch writes (in [`super::write`]), reprocessing, and the reads of
//! ledger records and of the mailbox keys the collectors compare with.

use std::collections::HashSet;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Postgres, QueryBuilder};
use tracing::instrument;

use super::{Error, PgStorage, Result, from_ms, lost_a_race, ms, page_of, parse_enum, write};
use leadgate_domain::lead::Channel;
use leadgate_domain::ledger::Outcome;
use leadgate_storage::{
    self as storage, LeadDraft, Ledger, LedgerEntry, MessageView, Page, PageRequest, RawCodec,
    RawMessage, Reimport, SourceRef, StoredRaw, Submission, SubmitOutcome,
};

/// How often a batch is planned again after losing a race for one of its keys.
const RACE_RETRIES: u32 = 5;

const MESSAGE_SELECT: &str = "SELECT m.id, m.channel, m.collector_id, m.http_source_id, m.message_id,
        m.external_number, m.outcome, m.reason, m.lead_id, m.received_at, m.raw_codec IS NOT NULL AS has_raw, m.mailbox_key,
        co.name AS collector_name, hs.name AS http_source_name
    FROM messages m
    LEFT JOIN collectors co ON co.id = m.collector_id
    LEFT JOIN http_sources hs ON hs.id = m.http_source_id";

/// A row of [`MESSAGE_SELECT`].
#[derive(sqlx::FromRow)]
struct MessageRow {
    id: i64,
    channel: String,
    collector_id: Option<i64>,
    http_source_id: Option<i64>,
    message_id: Option<String>,
    external_number: Option<String>,
    outcome: String,
    reason: Option<String>,
    lead_id: Option<i64>,
    received_at: i64,
    has_raw: bool,
    mailbox_key: Option<String>,
    collector_name: Option<String>,
    http_source_name: Option<String>,
}

impl MessageRow {
    fn into_view(self) -> Result<MessageView> {
        Ok(MessageView {
            id: self.id,
            channel: parse_enum::<Channel>("channel", &self.channel)?,
            collector: self.collector_name,
            http_source: self.http_source_name,
            message_id: self.message_id,
            external_number: self.external_number,
            outcome: parse_enum::<Outcome>("outcome", &self.outcome)?,
            reason: self.reason,
            lead_id: self.lead_id,
            received_at: from_ms(self.received_at)?,
            has_raw: self.has_raw,
            collector_id: self.collector_id,
            http_source_id: self.http_source_id,
            mailbox_key: self.mailbox_key,
        })
    }
}

/// How a record's raw message is kept.
#[derive(sqlx::FromRow)]
struct RawRow {
    raw_codec: Option<String>,
    raw_size: Option<i64>,
    content_type: Option<String>,
}

/// A ledger record's raw message as received, when it is kept.
pub(super) async fn read_raw(conn: &mut PgConnection, id: i64) -> Result<Option<RawMessage>> {
    let row: Option<RawRow> =
        sqlx::query_as("SELECT raw_codec, raw_size, content_type FROM messages WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    let Some(RawRow {
        raw_codec: Some(codec),
        raw_size: size,
        content_type,
    }) = row
    else {
        return Ok(None);
    };
    let codec = parse_enum::<RawCodec>("raw_codec", &codec)?;
    let size = usize::try_from(size.unwrap_or_default())
        .map_err(|_| Error::Corrupt(format!("message {id}: raw_size {size:?}")))?;
    let parts: Vec<Vec<u8>> = sqlx::query_scalar(
        "SELECT bytes FROM message_raw_parts WHERE message_id = $1 ORDER BY seq",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    let mut stored = Vec::with_capacity(parts.iter().map(Vec::len).sum());
    for part in parts {
        stored.extend_from_slice(&part);
    }
    let bytes = StoredRaw::from_stored(stored, codec, size)
        .into_original()
        .map_err(|e| Error::Corrupt(format!("message {id}: {e}")))?;
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

/// What reprocessing reads of a record, inside its transaction.
#[derive(sqlx::FromRow)]
struct ReimportRow {
    collector_id: Option<i64>,
    http_source_id: Option<i64>,
    message_id: Option<String>,
    external_number: Option<String>,
    received_at: i64,
    outcome: String,
    lead_id: Option<i64>,
}

impl PgStorage {
    /// One transaction for the whole batch. When another instance committed one of its ledger or
    /// idempotency keys between this transaction's read and its insert (a unique violation, or a deadlock
    /// when two batches took keys in different orders), the batch is planned again from what is committed
    /// now: its copy is then a duplicate or a replay.
    ///
    /// A commit whose answer never came (the connection lost after the COMMIT was sent) may have committed:
    /// the batch's first new record is looked for then, and found, the batch is answered as committed. A
    /// lead that is stored is never answered with an error a client would retry.
    async fn submit_batch_in(&self, batch: &[Submission]) -> Result<Vec<SubmitOutcome>> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut tx = self.pool.begin().await?;
            let outcomes = match write::submit_all(&mut tx, batch).await {
                Ok(outcomes) => outcomes,
                Err(e) if attempt < RACE_RETRIES && lost_a_race(&e) => {
                    tracing::debug!(attempt, "a key was recorded concurrently; planning again");
                    continue;
                }
                Err(e) => return Err(e),
            };
            let e = match tx.commit().await {
                Ok(()) => return Ok(outcomes),
                Err(e) => Error::from(e),
            };
            if attempt < RACE_RETRIES && lost_a_race(&e) {
                tracing::debug!(attempt, "a key was recorded concurrently; planning again");
                continue;
            }
            if self.committed_after_all(&outcomes).await {
                tracing::warn!(
                    error = %e,
                    "the database's answer to a commit was lost, but the batch is stored: it is acknowledged"
                );
                return Ok(outcomes);
            }
            return Err(e);
        }
    }

    /// Whether a batch whose commit failed is stored after all: its first new ledger record exists. Asked a
    /// few times over about a second (the server may still be finishing the commit, or be on its way back),
    /// each time within a second.
    async fn committed_after_all(&self, outcomes: &[SubmitOutcome]) -> bool {
        let Some(first) = outcomes.iter().find_map(|o| match o {
            SubmitOutcome::Imported { message_id, .. }
            | SubmitOutcome::Rejected { message_id }
            | SubmitOutcome::Skipped { message_id } => Some(*message_id),
            _ => None,
        }) else {
            return false;
        };
        for wait in [0, 250, 750] {
            tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
            let found = sqlx::query_scalar::<_, bool>(
                "SELECT EXISTS (SELECT 1 FROM messages WHERE id = $1)",
            )
            .bind(first)
            .fetch_one(&self.pool);
            if let Ok(Ok(true)) =
                tokio::time::timeout(std::time::Duration::from_secs(1), found).await
            {
                return true;
            }
        }
        false
    }

    async fn import_for_message_in(
        &self,
        message_id: i64,
        draft: &LeadDraft,
        by: Option<i64>,
    ) -> Result<Reimport> {
        let mut tx = self.pool.begin().await?;
        // The row stays locked until commit: a concurrent reprocessing waits, then sees it imported.
        let row: ReimportRow = sqlx::query_as(
            "SELECT collector_id, http_source_id, message_id, external_number, received_at, outcome, lead_id
             FROM messages WHERE id = $1 FOR UPDATE",
        )
        .bind(message_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| Error::NotFound {
            what: "message",
            key: message_id.to_string(),
        })?;
        let outcome = parse_enum::<Outcome>("outcome", &row.outcome)?;
        if outcome != Outcome::Rejected {
            return Ok(Reimport::AlreadyResolved {
                outcome,
                lead_id: row.lead_id,
            });
        }
        let entry = LedgerEntry {
            source: match (row.collector_id, row.http_source_id) {
                (Some(id), _) => SourceRef::Collector { id },
                (None, Some(id)) => SourceRef::Http { id },
                (None, None) => SourceRef::File,
            },
            ledger_key: None,
            mailbox_key: None,
            message_id: row.message_id,
            external_number: row.external_number,
            received_at: from_ms(row.received_at)?,
            raw: StoredRaw::default(),
            content_type: String::new(),
            content_hash: None,
        };
        let lead_id = write::import_for_message(&mut tx, message_id, &entry, draft, by).await?;
        tx.commit().await?;
        Ok(Reimport::Imported { lead_id })
    }

    async fn replace_raw_in(&self, id: i64, content_type: &str, raw: &StoredRaw) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE messages SET raw_codec = $1, raw_size = $2, content_type = $3
             WHERE id = $4 AND outcome = 'rejected'",
        )
        .bind(raw.codec().as_str())
        .bind(i64::try_from(raw.len()).unwrap_or(i64::MAX))
        .bind(content_type)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query("DELETE FROM message_raw_parts WHERE message_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        write::insert_raw_parts(&mut tx, &[(id, raw)]).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn resolve_message_in(
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
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn messages_in(
        &self,
        outcome: Option<Outcome>,
        page: PageRequest,
    ) -> Result<Page<MessageView>> {
        let mut q = QueryBuilder::<Postgres>::new(MESSAGE_SELECT);
        q.push(" WHERE 1 = 1");
        if let Some(outcome) = outcome {
            q.push(" AND m.outcome = ").push_bind(outcome.as_str());
        }
        if let Some(cursor) = page.cursor {
            q.push(" AND m.id < ").push_bind(cursor);
        }
        q.push(" ORDER BY m.id DESC LIMIT ")
            .push_bind(i64::from(page.limit) + 1);
        let rows: Vec<MessageRow> = q.build_query_as().fetch_all(&self.pool).await?;
        let items = rows
            .into_iter()
            .map(MessageRow::into_view)
            .collect::<Result<Vec<_>>>()?;
        Ok(page_of(items, page.limit, |m| m.id))
    }

    async fn message_in(&self, id: i64) -> Result<Option<MessageView>> {
        let sql = format!("{MESSAGE_SELECT} WHERE m.id = $1");
        let row: Option<MessageRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(MessageRow::into_view).transpose()
    }

    async fn message_raw_in(&self, id: i64) -> Result<Option<RawMessage>> {
        let mut conn = self.pool.acquire().await?;
        read_raw(&mut conn, id).await
    }

    async fn message_of_lead_in(&self, lead_id: i64) -> Result<Option<i64>> {
        Ok(
            sqlx::query_scalar("SELECT id FROM messages WHERE lead_id = $1 ORDER BY id LIMIT 1")
                .bind(lead_id)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// The keys among `keys` of `source`'s records, 500 at a time; `imported` keeps only what mail
    /// retention may delete.
    async fn mailbox_keys_in(
        &self,
        source: &str,
        keys: &[String],
        imported: bool,
    ) -> Result<HashSet<String>> {
        let mut found = HashSet::new();
        for chunk in keys.chunks(500) {
            let mut q = QueryBuilder::<Postgres>::new(
                "SELECT m.mailbox_key FROM messages m WHERE m.source = ",
            );
            q.push_bind(source)
                .push(" AND m.mailbox_key = ANY(")
                .push_bind(chunk.to_vec())
                .push(")");
            if imported {
                q.push(" AND ").push(IMPORTED_OR_ITS_DUPLICATE);
            }
            let rows: Vec<String> = q.build_query_scalar().fetch_all(&self.pool).await?;
            found.extend(rows);
        }
        Ok(found)
    }

    async fn imported_mailbox_keys_before_in(
        &self,
        source: &str,
        before: DateTime<Utc>,
    ) -> Result<HashSet<String>> {
        let sql = format!(
            "SELECT m.mailbox_key FROM messages m
             WHERE m.source = $1 AND m.received_at < $2 AND m.mailbox_key IS NOT NULL AND {IMPORTED_OR_ITS_DUPLICATE}"
        );
        let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(source)
            .bind(ms(before))
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().collect())
    }
}

#[async_trait]
impl Ledger for PgStorage {
    async fn ping(&self) -> storage::Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(Error::from)?;
        Ok(())
    }

    #[instrument(skip_all, fields(batch = batch.len()))]
    async fn submit_batch(&self, batch: &[Submission]) -> storage::Result<Vec<SubmitOutcome>> {
        Ok(self.submit_batch_in(batch).await?)
    }

    fn concurrent_batches(&self) -> usize {
        // Two: while one group commits (or waits for a row another holds), the next is written beside it.
        // The collector keeps two batches in flight, and on two cores a third gained nothing.
        2
    }

    async fn import_for_message(
        &self,
        message_id: i64,
        draft: &LeadDraft,
        by: Option<i64>,
    ) -> storage::Result<Reimport> {
        Ok(self.import_for_message_in(message_id, draft, by).await?)
    }

    async fn replace_raw(
        &self,
        id: i64,
        content_type: &str,
        raw: &StoredRaw,
    ) -> storage::Result<bool> {
        Ok(self.replace_raw_in(id, content_type, raw).await?)
    }

    async fn resolve_message(
        &self,
        id: i64,
        outcome: Outcome,
        reason: Option<&str>,
        lead_id: Option<i64>,
    ) -> storage::Result<bool> {
        Ok(self
            .resolve_message_in(id, outcome, reason, lead_id)
            .await?)
    }

    async fn messages(
        &self,
        outcome: Option<Outcome>,
        page: PageRequest,
    ) -> storage::Result<Page<MessageView>> {
        Ok(self.messages_in(outcome, page).await?)
    }

    async fn message(&self, id: i64) -> storage::Result<Option<MessageView>> {
        Ok(self.message_in(id).await?)
    }

    async fn message_raw(&self, id: i64) -> storage::Result<Option<RawMessage>> {
        Ok(self.message_raw_in(id).await?)
    }

    async fn message_of_lead(&self, lead_id: i64) -> storage::Result<Option<i64>> {
        Ok(self.message_of_lead_in(lead_id).await?)
    }

    async fn known_mailbox_keys(
        &self,
        source: &str,
        keys: &[String],
    ) -> storage::Result<HashSet<String>> {
        Ok(self.mailbox_keys_in(source, keys, false).await?)
    }

    async fn imported_mailbox_keys(
        &self,
        source: &str,
        keys: &[String],
    ) -> storage::Result<HashSet<String>> {
        Ok(self.mailbox_keys_in(source, keys, true).await?)
    }

    async fn imported_mailbox_keys_before(
        &self,
        source: &str,
        before: DateTime<Utc>,
    ) -> storage::Result<HashSet<String>> {
        Ok(self.imported_mailbox_keys_before_in(source, before).await?)
    }
}
