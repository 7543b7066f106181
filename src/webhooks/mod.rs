//! Signed outbound webhooks: the background dispatcher.
//!
//! A webhook belongs to a calendar; storage writes an event and a delivery per webhook into the outbox in
//! the same transaction as the lead (or its changed status), so nothing is lost between the commit and the
//! delivery. This task claims due deliveries (at most `[webhooks] concurrency` at once), posts each as JSON
//! (the read API's lead document with the event's type and id) signed with the webhook's secret
//! ([`sign`]), within `timeout_secs`, over the guarded client of the layout files (no loopback or private
//! addresses unless allowed). A failure is tried again later, waiting twice as long each time up to
//! `max_retry_wait_secs`; after `max_age_secs` the delivery is a dead letter, which an administrator can
//! redeliver. The intake never waits for any of this.
//!
//! [`WebhookDispatcher::step`] is one step of the task: it returns what it did, so tests can drive it.

pub mod sign;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header;
use tokio_util::sync::CancellationToken;
use tracing::{info, instrument, warn};
use url::Url;

use crate::config::WebhookSettings;
use crate::layout_files::fetch::{FetchError, GuardedClient};
use crate::live::LiveHub;
use crate::secrets::SecretBox;
use leadgate_storage::{
    AttemptOutcome, DeliveryAttempt, LeadView, NewWebhook, Storage, StorageError, WebhookJob,
    webhook_secret_owner,
};

/// How often the outbox is looked at when it was empty and no lead was committed (a retry falls due, another
/// instance committed one that was not heard).
const IDLE_POLL: Duration = Duration::from_millis(500);
/// How long an idle dispatcher waits after a lead is committed before it looks at the outbox: at most 20
/// looks a second, however fast leads come.
const WAKE_GAP: Duration = Duration::from_millis(50);
/// The most of a receiver's answer kept in the log.
const ANSWER_CHARS: usize = 500;
/// How long the check of a new webhook's URL waits for its name to resolve.
const NAME_LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest URL accepted.
const MAX_URL_LEN: usize = 2000;

/// Renders a lead as the read API does (`GET /api/v1/leads/{id}`); given by the caller, which owns the
/// API's documents.
pub type LeadDocument = Arc<dyn Fn(LeadView) -> serde_json::Value + Send + Sync>;

/// What one step did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StepOutcome {
    /// Deliveries the receiver accepted.
    pub delivered: usize,
    /// Deliveries that failed and will be tried again.
    pub retrying: usize,
    /// Deliveries given up on (dead letters).
    pub dead: usize,
}

impl StepOutcome {
    /// Deliveries this step claimed.
    pub fn claimed(&self) -> usize {
        self.delivered + self.retrying + self.dead
    }
}

/// Why a webhook URL is refused.
#[derive(Debug, thiserror::Error)]
pub enum UrlError {
    /// Not an absolute http(s) URL of reasonable length.
    #[error(
        "the webhook URL must be an absolute http:// or https:// URL (at most {MAX_URL_LEN} characters)"
    )]
    Malformed,
    /// User name or password in the URL: they would be kept in the clear.
    #[error(
        "the webhook URL must not carry a user name or password; the receiver checks the signature"
    )]
    Credentials,
    /// The address is refused or cannot be resolved.
    #[error("the webhook URL is refused: {0}")]
    Refused(FetchError),
}

/// Checks a webhook URL as a delivery would, without connecting: an http(s) URL whose host resolves to an
/// address `[webhooks] allow_private_addresses` permits. Returns the URL as it is kept.
///
/// # Errors
/// [`UrlError`], with a message for the administrator.
pub async fn check_url(settings: &WebhookSettings, url: &str) -> Result<String, UrlError> {
    let url = url.trim();
    if url.len() > MAX_URL_LEN {
        return Err(UrlError::Malformed);
    }
    let parsed = Url::parse(url).map_err(|_| UrlError::Malformed)?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(UrlError::Malformed);
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(UrlError::Credentials);
    }
    let client = GuardedClient::new(settings.allow_private_addresses)
        .map_err(|e| UrlError::Refused(FetchError::Unreachable(e.to_string())))?;
    tokio::time::timeout(NAME_LOOKUP_TIMEOUT, client.check(&parsed))
        .await
        .unwrap_or(Err(FetchError::Timeout))
        .map_err(UrlError::Refused)?;
    Ok(parsed.to_string())
}

