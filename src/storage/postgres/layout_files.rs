//! The layout files' queue and store in PostgreSQL: not implemented yet; every method fails with a backend error saying so.

#![allow(unused_variables)]

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::PgStorage;
use crate::storage::*;

fn not_implemented(method: &str) -> StorageError {
    StorageError::backend(format!(
        "LayoutFileStore::{method} is not implemented yet on PostgreSQL"
    ))
}

#[async_trait]
impl LayoutFileStore for PgStorage {
    async fn claim_layout_files(
        &self,
        now: DateTime<Utc>,
        lease: std::time::Duration,
        limit: u32,
    ) -> Result<Vec<LayoutFileJob>> {
        Err(not_implemented("claim_layout_files"))
    }
    async fn store_layout_file(
        &self,
        id: i64,
        file: &DownloadedFile,
        now: DateTime<Utc>,
    ) -> Result<()> {
        Err(not_implemented("store_layout_file"))
    }
    async fn layout_file_failed(
        &self,
        id: i64,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<()> {
        Err(not_implemented("layout_file_failed"))
    }
    async fn layout_files_of_lead(&self, lead_id: i64) -> Result<Vec<LayoutFileView>> {
        Err(not_implemented("layout_files_of_lead"))
    }
    async fn layout_file_content(
        &self,
        lead_id: i64,
        file_id: i64,
    ) -> Result<Option<LayoutFileContent>> {
        Err(not_implemented("layout_file_content"))
    }
}
