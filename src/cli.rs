//! The `leadgate` command line. `main` parses it and calls [`run`]; every command goes through the same
//! [`Services`] as the server.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::Utc;
use clap::{Parser, Subcommand};

use crate::config::Settings;
use crate::intake::mail::{MailRules, content_key, submission_for};
use crate::startup::{Application, Services};
use crate::web::fmt::shortened;
use leadgate_domain::account::{Name, Role};
use leadgate_storage::{
    Disposition, LeadFilter, LedgerEntry, PageRequest, SourceRef, StoredRaw, Submission,
    SubmitOutcome, content_hash,
};

/// leadgate: leads and orders from print shops' websites into managers' calendars.
#[derive(Debug, Parser)]
#[command(name = "leadgate", version, about)]
pub struct Cli {
    /// Configuration file (TOML). Environment variables `LEADGATE__<SECTION>__<KEY>` override it.
    #[arg(long, global = true, env = "LEADGATE_CONFIG")]
    pub config: Option<PathBuf>,
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP API and UI, and run the scheduled jobs.
    Serve,
    /// One run of the mail collector job, with a summary per collector. Exit code 1 if any collector failed.
    Collect {
        /// Only this collector.
        #[arg(long)]
        collector: Option<String>,
    },
    /// Import JSON payloads or .eml files by hand.
    Import {
        /// Files to import.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Parse a payload and report what leadgate reads in it; stores nothing. Exit code 1 when rejected.
    Check {
        /// The JSON payload (or .eml) to check.
        file: PathBuf,
    },
    /// Write the site-style ORDER e-mail for a payload to stdout (for site developers).
    MakeEml {
        /// The JSON payload (UTF-8 or Windows-1251).
        payload: PathBuf,
        /// The number after ORDER in the subject (default: the number in Тема, else 1).
        #[arg(long)]
        number: Option<String>,
        /// From address.
        #[arg(long, default_value = "Website <noreply@shop.example>")]
        from: String,
        /// To address (the collector's mailbox).
        #[arg(long, default_value = "orders@shop.example")]
        to: String,
    },
    /// List or show leads.
    Leads {
        /// list or show.
        #[command(subcommand)]
        action: LeadsCommand,
    },
    /// Find or erase everything held about one person (152-ФЗ), by exactly one of --phone, --email, --inn.
    PersonalData {
        /// find or erase.
        #[command(subcommand)]
        action: PersonalDataCommand,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Inspect the configuration.
    Config {
        /// check.
        #[command(subcommand)]
        action: ConfigCommand,
    },
    /// Manage the users of the web UI.
    Users {
        /// add, disable or enable.
        #[command(subcommand)]
        action: UsersCommand,
    },
    /// List, create or revoke API tokens.
    Tokens {
        /// list, create or revoke.
        #[command(subcommand)]
        action: TokensCommand,
    },
    /// Back up the database, or copy it whole to another database.
    Db {
        /// backup or copy.
        #[command(subcommand)]
        action: DbCommand,
    },
}

/// `db` subcommands.
#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Write a consistent copy of the SQLite database of database.url to a new FILE, while `serve` goes on
    /// running. (A PostgreSQL database is backed up with pg_dump.) Restore: stop leadgate and put the file in
    /// place of the database file, or `db copy --from sqlite://FILE --to URL`.
    Backup {
        /// The backup file to write; it must not exist.
        file: PathBuf,
    },
    /// Copy a whole database (SQLite or PostgreSQL) into an empty one (SQLite or PostgreSQL), every id kept,
    /// and verify each table's row count and checksum. Stop leadgate on the source first: what arrives during
    /// the copy stays behind. Passwords in the URLs are never printed.
    Copy {
        /// The database to copy: sqlite://PATH or postgres://USER:PASSWORD@HOST:PORT/DATABASE.
        #[arg(long, env = "LEADGATE_COPY_FROM", hide_env_values = true)]
        from: String,
        /// The empty database to copy into (created and migrated when missing).
        #[arg(long, env = "LEADGATE_COPY_TO", hide_env_values = true)]
        to: String,
    },
}

/// `config` subcommands.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the effective configuration, secrets redacted, with where each value came from (file,
    /// environment, default), and check it: exit code 1 on any problem (an unreadable secret, a calendar
    /// not defined, a bad cron expression), 2 when it cannot be loaded (an unknown key, a malformed value).
    Check,
}

