//! Live updates: new and changed leads, announced once by the code that commits them and fanned out to every
//! open inbox and calendar page (see [`crate::web::live`]).
//!
//! The places that commit leads (the intake writer, the lead update paths) call [`LiveHub::announce`] with the
//! lead's id, which never waits: a task of the hub publishes it, with the lead's summary read once for every
//! open page. Each event gets the next number of a monotonic sequence and is kept in a bounded ring of recent
//! events, so a page that reconnects with the id of the last event it saw (`Last-Event-ID`) receives exactly
//! what it missed; when that id has left the ring (or belongs to an earlier start of leadgate: ids carry the
//! hub's epoch), the page is told to reload its list instead. While no page's stream is open on the instance,
//! nothing reads the summaries: a page that resumes reads those of the events it missed then
//! ([`Subscription::read_backlog`]), and most events leave the ring unread.
//!
//! Follow-ups falling due are announced on the same streams, to their owner only (see [`DueAnnouncer`]): a
//! task of each instance wakes at the next due time, reads what fell due since it last looked and publishes
//! it to the streams open on this instance. Every page's stream is served by one instance, so with several
//! instances each page hears of a follow-up once, from its own instance, and no instance needs to claim it.
//! These events are not kept for reconnecting pages: a follow-up missed that way is still marked overdue in
//! the inbox and on the lead page.
//!
//! Across several instances on one database, the storage's relay carries the announcements (on PostgreSQL
//! `NOTIFY` and `LISTEN`; SQLite, one process, has none): the hub relays each lead id and change it
//! publishes, and the listener that `serve` starts ([`LiveHub::listen`]) publishes what the other instances
//! relay, each lead read from the database, so every instance's pages get every event in their own
//! sequence, filtered for their viewers as any other. The hub's own notes come back to its listener and are
//! not published twice. A listener that lost its connection connects again (after a pause that grows up to
//! half a minute while the database cannot be reached), and since what other instances committed in between
//! was not heard, every open page is told to reload its list ([`LiveHub::gap`]), as is a page that resumes
//! from before that moment.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{Notify, OnceCell, broadcast, mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

use leadgate_storage::{FollowUpView, Heard, LeadListener, LeadNote, LeadSummary, Storage};

/// What happened to a lead.
pub use leadgate_storage::LeadChange as Change;

/// How many recent events are kept for pages that reconnect.
pub const RING: usize = 1024;

/// How many announcements wait to be relayed to the other instances; beyond that (the database cannot be
/// reached) new ones are not relayed.
const RELAY_QUEUE: usize = 4096;

/// How many announcements are read (and relayed) at once.
const BATCH: usize = 256;

/// The first and the longest pause before a listener that cannot reach the database tries again.
const LISTEN_RETRY: (Duration, Duration) = (Duration::from_millis(250), Duration::from_secs(30));

/// One published event.
#[derive(Debug)]
pub struct LeadEvent {
    /// Its number in this hub's sequence.
    pub seq: u64,
    /// What happened.
    pub change: Change,
    /// The lead's id.
    pub lead_id: i64,
    /// The lead as the lists show it, once read (see [`LeadEvent::lead`]); `None` when it was gone by then.
    lead: OnceCell<Option<LeadSummary>>,
    /// What the pages' streams send for it, by form (see [`LeadEvent::shared`]).
    forms: [OnceCell<Option<Arc<str>>>; FORMS],
}

/// How many forms of an event the pages' streams may send (an inbox row, a calendar entry, or gone).
pub const FORMS: usize = 3;

impl LeadEvent {
    /// The lead as the lists show it: read after the commit when a page's stream was open here, else by the
    /// first page that needs it (one that resumes from before the event). `None` when the lead was gone by
    /// then, or cannot be read now: no page is sent the event then.
    pub async fn lead(&self, storage: &dyn Storage) -> Option<&LeadSummary> {
        let read = self
            .lead
            .get_or_try_init(|| async {
                Ok::<_, leadgate_storage::StorageError>(
                    storage.lead_summaries(&[self.lead_id]).await?.pop(),
                )
            })
            .await;
        match read {
            Ok(lead) => lead.as_ref(),
            Err(e) => {
                tracing::warn!(error = %e, lead_id = self.lead_id, "cannot read a lead for the live pages");
                None
            }
        }
    }

    /// The event in the form numbered `form` (below [`FORMS`]), as `make` renders it: made by the first
    /// stream that sends that form and shared by every other, so that a lead costs one rendering per form
    /// however many pages are open. `None` for a form out of range, or one `make` could not render.
    pub async fn shared(
        &self,
        form: usize,
        make: impl Future<Output = Option<String>>,
    ) -> Option<Arc<str>> {
        self.forms
            .get(form)?
            .get_or_init(|| async { make.await.map(Arc::from) })
            .await
            .clone()
    }
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
    /// Changes when events may have been missed from now on: the page must reload its list then.
    pub gaps: watch::Receiver<u64>,
}

