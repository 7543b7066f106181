//! The inbox: new leads first, then the rest, newest first, with filters, search and keyset paging.
//!
//! An open page receives new and changed leads over `GET /inbox/events` (Server-Sent Events, see
//! [`super::live`]) and puts them in place: new leads at the top of the first page, changed ones where they
//! are. Without JavaScript the page is the same list, reloaded by hand.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use chrono::{Duration, NaiveDate, Utc};
use leadgate_domain::days::local_midnight;
use serde::Deserialize;
use tracing::instrument;

use super::fmt::{self, LeadRow};
use super::session::{Viewer, visible_calendars};
use super::{Layout, timezone};
use crate::app::{ApiError, AppState};
use leadgate_domain::lead::{LeadKind, LeadStatus};
use leadgate_storage::{AssigneeFilter, CalendarView, InboxCursor, InboxPulse, InboxQuery};

/// Leads per page.
pub const PAGE_SIZE: u32 = 50;

/// An option of a `<select>`.
#[derive(Debug, Clone)]
pub struct Choice {
    /// Value sent.
    pub value: String,
    /// Label shown.
    pub label: String,
    /// Currently chosen.
    pub selected: bool,
}

/// The inbox's query string. Empty values (what an untouched form field sends) mean "any".
#[derive(Debug, Default, Deserialize)]
pub struct InboxParams {
    /// Calendar id.
    pub cal: Option<String>,
    /// Status word.
    pub status: Option<String>,
    /// Kind word.
    pub kind: Option<String>,
    /// First day (YYYY-MM-DD), inclusive.
    pub from: Option<String>,
    /// Last day (YYYY-MM-DD), inclusive.
    pub to: Option<String>,
    /// Search text.
    pub q: Option<String>,
    /// Assignee: `me`, `none` (unassigned) or a login.
    pub who: Option<String>,
    /// `1`: only leads with an overdue follow-up.
    pub overdue: Option<String>,
    /// Paging cursor.
    pub cursor: Option<String>,
}