/// `tokens` subcommands.
#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// Every API token: id, owner, name, when created and revoked (never the token, which is not stored).
    List,
    /// Make an API token for a user (for their scripts: it reaches what the user sees). The token is printed
    /// once, alone on stdout; only its hash is stored.
    Create {
        /// The user's login.
        login: String,
        /// What the token is for, shown by `tokens list`.
        #[arg(long, default_value = "cli")]
        name: String,
    },
    /// Revoke a token by its id (from `tokens list`).
    Revoke {
        /// Token id.
        id: i64,
    },
}

/// `users` subcommands.
#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Create a user, or set the role and password of an existing one. The password is read from the
    /// LEADGATE_NEW_PASSWORD environment variable, else from the first line of standard input.
    Add {
        /// Login.
        login: String,
        /// Role: admin or manager.
        #[arg(long, default_value = "manager", value_parser = ["admin", "manager"])]
        role: String,
        /// Name shown in the UI (default: the login).
        #[arg(long)]
        name: Option<String>,
        /// E-mail address for notifications of new leads in the user's calendars.
        #[arg(long)]
        email: Option<String>,
    },
    /// Set (or with --clear remove) the e-mail address notifications of new leads go to.
    Email {
        /// Login.
        login: String,
        /// The address.
        #[arg(required_unless_present = "clear")]
        address: Option<String>,
        /// Remove the address.
        #[arg(long, conflicts_with = "address")]
        clear: bool,
    },
    /// Take a user's access away: no sign-in, sessions ended, API tokens and calendar feed key refused.
    Disable {
        /// Login.
        login: String,
    },
    /// Give a disabled user their access back.
    Enable {
        /// Login.
        login: String,
    },
}

/// Whose data: exactly one of these.
#[derive(Debug, clap::Args)]
pub struct PersonArgs {
    /// A phone number, written any way (matched in E.164).
    #[arg(long)]
    phone: Option<String>,
    /// An e-mail address (any case).
    #[arg(long)]
    email: Option<String>,
    /// An INN (its digits).
    #[arg(long)]
    inn: Option<String>,
}

