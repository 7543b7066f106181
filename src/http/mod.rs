//! The HTTP channel and the read API (axum).
//!
//! Routes are registered through `utoipa-axum`, so `/openapi.json` is generated from exactly the routes that
//! exist. Logs carry the route template (`/api/v1/leads/{id}`), never the raw URL; the `Authorization`
//! header is marked sensitive and never logged.

pub mod auth;
pub mod collectors;
pub mod dto;
pub mod extract;
pub mod format;
pub mod intake;
pub mod lead_actions;
pub mod lead_edits;
pub mod lead_notes;
pub mod personal_data;
pub mod read;
pub mod reports;
pub mod serve;
pub mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use metrics_exporter_prometheus::PrometheusHandle;
use tower_http::cors::{AllowOrigin, CorsLayer};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::app::{ApiError, AppState};

#[derive(OpenApi)]
#[openapi(
    info(title = "leadgate", description = "Leads and orders from print shops' websites into managers' calendars"),
    modifiers(&BearerAuth),
    components(schemas(crate::app::error::ErrorBody))
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Every operation that takes a body may answer 413: the body limit is checked before any handler reads it
/// (`limits.max_body_bytes` for the intake, 2 MiB for the rest of the API).
struct BodyLimit;

impl utoipa::Modify for BodyLimit {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{RefOr, ResponseBuilder, content::ContentBuilder};
        for item in openapi.paths.paths.values_mut() {
            for operation in [
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            {
                if operation.request_body.is_none() {
                    continue;
                }
                operation
                    .responses
                    .responses
                    .entry("413".to_owned())
                    .or_insert_with(|| {
                        RefOr::T(
                            ResponseBuilder::new()
                                .description("Body too large")
                                .content(
                                    "application/json",
                                    ContentBuilder::new()
                                        .schema(Some(RefOr::Ref(
                                            utoipa::openapi::Ref::from_schema_name("ErrorBody"),
                                        )))
                                        .build(),
                                )
                                .build(),
                        )
                    });
            }
        }
    }
}

/// Who may read `/metrics`: anyone, or whoever presents the configured token (compared by its SHA-256).
#[derive(Clone)]
pub struct MetricsAccess {
    handle: Option<PrometheusHandle>,
    token_hash: Option<String>,
}

impl MetricsAccess {
    /// Access to `handle`'s metrics, behind `token` when there is one.
    pub fn new(handle: Option<PrometheusHandle>, token: Option<&str>) -> Self {
        Self {
            handle,
            token_hash: token.map(crate::tokens::hash),
        }
    }
}

/// A router with `/metrics` alone, for `server.metrics_listen`.
pub fn metrics_router(access: MetricsAccess) -> Router {
    Router::new().route("/metrics", get(metrics).with_state(access))
}

/// The API's routes with their OpenAPI document (with `served_elsewhere`: the operations under `/api` that the
/// UI serves), the health checks and, when `metrics_access` is given, `/metrics` (it is not when metrics have
/// a listen address of their own). Every route under `/api` needs a
/// bearer token. [`crate::router`] merges these with the UI's and adds the middleware around both.
pub fn routes(
    metrics_access: Option<MetricsAccess>,
    served_elsewhere: utoipa::openapi::OpenApi,
) -> Router<AppState> {
    let (api, mut openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(intake::routes())
        .merge(read::routes())
        .merge(lead_edits::routes())
        .merge(lead_actions::routes())
        .merge(lead_notes::routes())
        .merge(collectors::routes())
        .merge(personal_data::routes())
        .merge(reports::routes())
        .merge(webhooks::routes())
        .route_layer(axum::middleware::from_fn(require_bearer))
        // Public: added after the bearer layer, which covers only the routes above.
        .merge(format::routes())
        .split_for_parts();
    // The routes under /api that the UI serves (the calendar feed) are in the document too.
    openapi.merge(served_elsewhere);
    // Once the routes are in the document: it describes every operation.
    utoipa::Modify::modify(&BodyLimit, &mut openapi);
    let openapi = Arc::new(openapi);
    let mut api = api
        .route(
            "/openapi.json",
            get(move || async move { Json(openapi.as_ref().clone()) }),
        )
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz));
    if let Some(access) = metrics_access {
        api = api.route("/metrics", get(metrics).with_state(access));
    }
    api
}

