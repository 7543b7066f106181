//! Settings: a TOML file, overridden by environment variables, with secrets read from the environment or
//! from files and never kept in the settings' `Debug` output.
//!
//! Environment variables override file keys as `LEADGATE_<SECTION>__<KEY>` (double underscore between
//! levels), e.g. `LEADGATE_DATABASE__URL`, `LEADGATE_SERVER__LISTEN`, `LEADGATE_INTAKE__GROUP_COMMIT`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use chrono_tz::Tz;
use serde::Deserialize;

/// Errors while loading settings or reading a secret.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file or an override is malformed.
    #[error("invalid configuration: {0}")]
    Invalid(#[from] config::ConfigError),
    /// A value is out of its domain.
    #[error("invalid configuration: {0}")]
    Value(String),
    /// A secret's variable is not set.
    #[error("environment variable {0} (named by the configuration) is not set")]
    MissingEnv(String),
    /// A secret's file cannot be read.
    #[error("cannot read secret file {path}")]
    SecretFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// The whole configuration (SPEC "Config").
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// The shop's time zone, for payload dates without an offset.
    pub timezone: String,
    /// The calendar for site data whose collector or source names none.
    pub default_calendar: String,
    /// HTTP server.
    pub server: ServerSettings,
    /// Database.
    pub database: DatabaseSettings,
    /// Size limits.
    pub limits: Limits,
    /// Scheduled jobs.
    pub schedule: ScheduleSettings,
    /// Intake pipeline tuning.
    pub intake: IntakeTuning,
    /// Calendars to upsert at start.
    pub calendars: Vec<CalendarConfig>,
    /// HTTP sources to upsert at start.
    pub http_sources: Vec<HttpSourceConfig>,
    /// Mail collectors to upsert at start.
    pub collectors: Vec<CollectorConfig>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            timezone: "Europe/Moscow".to_owned(),
            default_calendar: "Заявки с сайта".to_owned(),
            server: ServerSettings::default(),
            database: DatabaseSettings::default(),
            limits: Limits::default(),
            schedule: ScheduleSettings::default(),
            intake: IntakeTuning::default(),
            calendars: Vec::new(),
            http_sources: Vec::new(),
            collectors: Vec::new(),
        }
    }
}

/// `[server]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ServerSettings {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Environment variable holding the admin token.
    pub admin_token_env: Option<String>,
    /// File holding the admin token.
    pub admin_token_file: Option<PathBuf>,
    /// Per-request timeout, seconds (every route but the intake).
    pub request_timeout_secs: u64,
    /// The intake's own limit, seconds, on receiving and checking a request. Once a lead is queued for its
    /// commit, the intake waits for the commit however long it takes: a committed lead is never answered
    /// with an error.
    pub intake_timeout_secs: u64,
    /// Time a client has to send a request's headers (a new connection: to start), seconds.
    pub header_read_timeout_secs: u64,
    /// Time a connection may stay idle between requests, seconds.
    pub idle_timeout_secs: u64,
    /// Connections open at once; more wait in the listen queue.
    pub max_connections: usize,
    /// Environment variable holding the token `/metrics` asks for (bearer); none: `/metrics` is open.
    pub metrics_token_env: Option<String>,
    /// File holding the token `/metrics` asks for.
    pub metrics_token_file: Option<PathBuf>,
    /// Serve `/metrics` on this address only (not on `listen`).
    pub metrics_listen: Option<SocketAddr>,
    /// Reverse proxies whose `X-Forwarded-For` and `X-Forwarded-Proto` are believed: the client's address for
    /// the sources' rate limits and the sign-in limits; HTTPS for `Secure`, `__Host-` cookies and HSTS.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// `Strict-Transport-Security: max-age` sent over HTTPS; 0 sends none.
    pub hsts_max_age_secs: u64,
    /// A web UI session ends after this many minutes without a request (besides its 14 days).
    pub session_idle_minutes: u64,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            admin_token_env: None,
            admin_token_file: None,
            request_timeout_secs: 30,
            intake_timeout_secs: 120,
            header_read_timeout_secs: 10,
            idle_timeout_secs: 60,
            max_connections: 1024,
            metrics_token_env: None,
            metrics_token_file: None,
            metrics_listen: None,
            trusted_proxies: Vec::new(),
            hsts_max_age_secs: 0,
            session_idle_minutes: 12 * 60,
        }
    }
}

