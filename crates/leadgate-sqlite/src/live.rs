//! The SQLite side of [`LiveLeads`]: one process holds the database, so nothing is relayed.

use async_trait::async_trait;

use super::{SqliteStorage, summaries};
use leadgate_storage::{LeadListener, LeadNote, LeadSummary, LiveLeads, Result};

#[async_trait]
impl LiveLeads for SqliteStorage {
    async fn lead_summary(&self, id: i64) -> Result<Option<LeadSummary>> {
        Ok(summaries::summary(&self.pool, id).await?)
    }

    fn lead_listener(&self) -> Option<Box<dyn LeadListener>> {
        None
    }

    async fn relay_leads(&self, _notes: &[LeadNote]) -> Result<()> {
        Ok(())
    }
}
