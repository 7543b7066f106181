//! Comments and follow-ups of a lead in the API: list and add comments, list, plan and mark done
//! follow-ups. A manager's token reaches the leads the manager sees in the UI (another lead answers 404, as
//! in the rest of the read API); the rules of who may plan for whom are the UI's
//! ([`crate::app::lead_notes`]).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth;
use super::dto::Page;
use super::extract::{Json, Path};
use super::read::{scope_of, visible_lead};
use crate::app::error::ErrorBody;
use crate::app::lead_notes::{self, Actor};
use crate::app::{ApiError, AppState};
use leadgate_storage::{self as storage, UserRecord};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_comments, add_comment))
        .routes(routes!(list_follow_ups, plan_follow_up))
        .routes(routes!(complete_follow_up))
}

/// A comment on a lead.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CommentView {
    /// Id.
    pub id: i64,
    /// The lead.
    pub lead_id: i64,
    /// The author's login.
    pub author: String,
    /// The author's display name.
    pub author_name: String,
    /// The text as typed (plain text; line breaks are `\n`).
    pub body: String,
    /// When it was written.
    pub created_at: DateTime<Utc>,
}

impl From<storage::CommentView> for CommentView {
    fn from(c: storage::CommentView) -> Self {
        Self {
            id: c.id,
            lead_id: c.lead_id,
            author: c.author_login,
            author_name: c.author_name,
            body: c.body,
            created_at: c.created_at,
        }
    }
}

/// A comment to add.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct NewCommentBody {
    /// Plain text, at most 10,000 characters; not empty.
    pub body: String,
}

/// A follow-up on a lead: a call back planned for one user.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FollowUpView {
    /// Id.
    pub id: i64,
    /// The lead.
    pub lead_id: i64,
    /// Whose it is (login): it is in their calendar and feed, and they are told when it is due.
    pub owner: String,
    /// When it is due.
    pub due_at: DateTime<Utc>,
    /// What to do.
    pub note: String,
    /// Who planned it (login).
    pub created_by: String,
    /// When it was planned.
    pub created_at: DateTime<Utc>,
    /// Whether it is marked done.
    pub done: bool,
    /// When it was marked done.
    pub done_at: Option<DateTime<Utc>>,
    /// Who marked it done (login).
    pub done_by: Option<String>,
}

impl From<storage::FollowUpView> for FollowUpView {
    fn from(f: storage::FollowUpView) -> Self {
        Self {
            id: f.id,
            lead_id: f.lead_id,
            owner: f.owner_login,
            due_at: f.due_at,
            note: f.note,
            created_by: f.created_by_login,
            created_at: f.created_at,
            done: f.done_at.is_some(),
            done_at: f.done_at,
            done_by: f.done_by_login,
        }
    }
}

/// A follow-up to plan.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct NewFollowUpBody {
    /// When it is due (RFC 3339, with its offset).
    pub due_at: DateTime<Utc>,
    /// What to do, at most 2,000 characters.
    #[serde(default)]
    pub note: String,
    /// Whose it is (a login); the token's user when absent. Only an administrator may name someone else, who
    /// must be able to see the lead.
    pub owner: Option<String>,
}

fn actor(user: &UserRecord) -> Actor<'_> {
    Actor {
        user_id: user.id,
        login: &user.login,
        role: user.role,
    }
}

/// The lead, for the token's user; 404 when they may not see it.
async fn lead_for(
    state: &AppState,
    headers: &HeaderMap,
    id: i64,
) -> Result<(UserRecord, storage::LeadView), ApiError> {
    let user = auth::user(state, headers).await?;
    let scope = scope_of(state, &user).await?;
    let lead = visible_lead(state, scope.as_deref(), id).await?;
    Ok((user, lead))
}

