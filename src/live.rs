//! Live updates: new and changed leads, announced once by the code that commits them and fanned out to every
//! open inbox and calendar page (see [`crate::web::live`]).
//!
//! The places that commit leads (the intake writer, the lead update paths) call [`LiveHub::announce`] with the
//! lead's id, which never waits: a task of the hub reads the lead's summary once and publishes it. Each event
//! gets the next number of a monotonic sequence and is kept in a bounded ring of recent events, so a page
//! that reconnects with the id of the last event it saw (`Last-Event-ID`) receives exactly what it missed;
//! when that id has left the ring (or belongs to an earlier start of leadgate: ids carry the hub's epoch), the
//! page is told to reload its list instead.
//!
//! Across several instances on one database, a relay (PostgreSQL `LISTEN`/`NOTIFY`) would carry the
//! announcements: [`LiveHub::announce`] would `NOTIFY` the lead id and change, and each instance's listener
//! would call [`LiveHub::publish_from_store`] with what it hears, so every instance's pages get every event
//! in their own sequence.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;

use leadgate_storage::{LeadSummary, Storage};

/// How many recent events are kept for pages that reconnect.
pub const RING: usize = 1024;

/// What happened to a lead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
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

impl Change {
    /// `new` or `updated`, as the stream sends it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Updated => "updated",
            Self::Moved { .. } => "moved",
        }
    }
}

/// One published event.
#[derive(Debug)]
pub struct LeadEvent {
    /// Its number in this hub's sequence.
    pub seq: u64,
    /// What happened.
    pub change: Change,
    /// The lead as the lists show it, read after the commit.
    pub lead: LeadSummary,
}

/// Where a page resumes.
#[derive(Debug)]
pub struct Subscription {
    /// Events the page has not seen yet, oldest first.
    pub backlog: Vec<Arc<LeadEvent>>,
    /// Events from now on.
    pub receiver: broadcast::Receiver<Arc<LeadEvent>>,
    /// The page's last event is no longer known: it must reload its list.
    pub reload: bool,
}

struct Ring {
    next: u64,
    events: VecDeque<Arc<LeadEvent>>,
}

/// The in-process broadcast of lead events.
pub struct LiveHub {
    epoch: String,
    ring: Mutex<Ring>,
    sender: broadcast::Sender<Arc<LeadEvent>>,
    announcements: mpsc::UnboundedSender<(i64, Change)>,
    closed: CancellationToken,
}

impl std::fmt::Debug for LiveHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveHub")
            .field("epoch", &self.epoch)
            .finish_non_exhaustive()
    }
}

impl LiveHub {
    /// A hub, with its task that reads announced leads from `storage` (must be called within the runtime).
    pub fn new(storage: Arc<dyn Storage>) -> Arc<Self> {
        let (announcements, mut incoming) = mpsc::unbounded_channel::<(i64, Change)>();
        let (sender, _) = broadcast::channel(RING);
        let hub = Arc::new(Self {
            epoch: format!("{:x}", rand::random::<u32>()),
            ring: Mutex::new(Ring {
                next: 1,
                events: VecDeque::with_capacity(RING),
            }),
            sender,
            announcements,
            closed: CancellationToken::new(),
        });
        let weak = Arc::downgrade(&hub);
        tokio::spawn(async move {
            while let Some((id, change)) = incoming.recv().await {
                let Some(hub) = weak.upgrade() else { return };
                hub.publish_from_store(storage.as_ref(), id, change).await;
            }
        });
        hub
    }

    /// Announces a committed lead; never waits. Pages learn of it once its summary is read.
    pub fn announce(&self, lead_id: i64, change: Change) {
        let _ = self.announcements.send((lead_id, change));
    }

    /// Reads a lead's summary and publishes it (what the announcement task, or a relay from other instances,
    /// calls). A lead that is gone by then is not published.
    pub async fn publish_from_store(&self, storage: &dyn Storage, lead_id: i64, change: Change) {
        match storage.lead_summary(lead_id).await {
            Ok(Some(lead)) => {
                self.publish(change, lead);
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, lead_id, "cannot read a lead for the live pages"),
        }
    }