pub(super) fn non_empty(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn bad(what: &str) -> ApiError {
    ApiError::BadRequest(format!("malformed {what}"))
}

fn date(v: &Option<String>, what: &str) -> Result<Option<NaiveDate>, ApiError> {
    non_empty(v)
        .map(|s| fmt::parse_iso_date(s).ok_or_else(|| bad(what)))
        .transpose()
}

/// Which calendars a query covers: `None` (every calendar) for an administrator without a calendar filter.
///
/// # Errors
/// `Forbidden` for a calendar the viewer may not see, `BadRequest` for a malformed id.
pub(super) fn scope(
    viewer: &Viewer,
    visible: &[CalendarView],
    cal: Option<&str>,
) -> Result<Option<Vec<i64>>, ApiError> {
    match cal {
        Some(cal) => {
            let id: i64 = cal.parse().map_err(|_| bad("calendar"))?;
            if visible.iter().any(|c| c.id == id) {
                Ok(Some(vec![id]))
            } else {
                Err(ApiError::Forbidden)
            }
        }
        None if viewer.is_admin() => Ok(None),
        None => Ok(Some(visible.iter().map(|c| c.id).collect())),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "inbox.html")]
struct InboxPage {
    layout: Layout,
    rows: Vec<LeadRow>,
    calendars: Vec<Choice>,
    statuses: Vec<Choice>,
    kinds: Vec<Choice>,
    assignees: Vec<Choice>,
    /// Who the checked leads may be given to: `(login, name)`.
    assign_to: Vec<(String, String)>,
    from: String,
    to: String,
    q: String,
    overdue: bool,
    filtered: bool,
    paged: bool,
    next_url: Option<String>,
    live_query: String,
    live_insert: bool,
    live_calendar: Option<String>,
    csv_url: String,
    /// The count of new leads as shown: the number, or "1000+" past the cap.
    new_count: String,
}

fn choices<T: Copy + PartialEq>(
    all: &[T],
    chosen: Option<T>,
    value: impl Fn(T) -> String,
    label: impl Fn(T) -> String,
) -> Vec<Choice> {
    all.iter()
        .map(|&v| Choice {
            value: value(v),
            label: label(v),
            selected: chosen == Some(v),
        })
        .collect()
}

/// `GET /inbox`.
#[instrument(skip_all, fields(user = %viewer.login))]
pub async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(p): Query<InboxParams>,
) -> Result<Response, ApiError> {
    // The live stream's position before the list is read: what is published after it is sent to the page,
    // whether the list holds it or not (the page replaces a row it has).
    let since = state.live.current_id();
    let tz = timezone(&state);
    let visible = visible_calendars(&state, &viewer).await?;
    let cal = non_empty(&p.cal);
    let calendars = scope(&viewer, &visible, cal)?;
    let status = non_empty(&p.status)
        .map(|s| s.parse::<LeadStatus>().map_err(|_| bad("status")))
        .transpose()?;
    let kind = non_empty(&p.kind)
        .map(|s| s.parse::<LeadKind>().map_err(|_| bad("kind")))
        .transpose()?;
    let from = date(&p.from, "from")?;
    let to = date(&p.to, "to")?;
    let cursor = non_empty(&p.cursor)
        .map(|c| InboxCursor::decode(c).ok_or_else(|| bad("cursor")))
        .transpose()?;
    let search = non_empty(&p.q).map(str::to_owned);
    let users: Vec<_> = state
        .storage
        .users()
        .await?
        .into_iter()
        .filter(|u| !u.disabled)
        .collect();
    let who = non_empty(&p.who);
    let assignee = match who {
        None => None,
        Some("me") => Some(AssigneeFilter::User(viewer.user_id)),
        Some("none") => Some(AssigneeFilter::Unassigned),
        Some(login) => Some(AssigneeFilter::User(
            users
                .iter()
                .find(|u| u.login == login)
                .map(|u| u.id)
                .ok_or_else(|| bad("assignee"))?,
        )),
    };
    let overdue = non_empty(&p.overdue).is_some();
    let now = Utc::now();
    let query = InboxQuery {
        calendars: calendars.clone(),
        status,
        kind,
        from: from.map(|d| local_midnight(d, tz)),
        to: to.map(|d| local_midnight(d + Duration::days(1), tz)),
        search: search.clone(),
        assignee,
        overdue_at: overdue.then_some(now),
        cursor,
        limit: PAGE_SIZE,
    };
    let page = state.storage.inbox(&query).await?;
    // Possible second submissions are marked: a few index lookups per lead of the page.
    let ids: Vec<i64> = page.items.iter().map(|l| l.id).collect();
    let scope = super::session::scope_of(&viewer, &visible);
    let hints: std::collections::HashMap<i64, i64> = state
        .storage
        .duplicate_hints(&ids, scope.as_deref())
        .await?
        .into_iter()
        .collect();
    let pulse = state.storage.inbox_pulse(calendars.as_deref()).await?;
    let overdue_leads = state
        .storage
        .leads_with_overdue_follow_ups(&ids, now)
        .await?;

    let mut base: Vec<(&str, String)> = Vec::new();
    for (key, value) in [
        ("cal", cal),
        ("status", non_empty(&p.status)),
        ("kind", non_empty(&p.kind)),
        ("from", non_empty(&p.from)),
        ("to", non_empty(&p.to)),
        ("q", non_empty(&p.q)),
        ("who", who),
        ("overdue", overdue.then_some("1")),
    ] {
        if let Some(v) = value {
            base.push((key, v.to_owned()));
        }
    }
    let next_url = page.next.map(|c| {
        let mut params = base.clone();
        params.push(("cursor", c.encode()));
        format!(
            "/inbox?{}",
            serde_urlencoded::to_string(&params).unwrap_or_default()
        )
    });
    // New leads go in at the top of the first page, when only the calendar filter narrows it.
    let live_insert = cursor.is_none() && base.iter().all(|(k, _)| *k == "cal");
    let mut live: Vec<(&str, String)> = vec![("since", since)];
    live.extend(base.iter().filter(|(k, _)| *k == "cal").cloned());
    let csv_url = format!(
        "/inbox.csv?{}",
        serde_urlencoded::to_string(&base).unwrap_or_default()
    );
    let mut calendar_choices = vec![Choice {
        value: String::new(),
        label: "Все календари".into(),
        selected: cal.is_none(),
    }];
    calendar_choices.extend(visible.iter().map(|c| Choice {
        value: c.id.to_string(),
        label: c.name.clone(),
        selected: cal == Some(c.id.to_string().as_str()),
    }));
    let mut assignees = vec![
        Choice {
            value: "me".into(),
            label: "Мне".into(),
            selected: who == Some("me"),
        },
        Choice {
            value: "none".into(),
            label: "Без ответственного".into(),
            selected: who == Some("none"),
        },
    ];
    assignees.extend(users.iter().map(|u| Choice {
        value: u.login.clone(),
        label: format!("{} ({})", u.display_name, u.login),
        selected: who == Some(u.login.as_str()),
    }));
    let assign_to = users
        .iter()
        .map(|u| (u.login.clone(), u.display_name.clone()))
        .collect();
    Ok(InboxPage {
        layout: Layout::new(&viewer, "inbox"),
        rows: page
            .items
            .iter()
            .map(|l| LeadRow {
                possible_duplicate_of: hints.get(&l.id).copied(),
                overdue: overdue_leads.contains(&l.id),
                ..LeadRow::new(l, tz)
            })
            .collect(),
        calendars: calendar_choices,
        statuses: choices(
            LeadStatus::ALL,
            status,
            |s| s.as_str().into(),
            |s| fmt::status(s).into(),
        ),
        kinds: choices(
            LeadKind::ALL,
            kind,
            |k| k.as_str().into(),
            |k| fmt::kind(k).into(),
        ),
        assignees,
        assign_to,
        from: from.map(fmt::iso_date).unwrap_or_default(),
        to: to.map(fmt::iso_date).unwrap_or_default(),
        q: search.unwrap_or_default(),
        overdue,
        filtered: !base.is_empty(),
        paged: cursor.is_some(),
        next_url,
        live_query: serde_urlencoded::to_string(&live).unwrap_or_default(),
        live_insert,
        live_calendar: cal.map(str::to_owned),
        csv_url,
        new_count: if pulse.count_capped() {
            format!("{}+", InboxPulse::NEW_COUNT_CAP)
        } else {
            pulse.new_count.to_string()
        },
    }
    .into_response())
}

/// `POST /inbox/assign`: gives the checked leads (`lead`, repeated) to `assignee` (a login; empty takes them
/// from whoever has them). Every lead must be one the viewer sees and may give to that user, or none is
/// changed.
pub async fn assign(
    State(state): State<AppState>,
    super::session::CsrfForm(viewer, fields): super::session::CsrfForm<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let login = fields
        .iter()
        .find(|(k, _)| k == "assignee")
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty());
    let ids = fields
        .iter()
        .filter(|(k, _)| k == "lead")
        .map(|(_, v)| v.parse::<i64>().map_err(|_| bad("lead")))
        .collect::<Result<Vec<_>, _>>()?;
    let actor = viewer.actor();
    let mut leads = Vec::with_capacity(ids.len());
    for id in ids {
        let lead = super::lead::visible_lead(&state, &viewer, id).await?;
        if let Some(login) = login {
            crate::app::lead_actions::check_assignee(&state, actor, &lead, login).await?;
        }
        leads.push(lead);
    }
    for lead in &leads {
        crate::app::lead_actions::assign(&state, actor, lead, login).await?;
    }
    Ok(axum::response::Redirect::to("/inbox").into_response())
}
