//! The lead page, its actions, the download of the original message, and the printable tech card.
//!
//! A manager may open a lead only in a calendar they may see (common, or their own personal one); the same
//! check guards every action and the tech cards, so another manager's personal calendar never leaks through
//! a guessed id.
//!
//! A lead without an INN has no counterparty, but its phone or e-mail may be a known customer's: the page
//! then suggests that customer, with their other leads, and one click links the lead. Only customers the
//! viewer may see are suggested, matched only by contacts the viewer may see, so a suggestion never tells a
//! manager who is behind a phone in another manager's personal calendar.
//!
//! A lead worked on for a year may have hundreds of history entries, comments and follow-ups. The page shows
//! the newest [`NEWEST`] history entries after the first (the arrival), the newest comments, and every open
//! follow-up with the latest done ones; it says how many it left out and links the whole (`?history=all`).
//! The API's timeline is always whole.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tracing::{info, instrument};

use super::fmt::{self, LeadRow};
pub use super::layout_files::{FileLink, file_link};
use super::session::{CsrfForm, NoFields, Viewer};
use super::{Layout, timezone};
use crate::app::{ApiError, AppState};
use leadgate_domain::lead::{LeadKind, LeadStatus};
use leadgate_domain::payload::OrderLine;
use leadgate_domain::techcard::TechCardStatus;
use leadgate_storage::{
    CalendarView, CounterpartyRef, LeadPatch, LeadView, LinkOutcome, TechCardView,
};

/// An extra work, written out.
#[derive(Debug, Clone)]
pub struct ExtraRow {
    /// Kind of work.
    pub kind: String,
    /// Quantity.
    pub quantity: String,
    /// Description.
    pub description: String,
}

/// An order line, written out.
#[derive(Debug, Clone)]
pub struct LineRow {
    /// Position.
    pub position: i64,
    /// Item.
    pub item: String,
    /// Machine code.
    pub machine: String,
    /// Resolution.
    pub resolution: String,
    /// Material.
    pub material: String,
    /// Material code.
    pub material_code: String,
    /// Width, m.
    pub width: String,
    /// Height, m.
    pub height: String,
    /// Quantity.
    pub quantity: String,
    /// Price.
    pub price: String,
    /// Amount.
    pub amount: String,
    /// Service line.
    pub is_service: bool,
    /// Extra works.
    pub extra: Vec<ExtraRow>,
}

impl LineRow {
    fn new(l: &OrderLine) -> Self {
        let text = |s: &Option<String>| s.clone().unwrap_or_default();
        Self {
            position: l.position.into(),
            item: text(&l.nomenclature),
            machine: text(&l.machine_code),
            resolution: text(&l.resolution),
            material: text(&l.material),
            material_code: text(&l.material_code),
            width: fmt::opt_number(l.width),
            height: fmt::opt_number(l.height),
            quantity: fmt::opt_number(l.quantity),
            price: fmt::opt_money(l.price),
            amount: fmt::opt_money(l.amount),
            is_service: l.is_service,
            extra: l
                .extra_works
                .iter()
                .map(|w| ExtraRow {
                    kind: w.kind.clone().unwrap_or_default(),
                    quantity: fmt::opt_number(w.quantity),
                    description: w.description.clone().unwrap_or_default(),
                })
                .collect(),
        }
    }
}

/// A warning, written out.
#[derive(Debug, Clone)]
pub struct WarningRow {
    /// Russian label of the code.
    pub label: &'static str,
    /// The payload field.
    pub field: String,
    /// The message with the original value.
    pub message: String,
}

/// A tech card in the lead's list.
#[derive(Debug, Clone)]
pub struct CardRow {
    /// Id.
    pub id: i64,
    /// Number.
    pub number: String,
    /// Item.
    pub item: String,
    /// Total area.
    pub total_area: String,
    /// Status, in Russian.
    pub status: &'static str,
    /// `new`, `in_production`, `done`, for CSS.
    pub status_key: &'static str,
    /// The line changed or was removed after the card was formed.
    pub stale: bool,
}

