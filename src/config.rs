//! Settings: a TOML file, overridden by environment variables, with secrets read from the environment or
//! from files and never kept in the settings' `Debug` output.
//!
//! Every key of the file must be one leadgate knows: a misspelt key stops every command with an error that
//! names the key and its line, rather than being silently ignored.
//!
//! Environment variables override file keys as `LEADGATE__<SECTION>__<KEY>`: the prefix `LEADGATE__` (two
//! underscores), then the path with `__` between levels, e.g. `LEADGATE__DATABASE__URL`,
//! `LEADGATE__SERVER__LISTEN`, `LEADGATE__INTAKE__GROUP_COMMIT`, `LEADGATE__TIMEZONE`. The double
//! underscore after `LEADGATE` keeps overrides apart from the variables that hold secrets
//! (`LEADGATE_SITE_ORDERS_PASSWORD`, `LEADGATE_ADMIN_TOKEN`), which are never read as overrides. A variable
//! in the old form `LEADGATE_<SECTION>__<KEY>` is an error, so a deployment that still sets one learns it
//! at once. The arrays (`calendars`, `http_sources`, `collectors`) are set in the file only.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use leadgate_domain::collector::{AfterImport, Protocol, SubjectFilter, TlsMode};
use leadgate_storage::{CollectorRecord, HttpSourceRecord};

/// Errors while loading settings or reading a secret.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The configuration file cannot be read.
    #[error("cannot read the configuration file {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is malformed, has a key leadgate does not know, or a value of the wrong type.
    #[error("invalid configuration: {path}, line {line}: {message}")]
    File {
        /// The file.
        path: PathBuf,
        /// 1-based line of the offending key or value.
        line: usize,
        /// What is wrong (names the key).
        message: String,
    },
    /// An environment override is malformed or names a key leadgate does not know.
    #[error("invalid configuration from the environment ({vars}): {message}")]
    Env {
        /// The variable(s) involved.
        vars: String,
        /// What is wrong.
        message: String,
    },
    /// A value is out of its domain.
    #[error("invalid configuration: {0}")]
    Value(String),
    /// A secret's variable is not set.
    #[error("environment variable {0} (named by the configuration) is not set")]
    MissingEnv(String),
    /// A secret's file holds nothing.
    #[error("secret file {0} is empty")]
    EmptySecretFile(PathBuf),
    /// A token is nothing but whitespace.
    #[error("the token from {0} is blank")]
    BlankToken(String),
    /// A secret's file cannot be read.
    #[error("cannot read secret file {path}: {source}")]
    SecretFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// The whole configuration (SPEC "Config").
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
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
    /// The download of layout files.
    pub layout_files: LayoutFileSettings,
    /// The delivery of signed webhooks.
    pub webhooks: WebhookSettings,
    /// E-mail notifications of new leads, and the SMTP server they go through.
    pub notifications: NotificationSettings,
    /// The key that encrypts secrets kept in the database.
    pub secrets: SecretsSettings,
    /// Which of the settings the UI may also change the configuration sets (the file, or an environment
    /// override): those are the configuration's, shown read-only in the UI.
    #[serde(skip)]
    pub from_file: FileKeys,
}

/// The settings the UI may change that the configuration (file or environment) sets itself. Filled by
/// [`Settings::load`]; settings built in code set none.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FileKeys {
    /// `default_calendar`.
    pub default_calendar: bool,
    /// `schedule.mail_collector.cron`.
    pub mail_collector_cron: bool,
    /// `schedule.mail_collector.enabled`.
    pub mail_collector_enabled: bool,
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
            from_file: FileKeys::default(),
            layout_files: LayoutFileSettings::default(),
            webhooks: WebhookSettings::default(),
            notifications: NotificationSettings::default(),
            secrets: SecretsSettings::default(),
        }
    }
}

/// `[layout_files]`: leadgate downloads each lead's layout files (`ФайлыМакета`) in the background and keeps
/// them with the lead. The defaults are safe for a server on the internet: public addresses only, http and
/// https only, bounded size, time and redirects.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LayoutFileSettings {
    /// Whether files are downloaded at all (the URLs are kept either way).
    pub enabled: bool,
    /// Largest file kept, bytes.
    pub max_bytes: u64,
    /// Each download, redirects and body included, seconds.
    pub timeout_secs: u64,
    /// Redirects followed.
    pub max_redirects: u32,
    /// Reach loopback, private, link-local and other non-public addresses too (only for a site on the
    /// shop's own network; off, such an address is refused before connecting, on every redirect too).
    pub allow_private_addresses: bool,
    /// Attempts before a file that cannot be fetched (the site is down) is given up on.
    pub max_attempts: u32,
    /// The wait before the first retry, seconds; it doubles with each further retry.
    pub retry_after_secs: u64,
}

impl Default for LayoutFileSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            max_bytes: 26_214_400,
            timeout_secs: 60,
            max_redirects: 5,
            allow_private_addresses: false,
            max_attempts: 8,
            retry_after_secs: 60,
        }
    }
}

/// `[webhooks]`: how the signed webhooks (configured per calendar in the UI or the API) are delivered. The
/// defaults are safe for a server on the internet: public addresses only, bounded time and concurrency.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookSettings {
    /// Whether this instance sends deliveries (they are queued with each lead either way).
    pub enabled: bool,
    /// Each request, connection and answer included, seconds.
    pub timeout_secs: u64,
    /// Requests in flight at once.
    pub concurrency: u32,
    /// The wait before the first retry, seconds; it doubles with each further retry, up to
    /// `max_retry_wait_secs`.
    pub retry_after_secs: u64,
    /// The longest wait between two attempts, seconds.
    pub max_retry_wait_secs: u64,
    /// How long a failing delivery is retried, seconds; after that it is a dead letter (an administrator
    /// can redeliver it).
    pub max_age_secs: u64,
    /// Post to loopback, private, link-local and other non-public addresses too (only for a receiver on
    /// the shop's own network; off, such a URL is refused when the webhook is created and before every
    /// connection).
    pub allow_private_addresses: bool,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            timeout_secs: 10,
            concurrency: 8,
            retry_after_secs: 10,
            max_retry_wait_secs: 3600,
            max_age_secs: 24 * 3600,
            allow_private_addresses: false,
        }
    }
}

