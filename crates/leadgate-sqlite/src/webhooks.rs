//! The SQLite side of [`Webhooks`]: the `webhooks`, `webhook_events` and `webhook_deliveries` tables
//! (migration 0014), and [`queue_events`], which the write paths call inside their own transactions.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::SqliteConnection;

use super::{Edge, Error, SqliteStorage, count, from_ms, ms, page_of, parse_enum};
use leadgate_storage::{
    AttemptOutcome, DeliveryAttempt, DeliveryState, DeliveryView, NewWebhook, Page, PageRequest,
    Result, Sealed, WebhookEventType, WebhookJob, WebhookRecord, Webhooks,
};

/// Queues an event of `event` for every lead with an id in `first..=last` whose calendar has an enabled
/// webhook, and a delivery to each of those webhooks. Runs inside the caller's transaction, the one that
/// inserts the leads or changes their status; costs one indexed lookup when no webhook exists.
pub(super) async fn queue_events(
    conn: &mut SqliteConnection,
    event: WebhookEventType,
    first: i64,
    last: i64,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let any: Option<i64> =
        sqlx::query_scalar("SELECT id FROM webhooks WHERE enabled = TRUE LIMIT 1")
            .fetch_optional(&mut *conn)
            .await?;
    if any.is_none() {
        return Ok(());
    }
    let now = ms(now);
    let before: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM webhook_events")
        .fetch_one(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO webhook_events (type, lead_id, created_at)
         SELECT $1, l.id, $2 FROM leads l
         WHERE l.id BETWEEN $3 AND $4
           AND EXISTS (SELECT 1 FROM webhooks w WHERE w.calendar_id = l.calendar_id AND w.enabled = TRUE)
         ORDER BY l.id",
    )
    .bind(event.as_str())
    .bind(now)
    .bind(first)
    .bind(last)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO webhook_deliveries (webhook_id, event_id, next_attempt_at, retry_since, created_at)
         SELECT w.id, e.id, $1, $1, $1
         FROM webhook_events e
         JOIN leads l ON l.id = e.lead_id
         JOIN webhooks w ON w.calendar_id = l.calendar_id AND w.enabled = TRUE
         WHERE e.id > $2",
    )
    .bind(now)
    .bind(before)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct WebhookRow {
    id: i64,
    calendar_id: i64,
    calendar: String,
    url: String,
    enabled: bool,
    created_at: i64,
    pending: i64,
    dead: i64,
}

impl WebhookRow {
    fn into_record(self) -> Result<WebhookRecord, Error> {
        Ok(WebhookRecord {
            id: self.id,
            calendar_id: self.calendar_id,
            calendar: self.calendar,
            url: self.url,
            enabled: self.enabled,
            created_at: from_ms(self.created_at)?,
            pending: count(self.pending),
            dead: count(self.dead),
        })
    }
}

const WEBHOOK_SELECT: &str = "SELECT w.id, w.calendar_id, c.name AS calendar, w.url, w.enabled, w.created_at,
        (SELECT COUNT(*) FROM webhook_deliveries d WHERE d.webhook_id = w.id AND d.state = 'pending') AS pending,
        (SELECT COUNT(*) FROM webhook_deliveries d WHERE d.webhook_id = w.id AND d.state = 'dead') AS dead
     FROM webhooks w JOIN calendars c ON c.id = w.calendar_id";

#[derive(sqlx::FromRow)]
struct JobRow {
    id: i64,
    webhook_id: i64,
    url: String,
    secret_nonce: Vec<u8>,
    secret_ciphertext: Vec<u8>,
    event_id: i64,
    event_type: String,
    lead_id: i64,
    event_at: i64,
    attempts: i64,
    retry_since: i64,
}

#[derive(sqlx::FromRow)]
struct DeliveryRow {
    id: i64,
    webhook_id: i64,
    event_id: i64,
    event_type: String,
    lead_id: i64,
    state: String,
    attempts: i64,
    created_at: i64,
    last_attempt_at: Option<i64>,
    last_status: Option<i64>,
    last_answer: Option<String>,
    next_attempt_at: i64,
    delivered_at: Option<i64>,
}