/// An order line as its edit form shows it: the values as stored, numbers with a decimal point.
#[derive(Debug, Clone)]
pub struct EditLine {
    /// Position.
    pub position: u32,
    /// Item.
    pub nomenclature: String,
    /// Machine code.
    pub machine_code: String,
    /// Resolution.
    pub resolution: String,
    /// Material.
    pub material: String,
    /// Material code.
    pub material_code: String,
    /// Width, m.
    pub width: String,
    /// Height, m.
    pub height: String,
    /// Quantity.
    pub quantity: String,
    /// Price.
    pub price: String,
    /// Amount.
    pub amount: String,
    /// Service line.
    pub is_service: bool,
    /// The line's version ([`crate::app::lead_edits::line_version`]).
    pub version: String,
}

impl EditLine {
    fn new(l: &OrderLine) -> Self {
        let text = |s: &Option<String>| s.clone().unwrap_or_default();
        let num = |d: Option<rust_decimal::Decimal>| {
            d.map(|d| d.normalize().to_string()).unwrap_or_default()
        };
        Self {
            version: crate::app::lead_edits::line_version(l),
            position: l.position,
            nomenclature: text(&l.nomenclature),
            machine_code: text(&l.machine_code),
            resolution: text(&l.resolution),
            material: text(&l.material),
            material_code: text(&l.material_code),
            width: num(l.width),
            height: num(l.height),
            quantity: num(l.quantity),
            price: num(l.price),
            amount: num(l.amount),
            is_service: l.is_service,
        }
    }
}

/// The earlier lead a lead may repeat, as the page shows it.
#[derive(Debug, Clone)]
pub struct DuplicateRow {
    /// Its id.
    pub of: i64,
    /// Its title.
    pub title: String,
    /// What matched, in Russian.
    pub matched: String,
}

