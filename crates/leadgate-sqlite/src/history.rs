//! The SQLite side of [`LeadHistory`]: the `lead_events` table (migration 0016), and [`record`], which every
//! storage method that changes a lead calls inside its own transaction to write the change's entry with it.

use async_trait::async_trait;
use sqlx::SqliteConnection;

use super::{Edge, Error, Result, SqliteStorage, from_ms, ms, parse_enum, rows_in_one};
use leadgate_storage::{LeadEvent, LeadHistory, NewLeadEvent, parse_detail};

/// Records `event` on `conn`, inside the caller's transaction (the one that makes the change it records).
/// Returns the entry's id.
pub(crate) async fn record(conn: &mut SqliteConnection, event: &NewLeadEvent) -> Result<i64> {
    let id = sqlx::query_scalar(
        "INSERT INTO lead_events (lead_id, at, actor_id, kind, detail)
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(event.lead_id)
    .bind(ms(event.at))
    .bind(event.actor_id)
    .bind(event.kind.as_str())
    .bind(event.detail_json())
    .fetch_one(&mut *conn)
    .await?;
    Ok(id)
}

/// A `lead_events` row, its columns in this order (read with [`rows_in_one`]).
#[derive(serde::Deserialize)]
struct EventRow {
    id: i64,
    lead_id: i64,
    at: i64,
    actor_id: Option<i64>,
    actor: Option<String>,
    kind: String,
    detail: String,
}

impl EventRow {
    fn into_event(self) -> Result<LeadEvent> {
        Ok(LeadEvent {
            id: self.id,
            lead_id: self.lead_id,
            at: from_ms(self.at)?,
            actor_id: self.actor_id,
            actor: self.actor,
            kind: parse_enum("lead_events.kind", &self.kind)?,
            detail: parse_detail(&self.detail).ok_or_else(|| {
                Error::Corrupt(format!("lead_events {}: detail is not an object", self.id))
            })?,
        })
    }
}

impl SqliteStorage {
    async fn record_lead_event_in(&self, event: &NewLeadEvent) -> Result<i64> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM leads WHERE id = $1")
            .bind(event.lead_id)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_none() {
            return Err(Error::NotFound {
                what: "lead",
                key: event.lead_id.to_string(),
            });
        }
        let id = record(&mut tx, event).await?;
        tx.commit().await?;
        Ok(id)
    }
}

#[async_trait]
impl LeadHistory for SqliteStorage {
    async fn lead_history(&self, lead_id: i64) -> leadgate_storage::Result<Vec<LeadEvent>> {
        let mut rows: Vec<EventRow> = rows_in_one(
            &self.pool,
            "SELECT e.id, e.lead_id, e.at, e.actor_id, u.login AS actor, e.kind, e.detail
             FROM lead_events e LEFT JOIN users u ON u.id = e.actor_id WHERE e.lead_id = $1",
            "id, lead_id, at, actor_id, actor, kind, detail",
            lead_id,
            "a lead's history",
        )
        .await
        .edge()?;
        rows.sort_unstable_by_key(|row| row.id);
        rows.into_iter()
            .map(EventRow::into_event)
            .collect::<Result<Vec<_>>>()
            .edge()
    }

    async fn record_lead_event(&self, event: &NewLeadEvent) -> leadgate_storage::Result<i64> {
        self.record_lead_event_in(event).await.edge()
    }
}