/// `[database]`.
#[derive(Clone, Deserialize)]
#[serde(default)]
pub struct DatabaseSettings {
    /// `sqlite://path` or `postgres://…`. May hold a password, so `Debug` hides it.
    pub url: String,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: "sqlite://data/leadgate.db".to_owned(),
        }
    }
}

impl std::fmt::Debug for DatabaseSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = self.url.split("://").next().unwrap_or("?");
        f.debug_struct("DatabaseSettings")
            .field("url", &format_args!("{scheme}://…"))
            .finish()
    }
}

/// `[limits]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Limits {
    /// HTTP intake body and JSON attachment.
    pub max_body_bytes: usize,
    /// One e-mail.
    pub max_message_bytes: usize,
    /// Each IMAP or POP3 command, its whole answer included, seconds.
    pub mail_timeout_secs: u64,
    /// Each collector's run, seconds; then the job goes on with the next collector.
    pub collector_run_deadline_secs: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 1_048_576,
            max_message_bytes: 26_214_400,
            mail_timeout_secs: 30,
            collector_run_deadline_secs: 600,
        }
    }
}

/// `[schedule]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ScheduleSettings {
    /// `[schedule.mail_collector]`.
    pub mail_collector: JobSchedule,
}

/// A cron-scheduled job.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct JobSchedule {
    /// Cron expression, 6 fields (with seconds) or 5.
    pub cron: String,
    /// Whether the job runs.
    pub enabled: bool,
}

impl Default for JobSchedule {
    fn default() -> Self {
        Self {
            cron: "0 */5 * * * *".to_owned(),
            enabled: true,
        }
    }
}

/// `[intake]`: tuning of the pipeline.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct IntakeTuning {
    /// Commit concurrent requests in one transaction (on by default; off means one transaction each).
    pub group_commit: bool,
    /// Largest group.
    pub max_batch: usize,
}

impl Default for IntakeTuning {
    fn default() -> Self {
        Self {
            group_commit: true,
            max_batch: 512,
        }
    }
}

/// `[[calendars]]`.
#[derive(Debug, Clone, Deserialize)]
pub struct CalendarConfig {
    /// Unique name.
    pub name: String,
    /// Owner's login: personal calendar; absent: common.
    pub owner: Option<String>,
}

/// `[[http_sources]]`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct HttpSourceConfig {
    /// Unique name.
    pub name: String,
    /// Target calendar; the default calendar when absent.
    pub calendar: Option<String>,
    /// Environment variable holding the bearer token.
    pub token_env: Option<String>,
    /// File holding the bearer token.
    pub token_file: Option<PathBuf>,
    /// Origins allowed by CORS.
    #[serde(default)]
    pub cors_origins: Vec<String>,
    /// Form tech cards automatically.
    #[serde(default)]
    pub auto_tech_cards: bool,
    /// Requests per minute from one client address (0: no limit); 120 when absent.
    #[serde(default)]
    pub rate_limit_per_client: Option<u32>,
    /// Requests per minute from all clients together (0: no limit); 1200 when absent.
    #[serde(default)]
    pub rate_limit_total: Option<u32>,
    /// A form field people never fill (hidden): a payload that fills it is recorded as spam and answered
    /// as if it were accepted.
    #[serde(default)]
    pub honeypot_field: Option<String>,
}

/// `[[collectors]]`. The mail channel reads these.
#[derive(Debug, Clone, Deserialize)]
pub struct CollectorConfig {
    /// Unique name.
    pub name: String,
    /// `imap` or `pop3`.
    pub protocol: leadgate_domain::collector::Protocol,
    /// Server.
    pub host: String,
    /// Port.
    pub port: u16,
    /// `implicit`, `starttls` or `none`.
    #[serde(default = "default_tls")]
    pub tls: leadgate_domain::collector::TlsMode,
    /// Extra CA certificate (PEM) to trust.
    pub ca_file: Option<PathBuf>,
    /// Skip certificate verification (warns on every connection).
    #[serde(default)]
    pub insecure_skip_verify: bool,
    /// Login.
    pub username: String,
    /// Environment variable holding the password.
    pub password_env: Option<String>,
    /// File holding the password.
    pub password_file: Option<PathBuf>,
    /// IMAP folder.
    #[serde(default = "default_folder")]
    pub folder: String,
    /// Subject keyword.
    #[serde(default = "default_keyword")]
    pub keyword: String,
    /// `server` (`UID SEARCH SUBJECT`, the default) or `local` (leadgate reads every new IMAP message's
    /// subject and judges it itself).
    #[serde(default)]
    pub subject_filter: leadgate_domain::collector::SubjectFilter,
    /// Target calendar; the default calendar when absent.
    pub calendar: Option<String>,
    /// Charset of attachments that declare none and are not UTF-8.
    #[serde(default = "default_charset")]
    pub default_charset: String,
    /// `keep`, `seen`, `move` or `delete`.
    #[serde(default = "default_after_import")]
    pub after_import: leadgate_domain::collector::AfterImport,
    /// Folder for `after_import = "move"`.
    pub move_to: Option<String>,
    /// Folder for rejected messages.
    pub failed_folder: Option<String>,
    /// Delete recorded mail older than this many days.
    pub delete_after_days: Option<u32>,
    /// Form tech cards automatically.
    #[serde(default)]
    pub auto_tech_cards: bool,
    /// Marked for deletion: the job skips it.
    #[serde(default)]
    pub deleted: bool,
}

