//! Mailbox passwords typed in the UI, sealed in PostgreSQL: not implemented yet; every method fails with a backend error saying so.

#![allow(unused_variables)]

use async_trait::async_trait;

use super::PgStorage;
use crate::storage::*;

fn not_implemented(method: &str) -> StorageError {
    StorageError::backend(format!(
        "CollectorPasswordStore::{method} is not implemented yet on PostgreSQL"
    ))
}

#[async_trait]
impl CollectorPasswordStore for PgStorage {
    async fn set_collector_password(
        &self,
        collector_id: i64,
        password: &StoredPassword,
    ) -> Result<()> {
        Err(not_implemented("set_collector_password"))
    }
    async fn collector_password(&self, collector_id: i64) -> Result<Option<StoredPassword>> {
        Err(not_implemented("collector_password"))
    }
    async fn clear_collector_password(&self, collector_id: i64) -> Result<bool> {
        Err(not_implemented("clear_collector_password"))
    }
}