/// Russian words for what a duplicate hint matched.
fn matched_words(matched: &[&str]) -> String {
    matched
        .iter()
        .map(|m| match *m {
            "phone" => "телефон",
            "email" => "e-mail",
            "inn" => "ИНН",
            "external_number" => "внешний номер",
            _ => "тема",
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A changed value in the timeline, written out.
#[derive(Debug, Clone)]
pub struct ChangeRow {
    /// What changed.
    pub field: String,
    /// Before, or an em dash.
    pub old: String,
    /// After, or an em dash.
    pub new: String,
}

/// An entry of the lead's timeline, written out.
#[derive(Debug, Clone)]
pub struct TimelineRow {
    /// When.
    pub when: String,
    /// What happened, in Russian.
    pub what: &'static str,
    /// Its kind's word (a CSS class and a test hook).
    pub kind: &'static str,
    /// Who, or empty for leadgate itself.
    pub actor: String,
    /// Changed values.
    pub changes: Vec<ChangeRow>,
    /// Other details, labelled.
    pub details: Vec<(String, String)>,
    /// The raw message, for administrators.
    pub raw_url: Option<String>,
}

impl TimelineRow {
    fn new(e: &crate::app::timeline::TimelineEntry, tz: chrono_tz::Tz) -> Self {
        let shown = |field: &str, v: &Option<String>| {
            v.as_deref()
                .map_or_else(|| "—".to_owned(), |v| fmt::event_value(field, v))
        };
        Self {
            when: fmt::datetime(e.at, tz),
            what: fmt::event_kind(e.kind),
            kind: e.kind.as_str(),
            actor: e.actor.clone().unwrap_or_default(),
            changes: e
                .changes
                .iter()
                .map(|c| ChangeRow {
                    field: fmt::event_field(&c.field),
                    old: shown(&c.field, &c.old),
                    new: shown(&c.field, &c.new),
                })
                .collect(),
            details: e
                .details
                .iter()
                .map(|(k, v)| (fmt::event_field(k), fmt::event_value(k, v)))
                .collect(),
            raw_url: e.raw_url.clone(),
        }
    }
}

/// A known customer the lead may belong to: its phone or e-mail is one of theirs.
#[derive(Debug, Clone)]
pub struct Suggestion {
    /// Counterparty id.
    pub id: i64,
    /// Its name.
    pub name: String,
    /// Its INN.
    pub inn: String,
    /// What matched: `телефон +79161234567` or `e-mail a@b.ru`.
    pub matched: String,
    /// Its other leads the viewer may see, newest first.
    pub leads: Vec<LeadRow>,
}

/// Most customers suggested for one lead.
const MAX_SUGGESTIONS: u32 = 5;
/// Most leads shown with each suggestion.
const SUGGESTION_LEADS: usize = 10;

/// The customers a lead without an INN (and without a counterparty) may belong to: those the viewer may see
/// that have the lead's phone (E.164) or e-mail (any case) among the contacts the viewer sees.
///
/// # Errors
/// Database errors.
pub async fn suggestions(
    state: &AppState,
    viewer: &Viewer,
    lead: &LeadView,
) -> Result<Vec<Suggestion>, ApiError> {
    let has_inn = lead.inn.as_deref().is_some_and(|i| !i.trim().is_empty());
    if lead.counterparty.is_some() || has_inn {
        return Ok(Vec::new());
    }
    let phone = lead.contact.phone_e164.as_deref();
    let email = lead.contact.email.as_deref().map(str::trim);
    let ids = state
        .storage
        .counterparties_by_contact(phone, email, MAX_SUGGESTIONS)
        .await?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let visible = super::session::visible_calendars(state, viewer).await?;
    let scope = super::session::scope_of(viewer, &visible);
    let tz = timezone(state);
    let mut found = Vec::new();
    for id in ids {
        let Some(c) = state.storage.counterparty(id, scope.as_deref()).await? else {
            continue;
        };
        let by_phone = phone.filter(|p| c.phones.iter().any(|cp| cp == p));
        let by_email = email.filter(|e| {
            !e.is_empty() && c.emails.iter().any(|ce| ce.trim().eq_ignore_ascii_case(e))
        });
        let matched = match (by_phone, by_email) {
            (Some(p), _) => format!("телефон {p}"),
            (None, Some(e)) => format!("e-mail {e}"),
            (None, None) => continue,
        };
        let leads = state
            .storage
            .leads_of_counterparty(id, 50)
            .await?
            .iter()
            .filter(|l| l.id != lead.id && visible.iter().any(|v| v.id == l.calendar_id))
            .take(SUGGESTION_LEADS)
            .map(|l| LeadRow::new(l, tz))
            .collect();
        found.push(Suggestion {
            id: c.id,
            name: c.name,
            inn: c.inn,
            matched,
            leads,
        });
    }
    Ok(found)
}

#[derive(Template, WebTemplate)]
#[template(path = "lead.html")]
struct LeadPage {
    layout: Layout,
    id: i64,
    title: String,
    kind: &'static str,
    is_order: bool,
    status: &'static str,
    status_key: &'static str,
    calendar: String,
    calendar_id: i64,
    when: String,
    received: String,
    description: String,
    person: String,
    phone: String,
    phone_href: Option<String>,
    email: String,
    email_href: Option<String>,
    inn: String,
    counterparty: Option<CounterpartyRef>,
    other_leads: Vec<LeadRow>,
    suggestions: Vec<Suggestion>,
    files: Vec<FileLink>,
    lines: Vec<LineRow>,
    total: String,
    warnings: Vec<WarningRow>,
    channel: &'static str,
    source_name: String,
    message_id: String,
    external_number: String,
    /// The campaign fields the site sent, labelled (shown as text, never as links).
    campaign: Vec<(&'static str, String)>,
    original_url: Option<String>,
    assignee: String,
    cards: Vec<CardRow>,
    can_form_cards: bool,
    can_take: bool,
    can_done: bool,
    can_spam: bool,
    /// The subject as stored, for the correction form.
    subject: String,
    /// The lines as their edit forms show them.
    edit_lines: Vec<EditLine>,
    /// The earlier lead this one may repeat.
    duplicate: Option<DuplicateRow>,
    /// The lead a manager marked this one a duplicate of.
    duplicate_of: Option<i64>,
    /// Who the lead may be given to: `(login, name)`.
    assignees: Vec<(String, String)>,
    /// Where the lead may be moved: `(id, name)` of the other calendars the viewer sees.
    move_targets: Vec<(i64, String)>,
    timeline: Vec<TimelineRow>,
    /// History entries left out between the arrival and the newest (none with `?history=all`).
    timeline_hidden: usize,
    /// Comments and follow-ups.
    notes: super::lead_notes::NotesSection,
}

/// How many of a lead's history entries, comments and follow-ups its page shows unless asked for all.
pub const NEWEST: usize = 30;

/// How much of a lead's history the page shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum History {
    /// The newest [`NEWEST`] entries of each list (the default).
    #[default]
    Newest,
    /// Everything.
    All,
}

/// The lead page's query: `?history=all` shows the whole history.
#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    #[serde(default)]
    history: History,
}

impl History {
    /// How many of `len` entries are left out.
    pub fn hidden(self, len: usize) -> usize {
        match self {
            Self::Newest => len.saturating_sub(NEWEST),
            Self::All => 0,
        }
    }

    /// Drops from `rows` (oldest first) all but the newest, keeping the first `keep_first` as well; returns
    /// how many it dropped.
    pub fn trim<T>(self, rows: &mut Vec<T>, keep_first: usize) -> usize {
        let keep_first = keep_first.min(rows.len());
        let hidden = self.hidden(rows.len() - keep_first);
        rows.drain(keep_first..keep_first + hidden);
        hidden
    }
}

/// `tel:` target: the E.164 form, else the digits (and a leading +) of what was sent when that is one
/// number written with the usual separators, 5 to 15 digits. What else was sent (an extension, "доб. 12",
/// or two numbers) gets no link: joining its digits would dial a wrong number.
pub fn tel_href(e164: Option<&str>, raw: Option<&str>) -> Option<String> {
    let number: String = match e164 {
        Some(n) => n.to_owned(),
        None => {
            let raw = raw?.trim();
            if !raw
                .chars()
                .all(|c| c.is_ascii_digit() || " +-().".contains(c))
            {
                return None;
            }
            raw.chars()
                .filter(|c| c.is_ascii_digit() || *c == '+')
                .collect()
        }
    };
    let digits = number.chars().filter(char::is_ascii_digit).count();
    (5..=15).contains(&digits).then(|| format!("tel:{number}"))
}

/// `mailto:` target, only for something shaped like an address (no spaces, one @, no URL syntax).
pub fn mailto_href(email: Option<&str>) -> Option<String> {
    let e = email?.trim();
    let plausible = e.matches('@').count() == 1
        && !e.starts_with('@')
        && !e.ends_with('@')
        && !e
            .chars()
            .any(|c| c.is_whitespace() || "?&#<>\"'".contains(c));
    plausible.then(|| format!("mailto:{e}"))
}

/// The sum of the lines' amounts written out: an em dash without amounts, and a sentence instead of a
/// panic when the amounts a website sent are too large to add up.
fn total_amount(lines: &[OrderLine]) -> String {
    let mut amounts = lines.iter().filter_map(|l| l.amount).peekable();
    if amounts.peek().is_none() {
        return fmt::opt_money(None);
    }
    amounts
        .try_fold(
            rust_decimal::Decimal::ZERO,
            rust_decimal::Decimal::checked_add,
        )
        .map_or_else(|| "слишком велика для подсчёта".to_owned(), fmt::money)
}

/// A tech card's status as stored, read.
fn card_status(status: &str) -> Option<TechCardStatus> {
    status.parse().ok()
}

/// Loads a lead the viewer may see.
///
/// # Errors
/// `NotFound` for a lead that does not exist or that the viewer may not see (as the API answers: a page
/// must not tell which leads exist in other calendars), database errors.
pub async fn visible_lead(
    state: &AppState,
    viewer: &Viewer,
    id: i64,
) -> Result<LeadView, ApiError> {
    let calendars = state.storage.calendars().await?;
    lead_among(state, viewer, id, &calendars).await
}

/// Loads a tech card and its lead, when the viewer may see the lead.
///
/// # Errors
/// `NotFound` for a card that does not exist or whose lead the viewer may not see, database errors.
pub async fn visible_card(
    state: &AppState,
    viewer: &Viewer,
    id: i64,
) -> Result<(TechCardView, LeadView), ApiError> {
    let card = state
        .storage
        .tech_card(id)
        .await?
        .ok_or(ApiError::NotFound("tech card"))?;
    match visible_lead(state, viewer, card.lead_id).await {
        Ok(lead) => Ok((card, lead)),
        Err(ApiError::NotFound(_)) => Err(ApiError::NotFound("tech card")),
        Err(e) => Err(e),
    }
}

/// Loads a lead the viewer may see, given every calendar.
///
/// # Errors
/// As [`visible_lead`].
async fn lead_among(
    state: &AppState,
    viewer: &Viewer,
    id: i64,
    calendars: &[CalendarView],
) -> Result<LeadView, ApiError> {
    let lead = state
        .storage
        .lead(id)
        .await?
        .ok_or(ApiError::NotFound("lead"))?;
    let allowed = calendars
        .iter()
        .find(|c| c.id == lead.calendar.id)
        .is_some_and(|c| viewer.may_see(c));
    if allowed {
        Ok(lead)
    } else {
        Err(ApiError::NotFound("lead"))
    }
}

/// `GET /leads/{id}`.
#[instrument(skip_all, fields(lead_id = id, user = %viewer.login))]
pub async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
    Query(q): Query<PageQuery>,
) -> Result<Response, ApiError> {
    let tz = timezone(&state);
    // Every calendar, read once for the page's checks and choices.
    let calendars = state.storage.calendars().await?;
    let lead = lead_among(&state, &viewer, id, &calendars).await?;
    let visible: Vec<&CalendarView> = calendars.iter().filter(|c| viewer.may_see(c)).collect();
    let cards = state.storage.tech_cards_of_lead(id).await?;
    let layout_files = state.storage.layout_files_of_lead(id).await?;
    let message = state.storage.message_of_lead(id).await?;
    let has_raw = match message {
        Some(m) => state.storage.message(m).await?.is_some_and(|m| m.has_raw),
        None => false,
    };
    let other_leads = match &lead.counterparty {
        Some(cp) => state
            .storage
            .leads_of_counterparty(cp.id, 20)
            .await?
            .iter()
            .filter(|l| l.id != id && visible.iter().any(|c| c.id == l.calendar_id))
            .map(|l| LeadRow::new(l, tz))
            .collect(),
        None => Vec::new(),
    };
    let suggestions = suggestions(&state, &viewer, &lead).await?;
    let scope = leadgate_storage::visible_calendar_ids(&calendars, &viewer.login, viewer.role);
    let duplicate = match state.storage.duplicate_hint(id, scope.as_deref()).await? {
        Some(hint) => state.storage.lead(hint.of).await?.map(|of| DuplicateRow {
            of: of.id,
            title: of
                .subject
                .clone()
                .filter(|s| !s.trim().is_empty())
                .unwrap_or_else(|| format!("{} №{}", fmt::kind(of.kind), of.id)),
            matched: matched_words(&hint.matched),
        }),
        None => None,
    };
    let notes = super::lead_notes::section(&state, &viewer, &lead, q.history).await?;
    let total = total_amount(&lead.lines);
    let mine = lead.assignee.as_deref() == Some(viewer.login.as_str());
    let actor = viewer.actor();
    let assignees = match visible.iter().find(|c| c.id == lead.calendar.id) {
        Some(calendar) => crate::app::lead_actions::assignable_users(&state, actor, calendar)
            .await?
            .into_iter()
            .map(|u| (u.login, u.display_name))
            .collect(),
        None => Vec::new(),
    };
    let move_targets = visible
        .iter()
        .filter(|c| c.id != lead.calendar.id)
        .map(|c| (c.id, c.name.clone()))
        .collect();
    let mut entries = crate::app::timeline::timeline(
        state.storage.as_ref(),
        &lead,
        message,
        crate::app::timeline::Audience::Web {
            admin: viewer.is_admin(),
        },
    )
    .await?;
    // The arrival stays first.
    let timeline_hidden = q.history.trim(&mut entries, 1);
    let timeline = entries.iter().map(|e| TimelineRow::new(e, tz)).collect();
    let c = &lead.contact;
    let page = LeadPage {
        layout: Layout::new(&viewer, "inbox"),
        id,
        title: lead
            .subject
            .clone()
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| format!("{} №{id}", fmt::kind(lead.kind))),
        kind: fmt::kind(lead.kind),
        is_order: lead.kind == LeadKind::Order,
        status: fmt::status(lead.status),
        status_key: lead.status.as_str(),
        calendar: lead.calendar.name.clone(),
        calendar_id: lead.calendar.id,
        when: fmt::datetime(lead.occurred_at.unwrap_or(lead.received_at), tz),
        received: fmt::datetime(lead.received_at, tz),
        description: lead.description.clone().unwrap_or_default(),
        person: c.person.clone().unwrap_or_default(),
        phone: c.phone.clone().unwrap_or_default(),
        phone_href: tel_href(c.phone_e164.as_deref(), c.phone.as_deref()),
        email: c.email.clone().unwrap_or_default(),
        email_href: mailto_href(c.email.as_deref()),
        inn: lead.inn.clone().unwrap_or_default(),
        counterparty: lead.counterparty.clone(),
        other_leads,
        suggestions,
        files: super::layout_files::file_links(id, &lead.layout_files, &layout_files),
        lines: lead.lines.iter().map(LineRow::new).collect(),
        total,
        warnings: lead
            .warnings
            .iter()
            .map(|w| WarningRow {
                label: fmt::warning(w.code),
                field: w.field.clone(),
                message: w.message.clone(),
            })
            .collect(),
        channel: fmt::channel(lead.source.channel),
        source_name: lead
            .source
            .collector
            .clone()
            .or_else(|| lead.source.http_source.clone())
            .unwrap_or_default(),
        message_id: lead.source.message_id.clone().unwrap_or_default(),
        external_number: lead.source.external_number.clone().unwrap_or_default(),
        campaign: [
            ("utm_source", &lead.campaign.utm_source),
            ("utm_medium", &lead.campaign.utm_medium),
            ("utm_campaign", &lead.campaign.utm_campaign),
            ("Страница заявки", &lead.campaign.page_url),
            ("Откуда пришёл", &lead.campaign.referrer),
        ]
        .into_iter()
        .filter_map(|(label, v)| v.clone().map(|v| (label, v)))
        .collect(),
        original_url: has_raw.then(|| format!("/leads/{id}/original")),
        assignee: lead.assignee.clone().unwrap_or_default(),
        can_form_cards: lead.lines.iter().any(|l| !l.is_service)
            && cards.len() < lead.lines.iter().filter(|l| !l.is_service).count(),
        cards: cards
            .iter()
            .map(|t| CardRow {
                id: t.id,
                number: t.number.clone(),
                item: t.line.nomenclature.clone().unwrap_or_default(),
                total_area: fmt::opt_number(t.total_area),
                status: card_status(&t.status).map_or("—", TechCardStatus::label),
                status_key: card_status(&t.status).map_or("", TechCardStatus::as_str),
                stale: t.stale,
            })
            .collect(),
        can_take: !(lead.status == LeadStatus::InProgress && mine),
        can_done: lead.status != LeadStatus::Done,
        can_spam: lead.status != LeadStatus::Rejected,
        subject: lead.subject.clone().unwrap_or_default(),
        edit_lines: lead.lines.iter().map(EditLine::new).collect(),
        duplicate,
        duplicate_of: lead.duplicate_of,
        assignees,
        move_targets,
        timeline,
        timeline_hidden,
        notes,
    };
    Ok(page.into_response())
}

