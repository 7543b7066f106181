//! The SQLite side of [`Notifications`]: `calendars.notify_owner`, `users.email` and the
//! `calendar_notify_addresses`, `lead_notifications` and `notification_recipients` tables (migration 0015),
//! and [`queue_notifications`], which the lead insert calls inside its own transaction.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::SqliteConnection;

use super::{Edge, Error, SqliteStorage, count, from_ms, ms};
use leadgate_storage::{
    CalendarNotifications, DigestJob, DigestOutcome, Notifications, RecipientView, Result,
};

/// Queues a notification per recipient for every lead with an id in `first..=last` whose calendar notifies
/// anyone, and makes each new recipient known to the sender. Runs inside the caller's transaction, the one
/// that inserts the leads; costs two indexed lookups when no calendar notifies anyone.
pub(super) async fn queue_notifications(
    conn: &mut SqliteConnection,
    first: i64,
    last: i64,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let any: Option<i64> = sqlx::query_scalar(
        "SELECT 1 WHERE EXISTS (SELECT 1 FROM calendar_notify_addresses)
                     OR EXISTS (SELECT 1 FROM calendars WHERE notify_owner = TRUE)",
    )
    .fetch_optional(&mut *conn)
    .await?;
    if any.is_none() {
        return Ok(());
    }
    let now = ms(now);
    let before: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM lead_notifications")
        .fetch_one(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO lead_notifications (address, lead_id, created_at)
         SELECT a.address, l.id, $1 FROM leads l
         JOIN calendar_notify_addresses a ON a.calendar_id = l.calendar_id
         WHERE l.id BETWEEN $2 AND $3
         UNION
         SELECT lower(u.email), l.id, $1 FROM leads l
         JOIN calendars c ON c.id = l.calendar_id
         JOIN users u ON u.id = c.owner_id
         WHERE c.notify_owner = TRUE AND u.email IS NOT NULL AND u.disabled_at IS NULL
           AND l.id BETWEEN $2 AND $3
         ON CONFLICT (address, lead_id) DO NOTHING",
    )
    .bind(now)
    .bind(first)
    .bind(last)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO notification_recipients (address, next_send_at)
         SELECT DISTINCT address, $1 FROM lead_notifications WHERE id > $2
         ON CONFLICT (address) DO NOTHING",
    )
    .bind(now)
    .bind(before)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct RecipientRow {
    address: String,
    pending: i64,
    last_sent_at: Option<i64>,
    last_attempt_at: Option<i64>,
    last_error: Option<String>,
    attempts: i64,
    next_send_at: i64,
}

fn not_found(what: &'static str, id: i64) -> Error {
    Error::NotFound {
        what,
        key: id.to_string(),
    }
}

#[async_trait]
impl Notifications for SqliteStorage {
    async fn calendar_notifications(&self, calendar_id: i64) -> Result<CalendarNotifications> {
        let notify_owner: Option<bool> =
            sqlx::query_scalar("SELECT notify_owner FROM calendars WHERE id = $1")
                .bind(calendar_id)
                .fetch_optional(&self.pool)
                .await
                .edge()?;
        let Some(notify_owner) = notify_owner else {
            return Err(not_found("calendar", calendar_id)).edge();
        };
        let addresses: Vec<String> = sqlx::query_scalar(
            "SELECT address FROM calendar_notify_addresses WHERE calendar_id = $1 ORDER BY address",
        )
        .bind(calendar_id)
        .fetch_all(&self.pool)
        .await
        .edge()?;
        Ok(CalendarNotifications {
            notify_owner,
            addresses,
        })
    }

