//! The one error type of the HTTP edge. Every variant says its status code; every error body has the shape
//! `{"error": {"code", "message", "details"}}`. Database and unexpected errors become 500s that are logged
//! with their whole chain and never shown to the client.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::intake::{Rejection, SubmitError};
use crate::password::PasswordError;
use leadgate_storage::StorageError;

/// An error answered to an HTTP client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the body is not JSON; details carry line and column.
    #[error("the body is not valid JSON: {message}")]
    BadJson {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// Parser message.
        message: String,
    },
    /// 400: a malformed query parameter or request.
    #[error("{0}")]
    BadRequest(String),
    /// 401: the bearer token is missing or wrong.
    #[error("a valid bearer token is required")]
    Unauthorized,
    /// 403: authenticated, but not allowed.
    #[error("not allowed")]
    Forbidden,
    /// 404.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// 409: an Idempotency-Key reused with a different body.
    #[error("this Idempotency-Key was used with a different body")]
    IdempotencyConflict,
    /// 409: the resource is in a state that forbids this (a run in progress, a message not rejected, a name
    /// that exists already).
    #[error("{0}")]
    Busy(String),
    /// 409: the message was imported already (reprocessing twice, or twice at once); details carry its lead.
    #[error("the message is already imported as lead {lead_id}")]
    AlreadyImported {
        /// Its lead.
        lead_id: i64,
    },
    /// 413: the body is over `limits.max_body_bytes`.
    #[error("the body is larger than {limit} bytes")]
    PayloadTooLarge {
        /// The limit.
        limit: usize,
    },
    /// 405: the route does not take this method (the `Allow` header says which it takes).
    #[error("this route does not take this method")]
    MethodNotAllowed,
    /// 408: the request was not received (body read and checked) within its limit.
    #[error("the request was not received in time")]
    RequestTimeout,
    /// 415: not JSON, not multipart.
    #[error("unsupported media type {0:?}; send application/json or multipart/form-data")]
    UnsupportedMediaType(String),
    /// 415: the body is compressed (`Content-Encoding`); the intake reads it as sent.
    #[error("Content-Encoding {0:?} is not supported; send the body uncompressed")]
    UnsupportedEncoding(String),
    /// 415: a JSON body was expected (the read API's `PATCH`) and the request says another type or none.
    #[error("send the body as application/json")]
    ExpectedJson,
    /// 422: the payload parsed but breaks the format's rules.
    #[error("{message}")]
    Rejected {
        /// Machine-readable reason.
        code: &'static str,
        /// Human-readable reason.
        message: String,
    },
    /// 429: a rate limit is reached; `Retry-After` says when to try again.
    #[error("too many requests; retry in {retry_after_secs} s")]
    TooManyRequests {
        /// Seconds until a request will be let through.
        retry_after_secs: u64,
    },
    /// 503: shutting down or the database is unreachable.
    #[error("service unavailable")]
    Unavailable,
    /// 500: logged, never shown.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    fn status(&self) -> StatusCode {
        match self {
            ApiError::BadJson { .. } | ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::IdempotencyConflict
            | ApiError::Busy(_)
            | ApiError::AlreadyImported { .. } => StatusCode::CONFLICT,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_)
            | ApiError::UnsupportedEncoding(_)
            | ApiError::ExpectedJson => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Rejected { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            ApiError::BadJson { .. } => "not_json",
            ApiError::BadRequest(_) => "bad_request",
            ApiError::Unauthorized => "unauthorized",
            ApiError::Forbidden => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::IdempotencyConflict => "idempotency_conflict",
            ApiError::Busy(_) => "conflict",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::RequestTimeout => "request_timeout",
            ApiError::AlreadyImported { .. } => "already_imported",
            ApiError::PayloadTooLarge { .. } => "too_large",
            ApiError::UnsupportedMediaType(_)
            | ApiError::UnsupportedEncoding(_)
            | ApiError::ExpectedJson => "unsupported_media_type",
            ApiError::Rejected { code, .. } => code,
            ApiError::TooManyRequests { .. } => "too_many_requests",
            ApiError::Unavailable => "unavailable",
            ApiError::Internal(_) => "internal",
        }
    }

    fn details(&self) -> Value {
        match self {
            ApiError::BadJson { line, column, .. } => json!({ "line": line, "column": column }),
            ApiError::PayloadTooLarge { limit } => json!({ "limit": limit }),
            ApiError::TooManyRequests { retry_after_secs } => {
                json!({ "retry_after": retry_after_secs })
            }
            ApiError::AlreadyImported { lead_id } => json!({ "lead_id": lead_id }),
            _ => Value::Null,
        }
    }
}