async fn patch(
    state: &AppState,
    viewer: &Viewer,
    id: i64,
    patch: LeadPatch,
    action: &'static str,
) -> Result<Response, ApiError> {
    visible_lead(state, viewer, id).await?;
    state
        .storage
        .update_lead(id, &patch)
        .await?
        .ok_or(ApiError::NotFound("lead"))?;
    state.intake.announce(id, crate::live::Change::Updated);
    info!(lead_id = id, user = %viewer.login, action, "lead changed");
    Ok(Redirect::to(&format!("/leads/{id}")).into_response())
}

/// `POST /leads/{id}/take`: assign to me and set in progress.
pub async fn take(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(viewer, NoFields {}): CsrfForm<NoFields>,
) -> Result<Response, ApiError> {
    let p = LeadPatch {
        status: Some(LeadStatus::InProgress),
        assignee: Some(viewer.login.clone()),
        by: Some(viewer.user_id),
    };
    patch(&state, &viewer, id, p, "take").await
}

/// The assign form: a login, empty to take the lead from whoever has it.
#[derive(Debug, serde::Deserialize)]
pub struct AssignForm {
    /// The login.
    #[serde(default)]
    pub assignee: String,
}

/// `POST /leads/{id}/assign`: gives the lead to a user who may see its calendar (any user, for an
/// administrator).
pub async fn assign(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(viewer, form): CsrfForm<AssignForm>,
) -> Result<Response, ApiError> {
    let lead = visible_lead(&state, &viewer, id).await?;
    let login = form.assignee.trim();
    crate::app::lead_actions::assign(
        &state,
        viewer.actor(),
        &lead,
        (!login.is_empty()).then_some(login),
    )
    .await?;
    Ok(Redirect::to(&format!("/leads/{id}")).into_response())
}

