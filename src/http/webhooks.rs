//! Webhooks over the API (administrators): create one for a calendar (its signing secret is answered once),
//! list and delete them, read each one's delivery log and redeliver a delivery. See docs/webhooks.md.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth;
use super::dto::Page;
use super::extract::{Json, Path, Query};
use super::read::Paging;
use crate::app::error::ErrorBody;
use crate::app::{ApiError, AppState};
use crate::webhooks::{CreateError, create};
use leadgate_storage::{DeliveryView, StorageError, WebhookRecord};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_webhooks, create_webhook))
        .routes(routes!(get_webhook, delete_webhook))
        .routes(routes!(list_deliveries))
        .routes(routes!(redeliver))
}

/// A webhook: every new lead of its calendar (and every change of a lead's status) is posted to its URL.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookView {
    /// Id.
    pub id: i64,
    /// The calendar whose leads it announces.
    pub calendar_id: i64,
    /// The calendar's name.
    pub calendar: String,
    /// Where deliveries are posted.
    pub url: String,
    /// Whether new events are queued for it.
    pub enabled: bool,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// Deliveries not delivered yet.
    pub pending: u64,
    /// Dead letters (redeliver them one by one).
    pub dead: u64,
}

impl From<WebhookRecord> for WebhookView {
    fn from(w: WebhookRecord) -> Self {
        Self {
            id: w.id,
            calendar_id: w.calendar_id,
            calendar: w.calendar,
            url: w.url,
            enabled: w.enabled,
            created_at: w.created_at,
            pending: w.pending,
            dead: w.dead,
        }
    }
}

/// A new webhook.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWebhookBody {
    /// The calendar (`GET /api/v1/calendars`).
    pub calendar_id: i64,
    /// An http(s) URL. Loopback and private addresses are refused unless `[webhooks]
    /// allow_private_addresses` is set.
    pub url: String,
}

/// A webhook just created, with its signing secret: shown this once, keep it for the receiver.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedWebhook {
    /// The webhook.
    #[serde(flatten)]
    pub webhook: WebhookView,
    /// The secret the `Leadgate-Signature` header is computed with (`whsec_…`).
    pub secret: String,
}

/// One delivery of an event to a webhook.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryDto {
    /// The delivery.
    pub id: i64,
    /// Its webhook.
    pub webhook_id: i64,
    /// The event's id (the body's `id`; the same for every webhook it goes to).
    pub event_id: i64,
    /// `lead.created` or `lead.status_changed`.
    pub event_type: String,
    /// The lead.
    pub lead_id: i64,
    /// `pending`, `delivered` or `dead` (given up on; redeliver it).
    pub status: String,
    /// Attempts so far.
    pub attempts: u32,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
    /// When the last attempt ended.
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// The receiver's HTTP status at the last attempt; `null` when it did not answer.
    pub last_status: Option<u16>,
    /// The start of the receiver's last answer, or why there was none.
    pub last_answer: Option<String>,
    /// The next attempt, while pending.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// When it was delivered.
    pub delivered_at: Option<DateTime<Utc>>,
}

impl From<DeliveryView> for DeliveryDto {
    fn from(d: DeliveryView) -> Self {
        Self {
            id: d.id,
            webhook_id: d.webhook_id,
            event_id: d.event_id,
            event_type: d.event_type.as_str().to_owned(),
            lead_id: d.lead_id,
            status: d.state.as_str().to_owned(),
            attempts: d.attempts,
            created_at: d.created_at,
            last_attempt_at: d.last_attempt_at,
            last_status: d.last_status,
            last_answer: d.last_answer,
            next_attempt_at: d.next_attempt_at,
            delivered_at: d.delivered_at,
        }
    }
}

/// Every webhook.
#[utoipa::path(get, path = "/api/v1/webhooks", tag = "webhooks",
    responses((status = 200, body = Vec<WebhookView>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_webhooks(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Vec<WebhookView>>, ApiError> {
    auth::admin(&state, &headers).await?;
    let webhooks = state.storage.webhooks().await?;
    Ok(Json(webhooks.into_iter().map(Into::into).collect()))
}

/// Creates a webhook for a calendar. The answer carries its signing secret, this once.
#[utoipa::path(post, path = "/api/v1/webhooks", tag = "webhooks", request_body = NewWebhookBody,
    responses((status = 201, body = CreatedWebhook), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, description = "No such calendar", body = ErrorBody),
              (status = 415, body = ErrorBody),
              (status = 422, description = "The URL is malformed, or refused (a loopback or private address)", body = ErrorBody)),
    security(("bearer" = [])))]
