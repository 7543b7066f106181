//! Collectors and the quarantine over the API (administrators): list collectors with their last run, run
//! the mail collector now, and reprocess a rejected message.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SubsecRound, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth;
use super::dto::{CollectorRecord, RunView};
use super::extract::{Json, Path};
use crate::app::error::ErrorBody;
use crate::app::{ApiError, AppState};
use crate::intake::reprocess::{ReprocessError, Reprocessed, reprocess};
use crate::jobs::JobError;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_collectors))
        .routes(routes!(run_collector))
        .routes(routes!(reprocess_message))
}

/// A collector with its last run.
#[derive(Debug, Serialize, ToSchema)]
pub struct CollectorStatus {
    /// The collector (no password: only where it is read from).
    #[serde(flatten)]
    pub collector: CollectorRecord,
    /// Its last run, if any.
    pub last_run: Option<RunView>,
    /// Its IMAP IDLE connection, when this instance keeps one (`state`, `connected_since`, `last_event`,
    /// `last_error`); `null` for POP3, push off, the job switched off, or another instance keeping it.
    pub push_status: Option<crate::push::PushStatus>,
}

/// Every collector (also those marked for deletion) with its last run.
#[utoipa::path(get, path = "/api/v1/collectors", tag = "collectors",
    responses((status = 200, body = Vec<CollectorStatus>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_collectors(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Vec<CollectorStatus>>, ApiError> {
    auth::admin(&state, &headers).await?;
    let mut runs = state.storage.last_runs().await?;
    let collectors = state.storage.collectors(true).await?;
    Ok(Json(
        collectors
            .into_iter()
            .map(|c| CollectorStatus {
                last_run: runs.remove(&c.id).map(Into::into),
                push_status: state.push.get(c.id),
                collector: c.into(),
            })
            .collect(),
    ))
}

/// The answer to "run now": the run has started.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunStarted {
    /// The collector.
    pub collector: String,
    /// When the run was asked for. `GET /api/v1/collectors` shows it as this collector's `last_run` (with a
    /// `started_at` not before this) and its result once `finished_at` is set.
    pub accepted_at: DateTime<Utc>,
}

/// Starts the mail collector job now for one collector and answers at once, so no request timeout cuts a
/// run short. `Location` is the collector list, where the run and its result show.
#[utoipa::path(post, path = "/api/v1/collectors/{name}/run", tag = "collectors", params(("name" = String, Path)),
    responses((status = 202, description = "Started; the result shows in GET /api/v1/collectors", body = RunStarted,
               headers(("Location" = String))),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, description = "A run is in progress", body = ErrorBody)),
    security(("bearer" = [])))]
async fn run_collector(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    auth::admin(&state, &headers).await?;
    let accepted_at = Utc::now().trunc_subsecs(3);
    match state.job.start(Some(&name)).await {
        Ok(_) => Ok((
            StatusCode::ACCEPTED,
            [(header::LOCATION, "/api/v1/collectors")],
            Json(RunStarted {
                collector: name,
                accepted_at,
            }),
        )
            .into_response()),
        Err(JobError::UnknownCollector(_)) => Err(ApiError::NotFound("collector")),
        Err(e @ (JobError::AlreadyRunning | JobError::LockedElsewhere)) => {
            Err(ApiError::Busy(e.to_string()))
        }
        Err(JobError::Storage(e)) => Err(e.into()),
    }
}

/// Runs a rejected message through the pipeline again and records the new outcome.
#[utoipa::path(post, path = "/api/v1/messages/{id}/reprocess", tag = "ledger", params(("id" = i64, Path)),
    responses((status = 200, body = Reprocessed), (status = 400, description = "Malformed id", body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, description = "Not a rejected message; `already_imported` (with `details.lead_id`) when it \
                was imported already, by an earlier or a concurrent call; or a message over the size limit, kept as \
                its header fields, could not be downloaded from its mailbox again (the text says why)", body = ErrorBody)),
    security(("bearer" = [])))]
async fn reprocess_message(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Json<Reprocessed>, ApiError> {
    let admin = auth::admin(&state, &headers).await?;
    match reprocess(
        state.storage.as_ref(),
        &state.intake,
        &state.settings,
        state.job.env(),
        id,
        Some(admin.id),
    )
    .await
    {
        Ok(done) => Ok(Json(done)),
        Err(ReprocessError::NotFound) => Err(ApiError::NotFound("message")),
        Err(ReprocessError::AlreadyImported { lead_id }) => {
            Err(ApiError::AlreadyImported { lead_id })
        }
        Err(
            e @ (ReprocessError::NotRejected(_)
            | ReprocessError::NoRaw
            | ReprocessError::Mailbox(_)),
        ) => Err(ApiError::Busy(e.to_string())),
        Err(ReprocessError::Storage(e)) => Err(e.into()),
    }
}
