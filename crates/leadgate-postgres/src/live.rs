//! The PostgreSQL side of [`LiveLeads`], and the relay between instances: `NOTIFY` on one channel, and a
//! listener per instance on a connection of its own.
//!
//! A notification's payload is JSON with the announcing instance and the leads' ids and changes, never a
//! lead's data: `{"origin": "…", "leads": [[42, "new"], [43, "updated"]]}`, a bounded number of leads per
//! payload (PostgreSQL takes up to 8,000 bytes). The listener's connection is outside the pool (a pool of
//! one connection still serves queries) and named `leadgate live` in `pg_stat_activity`. When the
//! connection is lost, the next wait connects again, listens again and says so.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};

use super::{Edge, Error, PgStorage, PoolSettings, summaries};
use leadgate_storage::{Heard, LeadChange, LeadListener, LeadNote, LeadSummary, LiveLeads, Result};

/// The channel every instance notifies and listens on.
const CHANNEL: &str = "leadgate_leads";

/// The listener connection's `application_name`.
const LISTENER_NAME: &str = "leadgate live";

/// Leads per notification: a payload stays far below PostgreSQL's 8,000 bytes.
const LEADS_PER_PAYLOAD: usize = 100;

/// A notification's payload.
#[derive(Debug, Serialize, Deserialize)]
struct Payload {
    origin: String,
    leads: Vec<(i64, String)>,
}

fn payloads(notes: &[LeadNote]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for same_origin in notes.chunk_by(|a, b| a.origin == b.origin) {
        for chunk in same_origin.chunks(LEADS_PER_PAYLOAD) {
            let payload = Payload {
                origin: chunk[0].origin.clone(),
                leads: chunk
                    .iter()
                    .map(|n| (n.lead_id, n.change.encode()))
                    .collect(),
            };
            out.push(super::json_text(&payload).edge()?);
        }
    }
    Ok(out)
}

fn notes_of(payload: &str) -> Option<Vec<LeadNote>> {
    let payload: Payload = serde_json::from_str(payload).ok()?;
    payload
        .leads
        .into_iter()
        .map(|(lead_id, change)| {
            Some(LeadNote {
                origin: payload.origin.clone(),
                lead_id,
                change: LeadChange::parse(&change)?,
            })
        })
        .collect()
}

#[async_trait]
impl LiveLeads for PgStorage {
    async fn lead_summary(&self, id: i64) -> Result<Option<LeadSummary>> {
        Ok(summaries::summary(&self.pool, id).await?)
    }

    async fn lead_summaries(&self, ids: &[i64]) -> Result<Vec<LeadSummary>> {
        Ok(summaries::summaries_by_id(&self.pool, ids).await?)
    }

    fn lead_listener(&self) -> Option<Box<dyn LeadListener>> {
        Some(Box::new(PgLeadListener {
            options: self.options.clone(),
            pool_settings: self.pool_settings,
            pool: None,
            listener: None,
            listened_before: false,
        }))
    }

    async fn relay_leads(&self, notes: &[LeadNote]) -> Result<()> {
        if notes.is_empty() {
            return Ok(());
        }
        sqlx::query("SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p")
            .bind(CHANNEL)
            .bind(payloads(notes)?)
            .execute(&self.pool)
            .await
            .edge()?;
        Ok(())
    }
}

/// One instance's listener.
struct PgLeadListener {
    options: PgConnectOptions,
    pool_settings: PoolSettings,
    /// A pool of one connection, the listener's own, made on the first wait.
    pool: Option<PgPool>,
    listener: Option<PgListener>,
    /// Whether it listened before: the next connection follows a lost one.
    listened_before: bool,
}

impl PgLeadListener {
    async fn connect(&mut self) -> Result<bool> {
        let pool = self.pool.get_or_insert_with(|| {
            PgPoolOptions::new()
                .max_connections(1)
                .min_connections(0)
                .acquire_timeout(self.pool_settings.acquire_timeout)
                .connect_lazy_with(self.options.clone().application_name(LISTENER_NAME))
        });
        let mut listener = PgListener::connect_with(pool).await.edge()?;
        // A lost connection ends the wait, and the next one connects here, so that it is reported.
        listener.eager_reconnect(false);
        listener.listen(CHANNEL).await.edge()?;
        self.listener = Some(listener);
        let again = self.listened_before;
        self.listened_before = true;
        Ok(again)
    }
}

#[async_trait]
impl LeadListener for PgLeadListener {
    async fn next(&mut self) -> Result<Heard> {
        loop {
            let listener = match self.listener.as_mut() {
                Some(listener) => listener,
                None => {
                    if self.connect().await? {
                        tracing::info!("the live relay listens again after a lost connection");
                        return Ok(Heard::Reconnected);
                    }
                    continue;
                }
            };
            let first = match listener.try_recv().await {
                Ok(Some(notification)) => notification,
                Ok(None) => {
                    self.listener = None;
                    continue;
                }
                Err(e) => {
                    self.listener = None;
                    return Err(Error::from(e)).edge();
                }
            };
            let mut notes = Vec::new();
            let mut bad = 0_usize;
            for notification in
                std::iter::once(first).chain(std::iter::from_fn(|| listener.next_buffered()))
            {
                match notes_of(notification.payload()) {
                    Some(heard) => notes.extend(heard),
                    None => bad += 1,
                }
            }
            if bad > 0 {
                tracing::warn!(
                    count = bad,
                    channel = CHANNEL,
                    "notifications that are not leadgate's are ignored"
                );
            }
            if !notes.is_empty() {
                return Ok(Heard::Notes(notes));
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn note(origin: &str, lead_id: i64, change: LeadChange) -> LeadNote {
        LeadNote {
            origin: origin.into(),
            lead_id,
            change,
        }
    }

    #[test]
    fn notes_travel_as_ids_and_changes_in_payloads_of_bounded_size() {
        let mut notes: Vec<LeadNote> = (0..250).map(|i| note("a1", i, LeadChange::New)).collect();
        notes.push(note("b2", 7, LeadChange::Updated));
        notes.push(note("b2", 8, LeadChange::Moved { from: 3 }));
        let payloads = payloads(&notes).unwrap();
        assert_eq!(payloads.len(), 4);
        assert!(payloads.iter().all(|p| p.len() < 8000));
        let heard: Vec<LeadNote> = payloads.iter().flat_map(|p| notes_of(p).unwrap()).collect();
        assert_eq!(heard, notes);
        assert_eq!(
            payloads[3],
            r#"{"origin":"b2","leads":[[7,"updated"],[8,"moved:3"]]}"#
        );
        assert_eq!(notes_of("not json"), None);
        assert_eq!(notes_of(r#"{"origin":"x","leads":[[1,"gone"]]}"#), None);
    }
}