/// `personal-data` subcommands.
#[derive(Debug, Subcommand)]
pub enum PersonalDataCommand {
    /// List the leads, ledger records, counterparties and contacts held about the person; changes nothing.
    Find {
        /// Whose.
        #[command(flatten)]
        person: PersonArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Erase or anonymise all of it, and record the erasure (ids and counts, never the data) in the audit.
    Erase {
        /// Whose.
        #[command(flatten)]
        person: PersonArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `leads` subcommands.
#[derive(Debug, Subcommand)]
pub enum LeadsCommand {
    /// Newest leads first.
    List {
        /// Calendar id or name.
        #[arg(long)]
        calendar: Option<String>,
        /// Status.
        #[arg(long, value_parser = ["new", "in_progress", "done", "rejected"])]
        status: Option<String>,
        /// Kind.
        #[arg(long, value_parser = ["contact", "order"])]
        kind: Option<String>,
        /// Text search.
        #[arg(long)]
        search: Option<String>,
        /// How many, 1 to 500.
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=500))]
        limit: u32,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// One lead.
    Show {
        /// Lead id.
        id: i64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Runs the command; returns the process exit code.
///
/// # Errors
/// Anything that stops the command from completing (bad config, database unreachable).
pub async fn run(cli: Cli) -> anyhow::Result<i32> {
    if let Some(Command::Config {
        action: ConfigCommand::Check,
    }) = &cli.command
    {
        return config_check(cli.config.as_deref());
    }
    let settings = Settings::load(cli.config.as_deref())?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings).await,
        Command::Collect { collector } => collect(settings, collector.as_deref()).await,
        Command::Import { files } => import(settings, &files).await,
        Command::Check { file } => check(&settings, &file),
        Command::MakeEml {
            payload,
            number,
            from,
            to,
        } => make_eml(&payload, number, &from, &to),
        Command::Leads { action } => leads(settings, action).await,
        Command::Users { action } => users(settings, action).await,
        Command::PersonalData { action } => personal_data(settings, action).await,
        Command::Tokens { action } => api_tokens(settings, action).await,
        Command::Db {
            action: DbCommand::Backup { file },
        } => crate::db_commands::backup(&settings, &file).await,
        Command::Db {
            action: DbCommand::Copy { from, to },
        } => crate::db_commands::copy(&from, &to).await,
        Command::Config { .. } => config_check(cli.config.as_deref()),
        Command::Migrate => {
            crate::startup::open_storage(&settings).await?;
            say!("migrations applied")?;
            Ok(0)
        }
    }
}

async fn serve(settings: Settings) -> anyhow::Result<i32> {
    let listener = tokio::net::TcpListener::bind(settings.server.listen)
        .await
        .with_context(|| format!("binding {}", settings.server.listen))?;
    // An unreachable database does not stop the start: the server answers 503 until it can open it.
    let Some(app) = Application::build_waiting(settings, listener, shutdown_signal()).await? else {
        return Ok(0);
    };
    show_first_start(&app.services().first_start, &app.services().settings)?;
    app.run_until(shutdown_signal()).await?;
    Ok(0)
}

/// Shows the secrets of the first start, once; they are never logged. On a terminal they are printed; otherwise
/// (a service manager or a container runtime that keeps stdout in a journal) they go to a file readable only by
/// this user in the data directory, and stdout names the file.
fn show_first_start(first: &crate::startup::FirstStart, settings: &Settings) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    if first.admin_token.is_none() && first.source_token.is_none() && first.admin_password.is_none()
    {
        return Ok(());
    }
    let mut secrets = Vec::new();
    if let Some(t) = &first.admin_token {
        writeln!(secrets, "  admin API token:           {t}")?;
    }
    if let Some(t) = &first.source_token {
        writeln!(secrets, "  HTTP source \"website\" token: {t}")?;
    }
    if let Some(p) = &first.admin_password {
        writeln!(secrets, "  web UI login \"admin\", password: {p}")?;
    }
    let mut out = std::io::stdout().lock();
    if out.is_terminal() {
        writeln!(
            out,
            "leadgate: first start. Keep these tokens; they are shown only now."
        )?;
        out.write_all(&secrets)?;
    } else {
        let path = std::path::absolute(crate::startup::data_dir(settings).join(FIRST_START_FILE))?;
        write_private(&path, &secrets)
            .with_context(|| format!("writing the first-start secrets to {}", path.display()))?;
        writeln!(
            out,
            "leadgate: first start. The administrator's token and password are in {} (readable only by this \
             user); keep them elsewhere and delete the file.",
            path.display()
        )?;
    }
    out.flush()?;
    Ok(())
}

/// Where the first start leaves its secrets when stdout is not a terminal, in the data directory.
pub const FIRST_START_FILE: &str = "first-start-secrets.txt";

/// Writes a file only its owner may read (mode 0600, also when it existed already).
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        let file = options.open(path)?;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        let mut file = file;
        file.write_all(bytes)?;
        file.sync_all()
    }
    #[cfg(not(unix))]
    {
        let mut file = options.open(path)?;
        file.write_all(bytes)?;
        file.sync_all()
    }
}