/// The move form.
#[derive(Debug, serde::Deserialize)]
pub struct MoveForm {
    /// The calendar's id.
    pub calendar: i64,
}

/// `POST /leads/{id}/move`: moves the lead to another calendar the viewer sees.
pub async fn move_lead(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(viewer, form): CsrfForm<MoveForm>,
) -> Result<Response, ApiError> {
    let lead = visible_lead(&state, &viewer, id).await?;
    crate::app::lead_actions::move_to(&state, viewer.actor(), &lead, form.calendar).await?;
    Ok(Redirect::to(&format!("/leads/{id}")).into_response())
}

/// `POST /leads/{id}/done`.
pub async fn done(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(viewer, NoFields {}): CsrfForm<NoFields>,
) -> Result<Response, ApiError> {
    let p = LeadPatch {
        status: Some(LeadStatus::Done),
        assignee: None,
        by: Some(viewer.user_id),
    };
    patch(&state, &viewer, id, p, "done").await
}

/// `POST /leads/{id}/spam`: reject as spam.
pub async fn spam(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(viewer, NoFields {}): CsrfForm<NoFields>,
) -> Result<Response, ApiError> {
    let p = LeadPatch {
        status: Some(LeadStatus::Rejected),
        assignee: None,
        by: Some(viewer.user_id),
    };
    patch(&state, &viewer, id, p, "spam").await
}