impl Subscription {
    /// Reads the leads of the backlog's events that were published unread (no page's stream was open then),
    /// in one query. When they cannot be read, the page is told to reload its list instead.
    pub async fn read_backlog(&mut self, storage: &dyn Storage) {
        let unread: Vec<i64> = self
            .backlog
            .iter()
            .filter(|e| e.lead.get().is_none())
            .map(|e| e.lead_id)
            .collect();
        if unread.is_empty() {
            return;
        }
        let count = unread.len();
        match read_summaries(storage, unread).await {
            Ok(found) => {
                for event in &self.backlog {
                    // Another page may have read it meanwhile: the same lead, read as late or later.
                    let _ = event.lead.set(found.get(&event.lead_id).cloned());
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, count, "cannot read the leads a page missed");
                self.backlog.clear();
                self.reload = true;
            }
        }
    }
}

/// A committed change, to relay to the other instances and, where this process serves pages, to publish.
struct Announcement {
    lead_id: i64,
    change: Change,
    /// Whether to read the lead back for this process's pages (none in a one-shot command).
    publish: bool,
}

/// What the announcement task and the relay task read, in order: changes, and a caller waiting until the
/// changes before it are done with ([`LiveHub::flush`]).
enum Queued<T> {
    Change(T),
    Flush(oneshot::Sender<()>),
}

struct Ring {
    next: u64,
    events: VecDeque<Arc<LeadEvent>>,
    /// The number taken by the latest gap (no event has it): a page that saw less than it missed events.
    last_gap: u64,
}

/// The in-process broadcast of lead events.
pub struct LiveHub {
    epoch: String,
    /// This hub's name in relayed notes: its own notes, heard back, are not published twice.
    origin: String,
    ring: Mutex<Ring>,
    sender: broadcast::Sender<Arc<LeadEvent>>,
    gaps: watch::Sender<u64>,
    announcements: mpsc::UnboundedSender<Queued<Announcement>>,
    closed: CancellationToken,
    due: broadcast::Sender<Arc<FollowUpView>>,
    planned: Notify,
    /// Told of every lead committed here or heard from another instance (the webhook dispatcher waits on it).
    committed: Notify,
    /// Whether this process serves pages (set by [`LiveHub::listen`]): a one-shot command has none, so it
    /// relays what it commits and reads no lead back for pages that cannot exist.
    pages: AtomicBool,
}

impl std::fmt::Debug for LiveHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveHub")
            .field("epoch", &self.epoch)
            .finish_non_exhaustive()
    }
}

