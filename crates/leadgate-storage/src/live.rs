//! What the live pages read: one lead as the lists show it, right after the commit that announced it.

use async_trait::async_trait;

use super::{LeadSummary, Result};

/// The live pages' read of a lead.
#[async_trait]
pub trait LiveLeads: Send + Sync {
    /// The lead with this id as the inbox and the calendar show it, or `None` when there is none.
    ///
    /// # Errors
    /// Database errors or a corrupt row.
    async fn lead_summary(&self, id: i64) -> Result<Option<LeadSummary>>;
}
