//! A lead's timeline, and handing it over: `GET /api/v1/leads/{id}/timeline`, `POST /api/v1/leads/{id}/assign`
//! and `POST /api/v1/leads/{id}/move`, with the UI's rules ([`crate::app::lead_actions`]) and the read API's
//! visibility: a lead in a calendar the token's user may not see answers 404, as if it did not exist.

use axum::extract::State;
use axum::http::HeaderMap;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth;
use super::dto::LeadView;
use super::extract::{Json, Path};
use super::read::{scope_of, visible_lead};
use crate::app::error::ErrorBody;
use crate::app::lead_actions::{self, Actor};
use crate::app::timeline::{self, Audience, TimelineEntry};
use crate::app::{ApiError, AppState};
use leadgate_domain::account::Role;
use leadgate_storage::UserRecord;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_timeline))
        .routes(routes!(assign_lead))
        .routes(routes!(move_lead))
}

/// The token's user as the one who acts.
pub(super) fn actor(user: &UserRecord) -> Actor<'_> {
    Actor {
        id: user.id,
        login: &user.login,
        role: user.role,
    }
}

/// A value that changed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChangeView {
    /// What changed: `status`, `assignee`, `calendar`, `phone`, ...
    pub field: String,
    /// Before; `null` when empty.
    pub old: Option<String>,
    /// After; `null` when empty.
    pub new: Option<String>,
}

/// One entry of a lead's timeline.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TimelineEntryView {
    /// When it happened.
    pub at: DateTime<Utc>,
    /// What happened: `received`, `status_changed`, `assigned`, `moved`, `edited`, `lines_changed`,
    /// `tech_cards_formed`, `tech_card_status_changed`, `comment_added`, `follow_up_planned`,
    /// `follow_up_done`, `reprocessed`, `duplicate_marked`, `duplicate_dismissed`, `webhook_delivery`.
    pub kind: String,
    /// Who did it (a login); `null` for leadgate itself.
    pub actor: Option<String>,
    /// Values that changed, old and new.
    pub changes: Vec<ChangeView>,
    /// Everything else the entry says, such as `channel`, `source`, `cards`, `rule`, `message_id`.
    #[schema(value_type = Object)]
    pub details: serde_json::Map<String, serde_json::Value>,
    /// For an administrator's token, where the `received` entry's raw message is downloaded.
    pub raw_url: Option<String>,
}

impl From<TimelineEntry> for TimelineEntryView {
    fn from(e: TimelineEntry) -> Self {
        Self {
            at: e.at,
            kind: e.kind.as_str().to_owned(),
            actor: e.actor,
            changes: e
                .changes
                .into_iter()
                .map(|c| ChangeView {
                    field: c.field,
                    old: c.old,
                    new: c.new,
                })
                .collect(),
            details: e
                .details
                .into_iter()
                .map(|(k, v)| (k, serde_json::Value::String(v)))
                .collect(),
            raw_url: e.raw_url,
        }
    }
}

/// A lead's timeline, oldest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Timeline {
    /// The entries.
    pub items: Vec<TimelineEntryView>,
}

/// Who gets the lead.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignRequest {
    /// A login; `null` (or `""`) takes the lead from whoever has it. Required: a body that leaves it out
    /// (`{}`) is refused rather than read as taking the lead away.
    #[serde(deserialize_with = "Option::deserialize")]
    #[schema(required = true)]
    pub assignee: Option<String>,
}

/// Where the lead goes.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveRequest {
    /// The calendar's id.
    pub calendar_id: i64,
}

/// A lead's timeline: its arrival, every change with who and when (old and new values), and its webhook
/// deliveries, oldest first.
#[utoipa::path(get, path = "/api/v1/leads/{id}/timeline", tag = "leads", params(("id" = i64, Path)),
    responses((status = 200, body = Timeline), (status = 400, description = "Malformed id", body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_timeline(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Json<Timeline>, ApiError> {
    let user = auth::user(&state, &headers).await?;
    let scope = scope_of(&state, &user).await?;
    let lead = visible_lead(&state, scope.as_deref(), id).await?;
    let message = state.storage.message_of_lead(id).await?;
    let entries = timeline::timeline(
        state.storage.as_ref(),
        &lead,
        message,
        Audience::Api {
            admin: user.role == Role::Admin,
        },
    )
    .await?;
    Ok(Json(Timeline {
        items: entries.into_iter().map(Into::into).collect(),
    }))
}

/// Assigns the lead: a manager's token to a user who may see the lead's calendar, an administrator's to any
/// enabled user. The assignment is in the lead's timeline.
#[utoipa::path(post, path = "/api/v1/leads/{id}/assign", tag = "leads", params(("id" = i64, Path)),
    request_body = AssignRequest,
    responses((status = 200, body = LeadView), (status = 400, description = "Malformed id or JSON", body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 415, description = "Not application/json", body = ErrorBody),
              (status = 422, description = "JSON of the wrong shape (code invalid_body), or an assignee the lead may not be \
                given to (code assignee_not_allowed)", body = ErrorBody)),
    security(("bearer" = [])))]
async fn assign_lead(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Json(request): Json<AssignRequest>,
) -> Result<Json<LeadView>, ApiError> {
    let user = auth::user(&state, &headers).await?;
    let scope = scope_of(&state, &user).await?;
    let lead = visible_lead(&state, scope.as_deref(), id).await?;
    let login = request
        .assignee
        .as_deref()
        .map(str::trim)
        .filter(|l| !l.is_empty());
    let lead = lead_actions::assign(&state, actor(&user), &lead, login).await?;
    Ok(Json(lead.into()))
}

/// Moves the lead to another calendar; the token's user must see both (404 for a calendar they may not
/// see). The move is in the lead's timeline; an assignee who may not see the new calendar loses the lead with it.
#[utoipa::path(post, path = "/api/v1/leads/{id}/move", tag = "leads", params(("id" = i64, Path)),
    request_body = MoveRequest,
    responses((status = 200, body = LeadView), (status = 400, description = "Malformed id or JSON", body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 404, description = "No such lead or calendar", body = ErrorBody),
              (status = 415, description = "Not application/json", body = ErrorBody),
              (status = 422, description = "JSON of the wrong shape (code invalid_body)", body = ErrorBody)),
    security(("bearer" = [])))]
async fn move_lead(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Json(request): Json<MoveRequest>,
) -> Result<Json<LeadView>, ApiError> {
    let user = auth::user(&state, &headers).await?;
    let scope = scope_of(&state, &user).await?;
    let lead = visible_lead(&state, scope.as_deref(), id).await?;
    let lead = lead_actions::move_to(&state, actor(&user), &lead, request.calendar_id).await?;
    Ok(Json(lead.into()))
}