/// `users add`: creates a user or sets its role and password. It provisions the accounts like `serve` does, so
/// on a fresh database the first-start secrets are made and shown here.
async fn users(settings: Settings, action: UsersCommand) -> anyhow::Result<i32> {
    let (login, role, name, email) = match action {
        UsersCommand::Add {
            login,
            role,
            name,
            email,
        } => (login, role, name, email),
        UsersCommand::Email {
            login,
            address,
            clear: _,
        } => return set_email(settings, &login, address.as_deref()).await,
        UsersCommand::Disable { login } => return set_disabled(settings, &login, true).await,
        UsersCommand::Enable { login } => return set_disabled(settings, &login, false).await,
    };
    if Name::parse(&login).is_err() {
        anyhow::bail!("a login is 1 to 64 letters, digits and . _ - @");
    }
    if let Some(email) = email.as_deref().filter(|e| !crate::config::valid_email(e)) {
        anyhow::bail!("--email: {email:?} is not an e-mail address");
    }
    let role: Role = role
        .parse()
        .map_err(|e| anyhow::anyhow!("--role: {e}; use admin or manager"))?;
    let password = match std::env::var("LEADGATE_NEW_PASSWORD") {
        Ok(p) if !p.is_empty() => p,
        _ => {
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .context("reading the password from standard input")?;
            line.trim_end_matches(['\r', '\n']).to_owned()
        }
    };
    if password.chars().count() < crate::password::MIN_LENGTH {
        anyhow::bail!(
            "the password must be at least {} characters (LEADGATE_NEW_PASSWORD or the first line of stdin)",
            crate::password::MIN_LENGTH
        );
    }
    let mut services = Services::open(settings).await?;
    services.provision_accounts().await?;
    show_first_start(&services.first_start, &services.settings)?;
    let hash = crate::password::hash(password).await?;
    let storage = &services.storage;
    let (id, verb) = match storage.user_credentials(&login).await? {
        Some(user) => {
            storage
                .update_user(user.id, Some(role), Some(&hash))
                .await?;
            // An account with no password yet (a calendar owner the configuration named) is created here
            // as far as its user can tell: it could not sign in before.
            let verb = if user.password_hash.is_some() {
                "updated"
            } else {
                "created"
            };
            (user.id, verb)
        }
        None => {
            let name = name.unwrap_or_else(|| login.clone());
            let id = storage
                .create_user(&login, &name, role, Some(&hash))
                .await?;
            (id, "created")
        }
    };
    if let Some(email) = email.as_deref() {
        storage.set_user_email(id, Some(email.trim())).await?;
    }
    say!("user {login} {verb} ({})", role.as_str())?;
    finish(services).await?;
    Ok(0)
}

/// `personal-data find|erase`.
async fn personal_data(settings: Settings, action: PersonalDataCommand) -> anyhow::Result<i32> {
    let (person, json, erase) = match action {
        PersonalDataCommand::Find { person, json } => (person, json, false),
        PersonalDataCommand::Erase { person, json } => (person, json, true),
    };
    let query = leadgate_domain::personal_data::PersonDataQuery::from_fields(
        person.phone.as_deref(),
        person.email.as_deref(),
        person.inn.as_deref(),
    )
    .map_err(|e| anyhow::anyhow!("{e} (--phone, --email or --inn)"))?;
    let services = Services::open(settings).await?;
    let storage = services.storage.as_ref();
    if erase {
        let actor = leadgate_storage::ErasureActor {
            user_id: None,
            login: "command line".to_owned(),
            channel: "cli",
        };
        let record = crate::personal_data::erase(storage, &query, &actor).await?;
        if json {
            let json = crate::http::dto::ErasureRecord::from(record);
            say!("{}", serde_json::to_string_pretty(&json)?)?;
        } else {
            say!(
                "erasure {}: {} leads anonymised {:?}, {} ledger records stripped {:?}, {} counterparties deleted {:?}, \
                 {} renamed, {} contacts deleted",
                record.id,
                record.lead_ids.len(),
                record.lead_ids,
                record.message_ids.len(),
                record.message_ids,
                record.counterparty_ids.len(),
                record.counterparty_ids,
                record.renamed_counterparties,
                record.contacts
            )?;
        }
    } else {
        let found = crate::personal_data::find(storage, &query).await?;
        if json {
            let json = crate::http::dto::PersonalDataFound::from(found);
            say!("{}", serde_json::to_string_pretty(&json)?)?;
        } else {
            for lead in &found.leads {
                say!(
                    "lead {:>8}  {}  {}  {}",
                    lead.id,
                    lead.received_at.format("%Y-%m-%d %H:%M"),
                    lead.contact_person.as_deref().unwrap_or("-"),
                    lead.subject.as_deref().unwrap_or("-")
                )?;
            }
            say!("ledger records: {:?}", found.message_ids)?;
            for c in &found.counterparties {
                say!(
                    "counterparty {:>8}  {}  {} (deleted on erase)",
                    c.id,
                    c.inn,
                    c.name
                )?;
            }
            say!(
                "counterparties renamed on erase: {:?}; contacts deleted on erase: {}",
                found.renamed_counterparty_ids,
                found.contacts
            )?;
        }
    }
    finish(services).await?;
    Ok(0)
}

