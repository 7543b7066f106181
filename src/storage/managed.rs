//! Records the configuration file manages: the names it declares, which stored records are the file's, and
//! what a start retired because the file no longer names it.

use std::collections::HashSet;

/// The calendars, HTTP sources and collectors the configuration file declares, by name.
#[derive(Debug, Clone, Default)]
pub struct FileRecords {
    /// Calendars (the default calendar among them).
    pub calendars: Vec<String>,
    /// HTTP sources.
    pub http_sources: Vec<String>,
    /// Mail collectors.
    pub collectors: Vec<String>,
}

/// The ids of the stored records the configuration file manages: the web UI shows them read-only.
#[derive(Debug, Clone, Default)]
pub struct ManagedByFile {
    /// Calendars.
    pub calendars: HashSet<i64>,
    /// HTTP sources.
    pub http_sources: HashSet<i64>,
    /// Mail collectors.
    pub collectors: HashSet<i64>,
}

/// What applying the file retired, by name, for the log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Retired {
    /// Collectors no longer in the file: marked for deletion (their runs and ledger stay).
    pub collectors: Vec<String>,
    /// HTTP sources no longer in the file: their tokens revoked (their requests and leads stay).
    pub http_sources: Vec<String>,
    /// Calendars no longer in the file and referred to by nothing: deleted.
    pub calendars_deleted: Vec<String>,
    /// Calendars no longer in the file that hold leads or are named by a source or collector: handed over
    /// to the web UI, so no lead is lost.
    pub calendars_released: Vec<String>,
}

impl Retired {
    /// Whether nothing was retired.
    pub fn is_empty(&self) -> bool {
        self.collectors.is_empty()
            && self.http_sources.is_empty()
            && self.calendars_deleted.is_empty()
            && self.calendars_released.is_empty()
    }
}