/// `[notifications]`: e-mail notifications of new leads (whom each calendar notifies is set per calendar in
/// the UI, or in `[[calendars]]` for the calendars of the file) and the SMTP server they are sent through.
/// Without `smtp_host` nothing is sent: the notifications wait in the database.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotificationSettings {
    /// Whether this instance sends notifications (they are queued with each lead either way).
    pub enabled: bool,
    /// The SMTP server; none: no mail is sent.
    pub smtp_host: Option<String>,
    /// Its port; by `smtp_tls` when absent: 587 (starttls), 465 (implicit), 25 (none).
    pub smtp_port: Option<u16>,
    /// `starttls`, `implicit` or `none`.
    pub smtp_tls: TlsMode,
    /// A CA certificate (PEM) trusted besides the usual roots, for a server with a private CA.
    pub smtp_ca_file: Option<PathBuf>,
    /// Skip the check of the server's certificate (warned at start); never on by default.
    pub smtp_insecure_skip_verify: bool,
    /// The SMTP user name; none: no authentication.
    pub smtp_username: Option<String>,
    /// Environment variable holding the SMTP password.
    pub smtp_password_env: Option<String>,
    /// File holding the SMTP password.
    pub smtp_password_file: Option<PathBuf>,
    /// The sender address (`From:`), e.g. `leadgate@shop.example`.
    pub from: Option<String>,
    /// A recipient gets at most one mail per this many seconds: leads in between go into one digest.
    pub digest_interval_secs: u64,
    /// The wait before the first retry of a failed mail, seconds; it doubles with each further failure, up
    /// to `max_retry_wait_secs`. A failed mail is retried until it is sent: nothing is dropped.
    pub retry_after_secs: u64,
    /// The longest wait between two attempts, seconds.
    pub max_retry_wait_secs: u64,
    /// Each SMTP conversation, seconds.
    pub timeout_secs: u64,
}

impl Default for NotificationSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            smtp_host: None,
            smtp_port: None,
            smtp_tls: TlsMode::StartTls,
            smtp_ca_file: None,
            smtp_insecure_skip_verify: false,
            smtp_username: None,
            smtp_password_env: None,
            smtp_password_file: None,
            from: None,
            digest_interval_secs: 60,
            retry_after_secs: 30,
            max_retry_wait_secs: 3600,
            timeout_secs: 30,
        }
    }
}

/// `[secrets]`: the key that encrypts the secrets kept in the database (mailbox passwords typed in the UI).
/// Give `key_env` or `key_file` (64 hex digits: 32 bytes); without either, leadgate generates the key at the
/// first start into `secret.key` in the data directory (mode 0600), which must then be backed up with the
/// database.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecretsSettings {
    /// Environment variable holding the key.
    pub key_env: Option<String>,
    /// File holding the key.
    pub key_file: Option<PathBuf>,
}

/// `[server]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
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
    /// The address the UI is reached at from outside (`https://leads.shop.example`), for links in mail.
    pub public_url: Option<String>,
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
            public_url: None,
        }
    }
}

/// `[database]`.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `sqlite://path` (the embedded default) or `postgres://user@host:port/db` (`postgresql://` too).
    /// `Debug` hides it: a database URL may hold a password.
    pub url: String,
    /// Environment variable holding the PostgreSQL password (instead of a password in the URL).
    pub password_env: Option<String>,
    /// File holding the PostgreSQL password (instead of a password in the URL).
    pub password_file: Option<PathBuf>,
    /// With PostgreSQL: the directory for leadgate's own files (the generated `secret.key`, the first start's
    /// secrets); `data` when not set. With SQLite they live beside the database file, and this key is refused.
    pub data_dir: Option<PathBuf>,
    /// With PostgreSQL: the most connections each instance opens (the live pages' listener has one more).
    pub max_connections: u32,
    /// With PostgreSQL: how long a query waits for a free connection before it fails as unavailable.
    pub acquire_timeout_secs: u64,
}

/// The database URL when none is configured.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/leadgate.db";

/// The data directory with a PostgreSQL database when `database.data_dir` is not set.
pub const DEFAULT_DATA_DIR: &str = "data";

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: DEFAULT_DATABASE_URL.to_owned(),
            password_env: None,
            password_file: None,
            data_dir: None,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            acquire_timeout_secs: DEFAULT_ACQUIRE_TIMEOUT_SECS,
        }
    }
}

/// `database.max_connections` when not set.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 16;

/// `database.acquire_timeout_secs` when not set.
pub const DEFAULT_ACQUIRE_TIMEOUT_SECS: u64 = 10;

/// What a `database.url` of neither kind is told.
pub const UNSUPPORTED_DATABASE_URL: &str = "unsupported database URL scheme in database.url (sqlite://PATH, postgres://USER@HOST:PORT/DATABASE)";

impl DatabaseSettings {
    /// Whether the URL names a SQLite database (`sqlite:`).
    pub fn is_sqlite(&self) -> bool {
        self.url.starts_with("sqlite:")
    }

    /// Whether the URL names a PostgreSQL database (`postgres://` or `postgresql://`).
    pub fn is_postgres(&self) -> bool {
        is_postgres_url(&self.url)
    }

