//! Start-up: open storage, provision what the configuration names, and serve.
//!
//! [`Services::open`] is what every command shares (the server, `collect`, `import`), so the one-shot commands
//! run exactly the code `serve` runs. [`Application::build`] takes the settings and an already bound listener:
//! tests bind port 0 first and never wait for readiness.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{info, instrument, warn};

use crate::app::AppState;
use crate::collector::CollectorEnv;
use crate::config::{HttpSourceConfig, Settings, read_token};
use crate::http;
use crate::intake::{Intake, IntakeSettings};
use crate::jobs::MailCollectorJob;
use crate::tokens;
use leadgate_domain::account::Role;
use leadgate_domain::collector::{AfterImport, Protocol};
use leadgate_postgres::{PgStorage, PoolSettings};
use leadgate_sqlite::SqliteStorage;
use leadgate_storage::{FileRecords, Storage, StorageError};

/// Secrets made on the very first start, shown once to whoever started leadgate and never again.
#[derive(Default)]
pub struct FirstStart {
    /// The administrator's API token.
    pub admin_token: Option<String>,
    /// The default HTTP source's token.
    pub source_token: Option<String>,
    /// The web UI password of the user `admin`.
    pub admin_password: Option<String>,
}

impl std::fmt::Debug for FirstStart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FirstStart").finish_non_exhaustive()
    }
}

/// Storage and the intake pipeline, opened and provisioned.
pub struct Services {
    /// Storage.
    pub storage: Arc<dyn Storage>,
    /// The pipeline.
    pub intake: Arc<Intake>,
    /// The mail collector job.
    pub job: Arc<MailCollectorJob>,
    /// Settings.
    pub settings: Arc<Settings>,
    /// The group-commit writer; finishes after the last `Intake` clone is dropped.
    pub writer: Option<JoinHandle<()>>,
    /// New and changed leads for the live pages.
    pub live: Arc<crate::live::LiveHub>,
    /// Secrets of the first start, if this was it.
    pub first_start: FirstStart,
}

/// Opens the database named by the settings: SQLite for `sqlite://…`, PostgreSQL for `postgres://…` and
/// `postgresql://…` (the password from the URL, `database.password_env` or `database.password_file`), and
/// runs its migrations.
///
/// # Errors
/// Unsupported URL scheme, an unreadable password, or the database cannot be opened or migrated. An error
/// never holds the password; one that says the database cannot be reached right now holds a
/// [`StorageError::Unavailable`] (see [`is_unavailable`]).
pub async fn open_storage(settings: &Settings) -> anyhow::Result<Arc<dyn Storage>> {
    let database = &settings.database;
    let url = database.url.as_str();
    if database.is_sqlite() {
        if database.data_dir.is_some() {
            anyhow::bail!(
                "database.data_dir is only for a PostgreSQL database.url: with SQLite leadgate keeps its files \
                 beside the database file"
            );
        }
        let file = sqlite_file(url).and_then(|f| std::path::absolute(f).ok());
        let named = file
            .as_ref()
            .map_or_else(|| url.to_owned(), |f| f.display().to_string());
        let new = file.as_ref().is_some_and(|f| !f.exists());
        let url = database.connect_url()?;
        let storage = SqliteStorage::connect(&url)
            .await
            .with_context(|| format!("opening the SQLite database {named}"))?;
        if new {
            // A relative database.url is read from the working directory: run from elsewhere, a command
            // would quietly work on a shop of its own.
            warn!(
                file = %named,
                "there was no database here: a new, empty one is made (if the shop has one elsewhere, run \
                 leadgate from the shop's directory or give database.url an absolute path)"
            );
        }
        return Ok(Arc::new(storage));
    }
    if database.is_postgres() {
        let url = database.connect_url()?;
        let pool = PoolSettings {
            max_connections: database.max_connections.max(1),
            acquire_timeout: Duration::from_secs(database.acquire_timeout_secs.max(1)),
        };
        let storage = PgStorage::connect_with(&url, pool)
            .await
            .context("opening the PostgreSQL database")?;
        return Ok(Arc::new(storage));
    }
    anyhow::bail!(crate::config::UNSUPPORTED_DATABASE_URL)
}

