//! Sessions, the signed-in viewer, CSRF-checked forms and who may see which calendar.
//!
//! A session is a 256-bit random id in an `HttpOnly`, `SameSite=Lax` cookie (`Secure` when the request
//! came over HTTPS through a proxy); the database keeps only its SHA-256, so a leaked backup signs nobody in.
//! Each session has its own random CSRF token, which every POST form carries in a hidden `csrf` field and
//! [`CsrfForm`] compares in constant time before the handler runs. `SameSite=Lax` already keeps the cookie
//! off cross-site POSTs; the token is the second lock.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{Duration, Utc};
use serde::de::DeserializeOwned;

use crate::http::{ApiError, AppState};
use crate::storage::{CalendarView, NewSession, Role};
use crate::tokens;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "lg_session";
/// How long a session lasts after sign-in.
pub const SESSION_DAYS: i64 = 14;
/// The largest form body the UI accepts.
const MAX_FORM_BYTES: usize = 64 * 1024;

/// The signed-in user of a request.
#[derive(Debug, Clone)]
pub struct Viewer {
    /// User id.
    pub user_id: i64,
    /// Login.
    pub login: String,
    /// Display name.
    pub display_name: String,
    /// Role.
    pub role: Role,
    /// The session's CSRF token, for the forms of the page.
    pub csrf: String,
}

impl Viewer {
    /// Whether the viewer is an administrator.
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// Refuses a manager.
    ///
    /// # Errors
    /// `Forbidden` unless the viewer is an administrator.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(ApiError::Forbidden)
        }
    }

    /// Whether the viewer may see this calendar: administrators see every calendar, managers the common ones
    /// and their own personal ones.
    pub fn may_see(&self, calendar: &CalendarView) -> bool {
        calendar.visible_to(&self.login, self.role)
    }
}

/// The value of one cookie of the request.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// Whether the browser reached leadgate over HTTPS (leadgate itself speaks HTTP; a TLS proxy in front says
/// so in `X-Forwarded-Proto` or `Forwarded`). Trusting the header is safe here: all it can do is add
/// `Secure` to the requester's own cookie.
pub fn is_https(headers: &HeaderMap) -> bool {
    let forwarded_proto = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"));
    let forwarded = headers
        .get(header::FORWARDED)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("proto=https"));
    forwarded_proto || forwarded
}

/// A `Set-Cookie` value. `max_age_secs: 0` deletes the cookie.
pub fn set_cookie(
    name: &str,
    value: &str,
    max_age_secs: i64,
    same_site: &str,
    secure: bool,
) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let text = format!(
        "{name}={value}; Path=/; Max-Age={max_age_secs}; HttpOnly; SameSite={same_site}{secure}"
    );
    // Names are constants and values are URL-safe base64, so the header is always valid.
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Equality that takes the same time wherever the strings differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Starts a session for a user who just signed in; returns the `Set-Cookie` header value.
///
/// # Errors
/// Database errors.
pub async fn start(
    state: &AppState,
    user_id: i64,
    headers: &HeaderMap,
) -> Result<HeaderValue, ApiError> {
    let id = tokens::generate();
    let now = Utc::now();
    state
        .storage
        .create_session(&NewSession {
            id_hash: tokens::hash(&id),
            user_id,
            csrf_token: tokens::generate(),
            created_at: now,
            expires_at: now + Duration::days(SESSION_DAYS),
        })
        .await?;
    Ok(set_cookie(
        SESSION_COOKIE,
        &id,
        SESSION_DAYS * 24 * 3600,
        "Lax",
        is_https(headers),
    ))
}

/// A local path to return to after signing in; anything else (another host, `//host`, `\\`) becomes the inbox.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.contains('\\')
                && !n.chars().any(char::is_control) =>
        {
            n.to_owned()
        }
        _ => "/inbox".to_owned(),
    }
}

fn to_login(parts: &Parts) -> Response {
    let path = parts.uri.path_and_query().map_or("/inbox", |p| p.as_str());
    let next = serde_urlencoded::to_string([("next", path)]).unwrap_or_default();
    Redirect::to(&format!("/login?{next}")).into_response()
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = Response;

    /// Reads the session cookie; without a live session, GETs are sent to the sign-in page and anything
    /// else is refused with 401.
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        if let Some(viewer) = parts.extensions.get::<Viewer>() {
            return Ok(viewer.clone());
        }
        let refuse = |parts: &Parts| {
            if parts.method == axum::http::Method::GET {
                to_login(parts)
            } else {
                ApiError::Unauthorized.into_response()
            }
        };
        let Some(id) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(refuse(parts));
        };
        let record = state
            .storage
            .session(&tokens::hash(id), Utc::now())
            .await
            .map_err(|e| ApiError::from(e).into_response())?;
        let Some(record) = record else {
            return Err(refuse(parts));
        };
        let viewer = Viewer {
            user_id: record.user_id,
            login: record.login,
            display_name: record.display_name,
            role: record.role,
            csrf: record.csrf_token,
        };
        parts.extensions.insert(viewer.clone());
        Ok(viewer)
    }
}

