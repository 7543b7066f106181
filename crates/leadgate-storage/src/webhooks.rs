//! Signed outbound webhooks: their configuration, the outbox of deliveries and the delivery log.
//!
//! A webhook belongs to a calendar. The backend writes an event and one delivery per webhook of the lead's
//! calendar in the same transaction as the new lead (every path that inserts leads) or its changed status,
//! so a crash between the commit and the delivery loses nothing. The dispatcher claims due deliveries,
//! sends them and records each attempt: delivered, failed with the time of the next attempt, or failed for
//! good (a dead letter), which an administrator can redeliver.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{Page, PageRequest, Result, Sealed};

/// What an event announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookEventType {
    /// A new lead.
    LeadCreated,
    /// A lead's status changed.
    LeadStatusChanged,
}

impl WebhookEventType {
    /// The stored and sent name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LeadCreated => "lead.created",
            Self::LeadStatusChanged => "lead.status_changed",
        }
    }
}

impl std::str::FromStr for WebhookEventType {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "lead.created" => Ok(Self::LeadCreated),
            "lead.status_changed" => Ok(Self::LeadStatusChanged),
            other => Err(format!("unknown webhook event type {other:?}")),
        }
    }
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    /// Not delivered yet: the first attempt is due, or a retry.
    Pending,
    /// The receiver answered 2xx.
    Delivered,
    /// Given up on after the retry window: a dead letter, until redelivered.
    Dead,
}

impl DeliveryState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Dead => "dead",
        }
    }
}

impl std::str::FromStr for DeliveryState {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "pending" => Ok(Self::Pending),
            "delivered" => Ok(Self::Delivered),
            "dead" => Ok(Self::Dead),
            other => Err(format!("unknown delivery state {other:?}")),
        }
    }
}

/// A webhook to create. The URL has been checked by the caller; the secret is sealed for
/// [`webhook_secret_owner`] of the URL.
#[derive(Debug, Clone)]
pub struct NewWebhook {
    /// The calendar whose leads it announces.
    pub calendar_id: i64,
    /// Where deliveries are posted.
    pub url: String,
    /// The signing secret, sealed.
    pub secret: Sealed,
}

/// What a webhook's sealed secret is bound to.
pub fn webhook_secret_owner(url: &str) -> String {
    format!("webhook {url}")
}

/// A webhook as listed.
#[derive(Debug, Clone)]
pub struct WebhookRecord {
    /// Id.
    pub id: i64,
    /// Its calendar.
    pub calendar_id: i64,
    /// The calendar's name.
    pub calendar: String,
    /// Where deliveries are posted.
    pub url: String,
    /// Whether new events are queued for it.
    pub enabled: bool,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// Deliveries not delivered yet.
    pub pending: u64,
    /// Dead letters.
    pub dead: u64,
}

/// A delivery the dispatcher has claimed, with all it needs to send it.
#[derive(Debug, Clone)]
pub struct WebhookJob {
    /// The delivery.
    pub id: i64,
    /// Its webhook.
    pub webhook_id: i64,
    /// Where to post.
    pub url: String,
    /// The signing secret, sealed for [`webhook_secret_owner`] of `url`.
    pub secret: Sealed,
    /// The event: its id (the same for every webhook it goes to), type, lead and time.
    pub event_id: i64,
    /// What it announces.
    pub event_type: WebhookEventType,
    /// The lead.
    pub lead_id: i64,
    /// When the event happened.
    pub event_at: DateTime<Utc>,
    /// Attempts so far, this one included.
    pub attempts: u32,
    /// Retries stop a configured time after this.
    pub retry_since: DateTime<Utc>,
}

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// Delivered.
    Delivered,
    /// Failed; tried again at this time.
    RetryAt(DateTime<Utc>),
    /// Failed for good: a dead letter.
    Dead,
}

/// One attempt, to record.
#[derive(Debug, Clone)]
pub struct DeliveryAttempt {
    /// When it ended.
    pub at: DateTime<Utc>,
    /// The receiver's HTTP status, if it answered.
    pub status: Option<u16>,
    /// The start of its answer, or why there was none.
    pub answer: String,
    /// What happens next.
    pub outcome: AttemptOutcome,
}

/// A line of a webhook's delivery log.
#[derive(Debug, Clone)]
pub struct DeliveryView {
    /// The delivery.
    pub id: i64,
    /// Its webhook.
    pub webhook_id: i64,
    /// The event.
    pub event_id: i64,
    /// What it announces.
    pub event_type: WebhookEventType,
    /// The lead.
    pub lead_id: i64,
    /// Where it stands.
    pub state: DeliveryState,
    /// Attempts so far.
    pub attempts: u32,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
    /// The last attempt's end.
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// The last attempt's HTTP status.
    pub last_status: Option<u16>,
    /// The last attempt's answer, or why there was none.
    pub last_answer: Option<String>,
    /// The next attempt, while pending.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// When it was delivered.
    pub delivered_at: Option<DateTime<Utc>>,
}

/// Webhooks: configuration, outbox and log.
#[async_trait]
pub trait Webhooks: Send + Sync {
    /// Creates a webhook; returns its id. `NotFound` for an unknown calendar.
    async fn create_webhook(&self, webhook: &NewWebhook) -> Result<i64>;

    /// Every webhook, oldest first.
    async fn webhooks(&self) -> Result<Vec<WebhookRecord>>;

    /// One webhook.
    async fn webhook(&self, id: i64) -> Result<Option<WebhookRecord>>;

    /// Deletes a webhook with its deliveries; `false` when there is none.
    async fn delete_webhook(&self, id: i64) -> Result<bool>;

    /// Claims up to `limit` pending deliveries due at `now`, counting an attempt for each and holding them
    /// until `now + lease` (a dispatcher that dies mid-attempt lets them become due again then).
    async fn claim_webhook_deliveries(
        &self,
        now: DateTime<Utc>,
        lease: std::time::Duration,
        limit: u32,
    ) -> Result<Vec<WebhookJob>>;

    /// Records how a claimed attempt ended.
    async fn record_webhook_attempt(
        &self,
        delivery_id: i64,
        attempt: &DeliveryAttempt,
    ) -> Result<()>;

    /// A webhook's deliveries, newest first.
    async fn webhook_deliveries(
        &self,
        webhook_id: i64,
        page: PageRequest,
    ) -> Result<Page<DeliveryView>>;

    /// The deliveries of every event of a lead, oldest first (its timeline).
    async fn webhook_deliveries_of_lead(&self, lead_id: i64) -> Result<Vec<DeliveryView>>;

    /// One delivery.
    async fn webhook_delivery(&self, id: i64) -> Result<Option<DeliveryView>>;

    /// Queues a delivery again (a dead letter, or a delivered one sent once more): pending, due at `now`,
    /// with a fresh retry window. `false` when there is no such delivery or it is pending already (an
    /// attempt may be under way: it is not started twice).
    async fn redeliver_webhook_delivery(&self, id: i64, now: DateTime<Utc>) -> Result<bool>;
}