/// Whether an error of [`open_storage`] (or of anything that opens it) says the database cannot be reached
/// right now, rather than that it refuses (wrong password, no such database) or fails.
pub fn is_unavailable(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<StorageError>(),
            Some(StorageError::Unavailable(_))
        )
    })
}

/// The file a `sqlite:` URL names (as written: relative to the working directory unless absolute); `None`
/// for another URL or an in-memory database.
fn sqlite_file(url: &str) -> Option<&std::path::Path> {
    url.strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .filter(|p| !p.starts_with(":memory:"))
        .map(|p| std::path::Path::new(p.split('?').next().unwrap_or_default()))
}

/// The data directory, where leadgate keeps its own files (the generated `secret.key`, the first start's
/// secrets): with SQLite the database file's directory; with PostgreSQL `database.data_dir`, else `data`
/// (relative to the working directory).
pub fn data_dir(settings: &Settings) -> std::path::PathBuf {
    if settings.database.is_postgres() {
        return settings
            .database
            .data_dir
            .clone()
            .unwrap_or_else(|| std::path::PathBuf::from(crate::config::DEFAULT_DATA_DIR));
    }
    sqlite_file(&settings.database.url)
        .and_then(std::path::Path::parent)
        .filter(|d| !d.as_os_str().is_empty())
        .map_or_else(
            || std::path::PathBuf::from("."),
            std::path::Path::to_path_buf,
        )
}

/// The data directory, made (readable by its owner only) when missing: the SQLite backend makes its own,
/// nothing else makes PostgreSQL's.
fn ensure_data_dir(settings: &Settings) -> anyhow::Result<std::path::PathBuf> {
    let dir = data_dir(settings);
    if !dir.exists() {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder
            .create(&dir)
            .with_context(|| format!("creating the data directory {}", dir.display()))?;
    }
    Ok(dir)
}

impl Services {
    /// Opens storage, runs migrations, upserts the configured calendars, sources and collectors, and starts
    /// the intake pipeline. Accounts are left to [`Services::provision_accounts`].
    ///
    /// # Errors
    /// Database errors, a bad time zone, or a secret the configuration names but the environment lacks.
    #[instrument(skip_all)]
    pub async fn open(settings: Settings) -> anyhow::Result<Self> {
        let storage = open_storage(&settings).await?;
        provision(storage.as_ref(), &settings).await?;
        let intake_settings = IntakeSettings {
            timezone: settings.tz()?,
            max_body_bytes: settings.limits.max_body_bytes,
            group_commit: settings.intake.group_commit,
            max_batch: settings.intake.max_batch,
        };
        let (mut intake, writer) = Intake::new(storage.clone(), intake_settings);
        let live = crate::live::LiveHub::new(storage.clone());
        intake.set_live(live.clone());
        let intake = Arc::new(intake);
        let job = Arc::new(MailCollectorJob::new(CollectorEnv {
            storage: storage.clone(),
            intake: intake.clone(),
            max_message_bytes: settings.limits.max_message_bytes,
            timeout: Duration::from_secs(settings.limits.mail_timeout_secs.max(1)),
            run_deadline: Duration::from_secs(settings.limits.collector_run_deadline_secs.max(1)),
            secrets: Arc::new(
                crate::secrets::SecretBox::load(&settings.secrets, &ensure_data_dir(&settings)?)
                    .context("loading the [secrets] key")?,
            ),
        }));
        Ok(Self {
            storage,
            intake,
            job,
            settings: Arc::new(settings),
            writer,
            live,
            first_start: FirstStart::default(),
        })
    }

    /// Provisions the accounts: the configured administrator's API token, and on a fresh database the user
    /// `admin` with a generated web UI password and API token, and the HTTP source "website" when the
    /// configuration names none. The generated secrets land in [`Services::first_start`], for the caller to
    /// show once.
    ///
    /// Only the commands that show them call this (`serve`, `users add`): a `collect` run from cron on a
    /// fresh database would otherwise make secrets nobody ever sees, and the first `serve` would find the
    /// administrator already made.
    ///
    /// # Errors
    /// Database errors, or an admin token the configuration names but the environment lacks.
    pub async fn provision_accounts(&mut self) -> anyhow::Result<()> {
        self.first_start = provision_accounts(self.storage.as_ref(), &self.settings).await?;
        Ok(())
    }
}

