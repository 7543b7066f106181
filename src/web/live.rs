//! The live inbox and calendar: one Server-Sent Events stream per open page, carrying the new and changed
//! leads that viewer may see.
//!
//! `GET /inbox/events?cal=ID` and `GET /calendar/events?cal=ID&cal=ID` send an event `lead`
//! per lead (JSON: `change` (`new`, `updated` or `moved`), `gone` (a lead moved out of what the page shows: it
//! is removed, and only its `id` and `calendar_id` are sent), `date` (its local day, for the calendar), and
//! the row's values as the page writes them ([`LeadRow`]: `id`, `calendar_id`, `calendar`, `status_key`,
//! `status`, `kind`, `when`, `time`, `title`, `who`, `phone`, `phone_href`, `number`, `assignee`, `overdue`)),
//! with the hub's event id. The page builds its row or calendar entry from them as text, never as markup, and
//! its desktop notification from `kind`, `title` and `phone`. An inbox row carries the overdue mark the page's
//! rows carry (read for the lead as it is sent: the lead's summary does not hold it; a lead just filed has
//! none), never a duplicate hint (`possible_duplicate_of` comes with a reload). Every page gets every lead it
//! may see, so the event holds values, not markup: 474 bytes an event instead of 1,196 with the rendered row.
//! A page resumes after a reconnect from the browser's `Last-Event-ID`, or at first from the `since` id it was
//! rendered with, so nothing committed after the page was rendered is missed. When that id is too old for the
//! hub's ring, or events may have been missed since (another instance's changes were not heard while the relay's listener
//! reconnected), the stream sends one event `reload` and ends: the page reloads its list. Visibility is the inbox's: a manager
//! gets the leads of the calendars they may see (read again every half minute), an administrator all.
//!
//! Events ready for a page together (a group commit's leads) are written to it in one piece, up to
//! 256 of them, and a page gets at most one write per 50 ms (a lead after a quiet spell goes out at once):
//! a write per event per page was what 200 open pages cost the intake.
//!
//! The same stream sends an event `follow_up` when one of the viewer's own follow-ups falls due (JSON: `id`,
//! `lead_id`, `title`, `note`, `when`, `url`), to nobody else; the page shows it and, when switched on, as a
//! desktop notification.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use futures::Stream;
use serde::Serialize;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;
use tracing::instrument;

use super::fmt::{self, LeadRow};
use super::session::{Viewer, visible_calendars};
use super::timezone;
use crate::app::{ApiError, AppState};
use crate::live::{Change, LeadEvent};
use leadgate_domain::account::Role;
use leadgate_storage::{FollowUpView, LeadSummary};

/// How long a stream trusts the calendars it read before reading them again.
const SCOPE_FRESH_FOR: Duration = Duration::from_secs(30);

/// How long a stream trusts that its session holds before it sends anything more: a page left open after
/// its user signed out, was disabled or changed the password gets nothing after this.
const SESSION_FRESH_FOR: Duration = Duration::from_secs(5);

/// How often a quiet stream sends a comment, so proxies and the server's idle timeout keep it open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The most events a stream writes at once. What piled up for a page since its last write (a group commit's
/// leads, say) goes out in one write, not one write per lead: with many pages open, the writes were what cost
/// the intake its rate.
const COALESCE: usize = 256;

/// The least time between two writes of one stream. A lead after a quiet spell goes out at once; what comes
/// within this time of a write waits for its end and goes out with whatever else came meanwhile, so a page
/// costs at most one write (and one wake-up) per `PACE` however fast leads arrive. With 200 pages open and
/// thousands of leads a second, the streams' wake-ups and writes were what cost the intake its rate. The
/// hub keeps 1,024 events: at this pace a page falls behind only past 20,000 leads a second.
const PACE: Duration = Duration::from_millis(50);

/// What the page shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Inbox,
    Calendar,
}

