//! Signing in and out.
//!
//! The sign-in form has no session yet, so its CSRF protection is a double submit: the form page sets a
//! random `lg_login_csrf` cookie and puts the same value in a hidden field, and the POST must bring both. That
//! stops another site from signing a browser into an account of its choosing.
//!
//! A refused sign-in costs little. The body is at most [`MAX_BODY_BYTES`]; a login that cannot be a login name
//! is refused before anything else; every other attempt is first recorded as a failure (one short write,
//! which must succeed or the sign-in is refused), so concurrent guesses count, and only then is the password
//! checked, under the global argon2 limit of [`password`]. Per login and per client address a number of
//! failures within [`WINDOW_MINUTES`] is free; after that each attempt must wait after the latest failure,
//! and the wait doubles with every further failure (429 with `Retry-After`). A guesser cannot lock a user out
//! for longer than the longest wait, and from one address it runs out of its own budget first. Unknown logins
//! count the same way and cost the same argon2 time, so neither the answer nor its timing tells which logins
//! exist. Only a SHA-256 of the login is stored, and the login is never logged.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{Duration, Utc};
use serde::Deserialize;
use tracing::{info, instrument, warn};

use super::session::{self, Client, CsrfForm, NoFields};
use crate::app::{ApiError, AppState};
use crate::password::{self, PasswordError};
use crate::tokens;
use leadgate_domain::account::Name;
use leadgate_storage::{LoginAttempt, LoginLimits, LoginReservation};

/// Failed sign-ins per login within the window before each attempt must wait.
pub const MAX_FAILURES: i64 = 5;
/// Failed sign-ins per client address within the window before each attempt must wait.
pub const MAX_FAILURES_PER_ADDRESS: i64 = 20;
/// The rate-limit window.
pub const WINDOW_MINUTES: i64 = 15;
/// The largest sign-in form body: a login, a password, the CSRF token and the return path.
pub const MAX_BODY_BYTES: usize = 4 * 1024;

/// The sign-in limits: [`MAX_FAILURES`] per login and [`MAX_FAILURES_PER_ADDRESS`] per address free, then a
/// wait of 15 s after the latest failure, doubling with each further one, at most 2 minutes.
pub fn limits() -> LoginLimits {
    LoginLimits {
        free_per_login: MAX_FAILURES,
        free_per_address: MAX_FAILURES_PER_ADDRESS,
        first_wait: Duration::seconds(15),
        max_wait: Duration::minutes(2),
    }
}