/// Applies the configuration file to the records it declares: upserts the calendars (the default calendar
/// among them), HTTP sources and collectors. Records made in the web UI are left as they are; `serve` then
/// retires what the file no longer declares ([`retire_undeclared`]).
async fn provision(storage: &dyn Storage, settings: &Settings) -> anyhow::Result<()> {
    // What exists before the file is applied: a record it makes is the file's from then on, while one made in
    // the UI becomes the file's only at `serve`'s start (retire_undeclared), never by a one-shot command that
    // may run with another file.
    let existing = warn_of_takeovers(storage, settings).await?;
    // The reports' daily counts, in the shop's days: rebuilt once when the zone is new to the database.
    let zone = settings.tz()?;
    if storage.use_report_zone(zone).await? {
        tracing::info!(%zone, "reports: the daily counts are kept in the shop's days");
    }
    let configured_default = storage
        .upsert_calendar(&settings.default_calendar, None)
        .await?;
    let default_calendar = crate::intake::default_calendar_id(storage, settings)
        .await?
        .unwrap_or(configured_default);
    for calendar in &settings.calendars {
        storage
            .upsert_calendar(&calendar.name, calendar.owner.as_deref())
            .await?;
    }
    let calendars = storage.calendars().await?;
    for calendar in &settings.calendars {
        if let Some(stored) = calendars.iter().find(|c| c.name == calendar.name) {
            let notifications = leadgate_storage::CalendarNotifications {
                notify_owner: calendar.notify_owner,
                addresses: calendar
                    .notify
                    .iter()
                    .map(|a| a.trim().to_lowercase())
                    .collect(),
            };
            storage
                .set_calendar_notifications(stored.id, &notifications)
                .await?;
        }
    }
    let calendar_id = |name: Option<&str>| -> anyhow::Result<i64> {
        match name {
            None => Ok(default_calendar),
            Some(name) => calendars
                .iter()
                .find(|c| c.name == name)
                .map(|c| c.id)
                .with_context(|| format!("calendar {name:?} is not defined in [[calendars]]")),
        }
    };
    if let Some(shared) = settings.shared_source_tokens().into_iter().next() {
        anyhow::bail!(shared);
    }
    for source in &settings.http_sources {
        let token = read_token(source.token_env.as_deref(), source.token_file.as_deref())
            .with_context(|| format!("reading the token of HTTP source {:?}", source.name))?;
        if token.is_none() {
            warn!(source = %source.name, "HTTP source has neither token_env nor token_file; it keeps its stored token");
        }
        let record = source.to_record(calendar_id(source.calendar.as_deref())?);
        storage
            .upsert_http_source(&record, token.as_deref().map(tokens::hash).as_deref())
            .await?;
    }
    for c in &settings.collectors {
        if c.protocol == Protocol::Pop3
            && matches!(c.after_import, AfterImport::Seen | AfterImport::Move)
        {
            warn!(collector = %c.name, "POP3 has no flags or folders: after_import seen/move keeps the messages");
        }
        if c.insecure_skip_verify {
            warn!(collector = %c.name, "insecure_skip_verify is on: the mail server's certificate is not checked");
        }
        let record = c.to_record(calendar_id(c.calendar.as_deref())?);
        storage.upsert_collector(&record).await?;
    }
    // The records the file made are the file's from the start that made them, a one-shot command's too:
    // later starts do not take them for the UI's (warn_of_takeovers), and the UI shows them as the file's.
    let declared = declared(settings);
    let new = |declared: Vec<String>, existing: &[String]| -> Vec<String> {
        declared
            .into_iter()
            .filter(|name| !existing.contains(name))
            .collect()
    };
    let made = FileRecords {
        calendars: new(declared.calendars, &existing.calendars),
        http_sources: new(declared.http_sources, &existing.http_sources),
        collectors: new(declared.collectors, &existing.collectors),
    };
    storage.claim_declared(&made).await?;
    Ok(())
}