impl From<Rejection> for ApiError {
    fn from(r: Rejection) -> Self {
        use leadgate_domain::payload::PayloadError;
        match r {
            Rejection::Payload(PayloadError::NotJson {
                line,
                column,
                message,
            }) => ApiError::BadJson {
                line,
                column,
                message,
            },
            Rejection::TooLarge { limit, .. } => ApiError::PayloadTooLarge { limit },
            other => ApiError::Rejected {
                code: other.code(),
                message: other.to_string(),
            },
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::BadRequest(rejection.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::BadRequest(rejection.body_text())
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::MissingJsonContentType(_) => ApiError::ExpectedJson,
            JsonRejection::JsonDataError(e) => ApiError::Rejected {
                code: "invalid_body",
                message: e.body_text(),
            },
            JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                ApiError::PayloadTooLarge {
                    limit: DEFAULT_BODY_LIMIT,
                }
            }
            other => ApiError::BadRequest(other.body_text()),
        }
    }
}

/// The `Retry-After` of a 503: the database or the writer may be back by then (a client that waits longer
/// loses nothing: nothing was stored).
pub const UNAVAILABLE_RETRY_AFTER_SECS: u64 = 5;

/// axum's limit for a JSON body read with `Json` (its `DefaultBodyLimit`), which the read API keeps.
const DEFAULT_BODY_LIMIT: usize = 2 * 1024 * 1024;

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::NotFound { what, .. } => ApiError::NotFound(what),
            StorageError::Conflict(message) => ApiError::Busy(message),
            StorageError::Unavailable(e) => {
                tracing::error!(error = ?e, "the database is unavailable");
                ApiError::Unavailable
            }
            other => ApiError::Internal(other.into()),
        }
    }
}

impl From<SubmitError> for ApiError {
    fn from(e: SubmitError) -> Self {
        match e {
            SubmitError::WriterGone => ApiError::Unavailable,
            SubmitError::Storage(e) if matches!(*e, StorageError::Unavailable(_)) => {
                tracing::error!(error = ?e, "the database is unavailable");
                ApiError::Unavailable
            }
            other => ApiError::Internal(other.into()),
        }
    }
}

/// A busy password hasher is 503 (try again); any other failure to hash is a 500.
impl From<PasswordError> for ApiError {
    fn from(e: PasswordError) -> Self {
        match e {
            PasswordError::Busy => ApiError::Unavailable,
            e => ApiError::Internal(e.into()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let retry_after = match &self {
            ApiError::TooManyRequests { retry_after_secs } => Some(*retry_after_secs),
            ApiError::Unavailable => Some(UNAVAILABLE_RETRY_AFTER_SECS),
            _ => None,
        };
        if let ApiError::Internal(e) = &self {
            tracing::error!(error = ?e, "request failed");
        }
        let body = json!({ "error": { "code": self.code(), "message": self.to_string(), "details": self.details() } });
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// The error body, for the OpenAPI document.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// The inside of [`ErrorBody`].
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Machine-readable code, e.g. `not_json`, `no_known_field`, `unauthorized`.
    pub code: String,
    /// Human-readable message.
    pub message: String,
    /// Extra data, e.g. `{"line": 3, "column": 14}` for `not_json` or `{"limit": 1048576}` for `too_large`;
    /// `null` for most errors.
    #[schema(value_type = Option<Object>)]
    pub details: Value,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreachable_database_is_a_503_and_a_failed_statement_a_500() {
        let unavailable = ApiError::from(StorageError::Unavailable("connection refused".into()));
        assert_eq!(unavailable.status(), StatusCode::SERVICE_UNAVAILABLE);
        let lost = ApiError::from(SubmitError::Storage(std::sync::Arc::new(
            StorageError::Unavailable("connection reset".into()),
        )));
        assert_eq!(lost.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            lost.into_response().headers()[header::RETRY_AFTER],
            UNAVAILABLE_RETRY_AFTER_SECS.to_string()
        );
        let failed = ApiError::from(StorageError::backend("no such table"));
        assert_eq!(failed.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let missing = ApiError::from(StorageError::NotFound {
            what: "lead",
            key: "1".into(),
        });
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    }
}
