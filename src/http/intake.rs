//! `POST /api/v1/intake` and `POST /api/v1/intake/validate`: the website's way in.
//!
//! The body is the v0.1 JSON (charset from `Content-Type`, UTF-8 by default, `windows-1251` accepted), or
//! `multipart/form-data` carrying the same file a mail would. A rejected payload is answered 400/422 and
//! recorded in the ledger with its raw body, so the site's developer and the administrator see the same
//! reason.

use std::time::Duration;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::Serialize;
use sha2::{Digest, Sha256};
use tracing::instrument;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth;
use super::dto::CalendarRef;
use crate::app::error::ErrorBody;
use crate::app::{ApiError, AppState};
use crate::intake::Parsed;
use leadgate_domain::lead::LeadKind;
use leadgate_domain::warning::Warning;
use leadgate_storage::{
    Disposition, HttpSourceRecord, IdempotencyClaim, LedgerEntry, SourceRef, StoredRaw, Submission,
    SubmitOutcome,
};

/// The intake's route, which is not under the general request timeout (see [`super::request_timeout`]).
pub(super) const INTAKE_PATH: &str = "/api/v1/intake";

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(intake))
        .routes(routes!(validate))
}

/// The answer to an accepted lead.
#[derive(Debug, Serialize, ToSchema)]
pub struct IntakeResponse {
    /// Lead id.
    pub id: i64,
    /// `contact` or `order`.
    #[schema(value_type = String)]
    pub kind: LeadKind,
    /// Where it was filed.
    pub calendar: CalendarRef,
    /// The customer the lead was filed under, by its INN (none without a valid INN).
    pub counterparty: Option<FiledUnder>,
    /// What was odd but accepted.
    #[schema(value_type = Vec<Object>)]
    pub warnings: Vec<Warning>,
}

/// The customer an accepted lead was filed under: its INN alone. A source's token is in its website's pages,
/// so the answer tells nobody more of the customer than the payload did: not its name (an individual
/// entrepreneur's is a person's), nor its id (whether the shop already knew it). The read API, behind a
/// user's token, shows the customer whole.
#[derive(Debug, Serialize, ToSchema)]
pub struct FiledUnder {
    /// INN, as leadgate normalised it (digits only).
    pub inn: String,
}

impl From<leadgate_storage::CounterpartyRef> for FiledUnder {
    fn from(counterparty: leadgate_storage::CounterpartyRef) -> Self {
        Self {
            inn: counterparty.inn,
        }
    }
}

/// The answer of `/validate`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ValidateResponse {
    /// Always true (invalid payloads get an error status).
    pub valid: bool,
    /// `contact` or `order`.
    #[schema(value_type = String)]
    pub kind: LeadKind,
    /// What was odd but would be accepted.
    #[schema(value_type = Vec<Object>)]
    pub warnings: Vec<Warning>,
    /// The payload as leadgate reads it.
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
}

/// The body as received: bytes, declared charset and content type.
struct Body_ {
    bytes: Bytes,
    charset: Option<String>,
    content_type: String,
}

