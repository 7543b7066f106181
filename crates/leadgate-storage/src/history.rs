//! A lead's history: who did what to it, and when.
//!
//! Every change a manager or leadgate makes to a lead after it was filed leaves one entry in the history,
//! written in the SAME transaction as the change, so the history never claims a change that was rolled back
//! nor misses one that was committed. The lead's arrival is not stored: the timeline derives it from the lead
//! itself, so the intake's hot path writes nothing more.
//!
//! # Recording an entry with a change
//!
//! A storage method that changes a lead (a status, an assignee, an edit, order lines, a tech card, a comment,
//! a follow-up, a duplicate mark) records its entry itself, inside its own transaction: each backend has a
//! crate-visible `history::record(conn, &NewLeadEvent)` that inserts the entry on the transaction's
//! connection, for example on SQLite
//!
//! ```ignore
//! let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
//! // ... the change itself ...
//! super::history::record(&mut tx, &NewLeadEvent::new(lead_id, by, LeadEventKind::Edited)
//!     .with_change("phone", old_phone, new_phone)).await?;
//! tx.commit().await?;
//! ```
//!
//! The acting user (`by`, `None` for leadgate itself) comes from the caller, like [`LeadPatch::by`]. A change
//! that changes nothing records nothing. [`LeadHistory::record_lead_event`] is for the few entries the
//! application records on its own, with no change of its own in storage to go with them.
//!
//! # Detail
//!
//! `detail` is a JSON object. A change of values is `{"changes": [{"field": "phone", "old": "…", "new":
//! "…"}]}` (built with [`NewLeadEvent::with_change`]; `null` for a value that was or becomes empty); anything
//! else a kind records goes beside it under its own key ([`NewLeadEvent::with`]): the tech cards' numbers,
//! the reprocessed message's id, a comment's id. The timeline shows the changes as old and new values and
//! the other keys as they are, so a new kind needs no new rendering.
//!
//! Personal data erasure clears the detail of an erased lead's entries, since edits keep old contact details.
//!
//! [`LeadPatch::by`]: crate::LeadPatch::by

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use leadgate_domain::lead::LeadEventKind;
use serde_json::{Map, Value};

use super::Result;

/// An entry to record.
#[derive(Debug, Clone, PartialEq)]
pub struct NewLeadEvent {
    /// The lead.
    pub lead_id: i64,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// The user who acted; `None` for leadgate itself.
    pub actor_id: Option<i64>,
    /// What happened.
    pub kind: LeadEventKind,
    /// What changed: a JSON object (see the module's docs).
    pub detail: Map<String, Value>,
}

impl NewLeadEvent {
    /// An entry of this kind, now, with an empty detail.
    pub fn new(lead_id: i64, actor_id: Option<i64>, kind: LeadEventKind) -> Self {
        Self {
            lead_id,
            at: Utc::now(),
            actor_id,
            kind,
            detail: Map::new(),
        }
    }

    /// Adds a change of `field` from `old` to `new` to `detail.changes`.
    #[must_use]
    pub fn with_change(mut self, field: &str, old: Option<&str>, new: Option<&str>) -> Self {
        let mut change = Map::new();
        change.insert("field".into(), Value::from(field));
        change.insert("old".into(), old.map_or(Value::Null, Value::from));
        change.insert("new".into(), new.map_or(Value::Null, Value::from));
        if let Value::Array(changes) = self
            .detail
            .entry("changes")
            .or_insert_with(|| Value::Array(Vec::new()))
        {
            changes.push(Value::Object(change));
        }
        self
    }

    /// Sets `detail[key]`.
    #[must_use]
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.detail.insert(key.into(), value.into());
        self
    }

    /// The detail as stored.
    pub fn detail_json(&self) -> String {
        Value::Object(self.detail.clone()).to_string()
    }
}