/// The records the configuration file declares, by name.
fn declared(settings: &Settings) -> FileRecords {
    FileRecords {
        calendars: std::iter::once(settings.default_calendar.clone())
            .chain(settings.calendars.iter().map(|c| c.name.clone()))
            .collect(),
        http_sources: settings
            .http_sources
            .iter()
            .map(|s| s.name.clone())
            .collect(),
        collectors: settings.collectors.iter().map(|c| c.name.clone()).collect(),
    }
}

/// Marks the records the configuration file declares as the file's, and retires those it managed and no
/// longer declares (see [`Storage::manage_by_file`]). Only `serve` does this, at its start: a one-shot command
/// (`collect`, `import`, `personal-data`, `users`) may run with another configuration, or with none, from
/// cron or by hand beside the running instances, and must not take their sites' tokens or collectors away.
async fn retire_undeclared(storage: &dyn Storage, settings: &Settings) -> anyhow::Result<()> {
    let retired = storage.manage_by_file(&declared(settings)).await?;
    if !retired.is_empty() {
        warn!(
            collectors_marked_deleted = ?retired.collectors,
            http_sources_revoked = ?retired.http_sources,
            calendars_deleted = ?retired.calendars_deleted,
            calendars_handed_to_ui = ?retired.calendars_released,
            "records removed from the configuration file were retired"
        );
    }
    Ok(())
}

/// Warns of each record made in the web UI that the file now declares too (from this start on it is the
/// file's, and the file's values replace the UI's); returns the names of the records that exist, read once for
/// both.
async fn warn_of_takeovers(
    storage: &dyn Storage,
    settings: &Settings,
) -> anyhow::Result<FileRecords> {
    let calendars = storage.calendars().await?;
    let sources = storage.http_sources().await?;
    let collectors = storage.collectors(true).await?;
    let managed = storage.managed_by_file().await?;
    // The default calendar is the file's after any start: with none of the file's yet, this is a new database,
    // or the first start since records became the file's, when every configured record is still unmarked.
    if !managed.calendars.is_empty() {
        let declared_calendars: Vec<&str> = std::iter::once(settings.default_calendar.as_str())
            .chain(settings.calendars.iter().map(|c| c.name.as_str()))
            .collect();
        for c in &calendars {
            if declared_calendars.contains(&c.name.as_str()) && !managed.calendars.contains(&c.id) {
                warn!(calendar = %c.name, "a calendar made in the web UI is now managed by the configuration file");
            }
        }
        for s in &sources {
            if settings
                .http_sources
                .iter()
                .any(|d| d.name == s.source.name)
                && !managed.http_sources.contains(&s.source.id)
            {
                warn!(source = %s.source.name, "an HTTP source made in the web UI is now managed by the configuration file");
            }
        }
        for c in &collectors {
            if settings.collectors.iter().any(|d| d.name == c.name)
                && !managed.collectors.contains(&c.id)
            {
                warn!(collector = %c.name, "a collector made in the web UI is now managed by the configuration file");
            }
        }
    }
    Ok(FileRecords {
        calendars: calendars.into_iter().map(|c| c.name).collect(),
        http_sources: sources.into_iter().map(|s| s.source.name).collect(),
        collectors: collectors.into_iter().map(|c| c.name).collect(),
    })
}