    /// The URL to connect with: the configured one, with the password from `password_env` or
    /// `password_file` put in when one of them is set. Keep it out of logs and messages.
    ///
    /// # Errors
    /// The password's variable or file cannot be read, the URL also holds a password, or the keys are given
    /// with a SQLite URL.
    pub fn connect_url(&self) -> Result<String, ConfigError> {
        let password = read_secret(self.password_env.as_deref(), self.password_file.as_deref())?;
        let Some(password) = password else {
            return Ok(self.url.clone());
        };
        if !self.is_postgres() {
            return Err(ConfigError::Value(
                "database.password_env and database.password_file are for a PostgreSQL database.url".into(),
            ));
        }
        let mut url = url::Url::parse(&self.url)
            .map_err(|e| ConfigError::Value(format!("database.url is not a valid URL: {e}")))?;
        if url.password().is_some() {
            return Err(ConfigError::Value(PASSWORD_TWICE.into()));
        }
        url.set_password(Some(&password)).map_err(|()| {
            ConfigError::Value("database.url has no host to give the password for".into())
        })?;
        Ok(url.into())
    }
}

/// Whether `url` names a PostgreSQL database (`postgres://` or `postgresql://`).
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

impl std::fmt::Debug for DatabaseSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = self.url.split("://").next().unwrap_or("?");
        f.debug_struct("DatabaseSettings")
            .field("url", &format_args!("{scheme}://…"))
            .field("password_env", &self.password_env)
            .field("password_file", &self.password_file)
            .field("data_dir", &self.data_dir)
            .field("max_connections", &self.max_connections)
            .field("acquire_timeout_secs", &self.acquire_timeout_secs)
            .finish()
    }
}

/// `[limits]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
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
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScheduleSettings {
    /// `[schedule.mail_collector]`.
    pub mail_collector: JobSchedule,
}

/// A cron-scheduled job.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
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
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
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
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarConfig {
    /// Unique name.
    pub name: String,
    /// Owner's login: personal calendar; absent: common.
    pub owner: Option<String>,
    /// Notify the owner of each new lead by e-mail (at the address of their account).
    #[serde(default)]
    pub notify_owner: bool,
    /// Further addresses notified of each new lead by e-mail.
    #[serde(default)]
    pub notify: Vec<String>,
}

/// `[[http_sources]]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectorConfig {
    /// Unique name.
    pub name: String,
    /// `imap` or `pop3`.
    pub protocol: Protocol,
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
    pub subject_filter: SubjectFilter,
    /// Target calendar; the default calendar when absent.
    pub calendar: Option<String>,
    /// Charset of attachments that declare none and are not UTF-8.
    #[serde(default = "default_charset")]
    pub default_charset: String,
    /// `keep`, `seen`, `move` or `delete`.
    #[serde(default)]
    pub after_import: AfterImport,
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
    /// IMAP: import new mail as the server announces it (IDLE), besides the schedule. On by default; a
    /// server without IDLE stays on the schedule alone.
    #[serde(default = "default_push")]
    pub push: bool,
}

fn default_push() -> bool {
    true
}

fn default_tls() -> leadgate_domain::collector::TlsMode {
    CollectorRecord::DEFAULT_TLS
}
fn default_folder() -> String {
    CollectorRecord::DEFAULT_FOLDER.to_owned()
}
fn default_keyword() -> String {
    CollectorRecord::DEFAULT_KEYWORD.to_owned()
}
fn default_charset() -> String {
    CollectorRecord::DEFAULT_CHARSET.to_owned()
}

impl CollectorConfig {
    /// An entry with every other key absent: at its default, as [`CollectorRecord::new`] has it, and in the
    /// default calendar. Set the rest with struct update syntax:
    /// `CollectorConfig { tls, ..CollectorConfig::new(…) }`.
    pub fn new(
        name: impl Into<String>,
        protocol: Protocol,
        host: impl Into<String>,
        port: u16,
        username: impl Into<String>,
    ) -> Self {
        Self::from(CollectorRecord::new(name, protocol, host, port, username))
    }

    /// The collector this entry declares, filed into the calendar `calendar_id` (the entry names it, the
    /// caller looks it up).
    pub fn to_record(&self, calendar_id: i64) -> CollectorRecord {
        // Destructured, so that a key added to the entry and not carried over fails to build.
        let Self {
            name,
            protocol,
            host,
            port,
            tls,
            ca_file,
            insecure_skip_verify,
            username,
            password_env,
            password_file,
            folder,
            keyword,
            subject_filter,
            calendar: _,
            default_charset,
            after_import,
            move_to,
            failed_folder,
            delete_after_days,
            auto_tech_cards,
            deleted,
            push,
        } = self.clone();
        CollectorRecord {
            id: 0,
            name,
            protocol,
            host,
            port,
            tls,
            ca_file,
            insecure_skip_verify,
            username,
            password_env,
            password_file,
            folder,
            keyword,
            subject_filter,
            calendar_id,
            default_charset,
            after_import,
            move_to,
            failed_folder,
            delete_after_days,
            auto_tech_cards,
            deleted,
            push,
        }
    }
}

/// The entry that declares a collector, in the default calendar; the id and calendar id are not part of an
/// entry.
impl From<CollectorRecord> for CollectorConfig {
    fn from(c: CollectorRecord) -> Self {
        let CollectorRecord {
            id: _,
            name,
            protocol,
            host,
            port,
            tls,
            ca_file,
            insecure_skip_verify,
            username,
            password_env,
            password_file,
            folder,
            keyword,
            subject_filter,
            calendar_id: _,
            default_charset,
            after_import,
            move_to,
            failed_folder,
            delete_after_days,
            auto_tech_cards,
            deleted,
            push,
        } = c;
        Self {
            name,
            protocol,
            host,
            port,
            tls,
            ca_file,
            insecure_skip_verify,
            username,
            password_env,
            password_file,
            folder,
            keyword,
            subject_filter,
            calendar: None,
            default_charset,
            after_import,
            move_to,
            failed_folder,
            delete_after_days,
            auto_tech_cards,
            deleted,
            push,
        }
    }
}

impl HttpSourceConfig {
    /// The source this entry declares, filed into the calendar `calendar_id` (the entry names it, the caller
    /// looks it up). The token, the rate limits and the honeypot are not part of the stored source.
    pub fn to_record(&self, calendar_id: i64) -> HttpSourceRecord {
        HttpSourceRecord {
            id: 0,
            name: self.name.clone(),
            calendar_id,
            calendar_name: String::new(),
            cors_origins: self.cors_origins.clone(),
            auto_tech_cards: self.auto_tech_cards,
        }
    }
}