/// Why a webhook was not created.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    /// The URL is refused.
    #[error(transparent)]
    Url(#[from] UrlError),
    /// The secret could not be sealed.
    #[error("the signing secret could not be sealed")]
    Seal,
    /// Storage failed (`NotFound` for an unknown calendar).
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Creates a webhook for a calendar after checking its URL; returns its id and its signing secret (shown
/// once: leadgate keeps it sealed with the key of `[secrets]`).
///
/// # Errors
/// [`CreateError`].
pub async fn create(
    storage: &dyn Storage,
    secrets: &SecretBox,
    settings: &WebhookSettings,
    calendar_id: i64,
    url: &str,
) -> Result<(i64, String), CreateError> {
    let url = check_url(settings, url).await?;
    let secret = sign::generate_secret();
    let sealed = secrets
        .seal(&secret, &webhook_secret_owner(&url))
        .map_err(|_| CreateError::Seal)?;
    let id = storage
        .create_webhook(&NewWebhook {
            calendar_id,
            url,
            secret: sealed,
        })
        .await?;
    Ok((id, secret))
}

/// A configured number of seconds as a duration, at most ten years (so no date arithmetic overflows).
fn seconds(secs: u64) -> chrono::Duration {
    const TEN_YEARS: u64 = 10 * 365 * 24 * 3600;
    chrono::Duration::seconds(i64::try_from(secs.min(TEN_YEARS)).unwrap_or(0))
}

/// The background dispatcher.
pub struct WebhookDispatcher {
    storage: Arc<dyn Storage>,
    secrets: Arc<SecretBox>,
    client: GuardedClient,
    settings: WebhookSettings,
    document: LeadDocument,
}

enum Done {
    Delivered,
    Retrying,
    Dead,
}

/// How one request ended: the receiver's status and the start of its answer, or why there was none.
struct Answer {
    status: Option<u16>,
    text: String,
}

impl WebhookDispatcher {
    /// A dispatcher with the policy of `[webhooks]`.
    ///
    /// # Errors
    /// The HTTP client cannot be built.
    pub fn new(
        storage: Arc<dyn Storage>,
        secrets: Arc<SecretBox>,
        settings: &WebhookSettings,
        document: LeadDocument,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            storage,
            secrets,
            client: GuardedClient::new(settings.allow_private_addresses)?,
            settings: settings.clone(),
            document,
        })
    }

    /// A claimed attempt is held this long: a dispatcher that stops mid-attempt (or dies) lets the
    /// delivery become due again then.
    fn lease(&self) -> Duration {
        Duration::from_secs(self.settings.timeout_secs.clamp(1, 3600) + 5)
    }

    /// Claims the deliveries due at `now` (up to `concurrency`), sends them concurrently and records each
    /// attempt.
    ///
    /// # Errors
    /// Database errors.
    pub async fn step(&self, now: DateTime<Utc>) -> Result<StepOutcome, StorageError> {
        let jobs = self
            .storage
            .claim_webhook_deliveries(now, self.lease(), self.settings.concurrency.max(1))
            .await?;
        let results = futures::future::join_all(jobs.iter().map(|job| self.deliver(job))).await;
        let mut outcome = StepOutcome::default();
        for result in results {
            match result? {
                Done::Delivered => outcome.delivered += 1,
                Done::Retrying => outcome.retrying += 1,
                Done::Dead => outcome.dead += 1,
            }
        }
        Ok(outcome)
    }

    #[instrument(skip_all, fields(webhook = job.webhook_id, delivery = job.id, event = job.event_id, attempt = job.attempts))]
    async fn deliver(&self, job: &WebhookJob) -> Result<Done, StorageError> {
        let answer = self.send(job).await;
        let at = Utc::now();
        let (answer, permanent) = match answer {
            Ok(answer) => (answer, false),
            Err((text, permanent)) => (Answer { status: None, text }, permanent),
        };
        let outcome = match answer.status {
            Some(status) if (200..300).contains(&status) => AttemptOutcome::Delivered,
            _ if permanent => AttemptOutcome::Dead,
            _ => {
                let next = at + self.retry_wait(job.attempts);
                let until = job.retry_since + seconds(self.settings.max_age_secs);
                if next > until {
                    AttemptOutcome::Dead
                } else {
                    AttemptOutcome::RetryAt(next)
                }
            }
        };
        match outcome {
            AttemptOutcome::Delivered => info!(status = answer.status, "webhook delivered"),
            AttemptOutcome::RetryAt(_) => {
                warn!(status = answer.status, answer = %answer.text, "webhook not delivered; will retry");
            }
            AttemptOutcome::Dead => {
                warn!(status = answer.status, answer = %answer.text, "webhook not delivered; a dead letter now");
            }
        }
        self.storage
            .record_webhook_attempt(
                job.id,
                &DeliveryAttempt {
                    at,
                    status: answer.status,
                    answer: answer.text,
                    outcome,
                },
            )
            .await?;
        Ok(match outcome {
            AttemptOutcome::Delivered => Done::Delivered,
            AttemptOutcome::RetryAt(_) => Done::Retrying,
            AttemptOutcome::Dead => Done::Dead,
        })
    }

    /// The signed request and its answer; `Err((why, permanent))` when there was no answer (`permanent`:
    /// retrying cannot help, as for a refused address).
    async fn send(&self, job: &WebhookJob) -> Result<Answer, (String, bool)> {
        let secret = self
            .secrets
            .open(&job.secret, &webhook_secret_owner(&job.url))
            .map_err(|e| (e.to_string(), true))?;
        let lead = self
            .storage
            .lead(job.lead_id)
            .await
            .map_err(|e| (format!("the lead could not be read: {e}"), false))?
            .ok_or_else(|| ("the lead no longer exists".to_owned(), true))?;
        let body = serde_json::json!({
            "id": job.event_id,
            "type": job.event_type.as_str(),
            "created_at": job.event_at,
            "lead": (self.document)(lead),
        });
        let body = serde_json::to_vec(&body).map_err(|e| (e.to_string(), true))?;
        let url = Url::parse(&job.url).map_err(|_| ("the URL is malformed".to_owned(), true))?;
        let timestamp = Utc::now().timestamp();
        let request = hyper::Request::post("/")
            .header(header::CONTENT_TYPE, "application/json")
            .header(
                sign::SIGNATURE_HEADER,
                sign::header_value(&secret, timestamp, &body),
            )
            .header("Leadgate-Event", job.event_type.as_str())
            .header("Leadgate-Event-Id", job.event_id.to_string())
            .header("Leadgate-Delivery", job.id.to_string());
        let exchange = async {
            let response = self
                .client
                .send(&url, request, Full::new(Bytes::from(body)))
                .await
                .map_err(|e| {
                    let permanent =
                        matches!(e, FetchError::BadUrl(_) | FetchError::PrivateAddress(_));
                    (e.to_string(), permanent)
                })?;
            let status = response.status().as_u16();
            let mut text = Vec::new();
            let mut answer = response.into_body();
            while text.len() < ANSWER_CHARS * 4 {
                match answer.frame().await {
                    Some(Ok(frame)) => {
                        if let Some(chunk) = frame.data_ref() {
                            text.extend_from_slice(chunk);
                        }
                    }
                    _ => break,
                }
            }
            Ok::<Answer, (String, bool)>(Answer {
                status: Some(status),
                text: String::from_utf8_lossy(&text)
                    .chars()
                    .take(ANSWER_CHARS)
                    .collect(),
            })
        };
        let deadline = Duration::from_secs(self.settings.timeout_secs.max(1));
        tokio::time::timeout(deadline, exchange)
            .await
            .unwrap_or_else(|_| Err((FetchError::Timeout.to_string(), false)))
    }

    /// `retry_after_secs`, doubled for each attempt after the first, at most `max_retry_wait_secs`.
    fn retry_wait(&self, attempts: u32) -> chrono::Duration {
        let factor = 1u64 << attempts.saturating_sub(1).min(30);
        seconds(
            self.settings
                .retry_after_secs
                .saturating_mul(factor)
                .min(self.settings.max_retry_wait_secs),
        )
    }

    /// Runs steps until `stop`: at once again after a busy step; when the outbox was empty, as soon as the
    /// hub tells of a committed lead (its event may be in the outbox now) or after a short pause (a retry falls
    /// due, or an instance whose notes were not heard). A stop interrupts the deliveries under way; they are
    /// tried again once their claim has lapsed.
    pub async fn run(&self, stop: CancellationToken, hub: Arc<LiveHub>) {
        info!("the webhook dispatcher is running");
        loop {
            let step = tokio::select! {
                () = stop.cancelled() => break,
                step = self.step(Utc::now()) => step,
            };
            let pause = match step {
                Ok(outcome) if outcome.claimed() > 0 => Duration::ZERO,
                Ok(_) => IDLE_POLL,
                Err(e) => {
                    warn!(error = %e, "the webhook outbox could not be read");
                    IDLE_POLL * 10
                }
            };
            tokio::select! {
                () = stop.cancelled() => break,
                () = tokio::time::sleep(pause) => {}
                () = hub.committed(), if pause == IDLE_POLL => {
                    // Leads come in bursts: the outbox is looked at once for all committed meanwhile.
                    tokio::select! {
                        () = stop.cancelled() => break,
                        () = tokio::time::sleep(WAKE_GAP) => {}
                    }
                }
            }
        }
    }
}