/// One lead as the stream sends it.
#[derive(Debug, Serialize)]
struct LeadData<'a> {
    change: &'static str,
    /// The lead left what the page shows (moved to a calendar it does not show): remove it.
    gone: bool,
    /// The local day it is on (`YYYY-MM-DD`), for the calendar.
    date: String,
    #[serde(flatten)]
    lead: Shown<'a>,
}

/// What the page is told of the lead: its row, or, when it left the page, only which lead it was.
#[derive(Debug, Serialize)]
#[serde(untagged)]
enum Shown<'a> {
    Row(&'a LeadRow),
    Gone { id: i64, calendar_id: i64 },
}

/// Which calendars the stream may carry: `None` every calendar (an administrator without a filter).
struct Scope {
    login: String,
    role: Role,
    /// The calendars the page asked for (its filter), empty for all it may see.
    chosen: Vec<i64>,
    allowed: Option<Vec<i64>>,
    read_at: Instant,
    /// The viewer's session (its id's hash), and when it was last found to hold.
    session_hash: String,
    session_checked_at: Instant,
}

impl Scope {
    /// Whether the viewer's session still holds, read again when [`SESSION_FRESH_FOR`] has passed. A role
    /// changed meanwhile is taken, and the calendars are read again for it. A session that cannot be read
    /// (the database is away) does not hold: the page reloads, and shows what the database allows.
    async fn signed_in(&mut self, state: &AppState) -> bool {
        if self.session_checked_at.elapsed() < SESSION_FRESH_FOR {
            return true;
        }
        let check = super::session::session_check(state);
        match state.storage.session(&self.session_hash, check).await {
            Ok(Some(record)) => {
                if record.role != self.role {
                    self.role = record.role;
                    match Self::read(state, &self.login, self.role, &self.chosen).await {
                        Ok(allowed) => {
                            self.allowed = allowed;
                            self.read_at = Instant::now();
                        }
                        Err(_) => return false,
                    }
                }
                self.session_checked_at = Instant::now();
                true
            }
            Ok(None) | Err(_) => false,
        }
    }

    async fn read(
        state: &AppState,
        login: &str,
        role: Role,
        chosen: &[i64],
    ) -> Result<Option<Vec<i64>>, ApiError> {
        let calendars = state.storage.calendars().await?;
        let visible = leadgate_storage::visible_calendar_ids(&calendars, login, role);
        Ok(match (visible, chosen.is_empty()) {
            (visible, true) => visible,
            (None, false) => Some(chosen.to_vec()),
            (Some(visible), false) => Some(
                chosen
                    .iter()
                    .copied()
                    .filter(|c| visible.contains(c))
                    .collect(),
            ),
        })
    }

    async fn allows(&mut self, state: &AppState, calendar_id: i64) -> bool {
        if self.read_at.elapsed() >= SCOPE_FRESH_FOR {
            match Self::read(state, &self.login, self.role, &self.chosen).await {
                Ok(allowed) => {
                    self.allowed = allowed;
                    self.read_at = Instant::now();
                }
                // Until it can be read again, the stream carries nothing.
                Err(_) => return false,
            }
        }
        self.allowed
            .as_ref()
            .is_none_or(|allowed| allowed.contains(&calendar_id))
    }
}

/// What one stream holds between events.
struct StreamState {
    state: AppState,
    scope: Scope,
    target: Target,
    backlog: VecDeque<Arc<LeadEvent>>,
    receiver: broadcast::Receiver<Arc<LeadEvent>>,
    gaps: watch::Receiver<u64>,
    /// Follow-ups falling due (the viewer's own are sent).
    due: broadcast::Receiver<Arc<FollowUpView>>,
    /// The viewer.
    user_id: i64,
    closed: CancellationToken,
    reload: bool,
    done: bool,
    /// When the stream last wrote: a comment follows [`KEEP_ALIVE`] after it, however many events for other
    /// pages went by meanwhile.
    wrote_at: tokio::time::Instant,
    /// The last write took all that was ready: the next waits until [`PACE`] after it.
    paced: bool,
}

