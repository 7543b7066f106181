//! E-mail notifications of new leads: the background sender.
//!
//! A calendar notifies its owner (at the address of the owner's account) and/or listed addresses; storage
//! writes a notification per (recipient, lead) in the same transaction as the lead, so a crash between the
//! commit and the mail loses nothing. This task claims the recipients whose next mail is due (two instances
//! on one database never claim one recipient at once), mails each one digest of every lead waiting for it
//! (kind, subject, phone, calendar and a link to the lead page) through the SMTP server of
//! `[notifications]`, and records the outcome. A recipient gets at most one mail per
//! `digest_interval_secs`: leads in between wait for the next digest. A failed mail is tried again later,
//! waiting twice as long each time up to `max_retry_wait_secs`, until it is sent; its error is kept for the
//! administrator (the calendars page).
//!
//! [`NotificationSender::step`] is one step of the task: it returns what it did, so tests can drive it.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Mailbox, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use tokio_util::sync::CancellationToken;
use tracing::{info, instrument, warn};

use crate::config::{ConfigError, NotificationSettings, read_secret};
use leadgate_domain::collector::TlsMode;
use leadgate_domain::lead::LeadKind;
use leadgate_storage::{DigestJob, DigestOutcome, LeadView, Storage, StorageError};

/// How often the outbox is looked at when nothing was due.
const IDLE_POLL: Duration = Duration::from_secs(1);
/// Recipients mailed at once.
const CONCURRENCY: u32 = 8;
/// The most leads one digest lists; more wait for the next one.
const MAX_LEADS: u32 = 200;
/// The most of an SMTP error kept for the administrator.
const ERROR_CHARS: usize = 500;

/// Why the sender could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SenderError {
    /// The password's variable or file cannot be read.
    #[error(transparent)]
    Secret(#[from] ConfigError),
    /// `smtp_ca_file` cannot be read or is not a PEM certificate.
    #[error("notifications.smtp_ca_file {path}: {message}")]
    CaFile {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong.
        message: String,
    },
    /// `from` is missing or not an address.
    #[error("notifications.from is not a valid sender address")]
    From,
    /// The TLS settings were refused.
    #[error("the SMTP TLS settings were refused: {0}")]
    Tls(String),
}

/// What one step did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StepOutcome {
    /// Digests the SMTP server accepted.
    pub sent: usize,
    /// Digests that failed and will be tried again.
    pub failed: usize,
    /// Leads the sent digests listed.
    pub leads: usize,
}

/// The background sender.
pub struct NotificationSender {
    storage: Arc<dyn Storage>,
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    public_url: Option<String>,
    settings: NotificationSettings,
}