/// See [`Services::provision_accounts`].
async fn provision_accounts(
    storage: &dyn Storage,
    settings: &Settings,
) -> anyhow::Result<FirstStart> {
    let mut first = FirstStart::default();
    // The first start is the one that creates the administrator, with a generated web UI password shown once.
    // Instances started at once on an empty database all find no administrator, but only one of them creates the
    // login; the others start as any later start does, so no secrets are shown that are not the stored ones.
    let mut created_admin = None;
    if !storage.has_admin().await? {
        let password = crate::password::generate();
        let hash = crate::password::hash(password.clone()).await?;
        match storage
            .create_user("admin", "admin", Role::Admin, Some(&hash))
            .await
        {
            Ok(id) => {
                created_admin = Some(id);
                first.admin_password = Some(password);
            }
            Err(StorageError::Conflict(_)) => {
                info!("another instance made the first start's administrator");
            }
            Err(e) => return Err(e.into()),
        }
    }
    let is_first_start = created_admin.is_some();
    let admin_token = read_token(
        settings.server.admin_token_env.as_deref(),
        settings.server.admin_token_file.as_deref(),
    )
    .context("reading the admin token")?;
    if admin_token.is_some() || is_first_start {
        let admin = match created_admin {
            Some(id) => id,
            None => storage.upsert_user("admin", Role::Admin, None).await?,
        };
        match admin_token {
            // The configured token replaces whichever was configured before.
            Some(token) => {
                let works = storage
                    .provision_configured_token(Some((admin, &tokens::hash(&token))))
                    .await?;
                if !works {
                    warn!(
                        "the administrator's configured API token (server.admin_token_env / admin_token_file) \
                         was revoked with `leadgate tokens revoke` or a new password of its user, and stays \
                         revoked: configure a new token to use one"
                    );
                }
            }
            None => {
                let token = tokens::generate();
                storage
                    .create_api_token(admin, "first start", &tokens::hash(&token))
                    .await?;
                first.admin_token = Some(token);
            }
        }
    } else {
        // No token configured (any more): a previously configured one stops working.
        storage.provision_configured_token(None).await?;
    }
    if is_first_start && settings.http_sources.is_empty() {
        let token = tokens::generate();
        let website = HttpSourceConfig {
            name: "website".to_owned(),
            ..HttpSourceConfig::default()
        };
        let record = website.to_record(
            crate::intake::default_calendar_id(storage, settings)
                .await?
                .context("the default calendar is missing")?,
        );
        storage
            .upsert_http_source(&record, Some(&tokens::hash(&token)))
            .await?;
        first.source_token = Some(token);
    }
    Ok(first)
}

/// The longest pause between two tries to open the database while `serve` waits for it at start.
pub const WAIT_FOR_DATABASE_MAX: Duration = Duration::from_secs(10);

/// Stops the waiting server before an error ends the start.
async fn break_with_error(
    stop: &CancellationToken,
    waiting: Option<JoinHandle<()>>,
) -> anyhow::Result<()> {
    stop.cancel();
    if let Some(waiting) = waiting {
        waiting.await.context("the waiting HTTP server panicked")?;
    }
    Ok(())
}

/// The server: HTTP and (with the mail channel) the scheduler, under one supervisor.
pub struct Application {
    listener: TcpListener,
    metrics_listener: Option<TcpListener>,
    services: Services,
}

