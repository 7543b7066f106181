//! A person's data over the API (administrators only): find everything held about a phone, an e-mail or an
//! INN, and erase it (152-ФЗ). The erasure answers with its audit record.

use axum::extract::State;
use axum::http::HeaderMap;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth;
use super::dto::{ErasureRecord, PersonalDataFound};
use super::extract::{Json, Query};
use crate::app::error::ErrorBody;
use crate::app::{ApiError, AppState};
use leadgate_domain::personal_data::PersonDataQuery;
use leadgate_storage::ErasureActor;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(find))
        .routes(routes!(erase))
}

/// Whose data: exactly one of `phone` (any writing; matched in E.164), `email` (any case) and `inn` (its
/// digits).
#[derive(Debug, Default, Deserialize, IntoParams, ToSchema)]
#[into_params(parameter_in = Query)]
pub struct PersonQuery {
    /// A phone number.
    phone: Option<String>,
    /// An e-mail address.
    email: Option<String>,
    /// An INN.
    inn: Option<String>,
}

impl PersonQuery {
    fn parse(&self) -> Result<PersonDataQuery, ApiError> {
        PersonDataQuery::from_fields(
            self.phone.as_deref(),
            self.email.as_deref(),
            self.inn.as_deref(),
        )
        .map_err(|e| ApiError::BadRequest(e.to_string()))
    }
}

/// Everything held about one phone, e-mail or INN: what `POST /api/v1/personal-data/erase` would erase.
#[utoipa::path(get, path = "/api/v1/personal-data", tag = "personal data", params(PersonQuery),
    responses((status = 200, body = PersonalDataFound), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
async fn find(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<PersonQuery>,
) -> Result<Json<PersonalDataFound>, ApiError> {
    auth::admin(&state, &headers).await?;
    let query = q.parse()?;
    Ok(Json(
        crate::personal_data::find(state.storage.as_ref(), &query)
            .await?
            .into(),
    ))
}

/// Erases everything held about one phone, e-mail or INN (body: `{"phone": …}`, `{"email": …}` or
/// `{"inn": …}`) and answers with the audit record, which holds ids and counts, never the data.
#[utoipa::path(post, path = "/api/v1/personal-data/erase", tag = "personal data", request_body = PersonQuery,
    responses((status = 200, body = ErasureRecord), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 415, description = "Not application/json", body = ErrorBody),
              (status = 422, description = "JSON of the wrong shape (code invalid_body)", body = ErrorBody)),
    security(("bearer" = [])))]
async fn erase(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(q): Json<PersonQuery>,
) -> Result<Json<ErasureRecord>, ApiError> {
    let admin = auth::admin(&state, &headers).await?;
    let query = q.parse()?;
    let actor = ErasureActor {
        user_id: Some(admin.id),
        login: admin.login,
        channel: "api",
    };
    Ok(Json(
        crate::personal_data::erase(state.storage.as_ref(), &query, &actor)
            .await?
            .into(),
    ))
}
