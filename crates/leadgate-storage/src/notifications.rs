//! E-mail notifications of new leads: who a calendar notifies, the outbox of notifications and each
//! recipient's pace.
//!
//! A calendar notifies its owner (at the owner's e-mail address, when the owner has one and is not
//! disabled) and/or a list of addresses. The backend writes a notification per (recipient, lead) in the same
//! transaction as the new lead, so a crash between the commit and the mail loses nothing. The sender claims
//! recipients whose next digest is due, mails each one digest of its pending notifications and records the
//! outcome: sent (the next digest waits the configured interval) or failed (tried again later, the error
//! kept for the administrator).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::Result;

/// Whom a calendar notifies of its new leads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CalendarNotifications {
    /// The calendar's owner, at the owner's e-mail address (a common calendar has no owner).
    pub notify_owner: bool,
    /// Further addresses, lower-cased, sorted.
    pub addresses: Vec<String>,
}

/// A recipient whose digest the sender has claimed.
#[derive(Debug, Clone)]
pub struct DigestJob {
    /// The recipient's address.
    pub address: String,
    /// The notifications the digest carries, oldest first: recording it as sent marks these.
    pub notification_ids: Vec<i64>,
    /// Their leads, in the same order.
    pub lead_ids: Vec<i64>,
    /// Failed attempts before this one.
    pub failures: u32,
}

/// How a digest ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DigestOutcome {
    /// The SMTP server accepted it; the next digest to this recipient waits until `next_at`.
    Sent {
        /// The earliest time of the next digest.
        next_at: DateTime<Utc>,
    },
    /// It was not accepted; tried again at `retry_at`.
    Failed {
        /// Why, for the administrator (no secret in it).
        error: String,
        /// The next attempt.
        retry_at: DateTime<Utc>,
    },
}

/// A recipient as the administrator sees it.
#[derive(Debug, Clone)]
pub struct RecipientView {
    /// The address.
    pub address: String,
    /// Notifications not sent yet.
    pub pending: u64,
    /// The last digest sent.
    pub last_sent_at: Option<DateTime<Utc>>,
    /// The last attempt.
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// The last attempt's error, while the recipient has failed since its last digest.
    pub last_error: Option<String>,
    /// Failed attempts since the last digest sent.
    pub failures: u32,
    /// The earliest time of the next digest.
    pub next_send_at: DateTime<Utc>,
}

/// E-mail notifications: recipients, outbox and pace.
#[async_trait]
pub trait Notifications: Send + Sync {
    /// Whom a calendar notifies. `NotFound` for an unknown calendar.
    async fn calendar_notifications(&self, calendar_id: i64) -> Result<CalendarNotifications>;

    /// Sets whom a calendar notifies (the addresses are kept lower-cased, without duplicates). `NotFound`
    /// for an unknown calendar.
    async fn set_calendar_notifications(
        &self,
        calendar_id: i64,
        notifications: &CalendarNotifications,
    ) -> Result<()>;

    /// A user's e-mail address. `NotFound` for an unknown user.
    async fn user_email(&self, user_id: i64) -> Result<Option<String>>;

    /// Sets or clears a user's e-mail address. `NotFound` for an unknown user.
    async fn set_user_email(&self, user_id: i64, email: Option<&str>) -> Result<()>;

    /// Claims up to `limit` recipients whose digest is due at `now` and who have pending notifications,
    /// with at most `max_leads` of them each, holding each recipient until `now + lease` (a sender that dies
    /// mid-digest lets it become due again then). Two instances never claim one recipient at once.
    async fn claim_notification_digests(
        &self,
        now: DateTime<Utc>,
        lease: std::time::Duration,
        limit: u32,
        max_leads: u32,
    ) -> Result<Vec<DigestJob>>;

    /// Records how a claimed digest ended (at `at`): sent marks its notifications.
    async fn record_notification_digest(
        &self,
        job: &DigestJob,
        at: DateTime<Utc>,
        outcome: &DigestOutcome,
    ) -> Result<()>;

    /// Every recipient that has been notified or is due to be, by address.
    async fn notification_recipients(&self) -> Result<Vec<RecipientView>>;
}