/// `users email`.
async fn set_email(settings: Settings, login: &str, address: Option<&str>) -> anyhow::Result<i32> {
    if let Some(address) = address.filter(|a| !crate::config::valid_email(a)) {
        anyhow::bail!("{address:?} is not an e-mail address");
    }
    let storage = crate::startup::open_storage(&settings).await?;
    let Some(user) = storage.user_credentials(login).await? else {
        eprintln!("leadgate: user {login} not found");
        return Ok(1);
    };
    storage
        .set_user_email(user.id, address.map(str::trim))
        .await?;
    match address {
        Some(address) => say!("user {login}: e-mail {}", address.trim().to_lowercase())?,
        None => say!("user {login}: e-mail removed")?,
    }
    Ok(0)
}

/// `users disable` / `users enable`.
async fn set_disabled(settings: Settings, login: &str, disabled: bool) -> anyhow::Result<i32> {
    let storage = crate::startup::open_storage(&settings).await?;
    let Some(user) = storage.user_credentials(login).await? else {
        eprintln!("leadgate: user {login} not found");
        return Ok(1);
    };
    storage.set_user_disabled(user.id, disabled).await?;
    say!(
        "user {login} {}",
        if disabled { "disabled" } else { "enabled" }
    )?;
    Ok(0)
}

/// `tokens list` / `tokens create` / `tokens revoke`.
async fn api_tokens(settings: Settings, action: TokensCommand) -> anyhow::Result<i32> {
    let storage = crate::startup::open_storage(&settings).await?;
    match action {
        TokensCommand::List => {
            // leadgate does not record when a token was last used (that would be a write per request).
            say!(
                "{:>5}  {:<20}  {:<16}  {:<16}  REVOKED",
                "ID",
                "OWNER",
                "NAME",
                "CREATED"
            )?;
            for t in storage.api_tokens().await? {
                say!(
                    "{:>5}  {:<20}  {:<16}  {:<16}  {}",
                    t.id,
                    shortened(&t.owner, 20),
                    shortened(&t.name, 16),
                    t.created_at.format("%Y-%m-%d %H:%M"),
                    t.revoked_at.map_or_else(
                        || "-".to_owned(),
                        |r| r.format("%Y-%m-%d %H:%M").to_string()
                    ),
                )?;
            }
            Ok(0)
        }
        TokensCommand::Create { login, name } => {
            let user = storage
                .users()
                .await?
                .into_iter()
                .find(|u| u.login == login);
            let Some(user) = user.filter(|u| !u.disabled) else {
                eprintln!("leadgate: no enabled user {login:?}");
                return Ok(1);
            };
            let token = crate::tokens::generate();
            storage
                .create_api_token(user.id, &name, &crate::tokens::hash(&token))
                .await?;
            tracing::info!(user = %login, name = %name, "API token created");
            eprintln!("API token {name:?} of {login} created; it is shown only now:");
            say!("{token}")?;
            Ok(0)
        }
        TokensCommand::Revoke { id } => {
            if storage.revoke_api_token(id).await? {
                say!("token {id} revoked")?;
                Ok(0)
            } else {
                eprintln!("leadgate: no active token {id}");
                Ok(1)
            }
        }
    }
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
    tracing::info!("shutdown requested");
}

fn is_eml(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("eml"))
}

async fn collect(settings: Settings, only: Option<&str>) -> anyhow::Result<i32> {
    let services = Services::open(settings).await?;
    let summaries = services.job.run_once(only).await?;
    let mut failed = false;
    say!(
        "{:<24} {:>9} {:>9} {:>9} {:>9}  ERROR",
        "COLLECTOR",
        "IMPORTED",
        "DUPLICATE",
        "SKIPPED",
        "REJECTED"
    )?;
    for s in &summaries {
        failed |= s.error.is_some();
        say!(
            "{:<24} {:>9} {:>9} {:>9} {:>9}  {}",
            shortened(&s.collector, 24),
            s.counts.imported,
            s.counts.duplicate,
            s.counts.skipped,
            s.counts.rejected,
            s.error.as_deref().unwrap_or("-")
        )?;
    }
    finish(services).await?;
    Ok(if failed { 1 } else { 0 })
}

/// Drops the pipeline, waits for its writer to commit what is queued, and then for the live hub to hand
/// what was committed to the other instances (their open pages show it), at most [`FLUSH_PATIENCE`].
async fn finish(services: Services) -> anyhow::Result<()> {
    let Services {
        intake,
        job,
        writer,
        live,
        ..
    } = services;
    drop((intake, job));
    if let Some(writer) = writer {
        writer.await?;
    }
    if tokio::time::timeout(FLUSH_PATIENCE, live.flush())
        .await
        .is_err()
    {
        tracing::warn!(
            "the live pages of the other instances may miss what this command committed: the relay is behind"
        );
    }
    Ok(())
}

