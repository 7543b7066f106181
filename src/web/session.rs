//! Sessions, the signed-in viewer, CSRF-checked forms and who may see which calendar.
//!
//! A session is a 256-bit random id in an `HttpOnly`, `SameSite=Lax` cookie; the database keeps only its
//! SHA-256, so a leaked backup signs nobody in. Over HTTPS (a proxy listed in `server.trusted_proxies` says so
//! in `X-Forwarded-Proto`) the cookie is `Secure` and named with the `__Host-` prefix, which a browser accepts
//! only from a secure origin for the whole host, so a plain-HTTP page or a sibling domain cannot plant one. A
//! session ends 14 days after sign-in, after `server.session_idle_minutes` without a request, when the password
//! is changed or when the user is disabled. Each session has its own random CSRF token, which every POST form
//! carries in a hidden `csrf` field and [`CsrfForm`] compares in constant time before the handler runs.
//! `SameSite=Lax` already keeps the cookie off cross-site POSTs; the token is the second lock.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{Duration, Utc};
use serde::de::DeserializeOwned;

use crate::app::{ApiError, AppState};
use crate::config::ServerSettings;
use crate::tokens;
use leadgate_domain::account::Role;
use leadgate_storage::{CalendarView, NewSession, SessionCheck};

/// The session cookie's name over plain HTTP.
pub const SESSION_COOKIE: &str = "lg_session";
/// How long a session lasts after sign-in.
pub const SESSION_DAYS: i64 = 14;
/// How stale a session's "last seen" may get before a request records it again: the idle timeout is
/// this much coarse, and a busy session costs one write per interval, not one per request.
const TOUCH_EVERY_MINUTES: i64 = 5;
/// The largest form body the UI accepts: the lead's correction form at its fields' lengths, its description of
/// 20,000 Cyrillic letters sent twice (as edited and as it was shown) at six bytes a letter once
/// percent-encoded, and room for the rest.
const MAX_FORM_BYTES: usize = 512 * 1024;

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
    /// The session id's SHA-256, as the database keeps it: a page that stays open (a live stream) checks
    /// with it that the session still holds.
    pub session_hash: String,
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

    /// The viewer as the one who acts on a lead.
    pub fn actor(&self) -> crate::app::lead_actions::Actor<'_> {
        crate::app::lead_actions::Actor {
            id: self.user_id,
            login: &self.login,
            role: self.role,
        }
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

/// Whether the request says it came over HTTPS (`X-Forwarded-Proto` or `Forwarded`), whoever sent it. Only
/// for showing links (the feed URL); cookies go by [`Client::https`], which trusts configured proxies only.
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

/// The other end of a request: the client's address and whether it reached leadgate over HTTPS. Forwarded
/// headers count only from a proxy listed in `server.trusted_proxies`; from anyone else the connection's own
/// address is the client and the request is plain HTTP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    /// The client's address as the rate limits key it: an IPv4 address, an IPv6 /64, or `unknown`.
    pub address: String,
    /// Came over HTTPS through a trusted proxy.
    pub https: bool,
}

impl Client {
    /// Reads the connection's peer and, from a trusted proxy, its forwarded headers.
    pub fn of(headers: &HeaderMap, peer: Option<IpAddr>, server: &ServerSettings) -> Self {
        let trusted = peer.is_some_and(|p| server.trusted_proxies.contains(&p));
        let address = peer
            .map(|p| crate::app::ratelimit::forwarded_client(p, headers, &server.trusted_proxies));
        Self {
            address: address.map_or_else(|| "unknown".to_owned(), rate_limit_key),
            https: trusted && is_https(headers),
        }
    }

    /// The session cookie's name: `__Host-lg_session` over HTTPS.
    pub fn session_cookie(&self) -> &'static str {
        if self.https {
            "__Host-lg_session"
        } else {
            SESSION_COOKIE
        }
    }
}

/// An address as one client: IPv4 as it is, IPv6 by its /64 (one host usually holds a whole /64).
fn rate_limit_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

impl FromRequestParts<AppState> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        Ok(Client::of(&parts.headers, peer, &state.settings.server))
    }
}

/// Adds `Strict-Transport-Security` to responses to HTTPS requests when `server.hsts_max_age_secs` is set.
pub async fn strict_transport(
    State(state): State<AppState>,
    client: Client,
    request: Request,
    next: Next,
) -> Response {
    let mut response = next.run(request).await;
    let max_age = state.settings.server.hsts_max_age_secs;
    if client.https
        && max_age > 0
        && let Ok(value) = HeaderValue::from_str(&format!("max-age={max_age}"))
    {
        response
            .headers_mut()
            .insert(header::STRICT_TRANSPORT_SECURITY, value);
    }
    response
}

