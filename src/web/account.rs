//! The signed-in user's own page: who they are, which calendars they see, and their calendar feed links.
//!
//! The feed key is a 256-bit random secret; only its SHA-256 is stored, so the links can be shown only at the
//! moment the key is made. Making a new key replaces (and so revokes) the old one.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use tracing::info;

use super::session::{self, CsrfForm, NoFields, Viewer, visible_calendars};
use super::{Layout, fmt};
use crate::app::{ApiError, AppState};
use crate::tokens;

/// A calendar with its feed link (when just made).
#[derive(Debug, Clone)]
pub struct FeedRow {
    /// Calendar id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Personal.
    pub personal: bool,
    /// The full feed URL, only right after a key was made.
    pub url: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "account.html")]
struct AccountPage {
    layout: Layout,
    role: &'static str,
    /// The address e-mail notifications go to; empty when none.
    email: String,
    error: Option<String>,
    has_key: bool,
    just_made: bool,
    feeds: Vec<FeedRow>,
}

async fn render(
    state: &AppState,
    viewer: &Viewer,
    key: Option<(&str, String)>,
) -> Result<Response, ApiError> {
    render_with(state, viewer, key, None).await
}

async fn render_with(
    state: &AppState,
    viewer: &Viewer,
    key: Option<(&str, String)>,
    error: Option<String>,
) -> Result<Response, ApiError> {
    let user = state
        .storage
        .user(viewer.user_id)
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    let feeds = visible_calendars(state, viewer)
        .await?
        .into_iter()
        .map(|c| FeedRow {
            id: c.id,
            url: key.as_ref().map(|(k, origin)| {
                format!("{origin}/api/v1/calendars/{}/events.ics?key={k}", c.id)
            }),
            name: c.name,
            personal: c.owner.is_some(),
        })
        .collect();
    let email = state
        .storage
        .user_email(viewer.user_id)
        .await?
        .unwrap_or_default();
    let status = if error.is_some() {
        axum::http::StatusCode::BAD_REQUEST
    } else {
        axum::http::StatusCode::OK
    };
    Ok((
        status,
        AccountPage {
            layout: Layout::new(viewer, "account"),
            role: fmt::role(viewer.role),
            email,
            error,
            has_key: user.has_ics_secret,
            just_made: key.is_some(),
            feeds,
        },
    )
        .into_response())
}

/// The e-mail form of the account page.
#[derive(Debug, serde::Deserialize)]
pub struct EmailForm {
    /// The address; empty clears it.
    #[serde(default)]
    email: String,
}

/// `POST /account/email`: sets or clears the address e-mail notifications of the user's calendars go to.
pub async fn set_email(
    State(state): State<AppState>,
    CsrfForm(viewer, form): CsrfForm<EmailForm>,
) -> Result<Response, ApiError> {
    let email = form.email.trim();
    if !email.is_empty() && !crate::config::valid_email(email) {
        return render_with(
            &state,
            &viewer,
            None,
            Some(format!("«{email}» — не адрес электронной почты.")),
        )
        .await;
    }
    state
        .storage
        .set_user_email(viewer.user_id, Some(email).filter(|e| !e.is_empty()))
        .await?;
    info!(user = %viewer.login, "e-mail address changed");
    Ok(axum::response::Redirect::to("/account").into_response())
}

/// `GET /account`.
pub async fn page(State(state): State<AppState>, viewer: Viewer) -> Result<Response, ApiError> {
    render(&state, &viewer, None).await
}

/// `POST /account/feed-key`: makes a new calendar feed key and shows the links once.
pub async fn new_feed_key(
    State(state): State<AppState>,
    headers: HeaderMap,
    CsrfForm(viewer, NoFields {}): CsrfForm<NoFields>,
) -> Result<Response, ApiError> {
    let key = tokens::generate();
    state
        .storage
        .set_ics_secret(viewer.user_id, &tokens::hash(&key))
        .await?;
    info!(user = %viewer.login, "calendar feed key made");
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            h.chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        })
        .unwrap_or("127.0.0.1:8080");
    let scheme = if session::is_https(&headers) {
        "https"
    } else {
        "http"
    };
    render(&state, &viewer, Some((&key, format!("{scheme}://{host}")))).await
}
