//! The PostgreSQL side of [`LeadHistory`]: the `lead_events` table (migration 0007), and [`record`], which every
//! storage method that changes a lead calls inside its own transaction to write the change's entry with it.

use async_trait::async_trait;
use sqlx::PgConnection;

use super::{Edge, Error, PgStorage, Result, from_ms, ms, parse_enum};
use leadgate_storage::{LeadEvent, LeadHistory, NewLeadEvent, parse_detail};

/// Records `event` on `conn`, inside the caller's transaction (the one that makes the change it records).
/// Returns the entry's id.
pub(crate) async fn record(conn: &mut PgConnection, event: &NewLeadEvent) -> Result<i64> {
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

/// Records `events` as [`record`] does, in one statement (ids in the order given).
pub(crate) async fn record_all(conn: &mut PgConnection, events: &[NewLeadEvent]) -> Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO lead_events (lead_id, at, actor_id, kind, detail)
         SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::text[])",
    )
    .bind(events.iter().map(|e| e.lead_id).collect::<Vec<_>>())
    .bind(events.iter().map(|e| ms(e.at)).collect::<Vec<_>>())
    .bind(events.iter().map(|e| e.actor_id).collect::<Vec<_>>())
    .bind(events.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>())
    .bind(
        events
            .iter()
            .map(NewLeadEvent::detail_json)
            .collect::<Vec<_>>(),
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
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

impl PgStorage {
    async fn record_lead_event_in(&self, event: &NewLeadEvent) -> Result<i64> {
        let mut tx = self.pool.begin().await?;
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
impl LeadHistory for PgStorage {
    async fn lead_history(&self, lead_id: i64) -> leadgate_storage::Result<Vec<LeadEvent>> {
        let rows: Vec<EventRow> = sqlx::query_as(
            "SELECT e.id, e.lead_id, e.at, e.actor_id, u.login AS actor, e.kind, e.detail
             FROM lead_events e LEFT JOIN users u ON u.id = e.actor_id
             WHERE e.lead_id = $1 ORDER BY e.id",
        )
        .bind(lead_id)
        .fetch_all(&self.pool)
        .await
        .edge()?;
        rows.into_iter()
            .map(EventRow::into_event)
            .collect::<Result<Vec<_>>>()
            .edge()
    }

    async fn record_lead_event(&self, event: &NewLeadEvent) -> leadgate_storage::Result<i64> {
        self.record_lead_event_in(event).await.edge()
    }
}