/// `GET /inbox/events`.
pub async fn inbox(
    state: State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    query: RawQuery,
) -> Result<Response, ApiError> {
    stream(state, viewer, headers, query, false).await
}

/// `GET /calendar/events`.
pub async fn calendar(
    state: State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    query: RawQuery,
) -> Result<Response, ApiError> {
    stream(state, viewer, headers, query, true).await
}

#[instrument(skip_all, fields(user = %viewer.login))]
async fn stream(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    calendar: bool,
) -> Result<Response, ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.as_deref().unwrap_or(""))
        .map_err(|_| ApiError::BadRequest("malformed query".into()))?;
    let visible = visible_calendars(&state, &viewer).await?;
    let mut chosen = Vec::new();
    for (k, v) in &pairs {
        if k == "cal" && !v.trim().is_empty() {
            let id: i64 = v
                .trim()
                .parse()
                .map_err(|_| ApiError::BadRequest("malformed calendar".into()))?;
            if !visible.iter().any(|c| c.id == id) {
                return Err(ApiError::Forbidden);
            }
            chosen.push(id);
        }
    }
    let get = |key: &str| {
        pairs
            .iter()
            .find(|(k, v)| k == key && !v.is_empty())
            .map(|(_, v)| v.as_str())
    };
    let target = if calendar {
        Target::Calendar
    } else {
        Target::Inbox
    };
    // The browser's Last-Event-ID after a reconnect; else the id the page was rendered with.
    let last = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .or_else(|| get("since"))
        .map(str::to_owned);
    let mut subscription = state.live.subscribe(last.as_deref());
    subscription.read_backlog(state.storage.as_ref()).await;
    let state_due = state.live.subscribe_due();
    let allowed = Scope::read(&state, &viewer.login, viewer.role, &chosen).await?;
    let streamed = StreamState {
        closed: state.live.closed().clone(),
        scope: Scope {
            login: viewer.login.clone(),
            role: viewer.role,
            chosen,
            allowed,
            read_at: Instant::now(),
            session_hash: viewer.session_hash.clone(),
            session_checked_at: Instant::now(),
        },
        state,
        target,
        backlog: subscription.backlog.into(),
        receiver: subscription.receiver,
        gaps: subscription.gaps,
        due: state_due,
        user_id: viewer.user_id,
        reload: subscription.reload,
        done: false,
        wrote_at: tokio::time::Instant::now(),
        paced: false,
    };
    metrics::gauge!("leadgate_live_streams").increment(1.0);
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/event-stream"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            // Proxies that buffer responses (nginx) must pass the stream on as it comes.
            (
                header::HeaderName::from_static("x-accel-buffering"),
                HeaderValue::from_static("no"),
            ),
        ],
        Body::from_stream(events(streamed)),
    )
        .into_response())
}

/// Counts the stream in the `leadgate_live_streams` gauge until it is dropped.
struct Counted;

impl Drop for Counted {
    fn drop(&mut self) {
        metrics::gauge!("leadgate_live_streams").decrement(1.0);
    }
}

/// The event that tells the page to reload its list; the stream ends after it.
const RELOAD: &str = "event: reload\ndata: reload\n\n";

/// One server-sent event, as the stream writes it. `data` is JSON or a word: it holds no line break.
fn sse(event: &str, id: Option<&str>, data: &str) -> String {
    match id {
        Some(id) => format!("event: {event}\nid: {id}\ndata: {data}\n\n"),
        None => format!("event: {event}\ndata: {data}\n\n"),
    }
}

/// What a stream waits for.
enum Next {
    Lead(Arc<LeadEvent>),
    Due(Arc<FollowUpView>),
    /// Events were missed: the page reloads its list.
    Reload,
    /// Nothing for a while: a comment keeps the connection open.
    Quiet,
    /// Nothing (more) to send now.
    Nothing,
    Closed,
}

