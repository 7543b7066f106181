//! The read API: leads, tech cards, counterparties, calendars and the message ledger, behind a user's or the
//! administrator's bearer token. Lists answer `{"items": [...], "next": cursor|null}`.
//!
//! A manager's token reaches what the manager sees in the UI: leads of the common calendars and of the
//! manager's own personal ones, their tech cards, and the counterparties (with the contacts) those leads
//! brought. Anything else answers 404, as if it did not exist, so ids of other managers' leads are not
//! confirmed either. Administrators' tokens reach everything.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth;
use super::dto::{
    CalendarView, CounterpartyView, LeadFilter, LeadPatch, LeadView, MessageView, Page,
    TechCardView,
};
use super::extract::{Json, Path, Query};
use crate::app::error::ErrorBody;
use crate::app::parse_cursor;
use crate::app::{ApiError, AppState};
use leadgate_domain::ledger::Outcome;
use leadgate_storage::{self as storage, PageRequest, UserRecord, visible_calendar_ids};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_leads))
        .routes(routes!(get_lead, patch_lead))
        .routes(routes!(form_tech_cards))
        .routes(routes!(get_tech_card))
        .routes(routes!(list_counterparties))
        .routes(routes!(list_calendars))
        .routes(routes!(list_messages))
        .routes(routes!(get_message_raw))
}

/// `limit` and `cursor` of every list.
#[derive(Debug, Deserialize, IntoParams)]
pub struct Paging {
    /// Items per page, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// The `next` of the previous page.
    pub cursor: Option<String>,
}

impl Paging {
    pub(super) fn request(&self) -> Result<PageRequest, ApiError> {
        let limit = self.limit.unwrap_or(50);
        if limit == 0 || limit > PageRequest::MAX_LIMIT {
            return Err(ApiError::BadRequest(format!(
                "limit must be 1 to {}",
                PageRequest::MAX_LIMIT
            )));
        }
        Ok(PageRequest {
            limit,
            cursor: parse_cursor(self.cursor.as_deref())?,
        })
    }
}

/// The calendars the token's user may see, as a storage filter (`None`: every calendar).
pub(super) async fn scope_of(
    state: &AppState,
    user: &UserRecord,
) -> Result<Option<Vec<i64>>, ApiError> {
    let calendars = state.storage.calendars().await?;
    Ok(visible_calendar_ids(&calendars, &user.login, user.role))
}

/// The lead, when it is in a calendar of the scope; `NotFound` otherwise, whether or not it exists.
pub(super) async fn visible_lead(
    state: &AppState,
    scope: Option<&[i64]>,
    id: i64,
) -> Result<storage::LeadView, ApiError> {
    state
        .storage
        .lead(id)
        .await?
        .filter(|l| scope.is_none_or(|s| s.contains(&l.calendar.id)))
        .ok_or(ApiError::NotFound("lead"))
}

/// The years an RFC 3339 timestamp can carry (four digits); anything beyond is a malformed filter.
const FILTER_YEARS: std::ops::RangeInclusive<i32> = 1..=9999;

/// Refuses a period filter outside [`FILTER_YEARS`], and a calendar filter with a NUL character (no name holds
/// one, and PostgreSQL cannot compare text with it).
pub(super) fn check_filter(filter: &LeadFilter) -> Result<(), ApiError> {
    use chrono::Datelike;
    if filter.calendar.as_deref().is_some_and(|c| c.contains('\0')) {
        return Err(ApiError::BadRequest(
            "calendar must be a calendar's name or id".into(),
        ));
    }
    for (name, t) in [("from", filter.from), ("to", filter.to)] {
        if t.is_some_and(|t| !FILTER_YEARS.contains(&t.year())) {
            return Err(ApiError::BadRequest(format!(
                "{name} must be a date between the years 1 and 9999"
            )));
        }
    }
    Ok(())
}

