//! Mail collectors, their scan states and runs, and the job lock in PostgreSQL: not implemented yet; every method fails with a backend error saying so.

#![allow(unused_variables)]

use std::collections::HashMap;

use async_trait::async_trait;

use super::PgStorage;
use crate::storage::*;

fn not_implemented(method: &str) -> StorageError {
    StorageError::backend(format!(
        "Collectors::{method} is not implemented yet on PostgreSQL"
    ))
}

#[async_trait]
impl Collectors for PgStorage {
    async fn upsert_collector(&self, collector: &CollectorRecord) -> Result<i64> {
        Err(not_implemented("upsert_collector"))
    }
    async fn collectors(&self, include_deleted: bool) -> Result<Vec<CollectorRecord>> {
        Err(not_implemented("collectors"))
    }
    async fn collector(&self, id: i64) -> Result<Option<CollectorRecord>> {
        Err(not_implemented("collector"))
    }
    async fn scan_state(&self, collector_id: i64, folder: &str) -> Result<Option<ScanState>> {
        Err(not_implemented("scan_state"))
    }
    async fn set_scan_state(
        &self,
        collector_id: i64,
        folder: &str,
        state: ScanState,
    ) -> Result<()> {
        Err(not_implemented("set_scan_state"))
    }
    async fn start_run(&self, collector_id: i64) -> Result<i64> {
        Err(not_implemented("start_run"))
    }
    async fn finish_run(&self, run_id: i64, counts: &RunCounts, error: Option<&str>) -> Result<()> {
        Err(not_implemented("finish_run"))
    }
    async fn last_runs(&self) -> Result<HashMap<i64, RunView>> {
        Err(not_implemented("last_runs"))
    }
    async fn try_lock_job(&self, job: &str) -> Result<Option<JobLock>> {
        Err(not_implemented("try_lock_job"))
    }
}