impl StreamState {
    /// The next thing to send: waits for it when `wait`, else takes only what is ready.
    async fn next(&mut self, wait: bool) -> Next {
        if let Some(event) = self.backlog.pop_front() {
            return Next::Lead(event);
        }
        if !wait {
            if self.closed.is_cancelled() {
                return Next::Closed;
            }
            // Events may have been missed (another instance's were not heard): the page reloads.
            if self.gaps.has_changed().unwrap_or(false) {
                return Next::Reload;
            }
            return match self.receiver.try_recv() {
                Ok(event) => Next::Lead(event),
                // The stream fell too far behind: the page reloads its list.
                Err(TryRecvError::Lagged(_)) => Next::Reload,
                Err(TryRecvError::Closed) => Next::Closed,
                Err(TryRecvError::Empty) => match self.due.try_recv() {
                    Ok(follow_up) => Next::Due(follow_up),
                    Err(_) => Next::Nothing,
                },
            };
        }
        tokio::select! {
            () = self.closed.cancelled() => Next::Closed,
            Ok(()) = self.gaps.changed() => Next::Reload,
            received = self.receiver.recv() => match received {
                Ok(event) => Next::Lead(event),
                Err(RecvError::Lagged(_)) => Next::Reload,
                Err(RecvError::Closed) => Next::Closed,
            },
            due = self.due.recv() => match due {
                Ok(follow_up) => Next::Due(follow_up),
                Err(RecvError::Lagged(_)) => Next::Nothing,
                Err(RecvError::Closed) => Next::Closed,
            },
            () = tokio::time::sleep_until(self.wrote_at + KEEP_ALIVE) => Next::Quiet,
        }
    }
}

/// The stream's body: each write holds what was ready for the page when it was made, up to [`COALESCE`]
/// events, with at most one write per [`PACE`]; a quiet stream sends a comment every [`KEEP_ALIVE`].
fn events(streamed: StreamState) -> impl Stream<Item = Result<Bytes, Infallible>> {
    futures::stream::unfold((streamed, Counted), |(mut s, counted)| async move {
        if s.done {
            return None;
        }
        if s.reload {
            s.done = true;
            return Some((Ok(Bytes::from_static(RELOAD.as_bytes())), (s, counted)));
        }
        if s.paced {
            tokio::select! {
                () = s.closed.cancelled() => return None,
                () = tokio::time::sleep_until(s.wrote_at + PACE) => {}
            }
        }
        let mut out = String::new();
        let mut events = 0;
        while events < COALESCE {
            let next = s.next(out.is_empty()).await;
            // Nothing goes to a page whose session has ended since it opened, not even what was read for it
            // before: it reloads (to the sign-in page), and the stream ends.
            if matches!(next, Next::Lead(_) | Next::Due(_) | Next::Quiet)
                && !s.scope.signed_in(&s.state).await
            {
                s.done = true;
                out = RELOAD.to_owned();
                break;
            }
            match next {
                Next::Lead(event) => {
                    let Some(lead) = event.lead(s.state.storage.as_ref()).await else {
                        continue;
                    };
                    let shown = s.scope.allows(&s.state, lead.calendar_id).await;
                    // A lead moved out of what the page shows leaves it.
                    let left = match event.change {
                        Change::Moved { from } => !shown && s.scope.allows(&s.state, from).await,
                        _ => false,
                    };
                    if (shown || left)
                        && let Some(sent) = render(&s, &event, lead, left).await
                    {
                        out.push_str(&sent);
                        events += 1;
                    }
                }
                Next::Due(follow_up) => {
                    if let Some(sent) = render_due(&s, &follow_up).await {
                        out.push_str(&sent);
                        events += 1;
                    }
                }
                Next::Reload => {
                    s.done = true;
                    out.push_str(RELOAD);
                    break;
                }
                Next::Quiet => {
                    out.push_str(":\n\n");
                    break;
                }
                // A wait that brought nothing to send (follow-ups missed while behind): wait again.
                Next::Nothing if out.is_empty() => {}
                Next::Nothing => break,
                Next::Closed if out.is_empty() => return None,
                Next::Closed => {
                    s.done = true;
                    break;
                }
            }
        }
        s.wrote_at = tokio::time::Instant::now();
        // A write cut short at `COALESCE` leaves events waiting: the next one goes out at once.
        s.paced = events < COALESCE;
        Some((Ok(Bytes::from(out)), (s, counted)))
    })
}