/// A signed-in administrator; managers get 403.
#[derive(Debug, Clone)]
pub struct AdminViewer(pub Viewer);

impl FromRequestParts<AppState> for AdminViewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let viewer = Viewer::from_request_parts(parts, state).await?;
        viewer
            .require_admin()
            .map_err(IntoResponse::into_response)?;
        Ok(AdminViewer(viewer))
    }
}

/// A form POSTed by the signed-in viewer, whose `csrf` field matched the session's token. Without a session
/// it answers 401; with a missing or wrong token, 403, and the handler never runs.
#[derive(Debug)]
pub struct CsrfForm<T>(pub Viewer, pub T);

#[derive(serde::Deserialize)]
struct CsrfField {
    csrf: Option<String>,
}

impl<T: DeserializeOwned + Send> FromRequest<AppState> for CsrfForm<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let viewer = Viewer::from_request_parts(&mut parts, state).await?;
        let bytes = axum::body::to_bytes(body, MAX_FORM_BYTES)
            .await
            .map_err(|_| {
                ApiError::PayloadTooLarge {
                    limit: MAX_FORM_BYTES,
                }
                .into_response()
            })?;
        let token = serde_urlencoded::from_bytes::<CsrfField>(&bytes)
            .ok()
            .and_then(|f| f.csrf)
            .unwrap_or_default();
        if !constant_time_eq(&token, &viewer.csrf) {
            tracing::warn!(user = %viewer.login, "form without a valid CSRF token refused");
            return Err(ApiError::Forbidden.into_response());
        }
        let form = serde_urlencoded::from_bytes::<T>(&bytes)
            .map_err(|e| ApiError::BadRequest(format!("malformed form: {e}")).into_response())?;
        Ok(CsrfForm(viewer, form))
    }
}

/// A form with nothing but the CSRF token (the action buttons).
#[derive(Debug, serde::Deserialize)]
pub struct NoFields {}

/// The calendars the viewer may see, in id order.
///
/// # Errors
/// Database errors.
pub async fn visible_calendars(
    state: &AppState,
    viewer: &Viewer,
) -> Result<Vec<CalendarView>, ApiError> {
    Ok(state
        .storage
        .calendars()
        .await?
        .into_iter()
        .filter(|c| viewer.may_see(c))
        .collect())
}

/// The calendars the viewer may see as a storage filter: `None` (every calendar) for an administrator.
///
/// # Errors
/// Database errors.
pub async fn calendar_scope(
    state: &AppState,
    viewer: &Viewer,
) -> Result<Option<Vec<i64>>, ApiError> {
    let calendars = state.storage.calendars().await?;
    Ok(crate::storage::visible_calendar_ids(
        &calendars,
        &viewer.login,
        viewer.role,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(safe_next(Some("/leads/5?x=1")), "/leads/5?x=1");
        for bad in [
            "//evil.example/",
            "https://evil.example/",
            "/\\evil",
            "",
            "inbox",
        ] {
            assert_eq!(safe_next(Some(bad)), "/inbox", "{bad}");
        }
        assert_eq!(safe_next(None), "/inbox");
    }

    #[test]
    fn cookies_are_found_by_exact_name() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("x_lg_session=no; lg_session=abc; other=1"),
        );
        assert_eq!(cookie(&h, "lg_session"), Some("abc"));
        assert_eq!(cookie(&h, "missing"), None);
    }

    #[test]
    fn the_session_cookie_is_http_only_and_lax_and_secure_only_over_https() {
        let c = set_cookie("lg_session", "v", 60, "Lax", false);
        let c = c.to_str().unwrap_or_default();
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Lax") && !c.contains("Secure"));
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        assert!(is_https(&h));
        let c = set_cookie("lg_session", "v", 60, "Lax", is_https(&h));
        assert!(c.to_str().unwrap_or_default().ends_with("; Secure"));
    }

    #[test]
    fn constant_time_equality_is_equality() {
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "ab"));
        assert!(!constant_time_eq("", "a"));
    }
}