/// The idle timeout's check for a session lookup now.
pub fn session_check(state: &AppState) -> SessionCheck {
    let now = Utc::now();
    let idle = i64::try_from(state.settings.server.session_idle_minutes).unwrap_or(i64::MAX);
    SessionCheck {
        now,
        idle_since: Duration::try_minutes(idle)
            .and_then(|d| now.checked_sub_signed(d))
            .unwrap_or(chrono::DateTime::<Utc>::MIN_UTC),
    }
}

/// A `Set-Cookie` value. `max_age_secs: 0` deletes the cookie. A `__Host-` name needs `secure`.
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
    client: &Client,
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
        client.session_cookie(),
        &id,
        SESSION_DAYS * 24 * 3600,
        "Lax",
        client.https,
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
        let Ok(client) = Client::from_request_parts(parts, state).await;
        let Some(id) = cookie(&parts.headers, client.session_cookie()) else {
            return Err(refuse(parts));
        };
        let id_hash = tokens::hash(id);
        let check = session_check(state);
        let record = state
            .storage
            .session(&id_hash, check)
            .await
            .map_err(|e| ApiError::from(e).into_response())?;
        let Some(record) = record else {
            return Err(refuse(parts));
        };
        if record.last_seen_at < check.now - Duration::minutes(TOUCH_EVERY_MINUTES) {
            state
                .storage
                .touch_session(&id_hash, check.now)
                .await
                .map_err(|e| ApiError::from(e).into_response())?;
        }
        let viewer = Viewer {
            user_id: record.user_id,
            login: record.login,
            display_name: record.display_name,
            role: record.role,
            csrf: record.csrf_token,
            session_hash: id_hash,
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
        let malformed = |e: &dyn std::fmt::Display| {
            ApiError::BadRequest(format!("malformed form: {e}")).into_response()
        };
        let form = if has_nul(&bytes) {
            // A NUL character means nothing in any field, and PostgreSQL cannot store it in text: it becomes
            // U+FFFD, as in a lead's fields.
            let fields: Vec<(String, String)> =
                serde_urlencoded::from_bytes(&bytes).map_err(|e| malformed(&e))?;
            let fields: Vec<(String, String)> = fields
                .into_iter()
                .map(|(name, value)| (name, value.replace('\0', "\u{FFFD}")))
                .collect();
            let encoded = serde_urlencoded::to_string(&fields).map_err(|e| malformed(&e))?;
            serde_urlencoded::from_str::<T>(&encoded).map_err(|e| malformed(&e))?
        } else {
            serde_urlencoded::from_bytes::<T>(&bytes).map_err(|e| malformed(&e))?
        };
        Ok(CsrfForm(viewer, form))
    }
}

/// Whether a URL-encoded form's body holds a NUL character, encoded (`%00`) or not.
fn has_nul(body: &[u8]) -> bool {
    body.contains(&0)
        || body
            .windows(3)
            .any(|w| w[0] == b'%' && w[1] == b'0' && w[2] == b'0')
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
    Ok(scope_of(viewer, &state.storage.calendars().await?))
}

/// [`calendar_scope`] of calendars already read (all of them, or those [`visible_calendars`] gave): a page that
/// needs both reads the calendars once.
pub fn scope_of(viewer: &Viewer, calendars: &[CalendarView]) -> Option<Vec<i64>> {
    leadgate_storage::visible_calendar_ids(calendars, &viewer.login, viewer.role)
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
    fn forwarded_headers_count_only_from_a_trusted_proxy() {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        h.insert(
            "x-forwarded-for",
            HeaderValue::from_static("203.0.113.9, 198.51.100.7"),
        );
        let proxy: IpAddr = "10.0.0.2".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
        let mut server = ServerSettings::default();
        let direct = Client::of(&h, Some(proxy), &server);
        assert_eq!(direct.address, "10.0.0.2");
        assert!(!direct.https);
        assert_eq!(direct.session_cookie(), "lg_session");
        server.trusted_proxies = vec![proxy];
        let proxied = Client::of(&h, Some(proxy), &server);
        assert_eq!(proxied.address, "198.51.100.7");
        assert!(proxied.https);
        assert_eq!(proxied.session_cookie(), "__Host-lg_session");
        let v6: IpAddr = "2001:db8:1:2:3:4:5:6".parse().unwrap_or(proxy);
        assert_eq!(
            Client::of(&HeaderMap::new(), Some(v6), &server).address,
            "2001:db8:1:2::/64"
        );
    }

    #[test]
    fn constant_time_equality_is_equality() {
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "ab"));
        assert!(!constant_time_eq("", "a"));
    }
}
