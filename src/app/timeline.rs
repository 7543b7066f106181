//! A lead's timeline, as the lead page and the API show it: everything that happened to the lead, oldest
//! first, each entry with who (a login, or nobody for leadgate itself) and when.
//!
//! The timeline is put together here from several sources, each a function that turns what storage keeps into
//! [`TimelineEntry`]s: the lead itself (its arrival: channel, source, raw message), its history (every change
//! recorded with the change, see [`leadgate_storage::LeadHistory`]) and the webhooks' deliveries announcing
//! it. A new source is one more function and one more line in [`timeline`]; the entries are merged by time,
//! entries of one time keeping the order of their sources.

use chrono::{DateTime, Utc};
use leadgate_domain::lead::LeadEventKind;
use leadgate_storage::{DeliveryView, FieldChange, LeadEvent, LeadView, Storage, StorageError};

/// One entry of a lead's timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineEntry {
    /// When it happened.
    pub at: DateTime<Utc>,
    /// What happened.
    pub kind: LeadEventKind,
    /// Who did it: a login; `None` for leadgate itself.
    pub actor: Option<String>,
    /// Values that changed, old and new.
    pub changes: Vec<FieldChange>,
    /// Everything else the entry says, as `(key, value)` text pairs in a fixed order.
    pub details: Vec<(String, String)>,
    /// Where the raw message of a `received` entry is downloaded (administrators only).
    pub raw_url: Option<String>,
}

/// Who is looking, for what the timeline may show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// The web UI; `admin` sees the link to the raw message in the ledger.
    Web {
        /// An administrator.
        admin: bool,
    },
    /// The API; `admin` gets the ledger's raw message URL.
    Api {
        /// An administrator's token.
        admin: bool,
    },
}

impl Audience {
    fn is_admin(self) -> bool {
        matches!(
            self,
            Audience::Web { admin: true } | Audience::Api { admin: true }
        )
    }
}

/// The lead's timeline, oldest first, given the ledger message the lead came from (`message_of_lead`, which
/// the lead page reads for itself too). The caller has checked that the viewer may see the lead.
///
/// # Errors
/// Storage errors.
pub async fn timeline(
    storage: &dyn Storage,
    lead: &LeadView,
    message: Option<i64>,
    audience: Audience,
) -> Result<Vec<TimelineEntry>, StorageError> {
    // The original is linked while its bytes are kept (an erasure removes them).
    let kept = match message {
        Some(m) if audience.is_admin() => storage
            .message(m)
            .await?
            .filter(|view| view.has_raw)
            .map(|view| view.id),
        _ => None,
    };
    let mut entries = vec![received(lead, kept, audience)];
    entries.extend(storage.lead_history(lead.id).await?.iter().map(history));
    entries.extend(
        storage
            .webhook_deliveries_of_lead(lead.id)
            .await?
            .iter()
            .map(webhook_delivery),
    );
    // Stable: entries of the same time keep the order of their sources (the arrival first).
    entries.sort_by_key(|e| e.at);
    Ok(entries)
}

/// The arrival, from the lead itself.
fn received(lead: &LeadView, message: Option<i64>, audience: Audience) -> TimelineEntry {
    let mut details = vec![(
        "channel".to_owned(),
        lead.source.channel.as_str().to_owned(),
    )];
    if let Some(source) = lead
        .source
        .collector
        .as_ref()
        .or(lead.source.http_source.as_ref())
    {
        details.push(("source".to_owned(), source.clone()));
    }
    if let Some(number) = &lead.source.external_number {
        details.push(("external_number".to_owned(), number.clone()));
    }
    if let Some(id) = &lead.source.message_id {
        details.push(("message_id".to_owned(), id.clone()));
    }
    let raw_url = match (audience, message) {
        (Audience::Web { admin: true }, Some(m)) => Some(format!("/quarantine/{m}/raw")),
        (Audience::Api { admin: true }, Some(m)) => Some(format!("/api/v1/messages/{m}/raw")),
        _ => None,
    };
    TimelineEntry {
        at: lead.received_at,
        kind: LeadEventKind::Received,
        actor: None,
        changes: Vec::new(),
        details,
        raw_url,
    }
}

/// A recorded change.
fn history(event: &LeadEvent) -> TimelineEntry {
    TimelineEntry {
        at: event.at,
        kind: event.kind,
        actor: event.actor.clone(),
        changes: event.changes(),
        details: event.notes(),
        raw_url: None,
    }
}

/// A webhook delivery announcing the lead: when it was last tried (or queued), and how it stands.
fn webhook_delivery(d: &DeliveryView) -> TimelineEntry {
    let mut details = vec![
        ("event".to_owned(), d.event_type.as_str().to_owned()),
        ("webhook".to_owned(), d.webhook_id.to_string()),
        ("state".to_owned(), d.state.as_str().to_owned()),
        ("attempts".to_owned(), d.attempts.to_string()),
    ];
    if let Some(status) = d.last_status {
        details.push(("http_status".to_owned(), status.to_string()));
    }
    TimelineEntry {
        at: d.delivered_at.or(d.last_attempt_at).unwrap_or(d.created_at),
        kind: LeadEventKind::WebhookDelivery,
        actor: None,
        changes: Vec::new(),
        details,
        raw_url: None,
    }
}