impl Settings {
    /// Loads the file (when given; a missing `--config` file is an error, no file at all means defaults),
    /// then applies the `LEADGATE__…` environment overrides.
    ///
    /// # Errors
    /// Malformed TOML, an unknown key, wrong types, a malformed override, or an unknown time zone.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        Ok(Self::load_traced(path, std::env::vars_os())?.settings)
    }

    /// Like [`Settings::load`] with the environment given, and keeping where each value came from (for
    /// `leadgate config check`).
    ///
    /// # Errors
    /// See [`Settings::load`].
    pub fn load_traced(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (std::ffi::OsString, std::ffi::OsString)>,
    ) -> Result<Traced, ConfigError> {
        let mut table = toml::Table::new();
        let mut file_lines = std::collections::HashMap::new();
        if let Some(path) = path {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_owned(),
                source,
            })?;
            // An unknown key or a wrong type is reported with its line, and with its key when that line holds
            // one (`lines`: each key's line, once the file has been read as TOML).
            let file_error =
                |e: toml::de::Error, lines: &std::collections::HashMap<String, usize>| {
                    let line = e.span().map_or(1, |s| line_of(&text, s.start));
                    let message = e.message().trim();
                    let mut keys = lines.iter().filter(|(_, l)| **l == line);
                    ConfigError::File {
                        path: path.to_owned(),
                        line,
                        message: match (keys.next(), keys.next()) {
                            (Some((key, _)), None) => format!("{key}: {message}"),
                            _ => message.to_owned(),
                        },
                    }
                };
            let spanned =
                toml::de::DeTable::parse(&text).map_err(|e| file_error(e, &Default::default()))?;
            file_key_lines("", spanned.get_ref(), &text, &mut file_lines);
            // The file alone first, before the environment's overrides.
            toml::from_str::<Settings>(&text).map_err(|e| file_error(e, &file_lines))?;
            table = toml::from_str(&text).map_err(|e| file_error(e, &file_lines))?;
        }
        let overrides = apply_env_overrides(&mut table, env)?;
        let set = |sections: &[&str], key: &str| {
            let mut node = Some(&table);
            for section in sections {
                node = node
                    .and_then(|t| t.get(*section))
                    .and_then(toml::Value::as_table);
            }
            node.is_some_and(|t| t.contains_key(key))
        };
        let from_file = FileKeys {
            default_calendar: set(&[], "default_calendar"),
            mail_collector_cron: set(&["schedule", "mail_collector"], "cron"),
            mail_collector_enabled: set(&["schedule", "mail_collector"], "enabled"),
        };
        let mut settings: Settings = if overrides.is_empty() {
            table
                .try_into()
                .map_err(|e: toml::de::Error| ConfigError::Value(e.message().trim().to_owned()))?
        } else {
            table
                .try_into()
                .map_err(|e: toml::de::Error| ConfigError::Env {
                    vars: overrides.values().cloned().collect::<Vec<_>>().join(", "),
                    message: e.message().trim().to_owned(),
                })?
        };
        settings.from_file = from_file;
        settings.tz()?;
        let effective = toml::Value::try_from(&settings)
            .map_err(|e| ConfigError::Value(format!("cannot show the configuration: {e}")))?;
        let mut values = Vec::new();
        leaves("", &effective, &mut values);
        let values = values
            .into_iter()
            .map(|(key, value)| {
                let origin = match (overrides.get(&key), file_lines.get(&key)) {
                    (Some(var), _) => Origin::Environment(var.clone()),
                    (None, Some(line)) => Origin::File { line: *line },
                    (None, None) => Origin::Default,
                };
                TracedValue { key, value, origin }
            })
            .collect();
        Ok(Traced { settings, values })
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

/// The prefix of environment overrides: two underscores, so no secret variable is read as one.
pub const ENV_PREFIX: &str = "LEADGATE__";

/// The settings with where each value came from.
#[derive(Debug)]
pub struct Traced {
    /// The effective settings.
    pub settings: Settings,
    /// Every value, by dotted key (`server.listen`, `collectors[0].host`), in the settings' order.
    pub values: Vec<TracedValue>,
}

/// One value of the effective configuration.
#[derive(Debug, Clone)]
pub struct TracedValue {
    /// Dotted key: `server.listen`, `collectors[0].host`.
    pub key: String,
    /// The value.
    pub value: toml::Value,
    /// Where it came from.
    pub origin: Origin,
}

/// Where a value of the configuration came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The configuration file, at this line.
    File {
        /// 1-based line.
        line: usize,
    },
    /// This environment variable.
    Environment(String),
    /// leadgate's default.
    Default,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::File { line } => write!(f, "file, line {line}"),
            Origin::Environment(var) => write!(f, "environment {var}"),
            Origin::Default => f.write_str("default"),
        }
    }
}

/// 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()
        .iter()
        .take(offset)
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

fn join_key(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}

/// The line of every leaf key of the file, by dotted key (arrays of tables by index).
fn file_key_lines(
    prefix: &str,
    table: &toml::de::DeTable<'_>,
    text: &str,
    out: &mut std::collections::HashMap<String, usize>,
) {
    for (key, value) in table {
        let path = join_key(prefix, key.get_ref());
        match value.get_ref() {
            toml::de::DeValue::Table(t) => file_key_lines(&path, t, text, out),
            toml::de::DeValue::Array(items)
                if !items.is_empty() && items.iter().all(|i| i.get_ref().is_table()) =>
            {
                for (i, item) in items.iter().enumerate() {
                    if let toml::de::DeValue::Table(t) = item.get_ref() {
                        file_key_lines(&format!("{path}[{i}]"), t, text, out);
                    }
                }
            }
            _ => {
                out.insert(path, line_of(text, key.span().start));
            }
        }
    }
}