/// `POST /leads/{id}/tech-cards`: forms the missing tech cards (forming again changes nothing).
pub async fn form_tech_cards(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(viewer, NoFields {}): CsrfForm<NoFields>,
) -> Result<Response, ApiError> {
    visible_lead(&state, &viewer, id).await?;
    let cards = state
        .storage
        .form_tech_cards(id, Some(viewer.user_id))
        .await?
        .ok_or(ApiError::NotFound("lead"))?;
    info!(lead_id = id, user = %viewer.login, cards = cards.len(), "tech cards formed");
    Ok(Redirect::to(&format!("/leads/{id}#tech-cards")).into_response())
}

/// The counterparty a manager links a lead to.
#[derive(Debug, serde::Deserialize)]
pub struct LinkForm {
    /// Counterparty id: one of the lead's suggestions.
    counterparty: i64,
}

/// `POST /leads/{id}/counterparty`: links the lead to a suggested customer (and adds the lead's phone and
/// e-mail to the customer's contacts). Only a current suggestion can be linked: a lead with an INN or a
/// counterparty, or a customer the viewer may not see, is refused.
#[instrument(skip_all, fields(lead_id = id, user = %viewer.login))]
pub async fn link_counterparty(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(viewer, form): CsrfForm<LinkForm>,
) -> Result<Response, ApiError> {
    let lead = visible_lead(&state, &viewer, id).await?;
    if lead.counterparty.is_some() {
        return Err(ApiError::Busy("the lead has a counterparty already".into()));
    }
    let suggested = suggestions(&state, &viewer, &lead).await?;
    if !suggested.iter().any(|s| s.id == form.counterparty) {
        return Err(ApiError::NotFound("suggested counterparty"));
    }
    match state
        .storage
        .link_lead_to_counterparty(id, form.counterparty)
        .await?
    {
        LinkOutcome::Linked => {
            state.intake.announce(id, crate::live::Change::Updated);
            info!(lead_id = id, counterparty = form.counterparty, user = %viewer.login, "lead linked to a counterparty");
            Ok(Redirect::to(&format!("/leads/{id}")).into_response())
        }
        LinkOutcome::AlreadyLinked => {
            Err(ApiError::Busy("the lead has a counterparty already".into()))
        }
        LinkOutcome::NotFound => Err(ApiError::NotFound("counterparty")),
    }
}