/// A lead's comments, oldest first (one page: `next` is always `null`).
#[utoipa::path(get, path = "/api/v1/leads/{id}/comments", tag = "leads", params(("id" = i64, Path)),
    responses((status = 200, body = Page<CommentView>), (status = 400, description = "Malformed id", body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_comments(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Json<Page<CommentView>>, ApiError> {
    lead_for(&state, &headers, id).await?;
    let items = state.storage.comments_of_lead(id).await?;
    Ok(Json(Page {
        items: items.into_iter().map(Into::into).collect(),
        next: None,
    }))
}

/// Adds a comment to a lead, as the token's user.
#[utoipa::path(post, path = "/api/v1/leads/{id}/comments", tag = "leads", params(("id" = i64, Path)),
    request_body = NewCommentBody,
    responses((status = 201, body = CommentView), (status = 400, description = "Malformed id or JSON", body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 413, body = ErrorBody),
              (status = 415, description = "Not application/json", body = ErrorBody),
              (status = 422, description = "JSON of the wrong shape, or an empty or too long comment", body = ErrorBody)),
    security(("bearer" = [])))]
async fn add_comment(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Json(body): Json<NewCommentBody>,
) -> Result<Response, ApiError> {
    let (user, lead) = lead_for(&state, &headers, id).await?;
    let comment = lead_notes::add_comment(&state, actor(&user), &lead, &body.body).await?;
    Ok((
        StatusCode::CREATED,
        [(
            header::LOCATION,
            format!("/api/v1/leads/{id}/comments#{}", comment.id),
        )],
        Json(CommentView::from(comment)),
    )
        .into_response())
}

/// A lead's follow-ups, by due time, open and done (one page: `next` is always `null`).
#[utoipa::path(get, path = "/api/v1/leads/{id}/follow-ups", tag = "leads", params(("id" = i64, Path)),
    responses((status = 200, body = Page<FollowUpView>), (status = 400, description = "Malformed id", body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_follow_ups(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Json<Page<FollowUpView>>, ApiError> {
    lead_for(&state, &headers, id).await?;
    let items = state.storage.follow_ups_of_lead(id).await?;
    Ok(Json(Page {
        items: items.into_iter().map(Into::into).collect(),
        next: None,
    }))
}

/// Plans a follow-up on a lead: for the token's user, or (an administrator) for a user who may see the lead.
#[utoipa::path(post, path = "/api/v1/leads/{id}/follow-ups", tag = "leads", params(("id" = i64, Path)),
    request_body = NewFollowUpBody,
    responses((status = 201, body = FollowUpView), (status = 400, description = "Malformed id or JSON", body = ErrorBody),
              (status = 401, body = ErrorBody),
              (status = 403, description = "A manager's token names another owner", body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 413, body = ErrorBody),
              (status = 415, description = "Not application/json", body = ErrorBody),
              (status = 422, description = "JSON of the wrong shape, a note too long, or an owner who is unknown \
                or may not see the lead", body = ErrorBody)),
    security(("bearer" = [])))]
async fn plan_follow_up(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Json(body): Json<NewFollowUpBody>,
) -> Result<Response, ApiError> {
    let (user, lead) = lead_for(&state, &headers, id).await?;
    let planned = lead_notes::plan_follow_up(
        &state,
        actor(&user),
        &lead,
        body.owner.as_deref(),
        body.due_at,
        &body.note,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        [(
            header::LOCATION,
            format!("/api/v1/leads/{id}/follow-ups#{}", planned.id),
        )],
        Json(FollowUpView::from(planned)),
    )
        .into_response())
}

/// Marks a follow-up of the lead done; one done already is answered as it is.
#[utoipa::path(post, path = "/api/v1/leads/{id}/follow-ups/{follow_up_id}/done", tag = "leads",
    params(("id" = i64, Path), ("follow_up_id" = i64, Path)),
    responses((status = 200, body = FollowUpView), (status = 400, description = "Malformed id", body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 404, description = "No such lead or follow-up", body = ErrorBody)),
    security(("bearer" = [])))]
async fn complete_follow_up(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, follow_up_id)): Path<(i64, i64)>,
) -> Result<Json<FollowUpView>, ApiError> {
    let (user, lead) = lead_for(&state, &headers, id).await?;
    let done = lead_notes::complete_follow_up(&state, actor(&user), &lead, follow_up_id).await?;
    Ok(Json(done.into()))
}