impl DeliveryRow {
    fn into_view(self) -> Result<DeliveryView, Error> {
        let state: DeliveryState = parse_enum("webhook_deliveries.state", &self.state)?;
        Ok(DeliveryView {
            id: self.id,
            webhook_id: self.webhook_id,
            event_id: self.event_id,
            event_type: parse_enum("webhook_events.type", &self.event_type)?,
            lead_id: self.lead_id,
            state,
            attempts: u32::try_from(self.attempts).unwrap_or(u32::MAX),
            created_at: from_ms(self.created_at)?,
            last_attempt_at: self.last_attempt_at.map(from_ms).transpose()?,
            last_status: self.last_status.and_then(|s| u16::try_from(s).ok()),
            last_answer: self.last_answer,
            next_attempt_at: match state {
                DeliveryState::Pending => Some(from_ms(self.next_attempt_at)?),
                _ => None,
            },
            delivered_at: self.delivered_at.map(from_ms).transpose()?,
        })
    }
}

const DELIVERY_SELECT: &str = "SELECT d.id, d.webhook_id, d.event_id, e.type AS event_type, e.lead_id, d.state,
        d.attempts, d.created_at, d.last_attempt_at, d.last_status, d.last_answer, d.next_attempt_at,
        d.delivered_at
     FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id";

#[async_trait]
impl Webhooks for SqliteStorage {
    async fn create_webhook(&self, webhook: &NewWebhook) -> Result<i64> {
        let calendar: Option<i64> = sqlx::query_scalar("SELECT id FROM calendars WHERE id = $1")
            .bind(webhook.calendar_id)
            .fetch_optional(&self.pool)
            .await
            .edge()?;
        if calendar.is_none() {
            return Err(Error::NotFound {
                what: "calendar",
                key: webhook.calendar_id.to_string(),
            })
            .edge();
        }
        sqlx::query_scalar(
            "INSERT INTO webhooks (calendar_id, url, secret_nonce, secret_ciphertext, created_at)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(webhook.calendar_id)
        .bind(&webhook.url)
        .bind(&webhook.secret.nonce)
        .bind(&webhook.secret.ciphertext)
        .bind(ms(Utc::now()))
        .fetch_one(&self.writer)
        .await
        .edge()
    }

    async fn webhooks(&self) -> Result<Vec<WebhookRecord>> {
        let sql = format!("{WEBHOOK_SELECT} ORDER BY w.id");
        let rows: Vec<WebhookRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await
            .edge()?;
        rows.into_iter()
            .map(WebhookRow::into_record)
            .collect::<Result<_, _>>()
            .edge()
    }

    async fn webhook(&self, id: i64) -> Result<Option<WebhookRecord>> {
        let sql = format!("{WEBHOOK_SELECT} WHERE w.id = $1");
        let row: Option<WebhookRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .edge()?;
        row.map(WebhookRow::into_record).transpose().edge()
    }

    async fn delete_webhook(&self, id: i64) -> Result<bool> {
        let done = sqlx::query("DELETE FROM webhooks WHERE id = $1")
            .bind(id)
            .execute(&self.writer)
            .await
            .edge()?;
        Ok(done.rows_affected() > 0)
    }

    async fn claim_webhook_deliveries(
        &self,
        now: DateTime<Utc>,
        lease: std::time::Duration,
        limit: u32,
    ) -> Result<Vec<WebhookJob>> {
        let lease = chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::hours(1));
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await.edge()?;
        let claimed: Vec<i64> = sqlx::query_scalar(
            "UPDATE webhook_deliveries SET attempts = attempts + 1, next_attempt_at = $1
             WHERE id IN (SELECT id FROM webhook_deliveries
                          WHERE state = 'pending' AND next_attempt_at <= $2
                          ORDER BY next_attempt_at, id LIMIT $3)
             RETURNING id",
        )
        .bind(ms(now + lease))
        .bind(ms(now))
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await
        .edge()?;
        let mut jobs = Vec::with_capacity(claimed.len());
        for id in claimed {
            let row: JobRow = sqlx::query_as(
                "SELECT d.id, d.webhook_id, w.url, w.secret_nonce, w.secret_ciphertext, d.event_id,
                        e.type AS event_type, e.lead_id, e.created_at AS event_at, d.attempts, d.retry_since
                 FROM webhook_deliveries d
                 JOIN webhooks w ON w.id = d.webhook_id
                 JOIN webhook_events e ON e.id = d.event_id
                 WHERE d.id = $1",
            )
            .bind(id)
            .fetch_one(&mut *tx)
            .await
            .edge()?;
            jobs.push(WebhookJob {
                id: row.id,
                webhook_id: row.webhook_id,
                url: row.url,
                secret: Sealed {
                    nonce: row.secret_nonce,
                    ciphertext: row.secret_ciphertext,
                },
                event_id: row.event_id,
                event_type: parse_enum("webhook_events.type", &row.event_type).edge()?,
                lead_id: row.lead_id,
                event_at: from_ms(row.event_at).edge()?,
                attempts: u32::try_from(row.attempts).unwrap_or(u32::MAX),
                retry_since: from_ms(row.retry_since).edge()?,
            });
        }
        tx.commit().await.edge()?;
        Ok(jobs)
    }

