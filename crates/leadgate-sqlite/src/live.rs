//! The SQLite side of [`LiveLeads`].

use async_trait::async_trait;

use super::{SqliteStorage, summaries};
use leadgate_storage::{LeadSummary, LiveLeads, Result};

#[async_trait]
impl LiveLeads for SqliteStorage {
    async fn lead_summary(&self, id: i64) -> Result<Option<LeadSummary>> {
        Ok(summaries::summary(&self.pool, id).await?)
    }
}
