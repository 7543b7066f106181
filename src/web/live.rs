//! The live inbox and calendar: one Server-Sent Events stream per open page, carrying the new and changed
//! leads that viewer may see, each already written out as the page shows it.
//!
//! `GET /inbox/events?cal=ID` and `GET /calendar/events?view=week|month&cal=ID&cal=ID` send an event `lead`
//! per lead (JSON: `id`, `change` (`new`, `updated` or `moved`), `gone` (a lead moved out of what the page
//! shows: it is removed), `calendar_id`, `date`, `html`, and for desktop
//! notifications `kind`, `title`, `phone` and `url`), with the hub's event id. An inbox row carries the
//! overdue mark the page's rows carry (read for the lead as it is sent: the lead's summary does not hold it).
//! A page resumes after a reconnect from the browser's `Last-Event-ID`, or at first from the `since` id it was
//! rendered with, so nothing committed after the page was rendered is missed. When that id is too old for the
//! hub's ring, or events may have been missed since (another instance's changes were not heard while the relay's listener
//! reconnected), the stream sends one event `reload` and ends: the page reloads its list. Visibility is the inbox's: a manager
//! gets the leads of the calendars they may see (read again every half minute), an administrator all.
//!
//! The same stream sends an event `follow_up` when one of the viewer's own follow-ups falls due (JSON: `id`,
//! `lead_id`, `title`, `note`, `when`, `url`), to nobody else; the page shows it and, when switched on, as a
//! desktop notification.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::Stream;
use serde::Serialize;
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;
use tracing::instrument;

use super::fmt::{self, LeadRow};
use super::session::{Viewer, visible_calendars};
use super::timezone;
use crate::app::{ApiError, AppState};
use crate::live::{Change, LeadEvent};
use leadgate_domain::account::Role;
use leadgate_storage::FollowUpView;

/// How long a stream trusts the calendars it read before reading them again.
const SCOPE_FRESH_FOR: Duration = Duration::from_secs(30);

/// How often a quiet stream sends a comment, so proxies and the server's idle timeout keep it open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

#[derive(Template)]
#[template(path = "lead_row.html")]
struct RowHtml<'a> {
    r: &'a LeadRow,
}

#[derive(Template)]
#[template(path = "calendar_event.html")]
struct EventHtml<'a> {
    e: &'a LeadRow,
    is_month: bool,
}

/// What the page shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Inbox,
    Calendar { month: bool },
}

/// One lead as the stream sends it.
#[derive(Debug, Serialize)]
struct LeadData<'a> {
    id: i64,
    change: &'static str,
    /// The lead left what the page shows (moved to a calendar it does not show): remove it.
    gone: bool,
    calendar_id: i64,
    /// The local day it is on (`YYYY-MM-DD`), for the calendar.
    date: String,
    /// The inbox row or the calendar entry, escaped.
    html: String,
    kind: &'a str,
    title: &'a str,
    phone: &'a str,
    url: String,
}

/// Which calendars the stream may carry: `None` every calendar (an administrator without a filter).
struct Scope {
    login: String,
    role: Role,
    /// The calendars the page asked for (its filter), empty for all it may see.
    chosen: Vec<i64>,
    allowed: Option<Vec<i64>>,
    read_at: Instant,
}

impl Scope {
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
        Target::Calendar {
            month: get("view") == Some("month"),
        }
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
    let subscription = state.live.subscribe(last.as_deref());
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
    };
    metrics::gauge!("leadgate_live_streams").increment(1.0);
    let mut response = Sse::new(events(streamed))
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        .into_response();
    // Proxies that buffer responses (nginx) must pass the stream on as it comes.
    response
        .headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(response)
}

/// Counts the stream in the `leadgate_live_streams` gauge until it is dropped.
struct Counted;

impl Drop for Counted {
    fn drop(&mut self) {
        metrics::gauge!("leadgate_live_streams").decrement(1.0);
    }
}

