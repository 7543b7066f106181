//! The SQLite side of [`LiveLeads`]: one process holds the database, so nothing is relayed.

use async_trait::async_trait;

use super::{SqliteStorage, summaries};
use leadgate_storage::{LeadListener, LeadNote, LeadSummary, LiveLeads, Result};

#[async_trait]
impl LiveLeads for SqliteStorage {
    async fn lead_summary(&self, id: i64) -> Result<Option<LeadSummary>> {
        Ok(summaries::summary(&self.pool, id).await?)
    }

    async fn lead_summaries(&self, ids: &[i64]) -> Result<Vec<LeadSummary>> {
        Ok(summaries::summaries_by_id(&self.pool, ids).await?)
    }

    fn lead_listener(&self) -> Option<Box<dyn LeadListener>> {
        None
    }

    async fn relay_leads(&self, _notes: &[LeadNote]) -> Result<()> {
        Ok(())
    }
}
