//! Calendar views (week and month) of leads as events, and the per-user iCalendar feed.
//!
//! A lead is an event at its `starts_at` (the payload's Дата, else receipt), shown in the shop's time zone.
//! Days are cut at local midnights computed in that zone, so a day with a daylight-saving change is still
//! one day. A month cell shows the first few events and how many more there are (a link to that day in the
//! inbox), so a busy month costs one counting pass and a few LIMITed index walks, not every lead; a day counts
//! its leads up to [`DaySlot::COUNT_CAP`] and shows a busier one as "ещё 96+".
//!
//! The viewer's own follow-ups are shown in the same cells, apart from the leads (linked to the follow-up on
//! the lead page), and in the feed as events with UIDs of their own.
//!
//! The feed (`/api/v1/calendars/{id}/events.ics?key=…`) is for phones and Outlook, which cannot sign in:
//! the key is a per-user secret, stored only as its SHA-256, and the feed obeys the same visibility rule as
//! the pages.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use leadgate_domain::days::local_midnight;
use serde::Deserialize;
use tracing::instrument;

use super::fmt::{self, LeadRow};
use super::session::{self, Viewer, visible_calendars};
use super::{Layout, ics, timezone};
use crate::app::error::ErrorBody;
use crate::app::{ApiError, AppState};
use crate::tokens;
use leadgate_domain::lead::LeadStatus;
use leadgate_storage::{DaySlot, FollowUpView, LeadSummary};

/// Events listed per day in the week view.
pub const WEEK_PER_DAY: u32 = 40;
/// Events listed per day in the month view.
pub const MONTH_PER_DAY: u32 = 4;

/// A calendar in the picker.
#[derive(Debug, Clone)]
pub struct PickedCalendar {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Personal (has an owner).
    pub personal: bool,
    /// Shown.
    pub checked: bool,
}

/// One day cell.
#[derive(Debug, Clone)]
pub struct DayCell {
    /// `29 мая`.
    pub heading: String,
    /// `29`.
    pub day: u32,
    /// Weekday name.
    pub weekday: &'static str,
    /// Outside the month shown.
    pub other: bool,
    /// Today.
    pub today: bool,
    /// The events listed.
    pub events: Vec<LeadRow>,
    /// How many more there are, when there are any: a number, or "96+" past the day's count cap.
    pub more: Option<String>,
    /// The inbox filtered to this day.
    pub day_url: String,
    /// `YYYY-MM-DD`, where the live page puts a new lead of that day.
    pub date: String,
    /// The viewer's follow-ups due that day, by time.
    pub follow_ups: Vec<FollowUpEvent>,
}

/// A follow-up of the viewer in a day cell: shown apart from the leads, linked to its lead.
#[derive(Debug, Clone)]
pub struct FollowUpEvent {
    /// The follow-up's id.
    pub id: i64,
    /// Its lead.
    pub lead_id: i64,
    /// Due time, `11:00`.
    pub time: String,
    /// The lead's subject (or kind and number) and the note.
    pub title: String,
    /// Marked done.
    pub done: bool,
    /// Open and past due.
    pub overdue: bool,
}

/// Most follow-ups of one user read for one calendar page.
pub const FOLLOW_UPS_PER_PAGE: u32 = 1000;

