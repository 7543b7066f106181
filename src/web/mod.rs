//! The managers' web UI: server-rendered HTML served by leadgate itself.
//!
//! Managers live in this UI all day and administrators use it to see what went wrong, so it must work without
//! a front-end build, stay fast with 100,000 leads, and be safe with text that strangers typed into a
//! website form. Hence:
//! - pages are askama templates, checked at compile time and HTML-escaped by default (no template marks
//!   user data `|safe`);
//! - every page is a plain form-and-link page; the one script, served from `/static/app.js`, only adds
//!   polling for new leads and small conveniences, and no script or style is ever inline, so the
//!   Content-Security-Policy can forbid both;
//! - signing in uses argon2 password hashes and server-side sessions ([`session`]); every POST form carries
//!   the session's CSRF token;
//! - errors are the one [`ApiError`](crate::app::ApiError); on UI routes a layer turns its JSON body into a
//!   readable HTML page with the same status.

pub mod account;
pub mod admin;
pub mod assets;
pub mod calendar;
pub mod collector_password;
pub mod collectors;
pub mod counterparties;
pub mod fmt;
pub mod ics;
pub mod inbox;
pub mod integration;
pub mod layout_files;
pub mod lead;
pub mod lead_edit;
pub mod lead_notes;
pub mod live;
pub mod login;
pub mod personal_data;
pub mod quarantine;
pub mod reports;
pub mod session;
pub mod settings;
pub mod webhooks;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, Response, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::{Extension, Router};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::app::AppState;

/// The UI's Content-Security-Policy: only leadgate's own scripts, styles and images, no framing, and forms
/// that post only back to leadgate.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; \
     object-src 'none'";

/// Where the calendar feed is served: under the API's prefix, though the UI serves it (it is the calendar
/// page's, for clients that cannot sign in).
const FEED_PATH: &str = "/api/v1/calendars/{id}/events.ics";

/// The OpenAPI description of the one API route the UI serves, the calendar feed, for the API's document.
pub fn api_doc() -> utoipa::openapi::OpenApi {
    #[derive(utoipa::OpenApi)]
    #[openapi(paths(calendar::feed))]
    struct FeedDoc;
    <FeedDoc as utoipa::OpenApi>::openapi()
}

