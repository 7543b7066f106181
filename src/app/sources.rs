//! The HTTP sources recently authenticated, shared by the API (which looks them up) and the UI (which clears
//! them when a source's token is revoked).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use leadgate_storage::{HttpSourceRecord, Storage};

/// Recently authenticated HTTP sources by token hash, so a busy website costs no database read per request.
/// Entries live [`SourceCache::TTL`]: a revoked or changed token stops working within that time.
#[derive(Debug, Default)]
pub struct SourceCache {
    entries: RwLock<HashMap<String, (HttpSourceRecord, Instant)>>,
    /// The CORS origins of the HTTP sources whose tokens work, for the preflight (which carries no token).
    origins: RwLock<Option<(Arc<HashSet<String>>, Instant)>>,
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
        *self
            .origins
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    }

    /// Whether some HTTP source with a working token allows `origin` (CORS: a preflight names no source;
    /// the intake then checks the origin against its own source). Read from storage at most every
    /// [`SourceCache::TTL`], and at once after [`SourceCache::clear`]; a database error allows nothing.
    pub async fn allows_origin(&self, storage: &dyn Storage, origin: &str) -> bool {
        let cached = self
            .origins
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
            .filter(|(_, at)| at.elapsed() < Self::TTL)
            .map(|(set, _)| set.clone());
        let origins = match cached {
            Some(set) => set,
            None => {
                let set: HashSet<String> = match storage.http_sources().await {
                    Ok(sources) => sources
                        .into_iter()
                        .filter(|s| s.active)
                        .flat_map(|s| s.source.cors_origins)
                        .collect(),
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot read the HTTP sources' CORS origins");
                        return false;
                    }
                };
                let set = Arc::new(set);
                *self
                    .origins
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) =
                    Some((set.clone(), Instant::now()));
                set
            }
        };
        origins.contains(origin)
    }
}