/// How long a one-shot command waits at its end for the live relay (the database is slow or gone).
const FLUSH_PATIENCE: std::time::Duration = std::time::Duration::from_secs(10);

/// The most bytes `import` and `check` read of a file: four times `limits.max_message_bytes`, and at least
/// 64 MiB. A file over the message limit but within this is read and judged (rejected for its size, its
/// bytes kept for a reprocessing once the limit is raised); a bigger one, or a device such as `/dev/zero`,
/// is not read whole.
fn read_limit(max_message_bytes: usize) -> usize {
    max_message_bytes.saturating_mul(4).max(64 << 20)
}

/// The bytes of a file given to `import` or `check`, or `None` when it holds more than `limit` bytes.
fn read_at_most(file: &Path, limit: usize) -> anyhow::Result<Option<Vec<u8>>> {
    use std::io::Read as _;
    let mut bytes = Vec::new();
    std::fs::File::open(file)
        .and_then(|f| f.take(limit as u64 + 1).read_to_end(&mut bytes))
        .with_context(|| format!("reading {}", file.display()))?;
    Ok((bytes.len() <= limit).then_some(bytes))
}

async fn import(settings: Settings, files: &[PathBuf]) -> anyhow::Result<i32> {
    let services = Services::open(settings).await?;
    let default_calendar =
        crate::intake::default_calendar_id(services.storage.as_ref(), &services.settings)
            .await?
            .context("the default calendar is missing")?;
    let limit = services.settings.limits.max_message_bytes;
    let read_limit = read_limit(limit);
    let mut failures = 0;
    // Each file on its own: one that cannot be read, or is too big to read, is reported and the others go on.
    for file in files {
        let bytes = match read_at_most(file, read_limit) {
            Ok(Some(bytes)) => bytes,
            Ok(None) => {
                failures += 1;
                eprintln!(
                    "{}: more than {read_limit} bytes: not read, not imported",
                    file.display()
                );
                continue;
            }
            Err(e) => {
                failures += 1;
                eprintln!("leadgate: {e:#}");
                continue;
            }
        };
        let submission = if is_eml(file) {
            let rules = MailRules::for_saved_message(default_calendar, limit);
            // Keyed by its Message-ID, else by its content (the same file imported twice is one lead).
            submission_for(bytes, None, &rules, services.intake.settings())
        } else {
            let disposition = match services
                .intake
                .parse(&bytes, None, encoding_rs::WINDOWS_1251)
            {
                Ok(parsed) => parsed.into_lead(default_calendar, false),
                Err(rejection) => Disposition::Rejected {
                    reason: rejection.to_string(),
                },
            };
            let hash = content_hash(&bytes);
            let ledger = LedgerEntry {
                source: SourceRef::File,
                ledger_key: Some(content_key(&hash)),
                mailbox_key: None,
                message_id: None,
                external_number: None,
                received_at: Utc::now(),
                content_hash: Some(hash),
                raw: StoredRaw::new(bytes),
                content_type: "application/json".to_owned(),
            };
            Submission {
                ledger,
                disposition,
                idempotency: None,
            }
        };
        match services.intake.submit(submission).await? {
            SubmitOutcome::Imported { lead_id, .. } => {
                say!("{}: imported as lead {lead_id}", file.display())?
            }
            SubmitOutcome::Duplicate {
                lead_id: Some(lead_id),
            } => say!("{}: already imported as lead {lead_id}", file.display())?,
            // Recorded before without a lead: rejected or skipped, or its lead erased.
            SubmitOutcome::Duplicate { lead_id: None } => {
                failures += 1;
                say!(
                    "{}: already in the ledger without a lead (rejected, skipped, or its lead erased): \
                     not imported; a rejected one is reprocessed from the quarantine or the API",
                    file.display()
                )?;
            }
            SubmitOutcome::Rejected { message_id } => {
                failures += 1;
                let reason = services
                    .storage
                    .message(message_id)
                    .await?
                    .and_then(|m| m.reason)
                    .unwrap_or_default();
                say!(
                    "{}: rejected: {reason} (ledger record {message_id})",
                    file.display()
                )?;
            }
            SubmitOutcome::Skipped { message_id } => {
                failures += 1;
                let reason = services
                    .storage
                    .message(message_id)
                    .await?
                    .and_then(|m| m.reason)
                    .unwrap_or_default();
                say!("{}: skipped: {reason}", file.display())?;
            }
            other => say!("{}: {other:?}", file.display())?,
        }
    }
    finish(services).await?;
    Ok(if failures == 0 { 0 } else { 1 })
}