async fn create_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(body): Json<NewWebhookBody>,
) -> Result<Response, ApiError> {
    auth::admin(&state, &headers).await?;
    let created = create(
        state.storage.as_ref(),
        state.job.secrets(),
        &state.settings.webhooks,
        body.calendar_id,
        &body.url,
    )
    .await;
    let (id, secret) = match created {
        Ok(created) => created,
        Err(CreateError::Url(e)) => {
            return Err(ApiError::Rejected {
                code: "webhook_url_refused",
                message: e.to_string(),
            });
        }
        Err(CreateError::Storage(StorageError::NotFound { .. })) => {
            return Err(ApiError::NotFound("calendar"));
        }
        Err(CreateError::Storage(e)) => return Err(e.into()),
        Err(CreateError::Seal) => return Err(ApiError::Unavailable),
    };
    let webhook = state
        .storage
        .webhook(id)
        .await?
        .ok_or(ApiError::NotFound("webhook"))?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedWebhook {
            webhook: webhook.into(),
            secret,
        }),
    )
        .into_response())
}

/// One webhook.
#[utoipa::path(get, path = "/api/v1/webhooks/{id}", tag = "webhooks", params(("id" = i64, Path)),
    responses((status = 200, body = WebhookView), (status = 400, description = "Malformed id", body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Json<WebhookView>, ApiError> {
    auth::admin(&state, &headers).await?;
    let webhook = state
        .storage
        .webhook(id)
        .await?
        .ok_or(ApiError::NotFound("webhook"))?;
    Ok(Json(webhook.into()))
}

/// Deletes a webhook with its delivery log; deliveries not made yet are dropped.
#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = "webhooks", params(("id" = i64, Path)),
    responses((status = 204, description = "Deleted"), (status = 400, description = "Malformed id", body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn delete_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    auth::admin(&state, &headers).await?;
    if state.storage.delete_webhook(id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("webhook"))
    }
}

/// A webhook's delivery log, newest first: each delivery's status, attempts and the receiver's last answer.
#[utoipa::path(get, path = "/api/v1/webhooks/{id}/deliveries", tag = "webhooks", params(("id" = i64, Path), Paging),
    responses((status = 200, body = Page<DeliveryDto>), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_deliveries(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Query(paging): Query<Paging>,
) -> Result<Json<Page<DeliveryDto>>, ApiError> {
    auth::admin(&state, &headers).await?;
    let page = paging.request()?;
    state
        .storage
        .webhook(id)
        .await?
        .ok_or(ApiError::NotFound("webhook"))?;
    Ok(Json(
        state.storage.webhook_deliveries(id, page).await?.into(),
    ))
}

/// Sends a delivery again: a dead letter (or a delivered one) becomes pending, due now, with a fresh retry
/// window. The log shows how it went.
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver", tag = "webhooks",
    params(("id" = i64, Path), ("delivery_id" = i64, Path)),
    responses((status = 202, description = "Queued", body = DeliveryDto), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, description = "It is pending already", body = ErrorBody)),
    security(("bearer" = [])))]
async fn redeliver(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, delivery_id)): Path<(i64, i64)>,
) -> Result<Response, ApiError> {
    auth::admin(&state, &headers).await?;
    let delivery = state
        .storage
        .webhook_delivery(delivery_id)
        .await?
        .filter(|d| d.webhook_id == id)
        .ok_or(ApiError::NotFound("delivery"))?;
    if !state
        .storage
        .redeliver_webhook_delivery(delivery.id, Utc::now())
        .await?
    {
        return Err(ApiError::Busy(
            "the delivery is pending already: it is sent when due".to_owned(),
        ));
    }
    let delivery = state
        .storage
        .webhook_delivery(delivery_id)
        .await?
        .ok_or(ApiError::NotFound("delivery"))?;
    Ok((StatusCode::ACCEPTED, Json(DeliveryDto::from(delivery))).into_response())
}
