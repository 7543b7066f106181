//! Layout files kept with their lead: the downloader's queue and what the lead page shows.
//!
//! A lead's http(s) `ФайлыМакета` URLs are queued in the lead's own transaction (the backend does it when the
//! lead is inserted); the downloader claims due files, downloads them and reports each back as stored, as
//! failed for good, or as failed for now with the time of the next attempt. The bytes live in the database,
//! so they travel with its backups and copies.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::Result;

/// Where a layout file's download stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayoutFileState {
    /// Not downloaded yet (the first attempt is due, or a retry after a failure).
    Pending,
    /// Downloaded and kept.
    Stored,
    /// Given up on; `error` says why.
    Failed,
}

impl LayoutFileState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Stored => "stored",
            Self::Failed => "failed",
        }
    }
}

impl std::str::FromStr for LayoutFileState {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "pending" => Ok(Self::Pending),
            "stored" => Ok(Self::Stored),
            "failed" => Ok(Self::Failed),
            other => Err(format!("unknown layout file state {other:?}")),
        }
    }
}

/// A download the downloader has claimed.
#[derive(Debug, Clone)]
pub struct LayoutFileJob {
    /// The file's id.
    pub id: i64,
    /// Its lead.
    pub lead_id: i64,
    /// The URL as the site sent it.
    pub url: String,
    /// Attempts so far, this one included.
    pub attempts: u32,
}

/// A downloaded file, to keep.
#[derive(Debug, Clone)]
pub struct DownloadedFile {
    /// A file name to offer (from the URL's last path segment).
    pub file_name: String,
    /// The content type the site declared (`type/subtype`).
    pub content_type: String,
    /// The bytes.
    pub bytes: Vec<u8>,
}

/// A layout file as the lead page shows it (without its bytes).
#[derive(Debug, Clone)]
pub struct LayoutFileView {
    /// Id.
    pub id: i64,
    /// Its lead.
    pub lead_id: i64,
    /// The URL's index in the lead's `layout_files`.
    pub position: i64,
    /// The URL as the site sent it.
    pub url: String,
    /// Where the download stands.
    pub state: LayoutFileState,
    /// Attempts so far.
    pub attempts: u32,
    /// Why the last attempt failed.
    pub error: Option<String>,
    /// When the next attempt is due (pending files).
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// File name (stored files).
    pub file_name: Option<String>,
    /// Content type (stored files).
    pub content_type: Option<String>,
    /// Size in bytes (stored files).
    pub size: Option<u64>,
    /// When it was downloaded.
    pub fetched_at: Option<DateTime<Utc>>,
}

/// A stored layout file with its bytes.
#[derive(Debug, Clone)]
pub struct LayoutFileContent {
    /// File name.
    pub file_name: String,
    /// Content type.
    pub content_type: String,
    /// The bytes.
    pub bytes: Vec<u8>,
}

/// The layout files' queue and store.
#[async_trait]
pub trait LayoutFileStore: Send + Sync {
    /// Claims up to `limit` pending files due at `now`, oldest due first: each gets one more attempt and is
    /// held until `now + lease` (a downloader that dies mid-download leaves it due again then).
    ///
    /// # Errors
    /// Database errors.
    async fn claim_layout_files(
        &self,
        now: DateTime<Utc>,
        lease: std::time::Duration,
        limit: u32,
    ) -> Result<Vec<LayoutFileJob>>;

    /// Keeps a downloaded file.
    ///
    /// # Errors
    /// Database errors.
    async fn store_layout_file(
        &self,
        id: i64,
        file: &DownloadedFile,
        now: DateTime<Utc>,
    ) -> Result<()>;

    /// Records a failed attempt: with `retry_at` the file stays pending until then, without it the download
    /// is given up on. A file no longer pending (stored meanwhile) is left as it is.
    ///
    /// # Errors
    /// Database errors.
    async fn layout_file_failed(
        &self,
        id: i64,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<()>;

    /// The layout files of a lead, by position, without their bytes.
    ///
    /// # Errors
    /// Database errors or a corrupt row.
    async fn layout_files_of_lead(&self, lead_id: i64) -> Result<Vec<LayoutFileView>>;

    /// A stored layout file of this lead with its bytes.
    ///
    /// # Errors
    /// Database errors.
    async fn layout_file_content(
        &self,
        lead_id: i64,
        file_id: i64,
    ) -> Result<Option<LayoutFileContent>>;
}