    async fn record_webhook_attempt(
        &self,
        delivery_id: i64,
        attempt: &DeliveryAttempt,
    ) -> Result<()> {
        let at = ms(attempt.at);
        let (state, next, delivered) = match attempt.outcome {
            AttemptOutcome::Delivered => ("delivered", 0, Some(at)),
            AttemptOutcome::RetryAt(t) => ("pending", ms(t), None),
            AttemptOutcome::Dead => ("dead", 0, None),
        };
        sqlx::query(
            "UPDATE webhook_deliveries SET state = $1, next_attempt_at = $2, delivered_at = $3,
                    last_attempt_at = $4, last_status = $5, last_answer = $6
             WHERE id = $7 AND state = 'pending'",
        )
        .bind(state)
        .bind(next)
        .bind(delivered)
        .bind(at)
        .bind(attempt.status.map(i64::from))
        .bind(&attempt.answer)
        .bind(delivery_id)
        .execute(&self.writer)
        .await
        .edge()?;
        Ok(())
    }

    async fn webhook_deliveries_of_lead(&self, lead_id: i64) -> Result<Vec<DeliveryView>> {
        let sql = format!("{DELIVERY_SELECT} WHERE e.lead_id = $1 ORDER BY d.id");
        let rows: Vec<DeliveryRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(lead_id)
            .fetch_all(&self.pool)
            .await
            .edge()?;
        rows.into_iter()
            .map(DeliveryRow::into_view)
            .collect::<Result<Vec<_>, _>>()
            .edge()
    }

    async fn webhook_deliveries(
        &self,
        webhook_id: i64,
        page: PageRequest,
    ) -> Result<Page<DeliveryView>> {
        let sql = format!(
            "{DELIVERY_SELECT} WHERE d.webhook_id = $1 AND d.id < $2 ORDER BY d.id DESC LIMIT $3"
        );
        let rows: Vec<DeliveryRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(webhook_id)
            .bind(page.cursor.unwrap_or(i64::MAX))
            .bind(i64::from(page.limit) + 1)
            .fetch_all(&self.pool)
            .await
            .edge()?;
        let items = rows
            .into_iter()
            .map(DeliveryRow::into_view)
            .collect::<Result<Vec<_>, _>>()
            .edge()?;
        Ok(page_of(items, page.limit, |d| d.id))
    }

    async fn webhook_delivery(&self, id: i64) -> Result<Option<DeliveryView>> {
        let sql = format!("{DELIVERY_SELECT} WHERE d.id = $1");
        let row: Option<DeliveryRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .edge()?;
        row.map(DeliveryRow::into_view).transpose().edge()
    }

    async fn redeliver_webhook_delivery(&self, id: i64, now: DateTime<Utc>) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE webhook_deliveries SET state = 'pending', next_attempt_at = $1, retry_since = $1,
                    delivered_at = NULL
             WHERE id = $2 AND state <> 'pending'",
        )
        .bind(ms(now))
        .bind(id)
        .execute(&self.writer)
        .await
        .edge()?;
        Ok(done.rows_affected() > 0)
    }
}