/// Every route of the UI and the calendar feed, with the UI's security headers; [`crate::router`] merges it
/// with the API's.
pub fn routes() -> Router<AppState> {
    let pages = Router::new()
        .route("/", get(|| async { Redirect::to("/inbox") }))
        .route(
            "/login",
            get(login::form)
                .post(login::submit)
                .layer(DefaultBodyLimit::max(login::MAX_BODY_BYTES)),
        )
        .route("/logout", post(login::logout))
        .route("/inbox", get(inbox::page))
        .route("/inbox/assign", post(inbox::assign))
        .route("/inbox/events", get(live::inbox))
        .route("/calendar/events", get(live::calendar))
        .route("/inbox.csv", get(reports::inbox_csv))
        .route("/reports", get(reports::page))
        .route("/reports/{file}", get(reports::csv))
        .route("/calendar", get(calendar::page))
        .route("/leads/{id}", get(lead::page))
        .route("/leads/{id}/take", post(lead::take))
        .route("/leads/{id}/done", post(lead::done))
        .route("/leads/{id}/spam", post(lead::spam))
        .route("/leads/{id}/assign", post(lead::assign))
        .route("/leads/{id}/move", post(lead::move_lead))
        .route("/leads/{id}/tech-cards", post(lead::form_tech_cards))
        .route("/leads/{id}/original", get(lead::original))
        .route("/leads/{id}/comments", post(lead_notes::add_comment))
        .route("/leads/{id}/follow-ups", post(lead_notes::plan_follow_up))
        .route(
            "/leads/{id}/follow-ups/{follow_up}/done",
            post(lead_notes::complete_follow_up),
        )
        .route("/leads/{id}/counterparty", post(lead::link_counterparty))
        .route("/leads/{id}/edit", post(lead_edit::edit))
        .route("/leads/{id}/lines", post(lead_edit::add_line))
        .route("/leads/{id}/lines/{position}", post(lead_edit::edit_line))
        .route(
            "/leads/{id}/lines/{position}/remove",
            post(lead_edit::remove_line),
        )
        .route("/leads/{id}/duplicate", post(lead_edit::duplicate))
        .route("/tech-cards/{id}/status", post(lead_edit::card_status))
        .route("/leads/{id}/files/{file}", get(layout_files::download))
        .route(
            "/leads/{id}/files/{file}/preview",
            get(layout_files::preview),
        )
        .route("/tech-cards/{id}", get(lead::tech_card))
        .route("/counterparties", get(counterparties::list))
        .route("/counterparties/{id}", get(counterparties::page))
        .route("/counterparties/{id}/name", post(counterparties::rename))
        .route(
            "/counterparties/{id}/contacts",
            post(counterparties::add_contact),
        )
        .route(
            "/counterparties/{id}/contacts/remove",
            post(counterparties::remove_contact),
        )
        .route("/account", get(account::page))
        .route("/account/feed-key", post(account::new_feed_key))
        .route("/account/email", post(account::set_email))
        .route("/quarantine", get(quarantine::list))
        .route("/quarantine/{id}", get(quarantine::page))
        .route("/quarantine/{id}/raw", get(quarantine::raw))
        .route("/quarantine/{id}/discard", post(quarantine::discard))
        .route("/quarantine/{id}/reprocess", post(quarantine::reprocess))
        .route("/admin", get(|| async { Redirect::to("/admin/users") }))
        .route("/admin/users", get(admin::users).post(admin::create_user))
        .route("/admin/users/{id}", post(admin::update_user))
        .route("/admin/users/{id}/disable", post(admin::disable_user))
        .route("/admin/users/{id}/enable", post(admin::enable_user))
        .route(
            "/admin/calendars",
            get(admin::calendars).post(admin::create_calendar),
        )
        .route(
            "/admin/calendars/{id}/notifications",
            post(admin::set_notifications),
        )
        .route(
            "/admin/calendars/{id}/assignment",
            post(admin::set_assignment),
        )
        .route(
            "/admin/sources",
            get(admin::sources).post(admin::create_source),
        )
        .route("/admin/sources/{id}/revoke", post(admin::revoke_source))
        .route("/admin/settings", get(settings::page).post(settings::save))
        .route(
            "/admin/webhooks",
            get(webhooks::list).post(webhooks::create_webhook),
        )
        .route("/admin/webhooks/{id}", get(webhooks::log))
        .route("/admin/webhooks/{id}/delete", post(webhooks::delete))
        .route(
            "/admin/webhooks/{id}/deliveries/{delivery}/redeliver",
            post(webhooks::redeliver),
        )
        .route("/admin/integration", get(integration::page))
        .route("/admin/sources/{id}/cors", post(admin::set_source_cors))
        .route(
            "/admin/collectors",
            get(collectors::list).post(collectors::create),
        )
        .route("/admin/collectors/new", get(collectors::new_form))
        .route(
            "/admin/collectors/{id}",
            get(collectors::edit_form).post(collectors::update),
        )
        .route(
            "/admin/collectors/{id}/delete",
            post(collectors::toggle_deleted),
        )
        .route("/admin/collectors/{id}/test", post(collectors::test))
        .route("/admin/collectors/{id}/run", post(collectors::run))
        .route(
            "/admin/personal-data",
            get(personal_data::page).post(personal_data::find),
        )
        .route("/admin/personal-data/erase", post(personal_data::erase))
        // The last "run now" or "test connection" started from these pages, shown on the collector list.
        .layer(Extension(Arc::new(collectors::CollectorTasks::default())))
        .layer(middleware::map_response(html_errors))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ));
    let public = Router::new()
        .route("/static/app.css", get(assets::css))
        .route("/static/app.js", get(assets::js))
        .route("/static/favicon.svg", get(assets::icon))
        .route("/favicon.ico", get(assets::icon))
        .route("/static/calendars.css", get(assets::calendar_colours))
        .route(FEED_PATH, get(calendar::feed));
    pages
        .merge(public)
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
}

