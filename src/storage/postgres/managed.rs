//! The records the configuration file manages in PostgreSQL: not implemented yet; every method fails with a backend error saying so.

#![allow(unused_variables)]

use async_trait::async_trait;

use super::PgStorage;
use crate::storage::*;

fn not_implemented(method: &str) -> StorageError {
    StorageError::backend(format!(
        "FileManaged::{method} is not implemented yet on PostgreSQL"
    ))
}

#[async_trait]
impl FileManaged for PgStorage {
    async fn manage_by_file(&self, declared: &FileRecords) -> Result<Retired> {
        Err(not_implemented("manage_by_file"))
    }
    async fn managed_by_file(&self) -> Result<ManagedByFile> {
        Err(not_implemented("managed_by_file"))
    }
    async fn set_http_source_cors(&self, id: i64, origins: &[String]) -> Result<bool> {
        Err(not_implemented("set_http_source_cors"))
    }
}