fn check(settings: &Settings, file: &Path) -> anyhow::Result<i32> {
    let limit = read_limit(settings.limits.max_message_bytes);
    let Some(bytes) = read_at_most(file, limit)? else {
        eprintln!("{}: more than {limit} bytes: not read", file.display());
        return Ok(1);
    };
    let intake_settings = crate::intake::IntakeSettings {
        timezone: settings.tz()?,
        max_body_bytes: settings.limits.max_body_bytes,
        group_commit: false,
        max_batch: 1,
    };
    let (parsed, mail) = if is_eml(file) {
        let rules = MailRules::for_saved_message(0, settings.limits.max_message_bytes);
        let submission = submission_for(bytes, None, &rules, &intake_settings);
        let mail = serde_json::json!({
            "message_id": submission.ledger.message_id,
            "external_number": submission.ledger.external_number,
        });
        let parsed = match submission.disposition {
            Disposition::Lead(draft) => Ok((draft.payload, draft.extra_warnings)),
            Disposition::Rejected { reason } => Err(("rejected", reason)),
            Disposition::Skipped { reason } => Err(("skipped", reason)),
        };
        (parsed, Some(mail))
    } else {
        let parsed =
            crate::intake::parse(&bytes, None, encoding_rs::WINDOWS_1251, &intake_settings)
                .map(|p| (p.payload, p.extra_warnings))
                .map_err(|r| (r.code(), r.to_string()));
        (parsed, None)
    };
    let (report, code) = match parsed {
        Ok((payload, extra)) => {
            let warnings: Vec<_> = payload.warnings.iter().chain(extra.iter()).collect();
            (
                serde_json::json!({
                    "valid": true, "kind": payload.kind(), "warnings": warnings, "mail": mail, "lead": payload,
                }),
                0,
            )
        }
        Err((code, message)) => (
            serde_json::json!({ "valid": false, "mail": mail, "error": { "code": code, "message": message } }),
            1,
        ),
    };
    say!("{}", serde_json::to_string_pretty(&report)?)?;
    Ok(code)
}

fn make_eml(payload: &Path, number: Option<String>, from: &str, to: &str) -> anyhow::Result<i32> {
    let bytes = std::fs::read(payload).with_context(|| format!("reading {}", payload.display()))?;
    let text = leadgate_domain::charset::decode(&bytes, None, encoding_rs::WINDOWS_1251).text;
    let number = number
        .or_else(|| number_in_subject(&text))
        .unwrap_or_else(|| "1".to_owned());
    let eml = leadgate_mail::eml::site_order_email(&text, &number, from, to)?;
    std::io::stdout().write_all(&eml)?;
    Ok(0)
}

/// The first run of digits after `№` or `#` in the payload's Тема, if any.
fn number_in_subject(json: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(json).ok()?;
    let subject = value.get("Тема")?.as_str()?;
    let rest = &subject[subject.find(['№', '#'])?..];
    let digits: String = rest
        .chars()
        .skip(1)
        .skip_while(|c| c.is_whitespace())
        .take_while(char::is_ascii_digit)
        .collect();
    (!digits.is_empty()).then_some(digits)
}

