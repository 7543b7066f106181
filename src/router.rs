//! The whole HTTP surface in one place: the API's routes ([`crate::http`]) and the UI's ([`crate::web`]),
//! with the middleware around both. This is the only module that uses both of them.

use std::time::Duration;

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::trace::TraceLayer;

use crate::app::{ApiError, AppState};
use crate::http::{self, MetricsAccess};
use crate::web;

/// Builds the router with every route and middleware; `/metrics` only when `metrics_access` is given (it is not
/// when metrics have a listen address of their own). CORS allows the origins of the HTTP sources as stored
/// (the file's and the UI's), read again when a source changes.
pub fn router(state: AppState, metrics_access: Option<MetricsAccess>) -> Router {
    let cors = http::cors(&state);
    let timeout = Duration::from_secs(state.settings.server.request_timeout_secs.max(1));
    let request_id = HeaderName::from_static("x-request-id");
    http::routes(metrics_access, web::api_doc())
        .merge(web::routes())
        .fallback(not_found)
        .layer(axum::middleware::map_response(http::method_not_allowed_body))
        .layer(axum::middleware::from_fn(http::api_no_store))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            web::session::strict_transport,
        ))
        .with_state(state)
        .layer(cors)
        .layer(axum::middleware::from_fn_with_state(
            timeout,
            http::request_timeout,
        ))
        .layer(CatchPanicLayer::new())
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            let route = req.extensions().get::<MatchedPath>().map_or("-", MatchedPath::as_str).to_owned();
            tracing::info_span!("http", method = %req.method(), route, request_id = tracing::field::Empty)
        }))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .layer(SetSensitiveRequestHeadersLayer::new([header::AUTHORIZATION, header::COOKIE]))
}

/// What `serve` answers while the database has not answered at start yet: `/healthz` says the process is
/// alive; everything else (`/readyz`, the intake, the read API, the UI) is 503 with `Retry-After`, as JSON on
/// the API and as the error page in the UI. Nothing is accepted, so nothing can be lost.
pub fn waiting_router() -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .fallback(waiting)
        .layer(CatchPanicLayer::new())
        .layer(SetSensitiveRequestHeadersLayer::new([
            header::AUTHORIZATION,
            header::COOKIE,
        ]))
}

/// A path no route has: the API's answer ([`http::unknown_api_path`]), else the UI's "not found" page.
async fn not_found(request: Request) -> Response {
    match http::unknown_api_path(request.headers(), request.uri().path()) {
        Some(response) => response,
        None => web::html_errors(ApiError::NotFound("page").into_response()).await,
    }
}

async fn waiting(request: Request) -> Response {
    let path = request.uri().path();
    let unavailable = ApiError::Unavailable.into_response();
    if path.starts_with("/api/")
        || path == "/readyz"
        || path == "/metrics"
        || path == "/openapi.json"
    {
        unavailable
    } else {
        web::html_errors(unavailable).await
    }
}