#[derive(Template, WebTemplate)]
#[template(path = "calendar.html")]
struct CalendarPage {
    layout: Layout,
    is_month: bool,
    title: String,
    date: String,
    calendars: Vec<PickedCalendar>,
    weekdays: [&'static str; 7],
    days: Vec<DayCell>,
    prev_url: String,
    next_url: String,
    today_url: String,
    week_url: String,
    month_url: String,
    live_query: String,
}

fn url(view: &str, date: NaiveDate, cals: &[i64], all: bool) -> String {
    let mut params: Vec<(&str, String)> =
        vec![("view", view.to_owned()), ("date", fmt::iso_date(date))];
    if !all {
        params.extend(cals.iter().map(|c| ("cal", c.to_string())));
    }
    format!(
        "/calendar?{}",
        serde_urlencoded::to_string(&params).unwrap_or_default()
    )
}

fn add_months(d: NaiveDate, months: i32) -> NaiveDate {
    let total = d.year() * 12 + d.month0() as i32 + months;
    NaiveDate::from_ymd_opt(total.div_euclid(12), total.rem_euclid(12) as u32 + 1, 1).unwrap_or(d)
}

/// What a day cell says past its listed events: how many more leads the day has, "96+" when its count reached
/// the cap, nothing when it lists them all.
fn more_of(slot: &DaySlot) -> Option<String> {
    let more = slot.count - slot.events.len() as i64;
    if slot.count_capped() {
        Some(format!("{}+", more.max(0)))
    } else {
        (more > 0).then(|| more.to_string())
    }
}

/// `GET /calendar?view=week|month&date=YYYY-MM-DD&cal=1&cal=2`.
#[instrument(skip_all, fields(user = %viewer.login))]
pub async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    // The live stream's position before the days are read (as the inbox's).
    let since = state.live.current_id();
    let tz = timezone(&state);
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.as_deref().unwrap_or(""))
        .map_err(|_| ApiError::BadRequest("malformed query".into()))?;
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(key, v)| key == k && !v.is_empty())
            .map(|(_, v)| v.as_str())
    };
    let is_month = get("view") == Some("month");
    let today = fmt::today(tz);
    let date = match get("date") {
        Some(d) => {
            fmt::parse_iso_date(d).ok_or_else(|| ApiError::BadRequest("malformed date".into()))?
        }
        None => today,
    };
    let visible = visible_calendars(&state, &viewer).await?;
    let mut chosen: Vec<i64> = Vec::new();
    for (k, v) in &pairs {
        if k == "cal" && !v.is_empty() {
            let id: i64 = v
                .parse()
                .map_err(|_| ApiError::BadRequest("malformed calendar".into()))?;
            if !visible.iter().any(|c| c.id == id) {
                return Err(ApiError::Forbidden);
            }
            if !chosen.contains(&id) {
                chosen.push(id);
            }
        }
    }
    let all = chosen.is_empty();
    if all {
        chosen = visible.iter().map(|c| c.id).collect();
    }

    let (first, days, per_day, title, prev, next) = if is_month {
        let month_start = date.with_day(1).unwrap_or(date);
        let first =
            month_start - Duration::days(i64::from(month_start.weekday().num_days_from_monday()));
        let next_month = add_months(month_start, 1);
        let weeks = (next_month - first).num_days().div_euclid(7)
            + i64::from((next_month - first).num_days().rem_euclid(7) != 0);
        (
            first,
            weeks * 7,
            MONTH_PER_DAY,
            format!(
                "{} {}",
                fmt::month_name(month_start.month()),
                month_start.year()
            ),
            add_months(month_start, -1),
            next_month,
        )
    } else {
        let first = date - Duration::days(i64::from(date.weekday().num_days_from_monday()));
        let last = first + Duration::days(6);
        (
            first,
            7,
            WEEK_PER_DAY,
            format!(
                "{} — {} {}",
                fmt::day_heading(first),
                fmt::day_heading(last),
                last.year()
            ),
            first - Duration::days(7),
            first + Duration::days(7),
        )
    };
    let dates: Vec<NaiveDate> = (0..=days).map(|i| first + Duration::days(i)).collect();
    let bounds: Vec<_> = dates.iter().map(|d| local_midnight(*d, tz)).collect();
    let slots = state
        .storage
        .calendar_days(&chosen, &bounds, per_day)
        .await?;
    let follow_ups = match (bounds.first(), bounds.last()) {
        (Some(from), Some(to)) => {
            state
                .storage
                .follow_ups_of_owner(
                    viewer.user_id,
                    *from,
                    *to,
                    Some(&chosen),
                    FOLLOW_UPS_PER_PAGE,
                )
                .await?
        }
        _ => Vec::new(),
    };
    let now = Utc::now();
    let cal_param = if all || chosen.len() != 1 {
        String::new()
    } else {
        format!("&cal={}", chosen[0])
    };
    let cells = slots
        .into_iter()
        .zip(&dates)
        .map(|(slot, d)| DayCell {
            heading: fmt::day_heading(*d),
            day: d.day(),
            weekday: fmt::WEEKDAYS[d.weekday().num_days_from_monday() as usize],
            other: is_month && d.month() != date.month(),
            today: *d == today,
            more: more_of(&slot),
            events: slot.events.iter().map(|l| LeadRow::new(l, tz)).collect(),
            day_url: format!("/inbox?from={0}&to={0}{cal_param}", fmt::iso_date(*d)),
            date: fmt::iso_date(*d),
            follow_ups: follow_ups
                .iter()
                .filter(|f| f.due_at.with_timezone(&tz).date_naive() == *d)
                .map(|f| FollowUpEvent {
                    id: f.id,
                    lead_id: f.lead_id,
                    time: fmt::time(f.due_at, tz),
                    title: follow_up_title(f),
                    done: f.done_at.is_some(),
                    overdue: f.done_at.is_none() && f.due_at < now,
                })
                .collect(),
        })
        .collect();
    let view = if is_month { "month" } else { "week" };
    let mut live: Vec<(&str, String)> = vec![("since", since)];
    if !all {
        live.extend(chosen.iter().map(|c| ("cal", c.to_string())));
    }
    Ok(CalendarPage {
        layout: Layout::new(&viewer, "calendar"),
        is_month,
        title,
        date: fmt::iso_date(date),
        calendars: visible
            .iter()
            .map(|c| PickedCalendar {
                id: c.id,
                name: c.name.clone(),
                personal: c.owner.is_some(),
                checked: !all && chosen.contains(&c.id),
            })
            .collect(),
        weekdays: fmt::WEEKDAYS,
        days: cells,
        prev_url: url(view, prev, &chosen, all),
        next_url: url(view, next, &chosen, all),
        today_url: url(view, today, &chosen, all),
        week_url: url("week", date, &chosen, all),
        month_url: url("month", date, &chosen, all),
        live_query: serde_urlencoded::to_string(&live).unwrap_or_default(),
    }
    .into_response())
}

