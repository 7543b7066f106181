//! Users, sessions, sign-in attempts, API tokens and calendar feed keys in PostgreSQL: not implemented yet; every method fails with a backend error saying so.

#![allow(unused_variables)]

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use leadgate_domain::account::Role;

use super::PgStorage;
use crate::storage::*;

fn not_implemented(method: &str) -> StorageError {
    StorageError::backend(format!(
        "Accounts::{method} is not implemented yet on PostgreSQL"
    ))
}

#[async_trait]
impl Accounts for PgStorage {
    async fn has_users(&self) -> Result<bool> {
        Err(not_implemented("has_users"))
    }
    async fn user(&self, id: i64) -> Result<Option<UserView>> {
        Err(not_implemented("user"))
    }
    async fn users(&self) -> Result<Vec<UserView>> {
        Err(not_implemented("users"))
    }
    async fn create_user(
        &self,
        login: &str,
        display_name: &str,
        role: Role,
        password_hash: Option<&str>,
    ) -> Result<i64> {
        Err(not_implemented("create_user"))
    }
    async fn upsert_user(
        &self,
        login: &str,
        role: Role,
        password_hash: Option<&str>,
    ) -> Result<i64> {
        Err(not_implemented("upsert_user"))
    }
    async fn update_user(
        &self,
        id: i64,
        role: Option<Role>,
        password_hash: Option<&str>,
    ) -> Result<()> {
        Err(not_implemented("update_user"))
    }
    async fn set_user_disabled(&self, id: i64, disabled: bool) -> Result<bool> {
        Err(not_implemented("set_user_disabled"))
    }
    async fn user_credentials(&self, login: &str) -> Result<Option<UserCredentials>> {
        Err(not_implemented("user_credentials"))
    }
    async fn reserve_login_attempt(
        &self,
        attempt: &LoginAttempt,
        limits: &LoginLimits,
    ) -> Result<LoginReservation> {
        Err(not_implemented("reserve_login_attempt"))
    }
    async fn clear_login_attempts(&self, login_key: &str, address_attempt: i64) -> Result<()> {
        Err(not_implemented("clear_login_attempts"))
    }
    async fn create_session(&self, session: &NewSession) -> Result<()> {
        Err(not_implemented("create_session"))
    }
    async fn session(&self, id_hash: &str, check: SessionCheck) -> Result<Option<SessionRecord>> {
        Err(not_implemented("session"))
    }
    async fn touch_session(&self, id_hash: &str, now: DateTime<Utc>) -> Result<()> {
        Err(not_implemented("touch_session"))
    }
    async fn delete_session(&self, id_hash: &str) -> Result<()> {
        Err(not_implemented("delete_session"))
    }
    async fn create_api_token(&self, user_id: i64, name: &str, token_hash: &str) -> Result<()> {
        Err(not_implemented("create_api_token"))
    }
    async fn provision_configured_token(&self, token: Option<(i64, &str)>) -> Result<()> {
        Err(not_implemented("provision_configured_token"))
    }
    async fn api_tokens(&self) -> Result<Vec<ApiTokenView>> {
        Err(not_implemented("api_tokens"))
    }
    async fn revoke_api_token(&self, id: i64) -> Result<bool> {
        Err(not_implemented("revoke_api_token"))
    }
    async fn user_by_token(&self, token_hash: &str) -> Result<Option<UserRecord>> {
        Err(not_implemented("user_by_token"))
    }
    async fn set_ics_secret(&self, user_id: i64, secret_hash: &str) -> Result<()> {
        Err(not_implemented("set_ics_secret"))
    }
    async fn user_by_ics_secret(&self, secret_hash: &str) -> Result<Option<UserRecord>> {
        Err(not_implemented("user_by_ics_secret"))
    }
}
