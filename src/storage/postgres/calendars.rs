//! Calendars and HTTP sources in PostgreSQL: not implemented yet; every method fails with a backend error saying so.

#![allow(unused_variables)]

use async_trait::async_trait;

use super::PgStorage;
use crate::storage::*;

fn not_implemented(method: &str) -> StorageError {
    StorageError::backend(format!(
        "Calendars::{method} is not implemented yet on PostgreSQL"
    ))
}

#[async_trait]
impl Calendars for PgStorage {
    async fn calendars(&self) -> Result<Vec<CalendarView>> {
        Err(not_implemented("calendars"))
    }
    async fn create_calendar(&self, name: &str, owner_id: Option<i64>, color: &str) -> Result<i64> {
        Err(not_implemented("create_calendar"))
    }
    async fn upsert_calendar(&self, name: &str, owner: Option<&str>) -> Result<i64> {
        Err(not_implemented("upsert_calendar"))
    }
    async fn http_sources(&self) -> Result<Vec<HttpSourceView>> {
        Err(not_implemented("http_sources"))
    }
    async fn http_source(&self, id: i64) -> Result<Option<HttpSourceRecord>> {
        Err(not_implemented("http_source"))
    }
    async fn http_source_by_token(&self, token_hash: &str) -> Result<Option<HttpSourceRecord>> {
        Err(not_implemented("http_source_by_token"))
    }
    async fn create_http_source(
        &self,
        name: &str,
        calendar_id: i64,
        token_hash: &str,
    ) -> Result<i64> {
        Err(not_implemented("create_http_source"))
    }
    async fn upsert_http_source(
        &self,
        source: &HttpSourceRecord,
        token_hash: Option<&str>,
    ) -> Result<i64> {
        Err(not_implemented("upsert_http_source"))
    }
    async fn revoke_http_source(&self, id: i64) -> Result<bool> {
        Err(not_implemented("revoke_http_source"))
    }
}
