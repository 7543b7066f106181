//! What the HTTP API and the web UI share, below both: the application state every handler gets, the one
//! error type they answer with, and the per-client and per-source bookkeeping both consult.
//!
//! Neither [`crate::http`] nor [`crate::web`] imports the other; [`crate::router`] is the one place that
//! puts their routes together.

pub mod error;
pub mod lead_actions;
pub mod lead_edits;
pub mod lead_notes;
pub mod ratelimit;
pub mod reports;
pub mod sources;
pub mod timeline;

use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;

use crate::config::Settings;
use crate::intake::Intake;
use crate::jobs::MailCollectorJob;
use leadgate_storage::Storage;

pub use error::ApiError;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// Storage.
    pub storage: Arc<dyn Storage>,
    /// The intake pipeline.
    pub intake: Arc<Intake>,
    /// The mail collector job (run now).
    pub job: Arc<MailCollectorJob>,
    /// Settings as loaded at start.
    pub settings: Arc<Settings>,
    /// Recently authenticated HTTP sources.
    pub sources: Arc<sources::SourceCache>,
    /// The HTTP sources' rate limits.
    pub rate_limiter: Arc<ratelimit::RateLimiter>,
    /// Prometheus renderer, when metrics are installed.
    pub metrics: Option<PrometheusHandle>,
    /// New and changed leads, for the live inbox and calendar.
    pub live: Arc<crate::live::LiveHub>,
    /// The state of the collectors' IMAP IDLE connections.
    pub push: Arc<crate::push::PushStatuses>,
}

/// Where the API serves the JSON Schema of the payload format (the UI links to it).
pub const FORMAT_SCHEMA_PATH: &str = "/api/v1/format/v0.1.schema.json";

/// Reads a list cursor (the `next` of the previous page); empty means the first page.
///
/// # Errors
/// `BadRequest` for a cursor leadgate did not make.
pub fn parse_cursor(cursor: Option<&str>) -> Result<Option<i64>, ApiError> {
    cursor
        .filter(|c| !c.is_empty())
        .map(|c| {
            c.parse::<i64>()
                .map_err(|_| ApiError::BadRequest("malformed cursor".into()))
        })
        .transpose()
}