/// What an answer under `/api/` says is about customers, or about who may see them: no cache keeps it. Every
/// one gets `Cache-Control: no-store` unless it says otherwise, the routes' answers as well as the errors of a
/// path no route has and the calendar feed's.
pub async fn api_no_store(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let is_api = request.uri().path().starts_with("/api/");
    let mut response = next.run(request).await;
    if is_api {
        response
            .headers_mut()
            .entry(header::CACHE_CONTROL)
            .or_insert(HeaderValue::from_static("no-store"));
    }
    response
}

/// CORS for the intake: browsers may post to it from the origins of the HTTP sources as stored (the file's
/// and the UI's), read again when a source changes.
pub fn cors(state: &AppState) -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::async_predicate({
            let sources = state.sources.clone();
            let storage = state.storage.clone();
            move |origin: HeaderValue, _: &axum::http::request::Parts| async move {
                match origin.to_str() {
                    Ok(origin) => sources.allows_origin(storage.as_ref(), origin).await,
                    Err(_) => false,
                }
            }
        }))
        .allow_methods([axum::http::Method::POST, axum::http::Method::OPTIONS])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static("idempotency-key"),
        ])
}

/// Answers 408 to a request that takes longer than `server.request_timeout_secs`, except the intake: it
/// limits receiving its request itself (`server.intake_timeout_secs`) and then waits for its commit, so a
/// lead that is committed is never answered with an error.
pub async fn request_timeout(
    State(limit): State<Duration>,
    request: Request,
    next: Next,
) -> Response {
    let is_intake = request
        .extensions()
        .get::<MatchedPath>()
        .is_some_and(|p| p.as_str() == intake::INTAKE_PATH);
    if is_intake {
        return next.run(request).await;
    }
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::RequestTimeout.into_response(),
    }
}

/// Answers a request to a path no route has: under `/api/`, 401 without a bearer token (as every API route
/// answers it: an anonymous client learns nothing of which paths exist) and a JSON 404 with one; elsewhere
/// `None`, for the UI's page.
pub fn unknown_api_path(headers: &HeaderMap, path: &str) -> Option<Response> {
    if !path.starts_with("/api/") {
        return None;
    }
    Some(match auth::bearer(headers) {
        None => ApiError::Unauthorized.into_response(),
        Some(_) => ApiError::NotFound("route").into_response(),
    })
}

/// Gives a 405 that axum answered itself (no body) the API's JSON error body, keeping its `Allow` header.
pub async fn method_not_allowed_body(response: Response) -> Response {
    if response.status() != StatusCode::METHOD_NOT_ALLOWED
        || response.headers().contains_key(header::CONTENT_TYPE)
    {
        return response;
    }
    let (parts, _) = response.into_parts();
    let mut json = ApiError::MethodNotAllowed.into_response();
    for (name, value) in &parts.headers {
        json.headers_mut().insert(name.clone(), value.clone());
    }
    json
}

/// Every API route needs a bearer token: a request without one is answered 401 before its path, query or
/// body is read, so a malformed request never tells an anonymous client more than "sign in". The handlers
/// check the token itself.
async fn require_bearer(
    request: Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    if auth::bearer(request.headers()).is_none() {
        return ApiError::Unauthorized.into_response();
    }
    next.run(request).await
}

/// How long `/readyz` waits for the database: a load balancer's check should hear "not ready" quickly, not
/// wait for the storage's own limit on getting a connection.
const READY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    match tokio::time::timeout(READY_TIMEOUT, state.storage.ping()).await {
        Ok(Ok(())) => (StatusCode::OK, "ready").into_response(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "database not ready");
            ApiError::Unavailable.into_response()
        }
        Err(_) => {
            tracing::warn!("database not ready: no answer in time");
            ApiError::Unavailable.into_response()
        }
    }
}

async fn metrics(State(access): State<MetricsAccess>, headers: HeaderMap) -> Response {
    if let Some(expected) = &access.token_hash {
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| crate::tokens::hash(token.trim()));
        // Both sides are SHA-256 digests: comparing them reveals nothing about the token.
        if presented.as_ref() != Some(expected) {
            return ApiError::Unauthorized.into_response();
        }
    }
    match &access.handle {
        Some(handle) => (
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            handle.render(),
        )
            .into_response(),
        None => ApiError::NotFound("metrics").into_response(),
    }
}