/// The raw bytes as an opaque download: never rendered by the browser, whatever they hold.
pub fn download(bytes: Vec<u8>, content_type: &str, name: &str) -> Response {
    let extension = if crate::intake::mail::is_mail(content_type) {
        "eml"
    } else {
        "json"
    };
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}.{extension}\""),
            ),
        ],
        bytes,
    )
        .into_response()
}

/// `GET /leads/{id}/original`: the message or request the lead was made from.
pub async fn original(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    visible_lead(&state, &viewer, id).await?;
    let message = state
        .storage
        .message_of_lead(id)
        .await?
        .ok_or(ApiError::NotFound("original message"))?;
    let raw = state
        .storage
        .message_raw(message)
        .await?
        .ok_or(ApiError::NotFound("original message"))?;
    Ok(download(
        raw.bytes,
        &raw.content_type,
        &format!("lead-{id}"),
    ))
}

#[derive(Template, WebTemplate)]
#[template(path = "tech_card.html")]
struct TechCardPage {
    layout: Layout,
    number: String,
    lead_id: i64,
    lead_title: String,
    customer: String,
    date: String,
    line: LineRow,
    area_per_piece: String,
    total_area: String,
    perimeter: String,
    status: String,
    files: Vec<FileLink>,
    /// The card's id, for its status form.
    id: i64,
    /// The status the card moves to next, and the button's label.
    next_status: Option<(&'static str, &'static str)>,
    /// The line changed or was removed after the card was formed.
    stale: bool,
}

