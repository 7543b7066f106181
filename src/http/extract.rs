//! The API's extractors: axum's `Path`, `Query` and `Json`, whose refusals are answered like every other error
//! of the API (a JSON [`ApiError`] body with its code) instead of axum's plain-text ones. Handlers use them
//! under the same names and patterns (`Path(id): Path<i64>`).

use axum::extract::{FromRequest, FromRequestParts};
use axum::response::{IntoResponse, Response};

use crate::app::ApiError;

/// `axum::extract::Path`; a malformed path segment is a 400 with the JSON error body.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);

/// `axum::extract::Query`; a malformed query is a 400 with the JSON error body.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);

/// `axum::Json`, as a request body (415 without a JSON content type, 400 for bad JSON, 422 for JSON of the
/// wrong shape, all with the JSON error body) and as a response.
#[derive(Debug, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct Json<T>(pub T);

impl<T> IntoResponse for Json<T>
where
    axum::Json<T>: IntoResponse,
{
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}