/// Every leaf of a value, by dotted key.
fn leaves(prefix: &str, value: &toml::Value, out: &mut Vec<(String, toml::Value)>) {
    match value {
        toml::Value::Table(t) => {
            for (key, v) in t {
                leaves(&join_key(prefix, key), v, out);
            }
        }
        toml::Value::Array(items)
            if !items.is_empty() && items.iter().all(toml::Value::is_table) =>
        {
            for (i, item) in items.iter().enumerate() {
                leaves(&format!("{prefix}[{i}]"), item, out);
            }
        }
        _ => out.push((prefix.to_owned(), value.clone())),
    }
}

/// The top-level keys of the settings, for telling an old-form override (`LEADGATE_DATABASE__URL`) apart
/// from a secret's variable.
const SECTIONS: [&str; 14] = [
    "timezone",
    "default_calendar",
    "server",
    "database",
    "limits",
    "schedule",
    "intake",
    "calendars",
    "http_sources",
    "collectors",
    "layout_files",
    "webhooks",
    "notifications",
    "secrets",
];

/// Applies the `LEADGATE__…` variables to the file's table; returns the overridden dotted keys with their
/// variables. An empty variable is no override.
fn apply_env_overrides(
    table: &mut toml::Table,
    env: impl IntoIterator<Item = (std::ffi::OsString, std::ffi::OsString)>,
) -> Result<std::collections::BTreeMap<String, String>, ConfigError> {
    let defaults = toml::Value::try_from(Settings::default()).ok();
    let mut vars: Vec<(String, std::ffi::OsString)> = env
        .into_iter()
        .filter_map(|(k, v)| k.into_string().ok().map(|k| (k, v)))
        .filter(|(k, _)| k.starts_with("LEADGATE_"))
        .collect();
    vars.sort();
    let mut overridden = std::collections::BTreeMap::new();
    for (var, value) in vars {
        let env_error = |message: String| ConfigError::Env {
            vars: var.clone(),
            message,
        };
        let Some(rest) = var.strip_prefix(ENV_PREFIX) else {
            let old = var
                .strip_prefix("LEADGATE_")
                .and_then(|rest| rest.split_once("__"))
                .is_some_and(|(head, _)| SECTIONS.contains(&head.to_ascii_lowercase().as_str()));
            if old {
                let rest = var.trim_start_matches("LEADGATE_");
                return Err(env_error(format!(
                    "overrides are named {ENV_PREFIX}<SECTION>__<KEY> now (two underscores after LEADGATE): \
                     rename it to {ENV_PREFIX}{rest}"
                )));
            }
            continue;
        };
        let value = value
            .into_string()
            .map_err(|_| env_error("the value is not UTF-8".into()))?;
        if value.is_empty() {
            continue;
        }
        let path: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
        if path.iter().any(String::is_empty) {
            return Err(env_error(format!(
                "malformed name: {ENV_PREFIX}<SECTION>__<KEY>, one key per level"
            )));
        }
        let default = path
            .iter()
            .try_fold(defaults.as_ref(), |v, key| Some(v?.get(key.as_str())))
            .flatten();
        // Text keys stay text ("2024" as a calendar name); others are read as a TOML value when they parse as
        // one (`false`, `512`, `["127.0.0.1"]`), else as text (`127.0.0.1:8080`).
        let typed = match default {
            Some(toml::Value::String(_)) => toml::Value::String(value),
            _ => value
                .parse::<toml::Value>()
                .unwrap_or(toml::Value::String(value)),
        };
        let Some((last, parents)) = path.split_last() else {
            continue;
        };
        let mut at = &mut *table;
        let mut walked = String::new();
        for key in parents {
            walked = join_key(&walked, key);
            let next = at
                .entry(key.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            at = match next {
                toml::Value::Table(t) => t,
                _ => {
                    return Err(env_error(format!(
                        "{walked} is not a section; arrays such as collectors are set in the file only"
                    )));
                }
            };
        }
        at.insert(last.clone(), typed);
        overridden.insert(path.join("."), var.clone());
    }
    Ok(overridden)
}

/// Whether `origin` is a browser origin as CORS compares it: `http` or `https`, a host and an optional port,
/// nothing after (`https://shop.example`, `http://127.0.0.1:3000`).
pub fn valid_origin(origin: &str) -> bool {
    let Some(rest) = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
    else {
        return false;
    };
    !rest.is_empty()
        && rest.len() <= 253
        && rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
}

/// The URL with the password of its user part, if any, replaced by `***`.
fn redact_url(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://")
        && let Some((userinfo, host)) = rest.rsplit_once('@')
    {
        let user = userinfo.split(':').next().unwrap_or_default();
        let hidden = if userinfo.contains(':') { ":***" } else { "" };
        return format!("{scheme}://{user}{hidden}@{host}");
    }
    url.to_owned()
}

impl Traced {
    /// The report of `leadgate config check`: every value (secrets redacted) with where it came from, then
    /// where each secret is read from and whether it can be; and the problems found, one sentence each.
    pub fn report(&self) -> (String, Vec<String>) {
        use std::fmt::Write as _;
        let s = &self.settings;
        let mut out =
            String::from("# The effective configuration: each value, then where it came from.\n");
        for v in &self.values {
            let value = match (v.key.as_str(), &v.value) {
                ("database.url", toml::Value::String(url)) => {
                    toml::Value::String(redact_url(url)).to_string()
                }
                _ => v.value.to_string(),
            };
            let _ = writeln!(out, "{} = {value}  # {}", v.key, v.origin);
        }
        let mut problems = Vec::new();
        out.push_str("# Secrets: where each is read from (their values are never shown).\n");
        type Reader = fn(Option<&str>, Option<&Path>) -> Result<Option<String>, ConfigError>;
        let mut secret = |key: String, env: Option<&str>, file: Option<&Path>, read: Reader| {
            let from = match (env, file) {
                (Some(var), _) => format!("environment variable {var}"),
                (None, Some(path)) => format!("file {}", path.display()),
                (None, None) => return,
            };
            let state = match read(env, file) {
                Ok(_) => "ok".to_owned(),
                Err(e) => {
                    problems.push(format!("{key}: {e}"));
                    "MISSING".to_owned()
                }
            };
            let _ = writeln!(out, "{key} = \"<redacted>\"  # {from}: {state}");
        };
        secret(
            "database.password".into(),
            s.database.password_env.as_deref(),
            s.database.password_file.as_deref(),
            read_secret,
        );
        secret(
            "server.admin_token".into(),
            s.server.admin_token_env.as_deref(),
            s.server.admin_token_file.as_deref(),
            read_token,
        );
        secret(
            "server.metrics_token".into(),
            s.server.metrics_token_env.as_deref(),
            s.server.metrics_token_file.as_deref(),
            read_token,
        );
        for (i, source) in s.http_sources.iter().enumerate() {
            secret(
                format!("http_sources[{i}].token ({})", source.name),
                source.token_env.as_deref(),
                source.token_file.as_deref(),
                read_token,
            );
        }
        for (i, c) in s.collectors.iter().enumerate() {
            secret(
                format!("collectors[{i}].password ({})", c.name),
                c.password_env.as_deref(),
                c.password_file.as_deref(),
                read_secret,
            );
        }
        problems.extend(s.problems());
        (out, problems)
    }
}

/// Parses the job's cron expression: 6 fields (with seconds) or 5.
///
/// # Errors
/// A malformed expression.
pub fn parse_cron(pattern: &str) -> Result<croner::Cron, croner::errors::CronError> {
    croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Optional)
        .build()
        .parse(pattern)
}