async fn leads(settings: Settings, action: LeadsCommand) -> anyhow::Result<i32> {
    let storage = crate::startup::open_storage(&settings).await?;
    match action {
        LeadsCommand::List {
            calendar,
            status,
            kind,
            search,
            limit,
            json,
        } => {
            if let Some(wanted) = &calendar
                && !storage
                    .calendars()
                    .await?
                    .iter()
                    .any(|c| c.name == *wanted || c.id.to_string() == *wanted)
            {
                anyhow::bail!("no calendar {wanted:?} (give a calendar's id or name)");
            }
            let filter = LeadFilter {
                calendar,
                status: status
                    .map(|s| s.parse())
                    .transpose()
                    .map_err(|_| anyhow::anyhow!("unknown status"))?,
                kind: kind
                    .map(|k| k.parse())
                    .transpose()
                    .map_err(|_| anyhow::anyhow!("unknown kind"))?,
                search,
                ..LeadFilter::default()
            };
            let page = storage
                .leads(
                    &filter,
                    None,
                    PageRequest {
                        limit,
                        cursor: None,
                    },
                )
                .await?;
            if json {
                let json: Vec<crate::http::dto::LeadView> =
                    page.items.into_iter().map(Into::into).collect();
                say!("{}", serde_json::to_string_pretty(&json)?)?;
            } else {
                say!(
                    "{:>6}  {:<7}  {:<11}  {:<16}  {:<20}  {:<24}  SUBJECT",
                    "ID",
                    "KIND",
                    "STATUS",
                    "RECEIVED",
                    "CALENDAR",
                    "CONTACT"
                )?;
                for l in &page.items {
                    say!(
                        "{:>6}  {:<7}  {:<11}  {:<16}  {:<20}  {:<24}  {}",
                        l.id,
                        l.kind.as_str(),
                        l.status.as_str(),
                        l.received_at.format("%Y-%m-%d %H:%M"),
                        shortened(&l.calendar.name, 20),
                        shortened(
                            l.contact
                                .person
                                .as_deref()
                                .or(l.contact.phone.as_deref())
                                .unwrap_or("-"),
                            24
                        ),
                        l.subject.as_deref().unwrap_or("-")
                    )?;
                }
            }
            Ok(0)
        }
        LeadsCommand::Show { id, json } => {
            let Some(lead) = storage.lead(id).await? else {
                eprintln!("leadgate: lead {id} not found");
                return Ok(1);
            };
            if json {
                let json = crate::http::dto::LeadView::from(lead);
                say!("{}", serde_json::to_string_pretty(&json)?)?;
            } else {
                say!(
                    "Lead {} ({}, {})",
                    lead.id,
                    lead.kind.as_str(),
                    lead.status.as_str()
                )?;
                say!("Calendar:     {}", lead.calendar.name)?;
                say!("Subject:      {}", lead.subject.as_deref().unwrap_or("-"))?;
                say!(
                    "Contact:      {}",
                    lead.contact.person.as_deref().unwrap_or("-")
                )?;
                say!(
                    "Phone:        {}",
                    lead.contact
                        .phone_e164
                        .as_deref()
                        .or(lead.contact.phone.as_deref())
                        .unwrap_or("-")
                )?;
                say!(
                    "E-mail:       {}",
                    lead.contact.email.as_deref().unwrap_or("-")
                )?;
                say!("INN:          {}", lead.inn.as_deref().unwrap_or("-"))?;
                if let Some(c) = &lead.counterparty {
                    say!("Counterparty: {} (INN {})", c.name, c.inn)?;
                }
                for line in &lead.lines {
                    say!(
                        "  {}. {}  qty {}  amount {}{}",
                        line.position,
                        line.nomenclature.as_deref().unwrap_or("-"),
                        line.quantity
                            .map(|d| d.to_string())
                            .unwrap_or_else(|| "-".into()),
                        line.amount
                            .map(|d| d.to_string())
                            .unwrap_or_else(|| "-".into()),
                        if line.is_service { "  (service)" } else { "" }
                    )?;
                }
                for w in &lead.warnings {
                    say!("  warning: {} {}", w.field, w.message)?;
                }
            }
            Ok(0)
        }
    }
}

/// `leadgate config check`.
fn config_check(path: Option<&Path>) -> anyhow::Result<i32> {
    let traced = Settings::load_traced(path, std::env::vars_os())?;
    let (report, problems) = traced.report();
    let mut stdout = std::io::stdout().lock();
    match path {
        Some(path) => writeln!(stdout, "# Configuration file: {}", path.display())?,
        None => writeln!(
            stdout,
            "# No configuration file: defaults and the environment only."
        )?,
    }
    stdout.write_all(report.as_bytes())?;
    stdout.flush()?;
    if problems.is_empty() {
        return Ok(0);
    }
    for problem in &problems {
        eprintln!("error: {problem}");
    }
    eprintln!(
        "leadgate: the configuration has {} problem(s)",
        problems.len()
    );
    Ok(1)
}
