//! Webhooks in the administration (administrators only): create one for a calendar (its signing secret is
//! shown once), delete it, read its delivery log and redeliver a delivery. The API does the same over
//! `/api/v1/webhooks`; docs/webhooks.md tells the receiver's side.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use serde::Deserialize;
use tracing::info;

use super::session::{AdminViewer, CsrfForm, NoFields, Viewer};
use super::{Layout, fmt, timezone};
use crate::app::{ApiError, AppState, parse_cursor};
use crate::webhooks::{CreateError, create};
use leadgate_storage::{
    CalendarView, DeliveryState, DeliveryView, PageRequest, StorageError, WebhookRecord,
};

/// Deliveries per page of the log.
const LOG_PAGE: u32 = 50;

#[derive(Template, WebTemplate)]
#[template(path = "admin_webhooks.html")]
struct WebhooksPage {
    layout: Layout,
    webhooks: Vec<WebhookRecord>,
    calendars: Vec<CalendarView>,
    error: Option<String>,
    /// The webhook just created: its URL and secret, shown this once.
    new_secret: Option<(String, String)>,
}

async fn webhooks_page(
    state: &AppState,
    viewer: &Viewer,
    status: StatusCode,
    error: Option<String>,
    new_secret: Option<(String, String)>,
) -> Result<Response, ApiError> {
    let page = WebhooksPage {
        layout: Layout::new(viewer, "admin"),
        webhooks: state.storage.webhooks().await?,
        calendars: state.storage.calendars().await?,
        error,
        new_secret,
    };
    Ok((status, page).into_response())
}

/// `GET /admin/webhooks`.
pub async fn list(
    State(state): State<AppState>,
    AdminViewer(viewer): AdminViewer,
) -> Result<Response, ApiError> {
    webhooks_page(&state, &viewer, StatusCode::OK, None, None).await
}

/// The new-webhook form.
#[derive(Debug, Deserialize)]
pub struct NewWebhookForm {
    calendar: i64,
    url: String,
}

/// `POST /admin/webhooks`: creates a webhook and shows its secret once.
pub async fn create_webhook(
    State(state): State<AppState>,
    CsrfForm(viewer, form): CsrfForm<NewWebhookForm>,
) -> Result<Response, ApiError> {
    viewer.require_admin()?;
    let created = create(
        state.storage.as_ref(),
        state.job.secrets(),
        &state.settings.webhooks,
        form.calendar,
        &form.url,
    )
    .await;
    match created {
        Ok((id, secret)) => {
            info!(webhook = id, by = %viewer.login, "webhook created");
            let url = state
                .storage
                .webhook(id)
                .await?
                .map(|w| w.url)
                .unwrap_or_default();
            webhooks_page(&state, &viewer, StatusCode::OK, None, Some((url, secret))).await
        }
        Err(CreateError::Url(e)) => {
            let message = format!("Адрес не подходит: {e}");
            webhooks_page(
                &state,
                &viewer,
                StatusCode::BAD_REQUEST,
                Some(message),
                None,
            )
            .await
        }
        Err(CreateError::Storage(StorageError::NotFound { .. })) => {
            Err(ApiError::NotFound("calendar"))
        }
        Err(CreateError::Storage(e)) => Err(e.into()),
        Err(CreateError::Seal) => Err(ApiError::Unavailable),
    }
}

/// `POST /admin/webhooks/{id}/delete`.
pub async fn delete(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(viewer, NoFields {}): CsrfForm<NoFields>,
) -> Result<Response, ApiError> {
    viewer.require_admin()?;
    if !state.storage.delete_webhook(id).await? {
        return Err(ApiError::NotFound("webhook"));
    }
    info!(webhook = id, by = %viewer.login, "webhook deleted");
    Ok(Redirect::to("/admin/webhooks").into_response())
}

/// A delivery, written out.
pub struct DeliveryRow {
    /// The delivery.
    pub view: DeliveryView,
    /// `pending`, `delivered`, `dead`.
    pub state_key: &'static str,
    /// In Russian.
    pub state: &'static str,
    /// Queued at, local time.
    pub created: String,
    /// The last attempt, local time, or empty.
    pub last_attempt: String,
    /// The next attempt, local time, or empty.
    pub next_attempt: String,
    /// The receiver's status, or empty.
    pub last_status: String,
    /// Whether it may be redelivered (not pending).
    pub redeliverable: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin_webhook.html")]
struct LogPage {
    layout: Layout,
    webhook: WebhookRecord,
    deliveries: Vec<DeliveryRow>,
    next: Option<String>,
}

/// `?cursor=` of the log.
#[derive(Debug, Deserialize)]
pub struct LogQuery {
    cursor: Option<String>,
}

/// `GET /admin/webhooks/{id}`: the delivery log, newest first.
pub async fn log(
    State(state): State<AppState>,
    AdminViewer(viewer): AdminViewer,
    Path(id): Path<i64>,
    Query(query): Query<LogQuery>,
) -> Result<Response, ApiError> {
    let webhook = state
        .storage
        .webhook(id)
        .await?
        .ok_or(ApiError::NotFound("webhook"))?;
    let page = state
        .storage
        .webhook_deliveries(
            id,
            PageRequest {
                limit: LOG_PAGE,
                cursor: parse_cursor(query.cursor.as_deref())?,
            },
        )
        .await?;
    let tz = timezone(&state);
    let when =
        |t: Option<chrono::DateTime<Utc>>| t.map(|t| fmt::datetime(t, tz)).unwrap_or_default();
    let deliveries = page
        .items
        .into_iter()
        .map(|view| DeliveryRow {
            state_key: view.state.as_str(),
            state: match view.state {
                DeliveryState::Pending => "ждёт отправки",
                DeliveryState::Delivered => "доставлено",
                DeliveryState::Dead => "не доставлено",
            },
            created: fmt::datetime(view.created_at, tz),
            last_attempt: when(view.last_attempt_at),
            next_attempt: when(view.next_attempt_at),
            last_status: view.last_status.map(|s| s.to_string()).unwrap_or_default(),
            redeliverable: view.state != DeliveryState::Pending,
            view,
        })
        .collect();
    Ok(LogPage {
        layout: Layout::new(&viewer, "admin"),
        webhook,
        deliveries,
        next: page.next,
    }
    .into_response())
}

/// `POST /admin/webhooks/{id}/deliveries/{delivery}/redeliver`.
pub async fn redeliver(
    State(state): State<AppState>,
    Path((id, delivery)): Path<(i64, i64)>,
    CsrfForm(viewer, NoFields {}): CsrfForm<NoFields>,
) -> Result<Response, ApiError> {
    viewer.require_admin()?;
    state
        .storage
        .webhook_delivery(delivery)
        .await?
        .filter(|d| d.webhook_id == id)
        .ok_or(ApiError::NotFound("delivery"))?;
    if state
        .storage
        .redeliver_webhook_delivery(delivery, Utc::now())
        .await?
    {
        info!(webhook = id, delivery, by = %viewer.login, "webhook delivery queued again");
    }
    Ok(Redirect::to(&format!("/admin/webhooks/{id}")).into_response())
}