    async fn set_calendar_notifications(
        &self,
        calendar_id: i64,
        notifications: &CalendarNotifications,
    ) -> Result<()> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await.edge()?;
        let updated = sqlx::query("UPDATE calendars SET notify_owner = $1 WHERE id = $2")
            .bind(notifications.notify_owner)
            .bind(calendar_id)
            .execute(&mut *tx)
            .await
            .edge()?;
        if updated.rows_affected() == 0 {
            return Err(not_found("calendar", calendar_id)).edge();
        }
        sqlx::query("DELETE FROM calendar_notify_addresses WHERE calendar_id = $1")
            .bind(calendar_id)
            .execute(&mut *tx)
            .await
            .edge()?;
        for address in &notifications.addresses {
            sqlx::query(
                "INSERT INTO calendar_notify_addresses (calendar_id, address) VALUES ($1, $2)
                 ON CONFLICT DO NOTHING",
            )
            .bind(calendar_id)
            .bind(address.trim().to_lowercase())
            .execute(&mut *tx)
            .await
            .edge()?;
        }
        tx.commit().await.edge()
    }

    async fn user_email(&self, user_id: i64) -> Result<Option<String>> {
        let row: Option<Option<String>> =
            sqlx::query_scalar("SELECT email FROM users WHERE id = $1")
                .bind(user_id)
                .fetch_optional(&self.pool)
                .await
                .edge()?;
        row.ok_or_else(|| not_found("user", user_id)).edge()
    }

    async fn set_user_email(&self, user_id: i64, email: Option<&str>) -> Result<()> {
        let updated = sqlx::query("UPDATE users SET email = $1 WHERE id = $2")
            .bind(email.map(|e| e.trim().to_lowercase()))
            .bind(user_id)
            .execute(&self.writer)
            .await
            .edge()?;
        if updated.rows_affected() == 0 {
            return Err(not_found("user", user_id)).edge();
        }
        Ok(())
    }

    async fn claim_notification_digests(
        &self,
        now: DateTime<Utc>,
        lease: std::time::Duration,
        limit: u32,
        max_leads: u32,
    ) -> Result<Vec<DigestJob>> {
        let lease = chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::hours(1));
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await.edge()?;
        let claimed: Vec<(String, i64)> = sqlx::query_as(
            "UPDATE notification_recipients SET next_send_at = $1
             WHERE address IN (
                 SELECT r.address FROM notification_recipients r
                 WHERE r.next_send_at <= $2
                   AND EXISTS (SELECT 1 FROM lead_notifications n
                               WHERE n.address = r.address AND n.sent_at IS NULL)
                 ORDER BY r.next_send_at, r.address LIMIT $3)
             RETURNING address, attempts",
        )
        .bind(ms(now + lease))
        .bind(ms(now))
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await
        .edge()?;
        let mut jobs = Vec::with_capacity(claimed.len());
        for (address, attempts) in claimed {
            let rows: Vec<(i64, i64)> = sqlx::query_as(
                "SELECT id, lead_id FROM lead_notifications
                 WHERE address = $1 AND sent_at IS NULL ORDER BY id LIMIT $2",
            )
            .bind(&address)
            .bind(i64::from(max_leads.max(1)))
            .fetch_all(&mut *tx)
            .await
            .edge()?;
            jobs.push(DigestJob {
                address,
                notification_ids: rows.iter().map(|r| r.0).collect(),
                lead_ids: rows.iter().map(|r| r.1).collect(),
                failures: u32::try_from(attempts).unwrap_or(u32::MAX),
            });
        }
        tx.commit().await.edge()?;
        Ok(jobs)
    }

    async fn record_notification_digest(
        &self,
        job: &DigestJob,
        at: DateTime<Utc>,
        outcome: &DigestOutcome,
    ) -> Result<()> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await.edge()?;
        match outcome {
            DigestOutcome::Sent { next_at } => {
                let ids = serde_json::to_string(&job.notification_ids)
                    .map_err(|e| Error::Corrupt(e.to_string()))
                    .edge()?;
                sqlx::query(
                    "UPDATE lead_notifications SET sent_at = $1
                     WHERE id IN (SELECT value FROM json_each($2)) AND sent_at IS NULL",
                )
                .bind(ms(at))
                .bind(ids)
                .execute(&mut *tx)
                .await
                .edge()?;
                sqlx::query(
                    "UPDATE notification_recipients SET next_send_at = $1, attempts = 0,
                            last_attempt_at = $2, last_sent_at = $2, last_error = NULL
                     WHERE address = $3",
                )
                .bind(ms(*next_at))
                .bind(ms(at))
                .bind(&job.address)
                .execute(&mut *tx)
                .await
                .edge()?;
            }
            DigestOutcome::Failed { error, retry_at } => {
                sqlx::query(
                    "UPDATE notification_recipients SET next_send_at = $1, attempts = attempts + 1,
                            last_attempt_at = $2, last_error = $3
                     WHERE address = $4",
                )
                .bind(ms(*retry_at))
                .bind(ms(at))
                .bind(error)
                .bind(&job.address)
                .execute(&mut *tx)
                .await
                .edge()?;
            }
        }
        tx.commit().await.edge()
    }

    async fn notification_recipients(&self) -> Result<Vec<RecipientView>> {
        let rows: Vec<RecipientRow> = sqlx::query_as(
            "SELECT r.address,
                    (SELECT COUNT(*) FROM lead_notifications n
                     WHERE n.address = r.address AND n.sent_at IS NULL) AS pending,
                    r.last_sent_at, r.last_attempt_at, r.last_error, r.attempts, r.next_send_at
             FROM notification_recipients r ORDER BY r.address",
        )
        .fetch_all(&self.pool)
        .await
        .edge()?;
        rows.into_iter()
            .map(|r| {
                Ok(RecipientView {
                    address: r.address,
                    pending: count(r.pending),
                    last_sent_at: r.last_sent_at.map(from_ms).transpose()?,
                    last_attempt_at: r.last_attempt_at.map(from_ms).transpose()?,
                    last_error: r.last_error,
                    failures: u32::try_from(r.attempts).unwrap_or(u32::MAX),
                    next_send_at: from_ms(r.next_send_at)?,
                })
            })
            .collect::<Result<Vec<_>, Error>>()
            .edge()
    }
}