/// `GET /tech-cards/{id}`: the printable card (A4 print stylesheet).
#[instrument(skip_all, fields(tech_card = id, user = %viewer.login))]
pub async fn tech_card(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    let (card, lead) = visible_card(&state, &viewer, id).await?;
    let tz = timezone(&state);
    let layout_files = state.storage.layout_files_of_lead(lead.id).await?;
    let customer = lead
        .counterparty
        .as_ref()
        .map(|c| format!("{} (ИНН {})", c.name, c.inn))
        .or_else(|| lead.contact.person.clone())
        .unwrap_or_default();
    let page = TechCardPage {
        layout: Layout::new(&viewer, "inbox"),
        number: card.number.clone(),
        lead_id: lead.id,
        lead_title: lead
            .subject
            .clone()
            .unwrap_or_else(|| format!("Заявка №{}", lead.id)),
        customer,
        date: fmt::datetime(lead.occurred_at.unwrap_or(lead.received_at), tz),
        line: LineRow::new(&card.line),
        area_per_piece: fmt::opt_number(card.area_per_piece),
        total_area: fmt::opt_number(card.total_area),
        perimeter: fmt::opt_number(card.perimeter),
        status: card_status(&card.status)
            .map_or_else(|| card.status.clone(), |s| s.label().to_owned()),
        id: card.id,
        next_status: card_status(&card.status)
            .and_then(TechCardStatus::next)
            .map(|next| {
                let label = match next {
                    TechCardStatus::InProduction => "В производство",
                    _ => "Готово",
                };
                (next.as_str(), label)
            }),
        stale: card.stale,
        files: super::layout_files::file_links(lead.id, &lead.layout_files, &layout_files),
    };
    Ok(page.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_and_mail_links_carry_only_plausible_values() {
        assert_eq!(
            tel_href(Some("+79256424290"), None).as_deref(),
            Some("tel:+79256424290")
        );
        assert_eq!(
            tel_href(None, Some("8 (916) 123-45-67")).as_deref(),
            Some("tel:89161234567")
        );
        assert_eq!(tel_href(None, Some("call me")), None);
        // An extension or a second number: no link that would dial all the digits as one number.
        assert_eq!(tel_href(None, Some("+7 (916) 123-45-67 доб. 12")), None);
        assert_eq!(
            tel_href(None, Some("+79161234567, 8 (495) 765-43-21")),
            None
        );
        assert_eq!(tel_href(None, Some("1234567890123456")), None);
        assert_eq!(
            mailto_href(Some("a@b.ru")).as_deref(),
            Some("mailto:a@b.ru")
        );
        assert_eq!(mailto_href(Some("a@b.ru?subject=x")), None);
        assert_eq!(mailto_href(Some("not an address")), None);
    }
}
