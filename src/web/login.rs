//! Signing in and out.
//!
//! The sign-in form has no session yet, so its CSRF protection is a double submit: the form page sets a
//! random `lg_login_csrf` cookie and puts the same value in a hidden field, and the POST must bring both. That
//! stops another site from signing a browser into an account of its choosing.
//!
//! Guessing is limited per login: after [`MAX_FAILURES`] failed attempts within [`WINDOW_MINUTES`], further
//! attempts for that login are refused with 429 before any password is checked. Unknown logins count the
//! same way and cost the same argon2 time, so neither the answer nor its timing tells which logins exist.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{Duration, Utc};
use serde::Deserialize;
use tracing::{info, instrument, warn};

use super::password;
use super::session::{self, CsrfForm, NoFields, SESSION_COOKIE};
use crate::http::{ApiError, AppState};
use crate::tokens;

/// Failed sign-ins allowed per login within the window.
pub const MAX_FAILURES: i64 = 5;
/// The rate-limit window.
pub const WINDOW_MINUTES: i64 = 15;
const LOGIN_CSRF_COOKIE: &str = "lg_login_csrf";

#[derive(Template, WebTemplate)]
#[template(path = "login.html")]
struct LoginPage {
    csrf: String,
    next: String,
    login: String,
    error: Option<&'static str>,
}

/// `?next=` of the sign-in page.
#[derive(Debug, Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

fn login_page(
    status: StatusCode,
    headers: &HeaderMap,
    next: String,
    login: String,
    error: Option<&'static str>,
) -> Response {
    let csrf = tokens::generate();
    let cookie = session::set_cookie(
        LOGIN_CSRF_COOKIE,
        &csrf,
        3600,
        "Strict",
        session::is_https(headers),
    );
    let page = LoginPage {
        csrf,
        next,
        login,
        error,
    };
    (status, [(header::SET_COOKIE, cookie)], page).into_response()
}

/// `GET /login`: the sign-in form (or straight on, when already signed in).
pub async fn form(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<NextQuery>,
) -> Result<Response, ApiError> {
    let next = session::safe_next(q.next.as_deref());
    if let Some(id) = session::cookie(&headers, SESSION_COOKIE)
        && state
            .storage
            .session(&tokens::hash(id), Utc::now())
            .await?
            .is_some()
    {
        return Ok(Redirect::to(&next).into_response());
    }
    Ok(login_page(
        StatusCode::OK,
        &headers,
        next,
        String::new(),
        None,
    ))
}

/// The sign-in form's fields.
#[derive(Deserialize)]
pub struct LoginForm {
    login: String,
    password: String,
    csrf: String,
    next: Option<String>,
}

/// `POST /login`.
#[instrument(skip_all, fields(login = %form.login.trim()))]
pub async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<LoginForm>,
) -> Result<Response, ApiError> {
    let next = session::safe_next(form.next.as_deref());
    let login = form.login.trim().to_owned();
    let cookie_token = session::cookie(&headers, LOGIN_CSRF_COOKIE).unwrap_or_default();
    if form.csrf.is_empty() || !session::constant_time_eq(&form.csrf, cookie_token) {
        return Ok(login_page(
            StatusCode::FORBIDDEN,
            &headers,
            next,
            login,
            Some("Форма устарела. Попробуйте войти ещё раз."),
        ));
    }
    let key = login.to_lowercase();
    let now = Utc::now();
    let window_start = now - Duration::minutes(WINDOW_MINUTES);
    if state.storage.login_failures(&key, window_start).await? >= MAX_FAILURES {
        warn!("sign-in refused: too many failures");
        return Ok(login_page(
            StatusCode::TOO_MANY_REQUESTS,
            &headers,
            next,
            login,
            Some("Слишком много неудачных попыток. Повторите через 15 минут."),
        ));
    }
    let user = state.storage.user_credentials(&login).await?;
    let stored = user.as_ref().and_then(|u| u.password_hash.clone());
    let ok = password::verify(form.password, stored).await?;
    let Some(user) = user.filter(|_| ok) else {
        state
            .storage
            .record_login_failure(&key, now, window_start)
            .await?;
        info!("sign-in failed");
        return Ok(login_page(
            StatusCode::UNAUTHORIZED,
            &headers,
            next,
            login,
            Some("Неверный логин или пароль."),
        ));
    };
    state.storage.clear_login_failures(&key).await?;
    let cookie = session::start(&state, user.id, &headers).await?;
    let clear = session::set_cookie(LOGIN_CSRF_COOKIE, "", 0, "Strict", false);
    info!(user_id = user.id, "signed in");
    let mut response = Redirect::to(&next).into_response();
    response.headers_mut().append(header::SET_COOKIE, cookie);
    response.headers_mut().append(header::SET_COOKIE, clear);
    Ok(response)
}

/// `POST /logout`: ends the session and clears the cookie.
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    CsrfForm(viewer, NoFields {}): CsrfForm<NoFields>,
) -> Result<Response, ApiError> {
    if let Some(id) = session::cookie(&headers, SESSION_COOKIE) {
        state.storage.delete_session(&tokens::hash(id)).await?;
    }
    info!(user = %viewer.login, "signed out");
    let clear = session::set_cookie(SESSION_COOKIE, "", 0, "Lax", session::is_https(&headers));
    Ok(([(header::SET_COOKIE, clear)], Redirect::to("/login")).into_response())
}