async fn read_body(
    state: &AppState,
    headers: &HeaderMap,
    request: Request,
) -> Result<Body_, ApiError> {
    let limit = state.settings.limits.max_body_bytes;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .to_owned();
    let mime: mime::Mime = content_type
        .parse()
        .map_err(|_| ApiError::UnsupportedMediaType(content_type.clone()))?;
    let is_multipart = mime.type_() == mime::MULTIPART && mime.subtype() == mime::FORM_DATA;
    let is_json = mime.subtype() == mime::JSON
        || mime.suffix() == Some(mime::JSON)
        || (mime.type_() == mime::TEXT && mime.subtype() == mime::PLAIN)
        || mime.essence_str() == "application/octet-stream";
    if !is_multipart && !is_json {
        return Err(ApiError::UnsupportedMediaType(content_type));
    }
    if let Some(encoding) = headers.get(header::CONTENT_ENCODING) {
        let encoding = String::from_utf8_lossy(encoding.as_bytes());
        if !encoding.trim().eq_ignore_ascii_case("identity") {
            return Err(ApiError::UnsupportedEncoding(encoding.into_owned()));
        }
    }
    // A body over the limit is read up to four times the limit, so that it is recorded with its bytes (the
    // parse rejects it by its size) and can be reprocessed once the limit is raised; a larger one is refused
    // unread. Multipart framing adds a little; the file inside is held to the limit by the parse.
    let wire_limit = if is_multipart {
        limit + 64 * 1024
    } else {
        kept_limit(limit)
    };
    let declared_length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared_length.is_some_and(|n| n > wire_limit) {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, wire_limit)
        .await
        .map_err(|_| ApiError::PayloadTooLarge { limit })?;
    if !is_multipart {
        let charset = mime.get_param(mime::CHARSET).map(|c| c.as_str().to_owned());
        return Ok(Body_ {
            bytes,
            charset,
            content_type,
        });
    }
    let request = Request::from_parts(parts, Body::from(bytes));
    let mut multipart = Multipart::from_request(request, state)
        .await
        .map_err(|e| ApiError::BadRequest(format!("malformed multipart body: {e}")))?;
    let mut fallback = None;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| ApiError::BadRequest(format!("malformed multipart body: {e}")))?
    {
        let has_file_name = field.file_name().is_some();
        let part_type = field
            .content_type()
            .unwrap_or("application/octet-stream")
            .to_owned();
        let charset = crate::intake::declared_charset(&part_type);
        let data = field
            .bytes()
            .await
            .map_err(|e| ApiError::BadRequest(format!("malformed multipart body: {e}")))?;
        let body = Body_ {
            bytes: data,
            charset,
            content_type: part_type,
        };
        if has_file_name {
            return Ok(body);
        }
        fallback.get_or_insert(body);
    }
    fallback.ok_or_else(|| ApiError::BadRequest("the multipart body has no file part".to_owned()))
}

/// The most bytes of a JSON body read to keep it when it is over `limits.max_body_bytes`.
fn kept_limit(limit: usize) -> usize {
    limit.saturating_mul(4)
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    match headers.get("idempotency-key") {
        None => Ok(None),
        Some(v) => {
            let key = v
                .to_str()
                .map_err(|_| ApiError::BadRequest("Idempotency-Key must be ASCII".into()))?
                .trim();
            if key.is_empty() || key.len() > 255 {
                return Err(ApiError::BadRequest(
                    "Idempotency-Key must be 1 to 255 characters".into(),
                ));
            }
            Ok(Some(key.to_owned()))
        }
    }
}

fn check_origin(source: &HttpSourceRecord, headers: &HeaderMap) -> Result<(), ApiError> {
    match headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) {
        Some(origin) if !source.cors_origins.iter().any(|o| o == origin) => {
            Err(ApiError::Forbidden)
        }
        _ => Ok(()),
    }
}