/// A change of one value, as an entry records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldChange {
    /// What changed (`status`, `assignee`, `calendar`, `phone`, ...).
    pub field: String,
    /// Before; `None` when empty.
    pub old: Option<String>,
    /// After; `None` when empty.
    pub new: Option<String>,
}

/// A recorded entry.
#[derive(Debug, Clone, PartialEq)]
pub struct LeadEvent {
    /// Id (entries of a lead are in id order).
    pub id: i64,
    /// The lead.
    pub lead_id: i64,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// The user who acted; `None` for leadgate itself (or a user deleted since).
    pub actor_id: Option<i64>,
    /// That user's login.
    pub actor: Option<String>,
    /// What happened.
    pub kind: LeadEventKind,
    /// What changed: a JSON object (see the module's docs).
    pub detail: Map<String, Value>,
}

impl LeadEvent {
    /// The changes of values in `detail.changes`, in order; values that are not text are shown as JSON.
    pub fn changes(&self) -> Vec<FieldChange> {
        let text = |v: Option<&Value>| match v {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => Some(other.to_string()),
        };
        let Some(Value::Array(changes)) = self.detail.get("changes") else {
            return Vec::new();
        };
        changes
            .iter()
            .filter_map(Value::as_object)
            .map(|c| FieldChange {
                field: text(c.get("field")).unwrap_or_default(),
                old: text(c.get("old")),
                new: text(c.get("new")),
            })
            .collect()
    }

    /// The detail's other keys (everything but `changes`), in key order, with their values as text.
    pub fn notes(&self) -> Vec<(String, String)> {
        self.detail
            .iter()
            .filter(|(k, _)| k.as_str() != "changes")
            .map(|(k, v)| {
                let value = match v {
                    Value::String(s) => s.clone(),
                    Value::Array(items) => items
                        .iter()
                        .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
                        .collect::<Vec<_>>()
                        .join(", "),
                    other => other.to_string(),
                };
                (k.clone(), value)
            })
            .collect()
    }
}

/// Reads a stored detail: a JSON object, or `None` when it is not one.
pub fn parse_detail(text: &str) -> Option<Map<String, Value>> {
    match serde_json::from_str(text) {
        Ok(Value::Object(map)) => Some(map),
        _ => None,
    }
}

/// A lead's history.
#[async_trait]
pub trait LeadHistory: Send + Sync {
    /// The entries of a lead, oldest first, each with its actor's login.
    ///
    /// # Errors
    /// Database errors or a corrupt row.
    async fn lead_history(&self, lead_id: i64) -> Result<Vec<LeadEvent>>;

    /// Records an entry the application makes on its own (one with no change in storage to go with it;
    /// a storage method that changes a lead records its entry in its own transaction instead, see the
    /// module's docs). Returns its id.
    ///
    /// # Errors
    /// `NotFound` for an unknown lead; database errors.
    async fn record_lead_event(&self, event: &NewLeadEvent) -> Result<i64>;
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn changes_and_notes_are_read_back_from_the_detail_as_built() {
        let new = NewLeadEvent::new(1, Some(2), LeadEventKind::Edited)
            .with_change("phone", Some("8 900"), Some("+7 900"))
            .with_change("email", None, Some("a@b.example"))
            .with("cards", vec!["1-1", "1-2"]);
        let event = LeadEvent {
            id: 1,
            lead_id: 1,
            at: new.at,
            actor_id: Some(2),
            actor: Some("anna".into()),
            kind: new.kind,
            detail: parse_detail(&new.detail_json()).unwrap(),
        };
        assert_eq!(
            event.changes(),
            vec![
                FieldChange {
                    field: "phone".into(),
                    old: Some("8 900".into()),
                    new: Some("+7 900".into())
                },
                FieldChange {
                    field: "email".into(),
                    old: None,
                    new: Some("a@b.example".into())
                },
            ]
        );
        assert_eq!(event.notes(), vec![("cards".into(), "1-1, 1-2".into())]);
        assert_eq!(parse_detail("[1]"), None);
    }
}