impl NotificationSender {
    /// A sender for the SMTP server of `[notifications]`; `None` when no `smtp_host` is set (nothing is
    /// sent; notifications wait in the database). The password is read here, once, and never logged.
    ///
    /// # Errors
    /// [`SenderError`].
    pub fn new(
        storage: Arc<dyn Storage>,
        settings: &NotificationSettings,
        public_url: Option<&str>,
    ) -> Result<Option<Self>, SenderError> {
        let Some(host) = settings.smtp_host.as_deref() else {
            return Ok(None);
        };
        let from: Mailbox = settings
            .from
            .as_deref()
            .and_then(|f| f.trim().parse().ok())
            .ok_or(SenderError::From)?;
        let mut tls = TlsParameters::builder(host.to_owned());
        if let Some(path) = &settings.smtp_ca_file {
            let ca_error = |message: String| SenderError::CaFile {
                path: path.clone(),
                message,
            };
            let pem = std::fs::read(path).map_err(|e| ca_error(e.to_string()))?;
            let cert = Certificate::from_pem(&pem).map_err(|e| ca_error(e.to_string()))?;
            tls = tls.add_root_certificate(cert);
        }
        if settings.smtp_insecure_skip_verify {
            warn!(
                host,
                "notifications.smtp_insecure_skip_verify is on: the SMTP server's certificate is not checked"
            );
            tls = tls.dangerous_accept_invalid_certs(true);
        }
        let tls = || {
            tls.clone()
                .build_rustls()
                .map_err(|e| SenderError::Tls(e.to_string()))
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(settings.port())
            .timeout(Some(Duration::from_secs(settings.timeout_secs.max(1))))
            .hello_name(ClientId::Domain("leadgate".to_owned()))
            .tls(match settings.smtp_tls {
                TlsMode::Implicit => Tls::Wrapper(tls()?),
                TlsMode::StartTls => Tls::Required(tls()?),
                TlsMode::None => Tls::None,
            });
        if let Some(user) = &settings.smtp_username {
            let password = read_secret(
                settings.smtp_password_env.as_deref(),
                settings.smtp_password_file.as_deref(),
            )?
            .unwrap_or_default();
            builder = builder.credentials(Credentials::new(user.clone(), password));
        }
        Ok(Some(Self {
            storage,
            transport: builder.build(),
            from,
            public_url: public_url.map(|u| u.trim_end_matches('/').to_owned()),
            settings: settings.clone(),
        }))
    }

    /// A claimed recipient is held this long: a sender that stops mid-mail (or dies) lets the digest become
    /// due again then.
    fn lease(&self) -> Duration {
        Duration::from_secs(self.settings.timeout_secs.clamp(1, 3600) * 4 + 5)
    }

    /// Claims the recipients whose digest is due at `now`, mails them concurrently and records each outcome.
    ///
    /// # Errors
    /// Database errors.
    pub async fn step(&self, now: DateTime<Utc>) -> Result<StepOutcome, StorageError> {
        let jobs = self
            .storage
            .claim_notification_digests(now, self.lease(), CONCURRENCY, MAX_LEADS)
            .await?;
        let results = futures::future::join_all(jobs.iter().map(|job| self.mail(job))).await;
        let mut outcome = StepOutcome::default();
        for (job, result) in jobs.iter().zip(results) {
            if result? {
                outcome.sent += 1;
                outcome.leads += job.lead_ids.len();
            } else {
                outcome.failed += 1;
            }
        }
        Ok(outcome)
    }

    /// Mails one digest and records it; `true` when it was sent.
    #[instrument(skip_all, fields(leads = job.lead_ids.len(), failures = job.failures))]
    async fn mail(&self, job: &DigestJob) -> Result<bool, StorageError> {
        let result = self.send(job).await;
        let at = Utc::now();
        let outcome = match &result {
            Ok(()) => {
                info!("notification digest sent");
                DigestOutcome::Sent {
                    next_at: at + seconds(self.settings.digest_interval_secs),
                }
            }
            Err(error) => {
                warn!(%error, "notification digest not sent; will retry");
                DigestOutcome::Failed {
                    error: error.chars().take(ERROR_CHARS).collect(),
                    retry_at: at + self.retry_wait(job.failures + 1),
                }
            }
        };
        self.storage
            .record_notification_digest(job, at, &outcome)
            .await?;
        Ok(result.is_ok())
    }

    /// The digest's mail, sent; `Err` says why not.
    async fn send(&self, job: &DigestJob) -> Result<(), String> {
        let to: Mailbox = job
            .address
            .parse()
            .map_err(|e| format!("the address is not valid: {e}"))?;
        let mut leads = Vec::with_capacity(job.lead_ids.len());
        for id in &job.lead_ids {
            match self.storage.lead(*id).await {
                Ok(Some(lead)) => leads.push(lead),
                // Erased since: nothing to announce.
                Ok(None) => {}
                Err(e) => return Err(format!("the lead could not be read: {e}")),
            }
        }
        if leads.is_empty() {
            return Ok(());
        }
        let (subject, body) = digest(&leads, self.public_url.as_deref());
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_PLAIN)
                    // Base64: any server relays it, whatever it thinks of 8-bit text.
                    .header(ContentTransferEncoding::Base64)
                    .body(body),
            )
            .map_err(|e| e.to_string())?;
        let deadline = Duration::from_secs(self.settings.timeout_secs.max(1) * 3);
        match tokio::time::timeout(deadline, self.transport.send(message)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(smtp_error(&e)),
            Err(_) => Err("the SMTP server did not answer in time".to_owned()),
        }
    }

    /// `retry_after_secs`, doubled for each failure after the first, at most `max_retry_wait_secs`.
    fn retry_wait(&self, failures: u32) -> chrono::Duration {
        let factor = 1u64 << failures.saturating_sub(1).min(30);
        seconds(
            self.settings
                .retry_after_secs
                .saturating_mul(factor)
                .min(self.settings.max_retry_wait_secs),
        )
    }

    /// Runs steps until `stop`: at once again after a busy step, after a short pause when nothing was due.
    /// A stop interrupts the mails under way; they are tried again once their claim has lapsed.
    pub async fn run(&self, stop: CancellationToken) {
        info!("the notification sender is running");
        loop {
            let step = tokio::select! {
                () = stop.cancelled() => break,
                step = self.step(Utc::now()) => step,
            };
            let pause = match step {
                Ok(outcome) if outcome.sent + outcome.failed > 0 => Duration::ZERO,
                Ok(_) => IDLE_POLL,
                Err(e) => {
                    warn!(error = %e, "the notification outbox could not be read");
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

/// An SMTP error as kept for the administrator: the server's answer or what failed, never a credential
/// (lettre's errors carry none).
fn smtp_error(e: &lettre::transport::smtp::Error) -> String {
    crate::telemetry::error_chain(e)
}

/// A configured number of seconds as a duration, at most ten years (so no date arithmetic overflows).
fn seconds(secs: u64) -> chrono::Duration {
    const TEN_YEARS: u64 = 10 * 365 * 24 * 3600;
    chrono::Duration::seconds(i64::try_from(secs.min(TEN_YEARS)).unwrap_or(0))
}

fn kind(k: LeadKind) -> &'static str {
    match k {
        LeadKind::Contact => "Контакт",
        LeadKind::Order => "Заказ",
    }
}

/// A site's text as one line of the digest: line breaks (and every other control or separator character)
/// become spaces, so the text cannot start lines that look like the digest's own (a forged "Открыть:" link).
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{85}') {
                ' '
            } else {
                c
            }
        })
        .collect()
}