/// The HTML page shown instead of an error's JSON body on UI routes.
#[derive(askama::Template)]
#[template(path = "error.html")]
struct ErrorPage {
    status: u16,
    title: &'static str,
    message: std::borrow::Cow<'static, str>,
    /// A page to go back to (the lead a form was on).
    back: Option<String>,
    /// What the refused form held, label and value, for the user to copy back into the form.
    typed: Vec<(&'static str, String)>,
}

/// The 409 page of a form whose record someone else changed after it was opened: what changed, that nothing
/// was saved, what the form held (`typed`: its filled-in fields, label and value) and the way back to the
/// record.
pub fn conflict_page(
    message: String,
    back: String,
    typed: Vec<(&'static str, String)>,
) -> Response<Body> {
    let page = ErrorPage {
        status: StatusCode::CONFLICT.as_u16(),
        title: "Конфликт",
        message: message.into(),
        back: Some(back),
        typed,
    };
    match askama::Template::render(&page) {
        Ok(html) => (StatusCode::CONFLICT, axum::response::Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "rendering the error page failed");
            StatusCode::CONFLICT.into_response()
        }
    }
}

/// Turns an error response that is not HTML (the [`ApiError`](crate::app::ApiError) JSON, or axum's plain
/// text for a malformed path or form) into an HTML page with the same status. The message shown is a fixed
/// Russian sentence per status: error details stay in the log.
pub async fn html_errors(response: Response<Body>) -> Response<Body> {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if is_html {
        return response;
    }
    let (title, message) = match status {
        StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => (
            "Неверный запрос",
            "Адрес или данные формы не удалось прочитать. Вернитесь назад и попробуйте ещё раз.",
        ),
        StatusCode::UNAUTHORIZED => (
            "Нужен вход",
            "Войдите в leadgate, чтобы открыть эту страницу.",
        ),
        StatusCode::FORBIDDEN => (
            "Доступ запрещён",
            "У вас нет прав на эту страницу или действие, либо форма устарела: обновите страницу и повторите.",
        ),
        StatusCode::NOT_FOUND => ("Не найдено", "Такой страницы или записи нет."),
        StatusCode::CONFLICT => (
            "Конфликт",
            "Запись с таким именем уже есть, или её изменили после того, как вы открыли страницу: \
             обновите страницу и повторите.",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => ("Слишком большой запрос", "Данные формы слишком велики."),
        StatusCode::TOO_MANY_REQUESTS => {
            ("Слишком много попыток", "Подождите немного и повторите.")
        }
        StatusCode::SERVICE_UNAVAILABLE => (
            "Сервис временно недоступен",
            "База данных сейчас не отвечает. leadgate продолжит работу сам, как только она вернётся; \
             обновите страницу через минуту.",
        ),
        s if s.is_server_error() => (
            "Ошибка сервера",
            "Что-то пошло не так. Ошибка записана в журнал; повторите позже.",
        ),
        _ => ("Ошибка", "Запрос не выполнен."),
    };
    let page = ErrorPage {
        status: status.as_u16(),
        title,
        message: message.into(),
        back: None,
        typed: Vec::new(),
    };
    let mut out = match askama::Template::render(&page) {
        Ok(html) => (status, axum::response::Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "rendering the error page failed");
            return response;
        }
    };
    // Keep headers the error carried that the client needs (a cookie being cleared, WWW-Authenticate, when
    // to try again).
    for name in [
        header::SET_COOKIE,
        header::WWW_AUTHENTICATE,
        header::RETRY_AFTER,
    ] {
        for value in response.headers().get_all(&name) {
            out.headers_mut().append(name.clone(), value.clone());
        }
    }
    out
}

/// What the page frame (`base.html`) shows: who is signed in, the CSRF token for the sign-out form, and
/// which menu item is current.
#[derive(Debug, Clone)]
pub struct Layout {
    /// Login.
    pub login: String,
    /// Display name.
    pub display_name: String,
    /// Show the administration menu.
    pub is_admin: bool,
    /// The session's CSRF token.
    pub csrf: String,
    /// The current menu item: `inbox`, `calendar`, `counterparties`, `reports`, `quarantine`, `admin`,
    /// `account`.
    pub section: &'static str,
}

impl Layout {
    /// The frame for this viewer.
    pub fn new(viewer: &session::Viewer, section: &'static str) -> Self {
        Self {
            login: viewer.login.clone(),
            display_name: viewer.display_name.clone(),
            is_admin: viewer.is_admin(),
            csrf: viewer.csrf.clone(),
            section,
        }
    }
}

/// The shop's time zone from the settings (validated at start, so the fallback never happens in practice).
pub fn timezone(state: &AppState) -> chrono_tz::Tz {
    state.settings.tz().unwrap_or(chrono_tz::Europe::Moscow)
}
