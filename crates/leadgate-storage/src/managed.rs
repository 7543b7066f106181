//! Records the configuration file manages: the names it declares, which stored records are the file's, and
//! what a start retired because the file no longer names it.

use std::collections::HashSet;

use async_trait::async_trait;

use super::error::Result;

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

/// The records the configuration file manages.
#[async_trait]
pub trait FileManaged: Send + Sync {
    /// Makes the declared calendars, HTTP sources and collectors (upserted already) managed by the file, and
    /// retires, in the same transaction, every record the file managed and no longer declares: a collector
    /// is marked for deletion and an HTTP source's token revoked (both keep their history and stay the
    /// file's); a calendar is deleted when nothing refers to it, else handed over to the UI with its leads.
    /// Records made in the UI are never touched.
    ///
    /// # Errors
    /// Database errors; nothing changes then.
    async fn manage_by_file(&self, declared: &FileRecords) -> Result<Retired>;

    /// Makes these records (upserted already) managed by the file and retires nothing: the records a start
    /// made from its file, a one-shot command's too. Only `serve` makes the UI's records the file's and
    /// retires what the file no longer declares ([`FileManaged::manage_by_file`]).
    ///
    /// # Errors
    /// Database errors.
    async fn claim_declared(&self, declared: &FileRecords) -> Result<()>;

    /// The ids of the records the configuration file manages.
    ///
    /// # Errors
    /// Database errors.
    async fn managed_by_file(&self) -> Result<ManagedByFile>;

    /// Replaces the CORS origins of an HTTP source; `false` when there is no such source.
    ///
    /// # Errors
    /// Database errors.
    async fn set_http_source_cors(&self, id: i64, origins: &[String]) -> Result<bool>;
}