/// Leads, newest first, with filters; a manager's token lists only leads of calendars the manager may see.
#[utoipa::path(get, path = "/api/v1/leads", tag = "leads", params(LeadFilter, Paging),
    responses((status = 200, body = Page<LeadView>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_leads(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(filter): Query<LeadFilter>,
    Query(paging): Query<Paging>,
) -> Result<Json<Page<LeadView>>, ApiError> {
    let user = auth::user(&state, &headers).await?;
    check_filter(&filter)?;
    let page = paging.request()?;
    let scope = scope_of(&state, &user).await?;
    Ok(Json(
        state
            .storage
            .leads(&filter.into(), scope.as_deref(), page)
            .await?
            .into(),
    ))
}

/// One lead (404 for a manager's token when the lead is in a calendar the manager may not see).
#[utoipa::path(get, path = "/api/v1/leads/{id}", tag = "leads", params(("id" = i64, Path)),
    responses((status = 200, body = LeadView), (status = 400, description = "Malformed id", body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_lead(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Json<LeadView>, ApiError> {
    let user = auth::user(&state, &headers).await?;
    let scope = scope_of(&state, &user).await?;
    let lead = visible_lead(&state, scope.as_deref(), id).await?;
    Ok(Json(lead.into()))
}

/// Changes a lead's status or assignee (a user who may see its calendar; any user for an administrator's
/// token). Each change is in the lead's timeline.
#[utoipa::path(patch, path = "/api/v1/leads/{id}", tag = "leads", params(("id" = i64, Path)), request_body = LeadPatch,
    responses((status = 200, body = LeadView), (status = 400, description = "Malformed id or JSON", body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 404, description = "No such lead", body = ErrorBody),
              (status = 413, body = ErrorBody), (status = 415, description = "Not application/json", body = ErrorBody),
              (status = 422, description = "JSON of the wrong shape (code invalid_body), or an assignee the lead may not be \
                given to (code assignee_not_allowed)", body = ErrorBody)),
    security(("bearer" = [])))]
async fn patch_lead(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Json(patch): Json<LeadPatch>,
) -> Result<Json<LeadView>, ApiError> {
    let user = auth::user(&state, &headers).await?;
    let scope = scope_of(&state, &user).await?;
    let lead = visible_lead(&state, scope.as_deref(), id).await?;
    if let Some(login) = patch.assignee.as_deref().filter(|l| !l.is_empty()) {
        crate::app::lead_actions::check_assignee(
            &state,
            super::lead_actions::actor(&user),
            &lead,
            login,
        )
        .await?;
    }
    let patch = storage::LeadPatch {
        by: Some(user.id),
        ..patch.into()
    };
    let lead = state
        .storage
        .update_lead(id, &patch)
        .await?
        .ok_or(ApiError::NotFound("lead"))?;
    state.intake.announce(id, crate::live::Change::Updated);
    Ok(Json(lead.into()))
}

/// Forms the lead's tech cards (one per non-service line); forming again changes nothing.
#[utoipa::path(post, path = "/api/v1/leads/{id}/tech-cards", tag = "tech cards", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<TechCardView>), (status = 400, description = "Malformed id", body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn form_tech_cards(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Json<Vec<TechCardView>>, ApiError> {
    let user = auth::user(&state, &headers).await?;
    let scope = scope_of(&state, &user).await?;
    visible_lead(&state, scope.as_deref(), id).await?;
    state
        .storage
        .form_tech_cards(id, Some(user.id))
        .await?
        .map(|cards| Json(cards.into_iter().map(Into::into).collect()))
        .ok_or(ApiError::NotFound("lead"))
}

/// One tech card.
#[utoipa::path(get, path = "/api/v1/tech-cards/{id}", tag = "tech cards", params(("id" = i64, Path)),
    responses((status = 200, body = TechCardView), (status = 400, description = "Malformed id", body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_tech_card(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Json<TechCardView>, ApiError> {
    let user = auth::user(&state, &headers).await?;
    let card = state
        .storage
        .tech_card(id)
        .await?
        .ok_or(ApiError::NotFound("tech card"))?;
    let scope = scope_of(&state, &user).await?;
    match visible_lead(&state, scope.as_deref(), card.lead_id).await {
        Ok(_) => Ok(Json(card.into())),
        Err(ApiError::NotFound(_)) => Err(ApiError::NotFound("tech card")),
        Err(e) => Err(e),
    }
}

/// `?inn=` of the counterparty list.
#[derive(Debug, Deserialize, IntoParams)]
pub struct InnQuery {
    /// Only the counterparty with this INN.
    pub inn: Option<String>,
}

/// Counterparties; a manager's token lists only those with a lead the manager may see, with the contacts
/// such leads brought.
#[utoipa::path(get, path = "/api/v1/counterparties", tag = "counterparties", params(InnQuery, Paging),
    responses((status = 200, body = Page<CounterpartyView>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_counterparties(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<InnQuery>,
    Query(paging): Query<Paging>,
) -> Result<Json<Page<CounterpartyView>>, ApiError> {
    let user = auth::user(&state, &headers).await?;
    let page = paging.request()?;
    let scope = scope_of(&state, &user).await?;
    Ok(Json(
        state
            .storage
            .counterparties(q.inn.as_deref(), scope.as_deref(), page)
            .await?
            .into(),
    ))
}

/// Calendars; a manager's token lists the common ones and the manager's own personal ones.
#[utoipa::path(get, path = "/api/v1/calendars", tag = "calendars",
    responses((status = 200, body = Vec<CalendarView>), (status = 401, body = ErrorBody)), security(("bearer" = [])))]
async fn list_calendars(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Vec<CalendarView>>, ApiError> {
    let user = auth::user(&state, &headers).await?;
    let calendars = state.storage.calendars().await?;
    Ok(Json(
        calendars
            .into_iter()
            .filter(|c| c.visible_to(&user.login, user.role))
            .map(Into::into)
            .collect(),
    ))
}

/// `?outcome=` of the ledger list.
#[derive(Debug, Deserialize, IntoParams)]
pub struct OutcomeQuery {
    /// imported, duplicate, skipped, rejected or discarded.
    #[param(value_type = Option<String>)]
    pub outcome: Option<Outcome>,
}

/// The message ledger (administrators).
#[utoipa::path(get, path = "/api/v1/messages", tag = "ledger", params(OutcomeQuery, Paging),
    responses((status = 200, body = Page<MessageView>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_messages(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<OutcomeQuery>,
    Query(paging): Query<Paging>,
) -> Result<Json<Page<MessageView>>, ApiError> {
    auth::admin(&state, &headers).await?;
    Ok(Json(
        state
            .storage
            .messages(q.outcome, paging.request()?)
            .await?
            .into(),
    ))
}

/// The original message or request body of a ledger record, as an attachment (never rendered).
#[utoipa::path(get, path = "/api/v1/messages/{id}/raw", tag = "ledger", params(("id" = i64, Path)),
    responses((status = 200, description = "The raw bytes as received (an e-mail or an HTTP body)", body = Vec<u8>,
               content_type = "application/octet-stream",
               headers(("Content-Disposition" = String, description = "attachment; filename=\"message-{id}.eml\" or .json"))),
              (status = 400, description = "Malformed id", body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_message_raw(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    auth::admin(&state, &headers).await?;
    let raw = state
        .storage
        .message_raw(id)
        .await?
        .ok_or(ApiError::NotFound("raw message"))?;
    let extension = if crate::intake::mail::is_mail(&raw.content_type) {
        "eml"
    } else {
        "json"
    };
    Ok((
        StatusCode::OK,
        [
            // Served as an opaque download so a browser never renders attacker-controlled HTML.
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"message-{id}.{extension}\""),
            ),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
        ],
        raw.bytes,
    )
        .into_response())
}