/// What a follow-up is called in the calendar and the feed: `Перезвонить: <lead> — <note>`.
fn follow_up_title(f: &FollowUpView) -> String {
    let lead = f
        .lead_subject
        .clone()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| format!("заявка №{}", f.lead_id));
    let note = f.note.lines().next().unwrap_or("").trim();
    if note.is_empty() {
        format!("Перезвонить: {lead}")
    } else {
        format!("Перезвонить: {lead} — {note}")
    }
}

/// `?key=` of the feed.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FeedQuery {
    /// The user's calendar feed key, from their account page (it stands for the user: no bearer token).
    key: Option<String>,
}

/// How far back the feed reaches.
pub const FEED_DAYS_BACK: i64 = 90;
/// The most events a feed carries: the latest ones (future leads first), so a busy calendar drops its
/// oldest leads, never the new ones.
pub const FEED_LIMIT: u32 = 2000;

/// The most characters a feed event's description shows of one of a lead's texts (its title shows
/// [`fmt::LIST_CHARS`]): enough for an order's description, not a megabyte a site sent.
const FEED_CHARS: usize = 2_000;

fn feed_event(l: &LeadSummary, base: Option<&str>) -> ics::Event {
    let title = fmt::lead_title(l);
    let mut description = Vec::new();
    for (label, value) in [
        ("Статус", Some(fmt::status(l.status).to_owned())),
        ("Контакт", l.contact.person.clone()),
        ("Телефон", l.contact.phone.clone()),
        ("E-mail", l.contact.email.clone()),
        ("ИНН", l.inn.clone()),
        ("Контрагент", l.counterparty_name.clone()),
        ("Номер", l.external_number.clone()),
        ("Описание", l.description.clone()),
    ] {
        if let Some(v) = value.filter(|v| !v.trim().is_empty()) {
            description.push(format!("{label}: {}", fmt::shortened(&v, FEED_CHARS)));
        }
    }
    ics::Event {
        uid: format!("lead-{}@leadgate", l.id),
        start: l.starts_at,
        duration: Duration::minutes(30),
        stamp: l.updated_at,
        summary: format!("{}: {title}", fmt::kind(l.kind)),
        description: description.join("\n"),
        url: base.map(|b| format!("{b}/leads/{}", l.id)),
        cancelled: l.status == LeadStatus::Rejected,
    }
}