/// A PostgreSQL password given in the URL and by `password_env` or `password_file` too: refused, by every
/// command and by `config check`.
const PASSWORD_TWICE: &str = "database.url holds a password and database.password_env or password_file gives \
                              one too: give it in one place";

/// The smallest `limits.max_message_bytes` `config check` accepts: the header of a site's order alone.
const MIN_MESSAGE_BYTES: usize = 1024;

impl Settings {
    /// The HTTP sources of the file that are given the token of an earlier one: a token names one source, so
    /// a start refuses them. Tokens that cannot be read are left to their own problem.
    pub fn shared_source_tokens(&self) -> Vec<String> {
        use std::collections::hash_map::{Entry, HashMap};
        let mut first_with: HashMap<String, &str> = HashMap::new();
        let mut problems = Vec::new();
        for (i, source) in self.http_sources.iter().enumerate() {
            let Ok(Some(token)) =
                read_token(source.token_env.as_deref(), source.token_file.as_deref())
            else {
                continue;
            };
            match first_with.entry(token) {
                Entry::Occupied(first) => problems.push(format!(
                    "http_sources[{i}]: source {:?} is given the token of source {:?}; each source needs a \
                     token of its own",
                    source.name,
                    first.get()
                )),
                Entry::Vacant(slot) => {
                    slot.insert(&source.name);
                }
            }
        }
        problems
    }

    /// What loading does not catch and a start would fail on: calendars named but not defined, names given
    /// twice, sources given one token, `/metrics` on the main address, a bad cron expression, malformed CORS
    /// origins.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = self.shared_source_tokens();
        if !self.database.is_sqlite() && !self.database.is_postgres() {
            problems.push(UNSUPPORTED_DATABASE_URL.to_owned());
        }
        if !self.database.is_postgres() {
            if self.database.data_dir.is_some() {
                problems.push(
                    "database.data_dir: only for a PostgreSQL database.url; with SQLite leadgate keeps its \
                     files beside the database file"
                        .to_owned(),
                );
            }
            if self.database.password_env.is_some() || self.database.password_file.is_some() {
                problems.push(
                    "database.password_env, database.password_file: only for a PostgreSQL database.url".to_owned(),
                );
            }
            if self.database.max_connections != DEFAULT_MAX_CONNECTIONS
                || self.database.acquire_timeout_secs != DEFAULT_ACQUIRE_TIMEOUT_SECS
            {
                problems.push(
                    "database.max_connections, database.acquire_timeout_secs: only for a PostgreSQL \
                     database.url"
                        .to_owned(),
                );
            }
        } else {
            let (env, file) = (
                self.database.password_env.is_some(),
                self.database.password_file.is_some(),
            );
            if env && file {
                problems.push(
                    "database.password_env and database.password_file are both set: give one"
                        .to_owned(),
                );
            }
            if (env || file)
                && url::Url::parse(&self.database.url).is_ok_and(|u| u.password().is_some())
            {
                problems.push(PASSWORD_TWICE.to_owned());
            }
        }
        if self.database.max_connections == 0 {
            problems.push("database.max_connections: at least 1".to_owned());
        }
        if self.database.acquire_timeout_secs == 0 {
            problems.push("database.acquire_timeout_secs: at least 1".to_owned());
        }
        if self.server.metrics_listen == Some(self.server.listen) {
            problems.push(format!(
                "server.metrics_listen: {} is server.listen's address; give /metrics an address of its own, or \
                 leave the key out to serve it on server.listen",
                self.server.listen
            ));
        }
        if let Err(e) = parse_cron(&self.schedule.mail_collector.cron) {
            problems.push(format!("schedule.mail_collector.cron: {e}"));
        }
        let defined = |name: &str| {
            name == self.default_calendar || self.calendars.iter().any(|c| c.name == name)
        };
        let mut seen = std::collections::HashSet::new();
        for (i, c) in self.calendars.iter().enumerate() {
            if !seen.insert(("calendar", c.name.as_str())) {
                problems.push(format!(
                    "calendars[{i}]: calendar {:?} is defined twice",
                    c.name
                ));
            }
            for address in c.notify.iter().filter(|a| !valid_email(a)) {
                problems.push(format!(
                    "calendars[{i}].notify: {address:?} is not an e-mail address"
                ));
            }
            if c.notify_owner && c.owner.is_none() {
                problems.push(format!(
                    "calendars[{i}].notify_owner: calendar {:?} has no owner",
                    c.name
                ));
            }
        }
        problems.extend(self.notifications.problems());
        if let Some(url) = &self.server.public_url
            && !url::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
        {
            problems.push(format!(
                "server.public_url: {url:?} is not an absolute http:// or https:// URL"
            ));
        }
        for (i, source) in self.http_sources.iter().enumerate() {
            if !seen.insert(("source", source.name.as_str())) {
                problems.push(format!(
                    "http_sources[{i}]: source {:?} is defined twice",
                    source.name
                ));
            }
            if let Some(calendar) = source.calendar.as_deref().filter(|c| !defined(c)) {
                problems.push(format!(
                    "http_sources[{i}].calendar: calendar {calendar:?} is not defined in [[calendars]]"
                ));
            }
            for origin in source.cors_origins.iter().filter(|o| !valid_origin(o)) {
                problems.push(format!(
                    "http_sources[{i}].cors_origins: {origin:?} is not an origin (scheme://host[:port])"
                ));
            }
        }
        for (i, c) in self.collectors.iter().enumerate() {
            if !seen.insert(("collector", c.name.as_str())) {
                problems.push(format!(
                    "collectors[{i}]: collector {:?} is defined twice",
                    c.name
                ));
            }
            if let Some(calendar) = c.calendar.as_deref().filter(|c| !defined(c)) {
                problems.push(format!(
                    "collectors[{i}].calendar: calendar {calendar:?} is not defined in [[calendars]]"
                ));
            }
            if c.after_import == AfterImport::Move && c.move_to.is_none() {
                problems.push(format!(
                    "collectors[{i}].move_to: required with after_import = \"move\" (the messages would be kept)"
                ));
            }
            if let Some(ca) = c.ca_file.as_deref().filter(|f| !f.is_file()) {
                problems.push(format!(
                    "collectors[{i}].ca_file: {} is not a file",
                    ca.display()
                ));
            }
        }
        // Below these no message or answer gets through.
        if self.limits.max_message_bytes < MIN_MESSAGE_BYTES {
            problems.push(format!(
                "limits.max_message_bytes: at least {MIN_MESSAGE_BYTES} (every message would be rejected)"
            ));
        }
        if self.limits.mail_timeout_secs == 0 {
            problems.push("limits.mail_timeout_secs: at least 1".to_owned());
        }
        problems
    }
}

