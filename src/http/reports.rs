//! Reports over the API: every report's numbers as JSON and as CSV, and the lead list as CSV. A manager's
//! token counts only leads of the calendars the manager may see (the inbox's rule); the quarantine and
//! collector health report is for administrators.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth;
use super::dto::LeadFilter;
use super::extract::{Json, Query};
use crate::app::error::ErrorBody;
use crate::app::reports::{
    self, HealthReport, LeadsReport, OrdersReport, OutcomesReport, ReportParams, Resolved,
    ResponseReport, csv_response,
};
use crate::app::{ApiError, AppState};
use leadgate_storage::{UserRecord, visible_calendar_ids};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(leads_report))
        .routes(routes!(leads_report_csv))
        .routes(routes!(orders_report))
        .routes(routes!(orders_report_csv))
        .routes(routes!(outcomes_report))
        .routes(routes!(outcomes_report_csv))
        .routes(routes!(response_report))
        .routes(routes!(response_report_csv))
        .routes(routes!(health_report))
        .routes(routes!(health_report_csv))
        .routes(routes!(leads_csv))
}

async fn scope_of(state: &AppState, user: &UserRecord) -> Result<Option<Vec<i64>>, ApiError> {
    let calendars = state.storage.calendars().await?;
    Ok(visible_calendar_ids(&calendars, &user.login, user.role))
}

fn timezone(state: &AppState) -> chrono_tz::Tz {
    state.settings.tz().unwrap_or(chrono_tz::Europe::Moscow)
}

/// The signed-in user's report parameters, read and checked.
async fn resolve(
    state: &AppState,
    headers: &HeaderMap,
    params: &ReportParams,
    admin_only: bool,
) -> Result<Resolved, ApiError> {
    let user = if admin_only {
        auth::admin(state, headers).await?
    } else {
        auth::user(state, headers).await?
    };
    let scope = scope_of(state, &user).await?;
    let tz = timezone(state);
    let today = chrono::Utc::now().with_timezone(&tz).date_naive();
    reports::resolve(params, scope, tz, today)
}

/// Leads over time, split by channel, calendar, source, kind or a campaign field (`by`).
#[utoipa::path(get, path = "/api/v1/reports/leads", tag = "reports", params(ReportParams),
    responses((status = 200, body = LeadsReport), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, description = "A calendar the user may not see", body = ErrorBody)),
    security(("bearer" = [])))]
async fn leads_report(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(p): Query<ReportParams>,
) -> Result<Json<LeadsReport>, ApiError> {
    let r = resolve(&state, &headers, &p, false).await?;
    Ok(Json(reports::leads(state.storage.as_ref(), &r).await?))
}