/// Files a lead or an order from the site's JSON.
#[utoipa::path(
    post, path = "/api/v1/intake", tag = "intake",
    request_body(description = "The v0.1 payload (JSON, or multipart/form-data with the file)",
                 content((Object = "application/json"), (Object = "multipart/form-data"))),
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays return the first result")),
    responses(
        (status = 201, description = "Filed", body = IntakeResponse, headers(("Location" = String))),
        (status = 200, description = "Idempotent replay of an earlier request", body = IntakeResponse,
         headers(("Location" = String))),
        (status = 400, description = "Not JSON (details: line, column), a malformed multipart body or Idempotency-Key",
         body = ErrorBody),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
        (status = 408, description = "The request was not received within `server.intake_timeout_secs`", body = ErrorBody),
        (status = 403, description = "An Origin the source does not allow", body = ErrorBody),
        (status = 409, description = "Idempotency-Key reused with another body", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Unsupported media type, or a compressed body (Content-Encoding)", body = ErrorBody),
        (status = 422, description = "Payload rejected", body = ErrorBody),
        (status = 429, description = "A rate limit of the source is reached", body = ErrorBody,
         headers(("Retry-After" = String, description = "Seconds to wait"))),
        (status = 503, description = "Shutting down", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[instrument(skip_all, fields(http_source, lead_id))]
async fn intake(
    State(state): State<AppState>,
    headers: HeaderMap,
    request: Request,
) -> Result<Response, ApiError> {
    let source = auth::source(&state, &headers).await?;
    tracing::Span::current().record("http_source", source.name.as_str());
    check_origin(&source, &headers)?;
    limit_rate(&state, &source, &request, &headers)?;
    let key = idempotency_key(&headers)?;
    // Receiving and checking the request has a limit; its commit, once queued, has none.
    let limit = Duration::from_secs(state.settings.server.intake_timeout_secs.max(1));
    let received = tokio::time::timeout(limit, async {
        let body = read_body(&state, &headers, request).await?;
        let parsed = parse(&state, &body).await?;
        Ok::<_, ApiError>((body, parsed))
    })
    .await
    .map_err(|_| ApiError::RequestTimeout)?;
    let (body, parsed) = match received {
        Ok(received) => received,
        Err(too_large @ ApiError::PayloadTooLarge { .. }) => {
            // Too large to read: recorded without its bytes, so that the ledger still shows it.
            let content_type = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("application/json");
            let limit = state.settings.limits.max_body_bytes;
            let reason = format!(
                "the body is over {} bytes, four times limits.max_body_bytes ({limit}): not read, not kept",
                kept_limit(limit)
            );
            reject(&state, entry(&source, Bytes::new(), content_type), reason).await?;
            return Err(too_large);
        }
        Err(e) => return Err(e),
    };
    let ledger = entry(&source, body.bytes.clone(), &body.content_type);
    if let Some(field) = crate::app::ratelimit::honeypot(&state.settings, &source.name)
        && fills_honeypot(&body, field)
    {
        return answer_spam(&state, &source, ledger, parsed.ok(), field).await;
    }
    let parsed = match parsed {
        Ok(parsed) => parsed,
        Err(rejection) => {
            reject(&state, ledger, rejection.to_string()).await?;
            return Err(rejection.into());
        }
    };
    let kind = parsed.payload.kind();
    let warnings: Vec<Warning> = parsed.warnings().cloned().collect();
    let idempotency = key.map(|key| IdempotencyClaim {
        http_source_id: source.id,
        key,
        body_hash: hex::encode(Sha256::digest(&body.bytes)),
    });
    let submission = Submission {
        ledger,
        disposition: parsed.into_lead(source.calendar_id, source.auto_tech_cards),
        idempotency,
    };
    match commit(&state, submission).await? {
        SubmitOutcome::Imported {
            lead_id,
            counterparty,
            ..
        } => {
            tracing::Span::current().record("lead_id", lead_id);
            metrics::counter!("leadgate_intake_total", "channel" => "http", "outcome" => "imported").increment(1);
            let body = IntakeResponse {
                id: lead_id,
                kind,
                calendar: CalendarRef {
                    id: source.calendar_id,
                    name: source.calendar_name.clone(),
                },
                counterparty: counterparty.map(Into::into),
                warnings,
            };
            let location = format!("/api/v1/leads/{lead_id}");
            Ok((
                StatusCode::CREATED,
                [(header::LOCATION, location)],
                Json(body),
            )
                .into_response())
        }
        SubmitOutcome::IdempotentReplay { lead_id } => {
            let lead = state
                .storage
                .lead(lead_id)
                .await?
                .ok_or(ApiError::NotFound("lead"))?;
            let body = IntakeResponse {
                id: lead.id,
                kind: lead.kind,
                calendar: lead.calendar.into(),
                counterparty: lead.counterparty.map(Into::into),
                warnings: lead.warnings,
            };
            Ok((
                StatusCode::OK,
                [(header::LOCATION, format!("/api/v1/leads/{lead_id}"))],
                Json(body),
            )
                .into_response())
        }
        SubmitOutcome::IdempotencyConflict => {
            // Not filed, but not lost: the other body is kept, to be reprocessed as a lead of its own.
            let reason = "Idempotency-Key was used before with another body: not filed (reprocessing files \
                          it as a new lead)";
            let ledger = entry(&source, body.bytes.clone(), &body.content_type);
            reject(&state, ledger, reason.to_owned()).await?;
            Err(ApiError::IdempotencyConflict)
        }
        other => Err(ApiError::Internal(anyhow::anyhow!(
            "unexpected outcome for an HTTP submission: {other:?}"
        ))),
    }
}

/// The ledger record of a request body from `source`.
fn entry(source: &HttpSourceRecord, bytes: Bytes, content_type: &str) -> LedgerEntry {
    LedgerEntry {
        source: SourceRef::Http { id: source.id },
        ledger_key: None,
        mailbox_key: None,
        message_id: None,
        external_number: None,
        received_at: Utc::now(),
        raw: StoredRaw::new(bytes.into()),
        content_type: content_type.to_owned(),
        content_hash: None,
    }
}

/// Records a body as rejected, with its reason.
async fn reject(state: &AppState, ledger: LedgerEntry, reason: String) -> Result<(), ApiError> {
    let submission = Submission {
        ledger,
        disposition: Disposition::Rejected { reason },
        idempotency: None,
    };
    commit(state, submission).await?;
    metrics::counter!("leadgate_intake_total", "channel" => "http", "outcome" => "rejected")
        .increment(1);
    Ok(())
}

/// Takes the request out of the source's rate limits (per client address and in total).
fn limit_rate(
    state: &AppState,
    source: &HttpSourceRecord,
    request: &Request,
    headers: &HeaderMap,
) -> Result<(), ApiError> {
    let Some(client) = crate::app::ratelimit::client_address(
        request.extensions(),
        headers,
        &state.settings.server.trusted_proxies,
    ) else {
        return Ok(());
    };
    let limits = crate::app::ratelimit::SourceLimits::of(&state.settings, &source.name);
    state
        .rate_limiter
        .check(source.id, client, limits)
        .map_err(|retry_after_secs| {
            // Counted, and logged only at debug: a flood must not become a flood of log lines.
            metrics::counter!("leadgate_intake_rate_limited_total").increment(1);
            tracing::debug!(http_source = %source.name, %client, "rate limit reached");
            ApiError::TooManyRequests { retry_after_secs }
        })
}

/// Whether the payload fills the source's honeypot field: a top-level key (spaces around it do not matter,
/// as in every key of the format) with any value but null, false, an empty string, array or object.
fn fills_honeypot(body: &Body_, field: &str) -> bool {
    let decoded = leadgate_domain::charset::decode(
        &body.bytes,
        body.charset.as_deref(),
        encoding_rs::WINDOWS_1251,
    );
    let Ok(object) =
        serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&decoded.text)
    else {
        return false;
    };
    object
        .iter()
        .filter(|(key, _)| key.trim() == field)
        .any(|(_, value)| match value {
            serde_json::Value::Null | serde_json::Value::Bool(false) => false,
            serde_json::Value::String(s) => !s.trim().is_empty(),
            serde_json::Value::Array(a) => !a.is_empty(),
            serde_json::Value::Object(o) => !o.is_empty(),
            _ => true,
        })
}

/// Records a payload that filled the honeypot as skipped spam, and answers exactly as an accepted lead is
/// answered, so that a bot learns nothing.
async fn answer_spam(
    state: &AppState,
    source: &HttpSourceRecord,
    ledger: LedgerEntry,
    parsed: Option<Parsed>,
    field: &str,
) -> Result<Response, ApiError> {
    let submission = Submission {
        ledger,
        disposition: Disposition::Skipped {
            reason: format!("spam: the honeypot field {field:?} is filled"),
        },
        idempotency: None,
    };
    let id = match commit(state, submission).await? {
        SubmitOutcome::Skipped { message_id } => message_id,
        other => {
            return Err(ApiError::Internal(anyhow::anyhow!(
                "unexpected outcome for spam: {other:?}"
            )));
        }
    };
    metrics::counter!("leadgate_intake_total", "channel" => "http", "outcome" => "spam")
        .increment(1);
    tracing::info!(http_source = %source.name, message = id, "honeypot filled; recorded as spam");
    let body = IntakeResponse {
        id,
        kind: parsed
            .as_ref()
            .map_or(LeadKind::Contact, |p| p.payload.kind()),
        calendar: CalendarRef {
            id: source.calendar_id,
            name: source.calendar_name.clone(),
        },
        counterparty: None,
        warnings: parsed
            .map(|p| p.warnings().cloned().collect())
            .unwrap_or_default(),
    };
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, format!("/api/v1/leads/{id}"))],
        Json(body),
    )
        .into_response())
}

