//! What the live pages read: one lead as the lists show it, right after the commit that announced it; and the
//! relay that carries those announcements to the other instances on the same database.
//!
//! A relay note names a lead and what happened to it, and the instance that says so: ids only, never the
//! lead's data (each instance reads the lead itself, so what crosses the database's notification channel
//! holds no personal data). A backend that serves one process (SQLite) has no one to tell: it relays nothing
//! and has no listener.

use async_trait::async_trait;

use super::{LeadSummary, Result};

/// What happened to a lead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeadChange {
    /// It was filed.
    New,
    /// It was changed (status, assignee, contact, counterparty…).
    Updated,
    /// It was moved to its calendar from the calendar `from`.
    Moved {
        /// The calendar it left.
        from: i64,
    },
}

impl LeadChange {
    /// `new`, `updated` or `moved`, as the stream sends it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Updated => "updated",
            Self::Moved { .. } => "moved",
        }
    }

    /// The change as a relay note carries it: its name, and for a move the calendar it left (`moved:7`).
    pub fn encode(self) -> String {
        match self {
            Self::Moved { from } => format!("moved:{from}"),
            other => other.as_str().to_owned(),
        }
    }

    /// The change `encode` wrote, or `None`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "new" => Some(Self::New),
            "updated" => Some(Self::Updated),
            _ => text
                .strip_prefix("moved:")
                .and_then(|from| from.parse().ok())
                .map(|from| Self::Moved { from }),
        }
    }
}

/// One announcement relayed between instances: which instance committed what change to which lead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeadNote {
    /// The announcing instance (its own notes come back to it, and it has published them already).
    pub origin: String,
    /// The lead.
    pub lead_id: i64,
    /// What happened.
    pub change: LeadChange,
}

/// What a relay listener hears next.
#[derive(Debug, PartialEq, Eq)]
pub enum Heard {
    /// Notes of committed changes, from any instance (this one's included).
    Notes(Vec<LeadNote>),
    /// The connection was lost and is listening again: what was said in between was not heard.
    Reconnected,
}

/// Hears the notes of every instance on the database.
#[async_trait]
pub trait LeadListener: Send {
    /// Waits for the next notes. It connects when it is not connected, and after a lost connection it
    /// listens again and says [`Heard::Reconnected`].
    ///
    /// # Errors
    /// The database cannot be reached (call again later: it connects again).
    async fn next(&mut self) -> Result<Heard>;
}

/// The live pages' read of a lead, and the relay between instances.
#[async_trait]
pub trait LiveLeads: Send + Sync {
    /// The lead with this id as the inbox and the calendar show it, or `None` when there is none.
    ///
    /// # Errors
    /// Database errors or a corrupt row.
    async fn lead_summary(&self, id: i64) -> Result<Option<LeadSummary>>;

    /// The leads with these ids that exist, each as [`LiveLeads::lead_summary`] reads it, in one query and in
    /// no particular order: what the live pages read for a group of committed leads.
    ///
    /// # Errors
    /// Database errors or a corrupt row.
    async fn lead_summaries(&self, ids: &[i64]) -> Result<Vec<LeadSummary>>;

    /// A listener of the notes every instance on this database relays, or `None` when the backend serves
    /// one process only (then there is nothing to relay). It connects on its first [`LeadListener::next`].
    fn lead_listener(&self) -> Option<Box<dyn LeadListener>>;

    /// Tells every instance listening on this database of committed changes (this one's own listener
    /// hears them too). Does nothing where [`LiveLeads::lead_listener`] is `None`.
    ///
    /// # Errors
    /// Database errors.
    async fn relay_leads(&self, notes: &[LeadNote]) -> Result<()>;
}