/// Whether `text` is one plain e-mail address (`local@domain`), as notifications accept it.
pub fn valid_email(text: &str) -> bool {
    let text = text.trim();
    text.len() <= 254
        && text.parse::<lettre::Address>().is_ok()
        && !text.chars().any(|c| c.is_whitespace() || c.is_control())
}

impl NotificationSettings {
    /// The SMTP port: the configured one, or the usual one for `smtp_tls`.
    pub fn port(&self) -> u16 {
        self.smtp_port.unwrap_or(match self.smtp_tls {
            TlsMode::StartTls => 587,
            TlsMode::Implicit => 465,
            TlsMode::None => 25,
        })
    }

    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.smtp_host.is_some() {
            match &self.from {
                None => problems.push(
                    "notifications.from: the sender address is required with smtp_host".to_owned(),
                ),
                Some(from) if !valid_email(from) => problems.push(format!(
                    "notifications.from: {from:?} is not an e-mail address"
                )),
                Some(_) => {}
            }
        }
        if self.smtp_password_env.is_some() && self.smtp_password_file.is_some() {
            problems.push(
                "notifications.smtp_password_env and smtp_password_file are both set: give one"
                    .to_owned(),
            );
        }
        if (self.smtp_password_env.is_some() || self.smtp_password_file.is_some())
            && self.smtp_username.is_none()
        {
            problems.push("notifications.smtp_username is required with a password".to_owned());
        }
        problems
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
        let text = text.trim_end_matches(['\r', '\n']);
        if text.is_empty() {
            return Err(ConfigError::EmptySecretFile(path.to_owned()));
        }
        return Ok(Some(text.to_owned()));
    }
    Ok(None)
}