/// The leads report as CSV (UTF-8 with a byte-order mark, `;`-separated, for Excel).
#[utoipa::path(get, path = "/api/v1/reports/leads.csv", tag = "reports", params(ReportParams),
    responses((status = 200, body = String, content_type = "text/csv"), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
async fn leads_report_csv(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(p): Query<ReportParams>,
) -> Result<Response, ApiError> {
    let r = resolve(&state, &headers, &p, false).await?;
    let report = reports::leads(state.storage.as_ref(), &r).await?;
    Ok(csv_response(
        "leads-report.csv",
        &reports::leads_csv(&report),
    ))
}

/// Orders vs contact leads, and the value of orders (the sum of Сумма), over time.
#[utoipa::path(get, path = "/api/v1/reports/orders", tag = "reports", params(ReportParams),
    responses((status = 200, body = OrdersReport), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
async fn orders_report(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(p): Query<ReportParams>,
) -> Result<Json<OrdersReport>, ApiError> {
    let r = resolve(&state, &headers, &p, false).await?;
    Ok(Json(reports::orders(state.storage.as_ref(), &r).await?))
}

/// The orders report as CSV.
#[utoipa::path(get, path = "/api/v1/reports/orders.csv", tag = "reports", params(ReportParams),
    responses((status = 200, body = String, content_type = "text/csv"), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
async fn orders_report_csv(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(p): Query<ReportParams>,
) -> Result<Response, ApiError> {
    let r = resolve(&state, &headers, &p, false).await?;
    let report = reports::orders(state.storage.as_ref(), &r).await?;
    Ok(csv_response(
        "orders-report.csv",
        &reports::orders_csv(&report),
    ))
}

/// Outcomes: the shares of leads done, rejected as spam and still open, by bucket of receipt.
#[utoipa::path(get, path = "/api/v1/reports/outcomes", tag = "reports", params(ReportParams),
    responses((status = 200, body = OutcomesReport), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
async fn outcomes_report(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(p): Query<ReportParams>,
) -> Result<Json<OutcomesReport>, ApiError> {
    let r = resolve(&state, &headers, &p, false).await?;
    Ok(Json(reports::outcomes(state.storage.as_ref(), &r).await?))
}

/// The outcomes report as CSV.
#[utoipa::path(get, path = "/api/v1/reports/outcomes.csv", tag = "reports", params(ReportParams),
    responses((status = 200, body = String, content_type = "text/csv"), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
async fn outcomes_report_csv(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(p): Query<ReportParams>,
) -> Result<Response, ApiError> {
    let r = resolve(&state, &headers, &p, false).await?;
    let report = reports::outcomes(state.storage.as_ref(), &r).await?;
    Ok(csv_response(
        "outcomes-report.csv",
        &reports::outcomes_csv(&report),
    ))
}

/// Response time from receipt to the first manager action: median and 90th percentile per manager and per
/// calendar, and the leads answered, or still unanswered, after one hour.
#[utoipa::path(get, path = "/api/v1/reports/response", tag = "reports", params(ReportParams),
    responses((status = 200, body = ResponseReport), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
async fn response_report(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(p): Query<ReportParams>,
) -> Result<Json<ResponseReport>, ApiError> {
    let r = resolve(&state, &headers, &p, false).await?;
    Ok(Json(
        reports::response(state.storage.as_ref(), &r, chrono::Utc::now()).await?,
    ))
}

/// The response time report as CSV.
#[utoipa::path(get, path = "/api/v1/reports/response.csv", tag = "reports", params(ReportParams),
    responses((status = 200, body = String, content_type = "text/csv"), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
async fn response_report_csv(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(p): Query<ReportParams>,
) -> Result<Response, ApiError> {
    let r = resolve(&state, &headers, &p, false).await?;
    let report = reports::response(state.storage.as_ref(), &r, chrono::Utc::now()).await?;
    Ok(csv_response(
        "response-report.csv",
        &reports::response_csv(&report),
    ))
}

/// Quarantine and collector health over time: ledger records by outcome and mail collector runs
/// (administrators only; the calendar and kind filters do not apply).
#[utoipa::path(get, path = "/api/v1/reports/health", tag = "reports", params(ReportParams),
    responses((status = 200, body = HealthReport), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
async fn health_report(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(p): Query<ReportParams>,
) -> Result<Json<HealthReport>, ApiError> {
    let r = resolve(&state, &headers, &p, true).await?;
    Ok(Json(reports::health(state.storage.as_ref(), &r).await?))
}

/// The health report as CSV (administrators only).
#[utoipa::path(get, path = "/api/v1/reports/health.csv", tag = "reports", params(ReportParams),
    responses((status = 200, body = String, content_type = "text/csv"), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
async fn health_report_csv(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(p): Query<ReportParams>,
) -> Result<Response, ApiError> {
    let r = resolve(&state, &headers, &p, true).await?;
    let report = reports::health(state.storage.as_ref(), &r).await?;
    Ok(csv_response(
        "health-report.csv",
        &reports::health_csv(&report),
    ))
}

/// The lead list with the filters of `GET /api/v1/leads`, as CSV (newest first, at most 100,000 leads).
#[utoipa::path(get, path = "/api/v1/leads.csv", tag = "leads", params(LeadFilter),
    responses((status = 200, body = String, content_type = "text/csv"), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
async fn leads_csv(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(filter): Query<LeadFilter>,
) -> Result<Response, ApiError> {
    let user = auth::user(&state, &headers).await?;
    super::read::check_filter(&filter)?;
    let scope = scope_of(&state, &user).await?;
    let leads =
        reports::all_leads(state.storage.as_ref(), &filter.into(), scope.as_deref()).await?;
    Ok(csv_response(
        "leads.csv",
        &reports::leads_list_csv(&leads, timezone(&state)),
    ))
}