/// Commits a submission in a task of its own and waits for the result however long the commit takes. The
/// task is not cancelled when this handler is dropped (the client went away): a lead queued for its commit
/// is committed exactly once whatever happens to the request.
async fn commit(state: &AppState, submission: Submission) -> Result<SubmitOutcome, ApiError> {
    let intake = state.intake.clone();
    let pending = metrics::gauge!("leadgate_intake_pending_commits");
    pending.increment(1.0);
    let task = tokio::spawn(async move {
        let outcome = intake.submit(submission).await;
        pending.decrement(1.0);
        outcome
    });
    let outcome = task.await.map_err(|e| {
        ApiError::Internal(anyhow::Error::new(e).context("intake commit task failed"))
    })?;
    Ok(outcome?)
}

/// Runs the same checks as the intake and stores nothing.
#[utoipa::path(
    post, path = "/api/v1/intake/validate", tag = "intake",
    request_body(description = "The v0.1 payload (JSON, or multipart/form-data with the file)",
                 content((Object = "application/json"), (Object = "multipart/form-data"))),
    responses(
        (status = 200, description = "Would be accepted", body = ValidateResponse),
        (status = 400, description = "Not JSON (details: line, column)", body = ErrorBody),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
        (status = 403, description = "An Origin the source does not allow", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Unsupported media type, or a compressed body (Content-Encoding)", body = ErrorBody),
        (status = 422, description = "Would be rejected", body = ErrorBody),
        (status = 429, description = "A rate limit of the source is reached", body = ErrorBody,
         headers(("Retry-After" = String, description = "Seconds to wait"))),
    ),
    security(("bearer" = []))
)]
async fn validate(
    State(state): State<AppState>,
    headers: HeaderMap,
    request: Request,
) -> Result<Response, ApiError> {
    let source = auth::source(&state, &headers).await?;
    check_origin(&source, &headers)?;
    limit_rate(&state, &source, &request, &headers)?;
    let body = read_body(&state, &headers, request).await?;
    let parsed = parse(&state, &body).await??;
    let warnings = parsed.warnings().cloned().collect();
    let payload = serde_json::to_value(&parsed.payload)
        .map_err(|e| ApiError::Internal(anyhow::Error::new(e)))?;
    Ok(Json(ValidateResponse {
        valid: true,
        kind: parsed.payload.kind(),
        warnings,
        payload,
    })
    .into_response())
}

/// Parses off the async threads when the body is big enough for it to matter.
///
/// A body that is not valid UTF-8 and declares no charset is read as Windows-1251, as the mail channel does:
/// valid UTF-8 is always recognised first, so UTF-8 stays the default.
async fn parse(
    state: &AppState,
    body: &Body_,
) -> Result<Result<Parsed, crate::intake::Rejection>, ApiError> {
    const INLINE: usize = 64 * 1024;
    if body.bytes.len() <= INLINE {
        return Ok(state.intake.parse(
            &body.bytes,
            body.charset.as_deref(),
            encoding_rs::WINDOWS_1251,
        ));
    }
    let (bytes, charset, settings) = (
        body.bytes.clone(),
        body.charset.clone(),
        state.intake.settings().clone(),
    );
    tokio::task::spawn_blocking(move || {
        crate::intake::parse(
            &bytes,
            charset.as_deref(),
            encoding_rs::WINDOWS_1251,
            &settings,
        )
    })
    .await
    .map_err(|e| ApiError::Internal(anyhow::Error::new(e).context("payload parser task failed")))
}
