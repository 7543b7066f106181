//! Layout files kept with their lead: the background downloader.
//!
//! Sites purge uploaded files, so a manager who opens a lead a week later would find its `ФайлыМакета` links
//! dead. Storage queues every http(s) layout file of a new lead in the lead's own transaction; this task
//! claims due files, downloads each through the guarded [`fetch::Fetcher`] and keeps the bytes in the
//! database. A site that is down is tried again later, waiting twice as long each time; an answer that will
//! not change (404, a refused address, a file too large) is final. Either way the page shows why, and the
//! original URL is always kept.
//!
//! [`LayoutFileDownloader::step`] is one step of the task: it returns what it did, so tests can drive it.

pub mod fetch;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;
use tracing::{info, instrument, warn};

use crate::config::LayoutFileSettings;
use leadgate_storage::{LayoutFileJob, Storage, StorageError};

/// Files downloaded at once.
const CONCURRENCY: u32 = 4;
/// How often the queue is looked at when it was empty.
const IDLE_POLL: Duration = Duration::from_secs(1);
/// The longest wait between two attempts.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(24 * 3600);

/// What one step did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StepOutcome {
    /// Files downloaded and kept.
    pub stored: usize,
    /// Files that failed and will be tried again.
    pub retrying: usize,
    /// Files given up on.
    pub failed: usize,
}

impl StepOutcome {
    /// Files this step claimed.
    pub fn claimed(&self) -> usize {
        self.stored + self.retrying + self.failed
    }
}

/// The background downloader.
pub struct LayoutFileDownloader {
    storage: Arc<dyn Storage>,
    fetcher: fetch::Fetcher,
    settings: LayoutFileSettings,
}

impl LayoutFileDownloader {
    /// A downloader with the policy of `[layout_files]`.
    ///
    /// # Errors
    /// The HTTP client cannot be built.
    pub fn new(storage: Arc<dyn Storage>, settings: &LayoutFileSettings) -> anyhow::Result<Self> {
        Ok(Self {
            storage,
            fetcher: fetch::Fetcher::new(settings)?,
            settings: settings.clone(),
        })
    }

    /// Claims the files due at `now` (a few at a time), downloads them concurrently and records each outcome.
    ///
    /// # Errors
    /// Database errors.
    pub async fn step(&self, now: DateTime<Utc>) -> Result<StepOutcome, StorageError> {
        let lease = Duration::from_secs(self.settings.timeout_secs.max(1) * 2 + 60);
        let jobs = self
            .storage
            .claim_layout_files(now, lease, CONCURRENCY)
            .await?;
        let results = futures::future::join_all(jobs.iter().map(|job| self.download(job))).await;
        let mut outcome = StepOutcome::default();
        for result in results {
            match result? {
                Done::Stored => outcome.stored += 1,
                Done::Retrying => outcome.retrying += 1,
                Done::Failed => outcome.failed += 1,
            }
        }
        Ok(outcome)
    }

    #[instrument(skip_all, fields(lead_id = job.lead_id, layout_file = job.id, attempt = job.attempts))]
    async fn download(&self, job: &LayoutFileJob) -> Result<Done, StorageError> {
        match self.fetcher.fetch(&job.url).await {
            Ok(file) => {
                info!(bytes = file.bytes.len(), content_type = %file.content_type, "layout file kept");
                self.storage
                    .store_layout_file(job.id, &file, Utc::now())
                    .await?;
                Ok(Done::Stored)
            }
            Err(e) => {
                let retry_at = (e.is_transient() && job.attempts < self.settings.max_attempts)
                    .then(|| Utc::now() + self.retry_wait(job.attempts));
                warn!(error = %e, retry = retry_at.is_some(), "layout file not downloaded");
                self.storage
                    .layout_file_failed(job.id, &e.to_string(), retry_at)
                    .await?;
                Ok(if retry_at.is_some() {
                    Done::Retrying
                } else {
                    Done::Failed
                })
            }
        }
    }

    /// `retry_after_secs`, doubled for each attempt after the first, at most a day.
    fn retry_wait(&self, attempts: u32) -> chrono::Duration {
        let factor = 1u64 << attempts.saturating_sub(1).min(20);
        let secs = self
            .settings
            .retry_after_secs
            .saturating_mul(factor)
            .min(MAX_RETRY_WAIT.as_secs());
        chrono::Duration::seconds(i64::try_from(secs).unwrap_or(i64::MAX / 1000))
    }

    /// Runs steps until `stop`: at once again after a busy step, after a short pause when the queue was empty.
    /// A stop interrupts a download; the file is tried again once its claim has lapsed.
    pub async fn run(&self, stop: CancellationToken) {
        info!("the layout file downloader is running");
        loop {
            let step = tokio::select! {
                () = stop.cancelled() => break,
                step = self.step(Utc::now()) => step,
            };
            let pause = match step {
                Ok(outcome) if outcome.claimed() > 0 => Duration::ZERO,
                Ok(_) => IDLE_POLL,
                Err(e) => {
                    warn!(error = %e, "the layout file queue could not be read");
                    IDLE_POLL * 10
                }
            };
            tokio::select! {
                () = stop.cancelled() => break,
                () = tokio::time::sleep(pause) => {}
            }
        }
    }
}

enum Done {
    Stored,
    Retrying,
    Failed,
}