    /// Publishes an event: numbers it, keeps it in the ring, sends it to every open stream.
    pub fn publish(&self, change: Change, lead: LeadSummary) -> u64 {
        let mut ring = self
            .ring
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let seq = ring.next;
        ring.next += 1;
        let event = Arc::new(LeadEvent { seq, change, lead });
        if ring.events.len() == RING {
            ring.events.pop_front();
        }
        ring.events.push_back(event.clone());
        // Sent under the ring's lock, so a subscriber sees each event either in its backlog or on its
        // receiver, never both and never neither.
        let _ = self.sender.send(event);
        metrics::counter!("leadgate_live_events_total").increment(1);
        seq
    }

    /// The id of the latest event (what a page rendered now has seen).
    pub fn current_id(&self) -> String {
        let ring = self
            .ring
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.id_of(ring.next - 1)
    }

    /// The id the stream sends for an event number: the hub's epoch and the number.
    pub fn id_of(&self, seq: u64) -> String {
        format!("{}-{seq}", self.epoch)
    }

    /// Subscribes after the event with id `last` (`None`: from now on).
    pub fn subscribe(&self, last: Option<&str>) -> Subscription {
        let ring = self
            .ring
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let receiver = self.sender.subscribe();
        let Some(last) = last else {
            return Subscription {
                backlog: Vec::new(),
                receiver,
                reload: false,
            };
        };
        let seq = last
            .split_once('-')
            .filter(|(epoch, _)| *epoch == self.epoch)
            .and_then(|(_, seq)| seq.parse::<u64>().ok())
            .filter(|seq| *seq < ring.next);
        let oldest = ring.events.front().map_or(ring.next, |e| e.seq);
        match seq {
            // Every event after `seq` is still in the ring.
            Some(seq) if seq + 1 >= oldest => Subscription {
                backlog: ring
                    .events
                    .iter()
                    .filter(|e| e.seq > seq)
                    .cloned()
                    .collect(),
                receiver,
                reload: false,
            },
            _ => Subscription {
                backlog: Vec::new(),
                receiver,
                reload: true,
            },
        }
    }

    /// Ends every open stream (at shutdown, so that connections can close).
    pub fn close(&self) {
        self.closed.cancel();
    }

    /// Cancelled once the hub is closed.
    pub fn closed(&self) -> &CancellationToken {
        &self.closed
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use chrono::Utc;
    use leadgate_domain::lead::{Channel, LeadKind, LeadStatus};
    use leadgate_sqlite::SqliteStorage;

    fn summary(id: i64) -> LeadSummary {
        LeadSummary {
            id,
            calendar_id: 1,
            calendar_name: "Общий".into(),
            kind: LeadKind::Order,
            status: LeadStatus::New,
            subject: None,
            description: None,
            contact: Default::default(),
            inn: None,
            counterparty_name: None,
            starts_at: Utc::now(),
            received_at: Utc::now(),
            updated_at: Utc::now(),
            channel: Channel::Http,
            external_number: None,
            assignee: None,
        }
    }

    async fn hub() -> Arc<LiveHub> {
        let storage = SqliteStorage::connect("sqlite::memory:").await.unwrap();
        LiveHub::new(Arc::new(storage))
    }

    #[tokio::test]
    async fn a_page_that_reconnects_gets_exactly_what_it_missed() {
        let hub = hub().await;
        hub.publish(Change::New, summary(1));
        let seen = hub.current_id();
        hub.publish(Change::New, summary(2));
        hub.publish(Change::Updated, summary(1));
        let mut sub = hub.subscribe(Some(&seen));
        assert!(!sub.reload);
        let missed: Vec<(i64, Change)> =
            sub.backlog.iter().map(|e| (e.lead.id, e.change)).collect();
        assert_eq!(missed, [(2, Change::New), (1, Change::Updated)]);
        hub.publish(Change::New, summary(3));
        assert_eq!(sub.receiver.recv().await.unwrap().lead.id, 3);
    }

    #[tokio::test]
    async fn an_id_that_left_the_ring_or_another_epoch_asks_for_a_reload() {
        let hub = hub().await;
        hub.publish(Change::New, summary(1));
        let old = hub.current_id();
        for id in 0..RING as i64 + 1 {
            hub.publish(Change::New, summary(id));
        }
        assert!(hub.subscribe(Some(&old)).reload);
        assert!(!hub.subscribe(Some(&hub.current_id())).reload);
        assert!(hub.subscribe(Some("beef-1")).reload);
        assert!(hub.subscribe(Some("garbage")).reload);
        assert!(!hub.subscribe(None).reload);
    }
}