fn events(streamed: StreamState) -> impl Stream<Item = Result<Event, Infallible>> {
    futures::stream::unfold((streamed, Counted), |(mut s, counted)| async move {
        if s.done {
            return None;
        }
        if s.reload {
            s.done = true;
            return Some((
                Ok(Event::default().event("reload").data("reload")),
                (s, counted),
            ));
        }
        loop {
            let event = match s.backlog.pop_front() {
                Some(event) => event,
                None => tokio::select! {
                    () = s.closed.cancelled() => return None,
                    // Events may have been missed (another instance's were not heard): the page reloads.
                    Ok(()) = s.gaps.changed() => {
                        s.done = true;
                        return Some((Ok(Event::default().event("reload").data("reload")), (s, counted)));
                    }
                    received = s.receiver.recv() => match received {
                        Ok(event) => event,
                        // The stream fell too far behind: the page reloads its list.
                        Err(broadcast::error::RecvError::Lagged(_)) => {
                            s.done = true;
                            return Some((Ok(Event::default().event("reload").data("reload")), (s, counted)));
                        }
                        Err(broadcast::error::RecvError::Closed) => return None,
                    },
                    due = s.due.recv() => match due {
                        Ok(follow_up) => {
                            if let Some(sse) = render_due(&s, &follow_up).await {
                                return Some((Ok(sse), (s, counted)));
                            }
                            continue;
                        }
                        Err(broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(broadcast::error::RecvError::Closed) => return None,
                    },
                },
            };
            let shown = s.scope.allows(&s.state, event.lead.calendar_id).await;
            // A lead moved out of what the page shows leaves it.
            let left = match event.change {
                Change::Moved { from } => !shown && s.scope.allows(&s.state, from).await,
                _ => false,
            };
            if !shown && !left {
                continue;
            }
            if let Some(sse) = render(&s, &event, left).await {
                return Some((Ok(sse), (s, counted)));
            }
        }
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
async fn render_due(s: &StreamState, f: &FollowUpView) -> Option<Event> {
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
    Some(Event::default().event("follow_up").data(json))
}

async fn render(s: &StreamState, event: &LeadEvent, gone: bool) -> Option<Event> {
    // What is sent depends on the lead and the page's kind only, never on the viewer: rendered once per form.
    let form = match s.target {
        Target::Inbox => 0,
        Target::Calendar { month: false } => 2,
        Target::Calendar { month: true } => 4,
    } + usize::from(gone);
    let json = event.shared(form, render_json(s, event, gone)).await?;
    Some(
        Event::default()
            .event("lead")
            .id(s.state.live.id_of(event.seq))
            .data(&*json),
    )
}

async fn render_json(s: &StreamState, event: &LeadEvent, gone: bool) -> Option<String> {
    let tz = timezone(&s.state);
    let mut row = LeadRow::new(&event.lead, tz);
    if s.target == Target::Inbox && !gone {
        // The row replaces the page's: it carries the same overdue mark, read as the inbox reads it.
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
    let html = match s.target {
        Target::Inbox => RowHtml { r: &row }.render(),
        Target::Calendar { month } => EventHtml {
            e: &row,
            is_month: month,
        }
        .render(),
    };
    let html = match html {
        // A lead that left the page is only named, not shown.
        Ok(_) if gone => String::new(),
        Ok(html) => html,
        Err(e) => {
            tracing::warn!(error = %e, "cannot render a live lead");
            return None;
        }
    };
    let data = LeadData {
        id: row.id,
        change: event.change.as_str(),
        gone,
        calendar_id: row.calendar_id,
        date: fmt::iso_date(event.lead.starts_at.with_timezone(&tz).date_naive()),
        html,
        kind: row.kind,
        title: &row.title,
        phone: &row.phone,
        url: format!("/leads/{}", row.id),
    };
    serde_json::to_string(&data).ok()
}