fn default_tls() -> leadgate_domain::collector::TlsMode {
    leadgate_domain::collector::TlsMode::Implicit
}
fn default_folder() -> String {
    "INBOX".to_owned()
}
fn default_keyword() -> String {
    "ORDER".to_owned()
}
fn default_charset() -> String {
    "windows-1251".to_owned()
}
fn default_after_import() -> leadgate_domain::collector::AfterImport {
    leadgate_domain::collector::AfterImport::Keep
}

impl Settings {
    /// Loads the file (when given; a missing `--config` file is an error, no file at all means defaults),
    /// then applies `LEADGATE_…` environment overrides.
    ///
    /// # Errors
    /// Malformed TOML, wrong types, or an unknown time zone.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let mut builder = config::Config::builder();
        if let Some(path) = path {
            builder = builder.add_source(
                config::File::from(path)
                    .format(config::FileFormat::Toml)
                    .required(true),
            );
        }
        builder = builder.add_source(
            config::Environment::with_prefix("LEADGATE")
                .prefix_separator("_")
                .separator("__")
                .try_parsing(true)
                .ignore_empty(true),
        );
        let settings: Settings = builder.build()?.try_deserialize()?;
        settings.tz()?;
        Ok(settings)
    }

    /// The shop's time zone.
    ///
    /// # Errors
    /// An unknown IANA name.
    pub fn tz(&self) -> Result<Tz, ConfigError> {
        self.timezone
            .parse()
            .map_err(|_| ConfigError::Value(format!("unknown timezone {:?}", self.timezone)))
    }
}

/// Reads a secret from an environment variable or a file (trailing newline trimmed). `Ok(None)` when
/// neither is configured.
///
/// # Errors
/// The variable is not set or the file cannot be read.
pub fn read_secret(env: Option<&str>, file: Option<&Path>) -> Result<Option<String>, ConfigError> {
    if let Some(var) = env {
        return match std::env::var(var) {
            Ok(v) if !v.is_empty() => Ok(Some(v)),
            _ => Err(ConfigError::MissingEnv(var.to_owned())),
        };
    }
    if let Some(path) = file {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::SecretFile {
            path: path.to_owned(),
            source,
        })?;
        return Ok(Some(text.trim_end_matches(['\r', '\n']).to_owned()));
    }
    Ok(None)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_spec_example_config_parses_with_its_exact_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("leadgate.toml");
        std::fs::write(&path, include_str!("../leadgate.example.toml")).unwrap();
        let s = Settings::load(Some(&path)).unwrap();
        assert_eq!(s.default_calendar, "Заявки с сайта");
        assert_eq!(s.calendars.len(), 2);
        assert_eq!(s.calendars[1].owner.as_deref(), Some("manager1"));
        assert_eq!(
            s.http_sources[0].cors_origins,
            vec!["https://shop.example".to_owned()]
        );
        assert_eq!(s.collectors[0].port, 993);
        assert_eq!(
            s.collectors[0].after_import,
            leadgate_domain::collector::AfterImport::Keep
        );
        assert_eq!(
            s.collectors[0].tls,
            leadgate_domain::collector::TlsMode::Implicit
        );
        assert_eq!(
            s.collectors[0].protocol,
            leadgate_domain::collector::Protocol::Imap
        );
        assert_eq!(s.limits.max_body_bytes, 1_048_576);
        assert_eq!(s.schedule.mail_collector.cron, "0 */5 * * * *");
    }

    #[test]
    fn the_database_url_is_not_shown_by_debug() {
        let db = DatabaseSettings {
            url: "postgres://leadgate:hunter2@db/leadgate".into(),
        };
        assert!(!format!("{db:?}").contains("hunter2"));
    }
}