/// A follow-up falling due, as its owner's stream sends it.
#[derive(Debug, Serialize)]
struct DueData<'a> {
    id: i64,
    lead_id: i64,
    title: String,
    note: &'a str,
    when: String,
    url: String,
}

/// The event `follow_up` for the viewer's own follow-up on a lead they may still see; `None` for anyone
/// else's.
async fn render_due(s: &StreamState, f: &FollowUpView) -> Option<String> {
    if f.owner_id != s.user_id {
        return None;
    }
    let calendars = s.state.storage.calendars().await.ok()?;
    let visible = calendars
        .iter()
        .find(|c| c.id == f.calendar_id)
        .is_some_and(|c| c.visible_to(&s.scope.login, s.scope.role));
    if !visible {
        return None;
    }
    let tz = timezone(&s.state);
    let data = DueData {
        id: f.id,
        lead_id: f.lead_id,
        title: f
            .lead_subject
            .clone()
            .filter(|t| !t.trim().is_empty())
            .unwrap_or_else(|| format!("Заявка №{}", f.lead_id)),
        note: &f.note,
        when: fmt::datetime(f.due_at, tz),
        url: format!("/leads/{}#follow-up-{}", f.lead_id, f.id),
    };
    let json = serde_json::to_string(&data).ok()?;
    Some(sse("follow_up", None, &json))
}

/// The event `lead` for the page's kind: written out once per form and shared by every stream (what is sent
/// depends on the lead and the page's kind only, never on the viewer, and the event's id is the hub's).
async fn render(
    s: &StreamState,
    event: &LeadEvent,
    lead: &LeadSummary,
    gone: bool,
) -> Option<Arc<str>> {
    let form = match (gone, s.target) {
        (true, _) => 0,
        (false, Target::Inbox) => 1,
        (false, Target::Calendar) => 2,
    };
    event
        .shared(form, async {
            let json = render_json(s, event, lead, gone).await?;
            Some(sse("lead", Some(&s.state.live.id_of(event.seq)), &json))
        })
        .await
}

async fn render_json(
    s: &StreamState,
    event: &LeadEvent,
    lead: &LeadSummary,
    gone: bool,
) -> Option<String> {
    let tz = timezone(&s.state);
    let mut row = LeadRow::new(lead, tz);
    // A lead just filed has no follow-ups yet; a changed one's row replaces the page's, with the same overdue
    // mark, read as the inbox reads it.
    if s.target == Target::Inbox && !gone && !matches!(event.change, Change::New) {
        match s
            .state
            .storage
            .leads_with_overdue_follow_ups(&[row.id], chrono::Utc::now())
            .await
        {
            Ok(overdue) => row.overdue = overdue.contains(&row.id),
            // The change is still shown; the mark comes back with the next reload.
            Err(e) => {
                tracing::warn!(error = %e, lead_id = row.id, "cannot read a live lead's follow-ups");
            }
        }
    }
    let data = LeadData {
        change: event.change.as_str(),
        gone,
        date: fmt::iso_date(lead.starts_at.with_timezone(&tz).date_naive()),
        lead: if gone {
            Shown::Gone {
                id: row.id,
                calendar_id: row.calendar_id,
            }
        } else {
            Shown::Row(&row)
        },
    };
    serde_json::to_string(&data).ok()
}