/// A follow-up as an event of its owner's feed, 15 minutes long, with a UID of its own (never a lead's).
fn follow_up_feed_event(f: &FollowUpView, base: Option<&str>) -> ics::Event {
    let title = follow_up_title(f);
    let mut description = vec![format!("Заявка №{}", f.lead_id)];
    if !f.note.trim().is_empty() {
        description.push(f.note.clone());
    }
    ics::Event {
        uid: format!("follow-up-{}@leadgate", f.id),
        start: f.due_at,
        duration: Duration::minutes(15),
        stamp: f.done_at.unwrap_or(f.created_at),
        summary: if f.done_at.is_some() {
            format!("✓ {title}")
        } else {
            title
        },
        description: description.join("\n"),
        url: base.map(|b| format!("{b}/leads/{}#follow-up-{}", f.lead_id, f.id)),
        cancelled: false,
    }
}

/// The feed's own origin, from the Host header, when it looks like a plain host name.
fn origin(headers: &HeaderMap) -> Option<String> {
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let plain = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c));
    let scheme = if session::is_https(headers) {
        "https"
    } else {
        "http"
    };
    plain.then(|| format!("{scheme}://{host}"))
}

/// The calendar as an iCalendar feed for a phone or Outlook, which cannot sign in: its leads of the last
/// 90 days and later, and the key's user's follow-ups on them. The key in the URL stands for the user.
#[utoipa::path(
    get, path = "/api/v1/calendars/{id}/events.ics", tag = "calendars",
    params(("id" = i64, Path, description = "The calendar"), FeedQuery),
    responses(
        (status = 200, description = "The feed (RFC 5545)", content_type = "text/calendar", body = String),
        (status = 400, description = "Malformed id or query", body = ErrorBody),
        (status = 401, description = "No key, or not a user's key", body = ErrorBody),
        (status = 404, description = "No such calendar, or one the key's user may not see", body = ErrorBody),
    ),
    security(())
)]
#[instrument(skip_all, fields(calendar))]
pub async fn feed(
    State(state): State<AppState>,
    id: Result<Path<i64>, PathRejection>,
    q: Result<Query<FeedQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Path(id) = id.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let Query(q) = q.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    tracing::Span::current().record("calendar", id);
    let key = q
        .key
        .filter(|k| !k.is_empty())
        .ok_or(ApiError::Unauthorized)?;
    let user = state
        .storage
        .user_by_ics_secret(&tokens::hash(&key))
        .await?
        .ok_or(ApiError::Unauthorized)?;
    let calendar = state
        .storage
        .calendars()
        .await?
        .into_iter()
        .find(|c| c.id == id)
        // A calendar the key's owner may not see answers as one that does not exist: which ids exist is not
        // theirs to learn.
        .filter(|c| c.visible_to(&user.login, user.role))
        .ok_or(ApiError::NotFound("calendar"))?;
    let leads = state
        .storage
        .calendar_feed(id, Utc::now() - Duration::days(FEED_DAYS_BACK), FEED_LIMIT)
        .await?;
    let base = origin(&headers);
    let now = Utc::now();
    // The user's own follow-ups on this calendar's leads, from the same time back, and every planned one.
    let follow_ups = state
        .storage
        .follow_ups_of_owner(
            user.id,
            now - Duration::days(FEED_DAYS_BACK),
            DateTime::<Utc>::MAX_UTC,
            Some(&[id]),
            FEED_LIMIT,
        )
        .await?;
    let events: Vec<ics::Event> = follow_ups
        .iter()
        .map(|f| follow_up_feed_event(f, base.as_deref()))
        .chain(leads.iter().map(|l| feed_event(l, base.as_deref())))
        .collect();
    Ok((
        [
            (header::CONTENT_TYPE, "text/calendar; charset=utf-8"),
            (header::CACHE_CONTROL, "private, max-age=60"),
        ],
        ics::calendar(&calendar.name, &events),
    )
        .into_response())
}