/// [`read_secret`] for a token a client sends in an HTTP header: whitespace around it is dropped, as HTTP drops
/// it around a header's value (a token file saved with a stray space would otherwise never match).
///
/// # Errors
/// As [`read_secret`]; [`ConfigError::BlankToken`] for a token of only whitespace.
pub fn read_token(env: Option<&str>, file: Option<&Path>) -> Result<Option<String>, ConfigError> {
    match read_secret(env, file)? {
        Some(token) if token.trim().is_empty() => Err(ConfigError::BlankToken(env.map_or_else(
            || file.map(|f| f.display().to_string()).unwrap_or_default(),
            str::to_owned,
        ))),
        token => Ok(token.map(|t| t.trim().to_owned())),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_token_file_loses_the_whitespace_http_would_and_an_empty_one_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        let spaced = file("spaced", "  site-token-123  \r\n");
        assert_eq!(
            read_token(None, Some(&spaced)).unwrap().as_deref(),
            Some("site-token-123")
        );
        // A password keeps its spaces: only the line end goes.
        assert_eq!(
            read_secret(None, Some(&spaced)).unwrap().as_deref(),
            Some("  site-token-123  ")
        );
        let empty = file("empty", "\n");
        assert!(matches!(
            read_secret(None, Some(&empty)),
            Err(ConfigError::EmptySecretFile(_))
        ));
        let blank = file("blank", "   \n");
        let err = read_token(None, Some(&blank)).unwrap_err();
        assert!(err.to_string().contains("is blank"), "{err}");
        let err = read_secret(None, Some(dir.path())).unwrap_err();
        assert!(
            err.to_string().contains(": "),
            "the OS's reason is said: {err}"
        );
    }

    #[test]
    fn the_spec_example_config_parses_with_its_exact_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("leadgate.toml");
        std::fs::write(&path, include_str!("../leadgate.example.toml")).unwrap();
        let s = Settings::load(Some(&path)).unwrap();
        assert_eq!(s.default_calendar, "Заявки с сайта");
        assert_eq!(s.calendars.len(), 2);
        assert_eq!(s.calendars[1].owner.as_deref(), Some("manager1"));
        assert!(s.calendars[1].notify_owner);
        assert_eq!(s.calendars[1].notify, ["orders@example.ru"]);
        assert_eq!(s.notifications.digest_interval_secs, 60);
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
        assert_eq!(
            s.from_file,
            FileKeys {
                default_calendar: true,
                mail_collector_cron: true,
                mail_collector_enabled: true,
            }
        );
    }

    #[test]
    fn settings_the_file_leaves_out_are_not_marked_as_the_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("leadgate.toml");
        std::fs::write(&path, "[schedule.mail_collector]\nenabled = false\n").unwrap();
        let s = Settings::load(Some(&path)).unwrap();
        assert_eq!(
            s.from_file,
            FileKeys {
                default_calendar: false,
                mail_collector_cron: false,
                mail_collector_enabled: true,
            }
        );
        assert_eq!(s.default_calendar, "Заявки с сайта");
        assert!(!s.schedule.mail_collector.enabled);
    }

    #[test]
    fn a_collector_entry_with_only_the_required_keys_is_the_collector_with_every_default() {
        let entry: CollectorConfig = toml::from_str(
            "name = \"site\"\nprotocol = \"imap\"\nhost = \"mail.example.ru\"\nport = 993\n\
             username = \"orders\"\n",
        )
        .unwrap();
        let defaults = CollectorRecord {
            calendar_id: 7,
            ..CollectorRecord::new("site", Protocol::Imap, "mail.example.ru", 993, "orders")
        };
        assert_eq!(entry.to_record(7), defaults);
        assert_eq!(defaults.keyword, "ORDER");
        assert_eq!(defaults.folder, "INBOX");
        assert_eq!(defaults.default_charset, "windows-1251");
        assert_eq!(defaults.tls, leadgate_domain::collector::TlsMode::Implicit);
        assert_eq!(defaults.after_import, AfterImport::Keep);
        assert_eq!(defaults.subject_filter, SubjectFilter::Server);
        assert!(defaults.push, "push is on unless switched off");
        let back = CollectorConfig::new("site", Protocol::Imap, "mail.example.ru", 993, "orders");
        assert_eq!(back.to_record(7), defaults);
    }

    #[test]
    fn the_database_url_is_not_shown_by_debug() {
        let db = DatabaseSettings {
            url: "postgres://leadgate:hunter2@db/leadgate".into(),
            ..DatabaseSettings::default()
        };
        assert!(!format!("{db:?}").contains("hunter2"));
    }

    fn vars(list: &[(&str, &str)]) -> Vec<(std::ffi::OsString, std::ffi::OsString)> {
        list.iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect()
    }

    fn file_with(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("leadgate.toml");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn an_unknown_key_is_named_with_its_line() {
        let (_dir, path) = file_with(
            "[server]\nlisten = \"127.0.0.1:1\"\n\n[[collectors]]\nname = \"a\"\nprotocol = \"imap\"\n\
             host = \"h\"\nport = 993\nusername = \"u\"\nafter_imprt = \"keep\"\n",
        );
        let e = Settings::load_traced(Some(&path), vars(&[])).unwrap_err();
        let text = e.to_string();
        assert!(matches!(e, ConfigError::File { line: 10, .. }), "{text}");
        assert!(
            text.contains("after_imprt") && text.contains("line 10"),
            "{text}"
        );
    }

    #[test]
    fn overrides_use_the_double_underscore_prefix_and_secrets_are_never_read_as_overrides() {
        let (_dir, path) = file_with("[database]\nurl = \"sqlite://file.db\"\n");
        let t = Settings::load_traced(
            Some(&path),
            vars(&[
                ("LEADGATE__DATABASE__URL", "sqlite://env.db"),
                ("LEADGATE__INTAKE__GROUP_COMMIT", "false"),
                ("LEADGATE__DEFAULT_CALENDAR", "2024"),
                ("LEADGATE_SITE_ORDERS_PASSWORD", "hunter2"),
                ("LEADGATE_COLLECTOR__X_PASSWORD", "hunter2"),
            ]),
        )
        .unwrap();
        assert_eq!(t.settings.database.url, "sqlite://env.db");
        assert!(!t.settings.intake.group_commit);
        assert_eq!(t.settings.default_calendar, "2024");
        let origin = |key: &str| {
            t.values
                .iter()
                .find(|v| v.key == key)
                .unwrap()
                .origin
                .clone()
        };
        assert_eq!(
            origin("database.url"),
            Origin::Environment("LEADGATE__DATABASE__URL".into())
        );
        assert_eq!(origin("server.listen"), Origin::Default);
        let (_dir, path) = file_with("timezone = \"Europe/Moscow\"\n");
        let t = Settings::load_traced(Some(&path), vars(&[])).unwrap();
        assert_eq!(
            t.values
                .iter()
                .find(|v| v.key == "timezone")
                .unwrap()
                .origin,
            Origin::File { line: 1 }
        );
    }

    #[test]
    fn an_old_form_override_or_an_unknown_override_key_is_an_error_naming_the_variable() {
        let e = Settings::load_traced(None, vars(&[("LEADGATE_DATABASE__URL", "sqlite://x.db")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("LEADGATE__DATABASE__URL"), "{e}");
        let e = Settings::load_traced(None, vars(&[("LEADGATE__SERVER__LISTNE", "127.0.0.1:1")]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("LEADGATE__SERVER__LISTNE") && e.contains("listne"),
            "{e}"
        );
    }

    #[test]
    fn origins_are_scheme_host_and_port_only() {
        assert!(valid_origin("https://shop.example"));
        assert!(valid_origin("http://127.0.0.1:3000"));
        for bad in [
            "shop.example",
            "https://",
            "https://shop.example/",
            "ftp://x",
            "https://a b",
        ] {
            assert!(!valid_origin(bad), "{bad}");
        }
        assert_eq!(
            redact_url("postgres://leadgate:hunter2@db/leadgate"),
            "postgres://leadgate:***@db/leadgate"
        );
    }
}
