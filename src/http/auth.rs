//! Bearer-token authentication: HTTP sources for the intake, users for the read API.

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;

use crate::app::{ApiError, AppState};
use crate::tokens;
use leadgate_domain::account::Role;
use leadgate_storage::{HttpSourceRecord, UserRecord};

pub(super) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// The HTTP source whose token the request carries.
///
/// # Errors
/// `Unauthorized` when the token is missing or unknown.
pub async fn source(state: &AppState, headers: &HeaderMap) -> Result<HttpSourceRecord, ApiError> {
    let token = bearer(headers).ok_or(ApiError::Unauthorized)?;
    let hash = tokens::hash(token);
    if let Some(source) = state.sources.get(&hash) {
        return Ok(source);
    }
    let source = state
        .storage
        .http_source_by_token(&hash)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    state.sources.put(hash, source.clone());
    Ok(source)
}

/// The user whose API token the request carries.
///
/// # Errors
/// `Unauthorized` when the token is missing, unknown or revoked.
pub async fn user(state: &AppState, headers: &HeaderMap) -> Result<UserRecord, ApiError> {
    let token = bearer(headers).ok_or(ApiError::Unauthorized)?;
    state
        .storage
        .user_by_token(&tokens::hash(token))
        .await?
        .ok_or(ApiError::Unauthorized)
}

/// Like [`user`], and the user must be an administrator.
///
/// # Errors
/// `Unauthorized` without a valid token, `Forbidden` for a manager.
pub async fn admin(state: &AppState, headers: &HeaderMap) -> Result<UserRecord, ApiError> {
    let user = user(state, headers).await?;
    if user.role == Role::Admin {
        Ok(user)
    } else {
        Err(ApiError::Forbidden)
    }
}