impl Application {
    /// Opens everything and takes the bound listener.
    ///
    /// # Errors
    /// See [`Services::open`].
    pub async fn build(settings: Settings, listener: TcpListener) -> anyhow::Result<Self> {
        let metrics_listener = match settings.server.metrics_listen {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("binding server.metrics_listen {addr}"))?,
            ),
            None => None,
        };
        let mut services = Services::open(settings).await?;
        retire_undeclared(services.storage.as_ref(), &services.settings).await?;
        services.provision_accounts().await?;
        Ok(Self {
            listener,
            metrics_listener,
            services,
        })
    }

    /// Like [`Application::build`], for `serve`: when the database cannot be reached at start, it does not
    /// give up. Until the database answers, the listener answers as [`crate::router::waiting_router`] does
    /// (`/healthz` 200, everything else 503 with `Retry-After`), and the start is tried again with a growing
    /// pause (up to [`WAIT_FOR_DATABASE_MAX`]). `Ok(None)` when `shutdown` completes before the database
    /// answered.
    ///
    /// # Errors
    /// Anything but an unreachable database that stops [`Application::build`]: a wrong password, a database
    /// that does not exist, a bad configuration value.
    pub async fn build_waiting(
        settings: Settings,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send,
    ) -> anyhow::Result<Option<Self>> {
        let listener = listener.into_std()?;
        let stop_waiting = CancellationToken::new();
        let mut waiting: Option<JoinHandle<()>> = None;
        let mut pause = Duration::from_millis(250);
        tokio::pin!(shutdown);
        let built = loop {
            let clone = listener.try_clone()?;
            match Self::build(settings.clone(), TcpListener::from_std(clone)?).await {
                Ok(app) => break Some(app),
                Err(e) if is_unavailable(&e) => {
                    warn!(
                        error = %format!("{e:#}"),
                        retry_in_ms = pause.as_millis(),
                        "the database cannot be reached: answering 503 until it can"
                    );
                    if waiting.is_none() {
                        let limits = http::serve::ConnectionLimits::from_settings(&settings.server);
                        waiting = Some(tokio::spawn(http::serve::serve(
                            TcpListener::from_std(listener.try_clone()?)?,
                            crate::router::waiting_router(),
                            limits,
                            stop_waiting.clone(),
                        )));
                    }
                }
                Err(e) => {
                    break_with_error(&stop_waiting, waiting.take()).await?;
                    return Err(e);
                }
            }
            tokio::select! {
                () = &mut shutdown => break None,
                () = tokio::time::sleep(pause) => {}
            }
            pause = (pause * 2).min(WAIT_FOR_DATABASE_MAX);
        };
        stop_waiting.cancel();
        if let Some(waiting) = waiting {
            waiting.await.context("the waiting HTTP server panicked")?;
            if built.is_some() {
                info!("the database answers: leadgate starts");
            }
        }
        Ok(built)
    }

    /// The address `/metrics` is served on when `server.metrics_listen` gives it one of its own.
    ///
    /// # Errors
    /// The socket has no local address.
    pub fn metrics_addr(&self) -> std::io::Result<Option<std::net::SocketAddr>> {
        self.metrics_listener
            .as_ref()
            .map(TcpListener::local_addr)
            .transpose()
    }

    /// The address the server listens on.
    ///
    /// # Errors
    /// The socket has no local address.
    pub fn local_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.listener.local_addr()
    }

    /// The services, e.g. to read the first-start secrets.
    pub fn services(&self) -> &Services {
        &self.services
    }

    /// Serves until `shutdown` completes, then drains in-flight requests and the intake writer.
    ///
    /// # Errors
    /// The server fails.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Services {
            storage,
            intake,
            job,
            settings,
            writer,
            live,
            ..
        } = self.services;
        let tz = settings.tz()?;
        // The schedule in force: the configuration's, else the one saved in the UI. One in the file that
        // cannot be used stops the start, as any bad configuration value does.
        let cron = crate::admin_settings::load(storage.as_ref(), &settings)
            .await?
            .schedule(tz)
            .context("schedule.mail_collector.cron")?;
        job.set_schedule(cron);
        let metrics_token = read_token(
            settings.server.metrics_token_env.as_deref(),
            settings.server.metrics_token_file.as_deref(),
        )
        .context("reading the metrics token")?;
        let metrics =
            http::MetricsAccess::new(crate::telemetry::prometheus(), metrics_token.as_deref());
        let push = Arc::new(crate::push::PushStatuses::default());
        let state = AppState {
            storage: storage.clone(),
            intake,
            job: job.clone(),
            settings: settings.clone(),
            sources: Arc::default(),
            rate_limiter: Arc::default(),
            metrics: crate::telemetry::prometheus(),
            live: live.clone(),
            push: push.clone(),
        };
        let router = crate::router::router(
            state,
            self.metrics_listener.is_none().then(|| metrics.clone()),
        );
        info!(addr = %self.listener.local_addr()?, "leadgate listening");

        // The HTTP server and the scheduler are supervised together: the shutdown signal, or the end of
        // either task, stops both; each exit is reported.
        let stop = CancellationToken::new();
        let limits = http::serve::ConnectionLimits::from_settings(&settings.server);
        let server = tokio::spawn(http::serve::serve(
            self.listener,
            router,
            limits,
            stop.clone(),
        ));
        let metrics_server = self.metrics_listener.map(|listener| {
            if let Ok(addr) = listener.local_addr() {
                info!(%addr, "metrics listening");
            }
            tokio::spawn(http::serve::serve(
                listener,
                http::metrics_router(metrics),
                limits,
                stop.clone(),
            ))
        });
        let pusher = tokio::spawn(
            crate::push::PushSupervisor::new(job.clone(), push.clone()).run(stop.clone()),
        );
        let webhook_secrets = Arc::new(job.secrets().clone());
        let scheduler = tokio::spawn({
            let stop = stop.clone();
            async move { job.run_scheduled(tz, stop).await }
        });
        let downloader = if settings.layout_files.enabled {
            let downloader = crate::layout_files::LayoutFileDownloader::new(
                storage.clone(),
                &settings.layout_files,
            )
            .context("building the layout file downloader")?;
            let stop = stop.clone();
            Some(tokio::spawn(async move { downloader.run(stop).await }))
        } else {
            info!("the download of layout files is switched off");
            None
        };
        let dispatcher = if settings.webhooks.enabled {
            let document: crate::webhooks::LeadDocument = Arc::new(|lead| {
                serde_json::to_value(http::dto::LeadView::from(lead)).unwrap_or_default()
            });
            let dispatcher = crate::webhooks::WebhookDispatcher::new(
                storage.clone(),
                webhook_secrets,
                &settings.webhooks,
                document,
            )
            .context("building the webhook dispatcher")?;
            let stop = stop.clone();
            let hub = live.clone();
            Some(tokio::spawn(async move { dispatcher.run(stop, hub).await }))
        } else {
            info!("this instance does not deliver webhooks ([webhooks] enabled = false)");
            None
        };
        let notifier = if settings.notifications.enabled {
            match crate::notifications::NotificationSender::new(
                storage.clone(),
                &settings.notifications,
                settings.server.public_url.as_deref(),
            )
            .context("building the notification sender")?
            {
                Some(sender) => {
                    let stop = stop.clone();
                    Some(tokio::spawn(async move { sender.run(stop).await }))
                }
                None => {
                    info!(
                        "no SMTP server is configured ([notifications] smtp_host): e-mail notifications wait in the database"
                    );
                    None
                }
            }
        } else {
            info!(
                "this instance does not send e-mail notifications ([notifications] enabled = false)"
            );
            None
        };
        // Follow-ups falling due, told to their owners' pages open on this instance (each instance tells its
        // own pages, so none needs to claim them).
        let due_announcer = tokio::spawn(
            crate::live::DueAnnouncer::new(storage.clone(), live.clone(), chrono::Utc::now())
                .run(stop.clone()),
        );
        let trigger = stop.clone();
        tokio::spawn(async move {
            shutdown.await;
            trigger.cancel();
        });
        // What the other instances on the database commit reaches this instance's open pages too.
        live.listen(storage.clone());
        // Live streams never end by themselves: they end at shutdown, so their connections can close.
        tokio::spawn({
            let stop = stop.clone();
            async move {
                stop.cancelled().await;
                live.close();
            }
        });
        let server = server.await;
        stop.cancel();
        let scheduler = scheduler.await;
        server.context("HTTP server task panicked")?;
        if let Some(metrics_server) = metrics_server {
            metrics_server
                .await
                .context("metrics server task panicked")?;
        }
        scheduler.context("scheduler task panicked")?;
        pusher.await.context("push supervisor task panicked")?;
        due_announcer
            .await
            .context("follow-up announcer task panicked")?;
        if let Some(downloader) = downloader {
            downloader
                .await
                .context("layout file downloader task panicked")?;
        }
        if let Some(dispatcher) = dispatcher {
            dispatcher
                .await
                .context("webhook dispatcher task panicked")?;
        }
        if let Some(notifier) = notifier {
            notifier
                .await
                .context("notification sender task panicked")?;
        }
        // Every `Intake` clone is gone now: the writer commits what is queued and ends.
        if let Some(writer) = writer {
            writer.await.context("intake writer panicked")?;
        }
        info!("leadgate stopped");
        Ok(())
    }
}
