//! The API of a manager's changes to a lead: correcting its fields, its order lines, its tech cards' status,
//! and second submissions. The same visibility as the read API: a manager's token reaches leads of the
//! calendars the manager may see, anything else answers 404.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth;
use super::dto::{LeadView, TechCardView};
use super::extract::{Json, Path};
use super::read::{scope_of, visible_lead};
use crate::app::error::ErrorBody;
use crate::app::lead_edits::{self, EditFields, LineAction};
use crate::app::{ApiError, AppState};
use leadgate_domain::techcard::TechCardStatus;
use leadgate_domain::warning::Warning;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(edit_lead))
        .routes(routes!(add_line))
        .routes(routes!(edit_line, remove_line))
        .routes(routes!(set_card_status))
        .routes(routes!(get_duplicate, resolve_duplicate))
}

/// A corrected lead and what changed.
#[derive(Debug, Serialize, ToSchema)]
pub struct Edited {
    /// The lead as it is now.
    pub lead: LeadView,
    /// The fields that changed: `subject`, `description`, `contact_person`, `phone`, `email`, `inn`.
    pub changed: Vec<String>,
}

/// Corrects a lead's subject, description and contact details (absent fields stay, blank ones are cleared).
/// The phone is normalised, the e-mail checked and the INN validated as the intake does, and a valid INN
/// links the lead to its counterparty (created when new). The original message or request is never
/// changed; the timeline keeps the old values.
#[utoipa::path(patch, path = "/api/v1/leads/{id}/details", tag = "leads", params(("id" = i64, Path)),
    request_body = EditFields,
    responses((status = 200, body = Edited), (status = 400, description = "Malformed id or JSON", body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 415, description = "Not application/json", body = ErrorBody),
              (status = 422, description = "JSON of the wrong shape (code invalid_body)", body = ErrorBody)),
    security(("bearer" = [])))]
async fn edit_lead(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Json(fields): Json<EditFields>,
) -> Result<Json<Edited>, ApiError> {
    let user = auth::user(&state, &headers).await?;
    let scope = scope_of(&state, &user).await?;
    let lead = visible_lead(&state, scope.as_deref(), id).await?;
    let changed = lead_edits::edit(&state, &lead, &fields, user.id).await?;
    let lead = visible_lead(&state, scope.as_deref(), id).await?;
    Ok(Json(Edited {
        lead: lead.into(),
        changed: changed.iter().map(|c| c.field.clone()).collect(),
    }))
}

/// A lead after a change of its lines.
#[derive(Debug, Serialize, ToSchema)]
pub struct LinesAnswer {
    /// The lead as it is now (an order while it has lines).
    pub lead: LeadView,
    /// The position of the line added, changed or removed.
    pub position: u32,
    /// What was odd about the line, as the intake warns about a line of `Товары`.
    #[schema(value_type = Vec<Object>)]
    pub warnings: Vec<Warning>,
    /// Tech cards of the line that are stale now.
    pub stale_cards: Vec<i64>,
}

async fn change_line(
    state: &AppState,
    headers: &HeaderMap,
    id: i64,
    action: LineAction,
    line: Option<&Map<String, Value>>,
) -> Result<LinesAnswer, ApiError> {
    let user = auth::user(state, headers).await?;
    let scope = scope_of(state, &user).await?;
    let lead = visible_lead(state, scope.as_deref(), id).await?;
    let (changed, warnings) = lead_edits::change_line(state, &lead, action, line, user.id).await?;
    let lead = visible_lead(state, scope.as_deref(), id).await?;
    Ok(LinesAnswer {
        lead: lead.into(),
        position: changed.position,
        warnings,
        stale_cards: changed.stale_cards,
    })
}

/// Adds an order line after the last one: an object with the keys of a line of `Товары` (`Номенклатура`,
/// `Ширина`, `Количество`, `Цена`, `Сумма`, `Услуга`, `ДополнительныеРаботы`...), read as the intake reads
/// one. A contact lead becomes an order.
#[utoipa::path(post, path = "/api/v1/leads/{id}/lines", tag = "leads", params(("id" = i64, Path)),
    request_body(content = Object, description = "A line of Товары"),
    responses((status = 201, body = LinesAnswer), (status = 400, description = "Malformed id or JSON", body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 415, description = "Not application/json", body = ErrorBody),
              (status = 422, description = "Not a JSON object (code invalid_body), or a line that fills in nothing (code empty_line)", body = ErrorBody)),
    security(("bearer" = [])))]
async fn add_line(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Json(line): Json<Map<String, Value>>,
) -> Result<(StatusCode, Json<LinesAnswer>), ApiError> {
    let answer = change_line(&state, &headers, id, LineAction::Add, Some(&line)).await?;
    Ok((StatusCode::CREATED, Json(answer)))
}

/// Replaces the order line at a position. When the line has a tech card, the card is kept as it was formed
/// and marked stale; forming the cards again gives the new line its own.
#[utoipa::path(put, path = "/api/v1/leads/{id}/lines/{position}", tag = "leads",
    params(("id" = i64, Path), ("position" = u32, Path)),
    request_body(content = Object, description = "A line of Товары"),
    responses((status = 200, body = LinesAnswer), (status = 400, description = "Malformed id or JSON", body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 404, description = "No such lead or line", body = ErrorBody),
              (status = 415, description = "Not application/json", body = ErrorBody),
              (status = 422, description = "Not a JSON object (code invalid_body), or a line that fills in nothing (code empty_line)", body = ErrorBody)),
    security(("bearer" = [])))]
async fn edit_line(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, position)): Path<(i64, u32)>,
    Json(line): Json<Map<String, Value>>,
) -> Result<Json<LinesAnswer>, ApiError> {
    let answer = change_line(
        &state,
        &headers,
        id,
        LineAction::Edit(position),
        Some(&line),
    )
    .await?;
    Ok(Json(answer))
}

