//! `GET /api/v1/format/v0.1.schema.json`: the JSON Schema of the site payload, for site developers.
//!
//! The schema is the file `docs/format-v0.1.schema.json`, compiled in, so the served document and the one in
//! the repository are the same bytes. It is public (no token): a site's developer, their editor and their
//! validator fetch it before they hold a token.

use axum::http::header;
use axum::response::IntoResponse;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;

/// The JSON Schema (draft 2020-12) of the v0.1 payload.
pub const SCHEMA: &str = include_str!("../../docs/format-v0.1.schema.json");

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(schema))
}

/// The JSON Schema (draft 2020-12) of the v0.1 payload that `POST /api/v1/intake` takes. Public.
#[utoipa::path(
    get, path = "/api/v1/format/v0.1.schema.json", tag = "format",
    responses(
        (status = 200, description = "The JSON Schema of the v0.1 payload (draft 2020-12)",
         content_type = "application/schema+json", body = Object),
    ),
    security(())
)]
async fn schema() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "application/schema+json"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        SCHEMA,
    )
}