fn csrf_cookie(client: &Client) -> &'static str {
    if client.https {
        "__Host-lg_login_csrf"
    } else {
        "lg_login_csrf"
    }
}

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
    client: &Client,
    next: String,
    login: String,
    error: Option<&'static str>,
) -> Response {
    let csrf = tokens::generate();
    let cookie = session::set_cookie(csrf_cookie(client), &csrf, 3600, "Strict", client.https);
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
    client: Client,
    headers: HeaderMap,
    Query(q): Query<NextQuery>,
) -> Result<Response, ApiError> {
    let next = session::safe_next(q.next.as_deref());
    if let Some(id) = session::cookie(&headers, client.session_cookie())
        && state
            .storage
            .session(&tokens::hash(id), session::session_check(&state))
            .await?
            .is_some()
    {
        return Ok(Redirect::to(&next).into_response());
    }
    Ok(login_page(
        StatusCode::OK,
        &client,
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

const WRONG: &str = "Неверный логин или пароль.";

/// `POST /login`.
#[instrument(skip_all)]
pub async fn submit(
    State(state): State<AppState>,
    client: Client,
    headers: HeaderMap,
    axum::Form(form): axum::Form<LoginForm>,
) -> Result<Response, ApiError> {
    let next = session::safe_next(form.next.as_deref());
    let login = form.login.trim().to_owned();
    let page = |status, login: &str, error| {
        let shown: String = login.chars().take(64).collect();
        login_page(status, &client, next.clone(), shown, Some(error))
    };
    let cookie_token = session::cookie(&headers, csrf_cookie(&client)).unwrap_or_default();
    if form.csrf.is_empty() || !session::constant_time_eq(&form.csrf, cookie_token) {
        return Ok(page(
            StatusCode::FORBIDDEN,
            &login,
            "Форма устарела. Попробуйте войти ещё раз.",
        ));
    }
    if Name::parse(&login).is_err() {
        info!("sign-in refused: not a login name");
        return Ok(page(StatusCode::UNAUTHORIZED, &login, WRONG));
    }
    let login_key = tokens::hash(&login.to_lowercase());
    let now = Utc::now();
    let attempt = LoginAttempt {
        login_key: login_key.clone(),
        address: client.address.clone(),
        at: now,
        window_start: now - Duration::minutes(WINDOW_MINUTES),
    };
    let address_attempt = match state
        .storage
        .reserve_login_attempt(&attempt, &limits())
        .await
    {
        Ok(LoginReservation::Granted { address_attempt }) => address_attempt,
        Ok(LoginReservation::Refused { retry_after }) => {
            warn!(address = %client.address, "sign-in refused: too many failures");
            let mut response = page(
                StatusCode::TOO_MANY_REQUESTS,
                &login,
                "Слишком много неудачных попыток. Подождите немного и повторите.",
            );
            let secs = (retry_after.num_milliseconds().max(0) + 999) / 1000;
            if let Ok(value) = HeaderValue::from_str(&secs.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            return Ok(response);
        }
        Err(e) => {
            // Without the record the attempt would escape the limits: refuse it.
            warn!(error = %e, "sign-in refused: the attempt could not be recorded");
            return Ok(page(
                StatusCode::SERVICE_UNAVAILABLE,
                &login,
                "Вход временно недоступен. Повторите через минуту.",
            ));
        }
    };
    let user = state.storage.user_credentials(&login).await?;
    let stored = user.as_ref().and_then(|u| u.password_hash.clone());
    let ok = match password::verify(form.password, stored).await {
        Ok(ok) => ok,
        Err(PasswordError::Busy) => {
            warn!("sign-in refused: too many password checks at once");
            return Ok(page(
                StatusCode::SERVICE_UNAVAILABLE,
                &login,
                "Вход временно недоступен. Повторите через минуту.",
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let Some(user) = user.filter(|_| ok) else {
        info!(address = %client.address, "sign-in failed");
        return Ok(page(StatusCode::UNAUTHORIZED, &login, WRONG));
    };
    if user.disabled {
        info!(user_id = user.id, "sign-in refused: the user is disabled");
        return Ok(page(
            StatusCode::FORBIDDEN,
            &login,
            "Учётная запись отключена администратором.",
        ));
    }
    state
        .storage
        .clear_login_attempts(&login_key, address_attempt)
        .await?;
    let cookie = session::start(&state, user.id, &client).await?;
    let clear = session::set_cookie(csrf_cookie(&client), "", 0, "Strict", client.https);
    info!(user_id = user.id, "signed in");
    let mut response = Redirect::to(&next).into_response();
    response.headers_mut().append(header::SET_COOKIE, cookie);
    response.headers_mut().append(header::SET_COOKIE, clear);
    Ok(response)
}

/// `POST /logout`: ends the session and clears the cookie.
pub async fn logout(
    State(state): State<AppState>,
    client: Client,
    headers: HeaderMap,
    CsrfForm(viewer, NoFields {}): CsrfForm<NoFields>,
) -> Result<Response, ApiError> {
    if let Some(id) = session::cookie(&headers, client.session_cookie()) {
        state.storage.delete_session(&tokens::hash(id)).await?;
    }
    info!(user = %viewer.login, "signed out");
    let clear = session::set_cookie(client.session_cookie(), "", 0, "Lax", client.https);
    Ok(([(header::SET_COOKIE, clear)], Redirect::to("/login")).into_response())
}
