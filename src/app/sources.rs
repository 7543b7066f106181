//! The HTTP sources recently authenticated, shared by the API (which looks them up) and the UI (which clears
//! them when a source's token is revoked).

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use crate::storage::HttpSourceRecord;

/// Recently authenticated HTTP sources by token hash, so a busy website costs no database read per request.
/// Entries live [`SourceCache::TTL`]: a revoked or changed token stops working within that time.
#[derive(Debug, Default)]
pub struct SourceCache {
    entries: RwLock<HashMap<String, (HttpSourceRecord, Instant)>>,
}

impl SourceCache {
    /// How long a looked-up source is trusted.
    pub const TTL: Duration = Duration::from_secs(10);
    /// Entries kept at most (the cache is cleared when full; only valid tokens are ever cached).
    const MAX: usize = 1024;

    pub(crate) fn get(&self, hash: &str) -> Option<HttpSourceRecord> {
        let entries = self
            .entries
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        entries
            .get(hash)
            .filter(|(_, at)| at.elapsed() < Self::TTL)
            .map(|(s, _)| s.clone())
    }

    pub(crate) fn put(&self, hash: String, source: HttpSourceRecord) {
        let mut entries = self
            .entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if entries.len() >= Self::MAX {
            entries.clear();
        }
        entries.insert(hash, (source, Instant::now()));
    }

    /// Forgets everything (after a source is changed or revoked).
    pub fn clear(&self) {
        self.entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
    }
}