/// Removes the order line at a position (its tech card, if any, stays, marked stale). A lead without lines
/// is a contact lead again.
#[utoipa::path(delete, path = "/api/v1/leads/{id}/lines/{position}", tag = "leads",
    params(("id" = i64, Path), ("position" = u32, Path)),
    responses((status = 200, body = LinesAnswer), (status = 400, description = "Malformed id", body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 404, description = "No such lead or line", body = ErrorBody)),
    security(("bearer" = [])))]
async fn remove_line(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, position)): Path<(i64, u32)>,
) -> Result<Json<LinesAnswer>, ApiError> {
    let answer = change_line(&state, &headers, id, LineAction::Remove(position), None).await?;
    Ok(Json(answer))
}

/// The status a tech card moves to.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CardStatusBody {
    /// `in_production` (from `new`) or `done` (from `in_production`).
    #[schema(value_type = String)]
    pub status: TechCardStatus,
}

/// Moves a tech card on: new → in_production → done, one step at a time.
#[utoipa::path(post, path = "/api/v1/tech-cards/{id}/status", tag = "tech cards", params(("id" = i64, Path)),
    request_body = CardStatusBody,
    responses((status = 200, body = TechCardView), (status = 400, description = "Malformed id or JSON", body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, description = "Not the card's next status (code conflict)", body = ErrorBody),
              (status = 415, description = "Not application/json", body = ErrorBody),
              (status = 422, description = "An unknown status (code invalid_body)", body = ErrorBody)),
    security(("bearer" = [])))]
async fn set_card_status(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Json(body): Json<CardStatusBody>,
) -> Result<Json<TechCardView>, ApiError> {
    let user = auth::user(&state, &headers).await?;
    let card = state
        .storage
        .tech_card(id)
        .await?
        .ok_or(ApiError::NotFound("tech card"))?;
    let scope = scope_of(&state, &user).await?;
    match visible_lead(&state, scope.as_deref(), card.lead_id).await {
        Ok(_) => {}
        Err(ApiError::NotFound(_)) => return Err(ApiError::NotFound("tech card")),
        Err(e) => return Err(e),
    }
    let card = lead_edits::advance_card(&state, &card, body.status, user.id).await?;
    Ok(Json(card.into()))
}

/// The earlier lead this one may be a second submission of.
#[derive(Debug, Serialize, ToSchema)]
pub struct DuplicateHintView {
    /// The earlier lead's id.
    pub of: i64,
    /// What matched: `phone`, `email` or `inn`, then `external_number` or `subject`.
    pub matched: Vec<String>,
}

/// The lead's duplicate hint: an earlier lead (that the token's user may see) from the 24 hours before it
/// with the same phone, e-mail or INN and the same external number or subject. 404 when there is none.
#[utoipa::path(get, path = "/api/v1/leads/{id}/duplicate", tag = "leads", params(("id" = i64, Path)),
    responses((status = 200, body = DuplicateHintView), (status = 400, description = "Malformed id", body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 404, description = "No such lead, or no hint", body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_duplicate(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Json<DuplicateHintView>, ApiError> {
    let user = auth::user(&state, &headers).await?;
    let scope = scope_of(&state, &user).await?;
    visible_lead(&state, scope.as_deref(), id).await?;
    let hint = state
        .storage
        .duplicate_hint(id, scope.as_deref())
        .await?
        .ok_or(ApiError::NotFound("duplicate hint"))?;
    Ok(Json(DuplicateHintView {
        of: hint.of,
        matched: hint.matched.iter().map(|m| (*m).to_owned()).collect(),
    }))
}

/// A manager's answer to a duplicate hint.
#[derive(Debug, Deserialize, ToSchema)]
pub struct DuplicateAnswer {
    /// The earlier lead of the hint.
    pub of: i64,
    /// `true`: the lead is a duplicate of it (it leaves the inbox, linked to it); `false`: dismiss the hint, or
    /// undo the lead's marking as a duplicate of it (it is back in the inbox).
    pub duplicate: bool,
}

/// Marks the lead a duplicate of its hint's earlier lead, dismisses the hint, or undoes the marking.
#[utoipa::path(post, path = "/api/v1/leads/{id}/duplicate", tag = "leads", params(("id" = i64, Path)),
    request_body = DuplicateAnswer,
    responses((status = 200, body = LeadView), (status = 400, description = "Malformed id or JSON", body = ErrorBody),
              (status = 401, body = ErrorBody),
              (status = 404, description = "No such lead, or `of` is neither its hint nor the lead it was marked a duplicate of", body = ErrorBody),
              (status = 415, description = "Not application/json", body = ErrorBody),
              (status = 422, description = "JSON of the wrong shape (code invalid_body)", body = ErrorBody)),
    security(("bearer" = [])))]
async fn resolve_duplicate(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Json(answer): Json<DuplicateAnswer>,
) -> Result<Json<LeadView>, ApiError> {
    let user = auth::user(&state, &headers).await?;
    let scope = scope_of(&state, &user).await?;
    let lead = visible_lead(&state, scope.as_deref(), id).await?;
    // Only a hint the user may see can be answered; a marking can be undone.
    let undo = !answer.duplicate && lead.duplicate_of == Some(answer.of);
    if !undo
        && state
            .storage
            .duplicate_hint(id, scope.as_deref())
            .await?
            .is_none_or(|h| h.of != answer.of)
    {
        return Err(ApiError::NotFound("duplicate hint"));
    }
    lead_edits::resolve_duplicate(&state, id, answer.of, answer.duplicate, user.id).await?;
    let lead = visible_lead(&state, scope.as_deref(), id).await?;
    Ok(Json(lead.into()))
}