impl LiveHub {
    /// A hub, with its task that reads announced leads from `storage` and relays them to the other instances
    /// on its database (must be called within the runtime).
    pub fn new(storage: Arc<dyn Storage>) -> Arc<Self> {
        let (announcements, mut incoming) = mpsc::unbounded_channel::<Queued<Announcement>>();
        let (sender, _) = broadcast::channel(RING);
        let hub = Arc::new(Self {
            epoch: format!("{:x}", rand::random::<u32>()),
            origin: format!("{:016x}", rand::random::<u64>()),
            ring: Mutex::new(Ring {
                next: 1,
                events: VecDeque::with_capacity(RING),
                last_gap: 0,
            }),
            sender,
            gaps: watch::Sender::new(0),
            announcements,
            closed: CancellationToken::new(),
            due: broadcast::channel(RING).0,
            planned: Notify::new(),
            committed: Notify::new(),
            pages: AtomicBool::new(false),
        });
        // Only a database that other instances share has a listener, and only then is anything relayed.
        let relay = storage.lead_listener().is_some().then(|| {
            let (relay, queued) = mpsc::channel::<Queued<LeadNote>>(RELAY_QUEUE);
            tokio::spawn(relay_notes(storage.clone(), queued));
            relay
        });
        let weak = Arc::downgrade(&hub);
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(BATCH);
            let mut changes = Vec::with_capacity(BATCH);
            while incoming.recv_many(&mut batch, BATCH).await > 0 {
                let Some(hub) = weak.upgrade() else { return };
                for queued in batch.drain(..) {
                    match queued {
                        Queued::Change(announcement) => changes.push(announcement),
                        Queued::Flush(done) => {
                            hub.announced(storage.as_ref(), relay.as_ref(), &mut changes)
                                .await;
                            match &relay {
                                // After the notes queued before it.
                                Some(relay) => {
                                    let _ = relay.send(Queued::Flush(done)).await;
                                }
                                None => {
                                    let _ = done.send(());
                                }
                            }
                        }
                    }
                }
                hub.announced(storage.as_ref(), relay.as_ref(), &mut changes)
                    .await;
            }
        });
        hub
    }

    /// Starts publishing to this process's pages (what `serve` does; a one-shot command only relays): the
    /// leads announced here from now on, and what the other instances on the database relay, until the hub
    /// is closed.
    pub fn listen(self: &Arc<Self>, storage: Arc<dyn Storage>) {
        self.pages.store(true, Ordering::Relaxed);
        if let Some(listener) = storage.lead_listener() {
            tokio::spawn(listen(
                Arc::downgrade(self),
                storage,
                listener,
                self.closed.clone(),
            ));
        }
    }

    /// Announces a committed lead; never waits. Pages learn of it once its summary is read.
    pub fn announce(&self, lead_id: i64, change: Change) {
        self.committed.notify_one();
        let _ = self.announcements.send(Queued::Change(Announcement {
            lead_id,
            change,
            publish: self.pages.load(Ordering::Relaxed),
        }));
    }

    /// Waits until every change announced before it has been published to this process's pages and handed
    /// to the database for the other instances (a one-shot command calls it before it exits, so that what it
    /// committed reaches the pages open on the instances serving them).
    pub async fn flush(&self) {
        let (done, flushed) = oneshot::channel();
        if self.announcements.send(Queued::Flush(done)).is_ok() {
            let _ = flushed.await;
        }
    }

    /// Publishes `changes` (announced here) to this process's pages, then queues them for the other
    /// instances; empties `changes`. Published first: another instance that acts on a change it heard from
    /// this one (a page there showed it) is heard back after this instance's pages have it, so they get the
    /// two in the order they happened.
    async fn announced(
        &self,
        storage: &dyn Storage,
        relay: Option<&mpsc::Sender<Queued<LeadNote>>>,
        changes: &mut Vec<Announcement>,
    ) {
        if changes.is_empty() {
            return;
        }
        let published: Vec<(i64, Change)> = changes
            .iter()
            .filter(|a| a.publish)
            .map(|a| (a.lead_id, a.change))
            .collect();
        self.publish_from_store(storage, &published).await;
        if let Some(relay) = relay {
            let mut dropped = 0_usize;
            for &Announcement {
                lead_id, change, ..
            } in changes.iter()
            {
                let note = LeadNote {
                    origin: self.origin.clone(),
                    lead_id,
                    change,
                };
                if relay.try_send(Queued::Change(note)).is_err() {
                    dropped += 1;
                }
            }
            if dropped > 0 {
                tracing::warn!(
                    count = dropped,
                    "the other instances' live pages miss changes: the relay is behind"
                );
            }
        }
        changes.clear();
    }

    /// Reads the leads' summaries, in one query, and publishes each change in order (what the announcement
    /// task, or a relay from other instances, calls). A lead that is gone by then is not published. While no
    /// page's stream is open here, the changes are published unread (see [`Subscription::read_backlog`]).
    pub async fn publish_from_store(&self, storage: &dyn Storage, changes: &[(i64, Change)]) {
        if changes.is_empty() {
            return;
        }
        if self.sender.receiver_count() == 0 {
            for &(id, change) in changes {
                self.push(change, id, OnceCell::new());
            }
            return;
        }
        match read_summaries(storage, changes.iter().map(|(id, _)| *id).collect()).await {
            Ok(found) => {
                for (id, change) in changes {
                    if let Some(lead) = found.get(id) {
                        self.publish(*change, lead.clone());
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, count = changes.len(), "cannot read leads for the live pages");
            }
        }
    }

    /// Publishes an event: numbers it, keeps it in the ring, sends it to every open stream.
    pub fn publish(&self, change: Change, lead: LeadSummary) -> u64 {
        self.push(change, lead.id, OnceCell::new_with(Some(Some(lead))))
    }

    /// Publishes an event of lead `lead_id`, with its summary if read.
    fn push(&self, change: Change, lead_id: i64, lead: OnceCell<Option<LeadSummary>>) -> u64 {
        let mut ring = self
            .ring
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let seq = ring.next;
        ring.next += 1;
        let event = Arc::new(LeadEvent {
            seq,
            change,
            lead_id,
            lead,
            forms: Default::default(),
        });
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

    /// Marks a gap: events may have been missed (the relay's listener was not listening). Every open stream
    /// is told, and a page that resumes from before it must reload its list.
    pub fn gap(&self) {
        let mut ring = self
            .ring
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        ring.last_gap = ring.next;
        ring.next += 1;
        // Under the ring's lock, as `publish`: a subscriber sees the gap in `subscribe` or on its receiver.
        self.gaps.send_replace(ring.last_gap);
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
        let gaps = self.gaps.subscribe();
        let Some(last) = last else {
            return Subscription {
                backlog: Vec::new(),
                receiver,
                reload: false,
                gaps,
            };
        };
        let seq = last
            .split_once('-')
            .filter(|(epoch, _)| *epoch == self.epoch)
            .and_then(|(_, seq)| seq.parse::<u64>().ok())
            .filter(|seq| *seq < ring.next);
        let oldest = ring.events.front().map_or(ring.next, |e| e.seq);
        match seq {
            // Every event after `seq` is still in the ring, and none was missed since.
            Some(seq) if seq + 1 >= oldest && seq >= ring.last_gap => Subscription {
                backlog: ring
                    .events
                    .iter()
                    .filter(|e| e.seq > seq)
                    .cloned()
                    .collect(),
                receiver,
                reload: false,
                gaps,
            },
            _ => Subscription {
                backlog: Vec::new(),
                receiver,
                reload: true,
                gaps,
            },
        }
    }

    /// Tells the streams open on this instance that a follow-up fell due (each passes it to its owner only).
    pub fn publish_due(&self, follow_up: FollowUpView) {
        let _ = self.due.send(Arc::new(follow_up));
        metrics::counter!("leadgate_follow_ups_due_total").increment(1);
    }

    /// Follow-ups falling due from now on.
    pub fn subscribe_due(&self) -> broadcast::Receiver<Arc<FollowUpView>> {
        self.due.subscribe()
    }

    /// Resolves once a lead is committed here or heard from another instance after the last call resolved
    /// (or at once, when one was since): what the webhook dispatcher waits on when its outbox is empty.
    pub async fn committed(&self) {
        self.committed.notified().await;
    }

    /// Wakes this instance's [`DueAnnouncer`]: a follow-up was planned here, perhaps due sooner than the
    /// one it waits for.
    pub fn follow_up_planned(&self) {
        self.planned.notify_one();
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

/// The summaries of the leads `ids` (repeats allowed), read in one query, by id; a lead that is gone has none.
async fn read_summaries(
    storage: &dyn Storage,
    mut ids: Vec<i64>,
) -> leadgate_storage::Result<HashMap<i64, LeadSummary>> {
    ids.sort_unstable();
    ids.dedup();
    Ok(storage
        .lead_summaries(&ids)
        .await?
        .into_iter()
        .map(|lead| (lead.id, lead))
        .collect())
}

/// Relays queued notes to the other instances, in batches, until the hub is gone. Notes that cannot be
/// relayed (the database cannot be reached) are dropped: they would be stale by the time it can.
async fn relay_notes(storage: Arc<dyn Storage>, mut queued: mpsc::Receiver<Queued<LeadNote>>) {
    let mut batch = Vec::with_capacity(BATCH);
    let mut notes = Vec::with_capacity(BATCH);
    let mut flushed = Vec::new();
    while queued.recv_many(&mut batch, BATCH).await > 0 {
        for item in batch.drain(..) {
            match item {
                Queued::Change(note) => notes.push(note),
                Queued::Flush(done) => flushed.push(done),
            }
        }
        // A flush waits for the notes queued before it; those after it in the batch go in the same statement.
        if !notes.is_empty()
            && let Err(e) = storage.relay_leads(&notes).await
        {
            tracing::warn!(error = %e, count = notes.len(), "cannot relay changes to the other instances");
        }
        notes.clear();
        for done in flushed.drain(..) {
            let _ = done.send(());
        }
    }
}

/// Publishes the other instances' notes as the listener hears them, until `closed` or the hub is gone.
async fn listen(
    hub: Weak<LiveHub>,
    storage: Arc<dyn Storage>,
    mut listener: Box<dyn LeadListener>,
    closed: CancellationToken,
) {
    let mut pause = LISTEN_RETRY.0;
    loop {
        let heard = tokio::select! {
            () = closed.cancelled() => return,
            heard = listener.next() => heard,
        };
        let Some(hub) = hub.upgrade() else { return };
        match heard {
            Ok(Heard::Notes(notes)) => {
                pause = LISTEN_RETRY.0;
                let changes: Vec<(i64, Change)> = notes
                    .into_iter()
                    .filter(|n| n.origin != hub.origin)
                    .map(|n| (n.lead_id, n.change))
                    .collect();
                if !changes.is_empty() {
                    hub.committed.notify_one();
                }
                hub.publish_from_store(storage.as_ref(), &changes).await;
            }
            Ok(Heard::Reconnected) => {
                pause = LISTEN_RETRY.0;
                tracing::warn!(
                    "the live relay lost its connection and listens again: open pages reload their lists, \
                     as changes other instances made meanwhile were not heard"
                );
                hub.gap();
            }
            Err(e) => {
                drop(hub);
                tracing::warn!(error = %e, retry_in_ms = pause.as_millis(), "the live relay cannot listen");
                tokio::select! {
                    () = closed.cancelled() => return,
                    () = tokio::time::sleep(pause) => {}
                }
                pause = (pause * 2).min(LISTEN_RETRY.1);
            }
        }
    }
}

/// The longest the due announcer sleeps: a follow-up planned on another instance, due sooner than the one
/// this instance waits for, is announced at most this late.
pub const DUE_CHECK_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

/// Most follow-ups announced in one step.
const DUE_BATCH: u32 = 500;

/// Announces follow-ups as they fall due, to the streams open on this instance.
pub struct DueAnnouncer {
    storage: Arc<dyn Storage>,
    hub: Arc<LiveHub>,
    /// Follow-ups due up to this time have been announced (or were due before the announcer started).
    announced_upto: DateTime<Utc>,
}

impl std::fmt::Debug for DueAnnouncer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DueAnnouncer")
            .field("announced_upto", &self.announced_upto)
            .finish_non_exhaustive()
    }
}

impl DueAnnouncer {
    /// An announcer that starts at `since`: follow-ups due earlier are overdue, not announced.
    pub fn new(storage: Arc<dyn Storage>, hub: Arc<LiveHub>, since: DateTime<Utc>) -> Self {
        Self {
            storage,
            hub,
            announced_upto: since,
        }
    }

    /// One step: publishes the open follow-ups that fell due after the last step, up to `now`, and returns
    /// how many, with the due time of the next open one (when to step again).
    ///
    /// # Errors
    /// Database errors; nothing is skipped then, the next step reads the same span again.
    pub async fn step(
        &mut self,
        now: DateTime<Utc>,
    ) -> leadgate_storage::Result<(usize, Option<DateTime<Utc>>)> {
        let due = self
            .storage
            .follow_ups_falling_due(self.announced_upto, now, DUE_BATCH)
            .await?;
        let count = due.len();
        // A full batch may leave more due at its last time: the next step resumes just after it.
        let upto = if count == DUE_BATCH as usize {
            due.last().map_or(now, |f| f.due_at)
        } else {
            now
        };
        for follow_up in due {
            self.hub.publish_due(follow_up);
        }
        self.announced_upto = upto;
        let next = self
            .storage
            .follow_ups_falling_due(upto, DateTime::<Utc>::MAX_UTC, 1)
            .await?
            .first()
            .map(|f| f.due_at);
        Ok((count, next))
    }

    /// Steps at every due time (and at least every [`DUE_CHECK_EVERY`], and when a follow-up is planned on
    /// this instance) until `stop`.
    pub async fn run(mut self, stop: CancellationToken) {
        loop {
            let wait = match self.step(Utc::now()).await {
                Ok((_, Some(next))) => (next - Utc::now())
                    .to_std()
                    .unwrap_or_default()
                    .min(DUE_CHECK_EVERY),
                Ok((_, None)) => DUE_CHECK_EVERY,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the follow-ups falling due");
                    DUE_CHECK_EVERY
                }
            };
            tokio::select! {
                () = stop.cancelled() => return,
                () = self.hub.planned.notified() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
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
            sub.backlog.iter().map(|e| (e.lead_id, e.change)).collect();
        assert_eq!(missed, [(2, Change::New), (1, Change::Updated)]);
        hub.publish(Change::New, summary(3));
        assert_eq!(sub.receiver.recv().await.unwrap().lead_id, 3);
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

    #[tokio::test]
    async fn after_a_gap_open_streams_are_told_and_a_page_from_before_it_reloads() {
        let hub = hub().await;
        hub.publish(Change::New, summary(1));
        let before = hub.current_id();
        let mut open = hub.subscribe(Some(&before));
        assert!(!open.reload);
        hub.gap();
        open.gaps.changed().await.unwrap();
        assert!(hub.subscribe(Some(&before)).reload);
        let after = hub.current_id();
        let mut fresh = hub.subscribe(Some(&after));
        assert!(!fresh.reload);
        hub.publish(Change::New, summary(2));
        assert_eq!(fresh.receiver.recv().await.unwrap().lead_id, 2);
        assert!(!fresh.gaps.has_changed().unwrap());
    }
}