/// The digest's subject and plain-text body, in Russian like the UI.
pub fn digest(leads: &[LeadView], public_url: Option<&str>) -> (String, String) {
    let subject = match leads {
        [one] => format!(
            "Новая заявка: {}",
            one.subject.as_deref().unwrap_or("без темы")
        ),
        many => format!("Новые заявки: {}", many.len()),
    };
    // A header is one line: the site's text may not start another.
    let subject: String = subject.chars().filter(|c| !c.is_control()).collect();
    let mut body = if leads.len() == 1 {
        "Новая заявка в leadgate.\n\n".to_owned()
    } else {
        format!("Новые заявки в leadgate: {}.\n\n", leads.len())
    };
    for lead in leads {
        let path = format!("/leads/{}", lead.id);
        body.push_str(&format!(
            "{} №{}: {}\nТелефон: {}\nКалендарь: {}\nОткрыть: {}\n\n",
            kind(lead.kind),
            lead.id,
            one_line(lead.subject.as_deref().unwrap_or("без темы")),
            one_line(lead.contact.phone.as_deref().unwrap_or("не указан")),
            one_line(&lead.calendar.name),
            match public_url {
                Some(base) => format!("{base}{path}"),
                None => path,
            },
        ));
    }
    body.push_str("Уведомления настраивает администратор на странице календарей.\n");
    (subject, body)
}
