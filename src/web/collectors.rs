//! Mail collectors in the administration: the list with each collector's last run, creating and editing,
//! marking for deletion, testing the connection and running the mail collector job now.
//!
//! "Run now" and "test connection" call exactly what the schedule and the API call
//! ([`MailCollectorJob::start`](crate::jobs::MailCollectorJob::start) and
//! [`test_connection`](crate::collector::test_connection)), in tasks of their own: the page answers
//! at once, and the list shows the work going on and then its outcome.
//!
//! Where a password comes from is part of a collector, and a collector's login is sent to whatever host the
//! collector names. So the form must not be a way to send a secret of the server to a mail server of the
//! editor's choice:
//! - the only environment variable the UI may name is the one reserved for that collector,
//!   `LEADGATE_COLLECTOR_<NAME>_PASSWORD` ([`reserved_password_env`]); never another variable (the admin
//!   token, `LEADGATE_NEW_PASSWORD`, another collector's password) and never a file;
//! - changing the host, port, TLS mode or login drops the collector's password binding (its variable, or
//!   the `password_file` of the configuration file), unless the same submit names the reserved variable
//!   again, so a password never follows the collector to a new address by itself;
//! - TLS "none" can be chosen here only for a loopback host (`localhost`, 127.0.0.0/8, `::1`), where the
//!   password never crosses a network; other plain-text servers are for the configuration file.
//!
//! `password_file` and `ca_file` are set in the configuration file and kept as they are when a collector is
//! edited here without moving it.

use std::sync::Arc;

use askama::Template;
use askama_web::WebTemplate;
use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tracing::{info, instrument};

use super::session::{AdminViewer, CsrfForm, NoFields, Viewer};
use super::{Layout, fmt, timezone};
use crate::app::{ApiError, AppState};
use crate::jobs::JobError;
use leadgate_domain::account::Name;
use leadgate_domain::collector::{AfterImport, Protocol, SubjectFilter, TlsMode};
use leadgate_storage::{CalendarView, CollectorRecord};

/// A collector in the list, written out.
#[derive(Debug, Clone)]
pub struct CollectorRow {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// `IMAP 993 mail.example.ru (TLS)`.
    pub server: String,
    /// Login.
    pub username: String,
    /// Folder (IMAP).
    pub folder: String,
    /// Calendar name.
    pub calendar: String,
    /// Marked for deletion.
    pub deleted: bool,
    /// Declared in the configuration file: shown with a mark, changed only there.
    pub managed: bool,
    /// Last run start, or empty.
    pub last_run: String,
    /// Still running (or the process died during it).
    pub unfinished: bool,
    /// Counts of the last run.
    pub counts: String,
    /// Error of the last run.
    pub error: String,
    /// The IMAP IDLE connection: `подключено с …`, with the last event and error; empty without one.
    pub push: String,
}

/// The outcome of an action, shown above the list.
#[derive(Debug, Clone)]
pub struct Notice {
    /// It went well.
    pub ok: bool,
    /// What happened.
    pub text: String,
}

/// The last "run now" or "test connection" started from the UI: what is going on, then its outcome. They
/// run in tasks of their own, so no request timeout cuts them short; the list shows the work in progress
/// (and reloads itself) until the outcome is there.
#[derive(Debug, Default)]
pub struct CollectorTasks {
    latest: std::sync::Mutex<Option<Task>>,
}

#[derive(Debug)]
struct Task {
    seq: u64,
    doing: String,
    outcome: Option<(Notice, std::time::Instant)>,
}

impl CollectorTasks {
    /// How long an outcome stays on the list.
    const SHOWN: std::time::Duration = std::time::Duration::from_secs(600);

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Task>> {
        self.latest
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn begin(&self, doing: String) -> u64 {
        let mut latest = self.lock();
        let seq = latest.as_ref().map_or(1, |t| t.seq + 1);
        *latest = Some(Task {
            seq,
            doing,
            outcome: None,
        });
        seq
    }

    fn finish(&self, seq: u64, notice: Notice) {
        if let Some(task) = self.lock().as_mut().filter(|t| t.seq == seq) {
            task.outcome = Some((notice, std::time::Instant::now()));
        }
    }

    /// What is going on, or the outcome of what went on lately.
    fn current(&self) -> (Option<String>, Option<Notice>) {
        match self.lock().as_ref() {
            Some(Task {
                outcome: None,
                doing,
                ..
            }) => (Some(doing.clone()), None),
            Some(Task {
                outcome: Some((notice, at)),
                ..
            }) if at.elapsed() < Self::SHOWN => (None, Some(notice.clone())),
            _ => (None, None),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "admin_collectors.html")]
struct ListPage {
    layout: Layout,
    collectors: Vec<CollectorRow>,
    notice: Option<Notice>,
    progress: Option<String>,
    schedule: String,
    schedule_enabled: bool,
}

fn tls_label(t: TlsMode) -> &'static str {
    match t {
        TlsMode::Implicit => "TLS",
        TlsMode::StartTls => "STARTTLS",
        TlsMode::None => "без шифрования",
    }
}

async fn list_page(
    state: &AppState,
    tasks: &CollectorTasks,
    viewer: &Viewer,
    status: StatusCode,
    notice: Option<Notice>,
) -> Result<Response, ApiError> {
    let tz = timezone(state);
    let calendars = state.storage.calendars().await?;
    let mut runs = state.storage.last_runs().await?;
    let managed = state.storage.managed_by_file().await?;
    let collectors = state
        .storage
        .collectors(true)
        .await?
        .into_iter()
        .map(|c| {
            let run = runs.remove(&c.id);
            CollectorRow {
                id: c.id,
                server: format!(
                    "{} {}:{} ({})",
                    c.protocol.as_str().to_uppercase(),
                    c.host,
                    c.port,
                    tls_label(c.tls)
                ),
                username: c.username.clone(),
                folder: if c.protocol == Protocol::Imap {
                    c.folder.clone()
                } else {
                    String::new()
                },
                calendar: calendars
                    .iter()
                    .find(|cal| cal.id == c.calendar_id)
                    .map(|cal| cal.name.clone())
                    .unwrap_or_default(),
                deleted: c.deleted,
                managed: managed.collectors.contains(&c.id),
                last_run: run
                    .as_ref()
                    .map(|r| fmt::datetime(r.started_at, tz))
                    .unwrap_or_default(),
                unfinished: run.as_ref().is_some_and(|r| r.finished_at.is_none()),
                counts: run
                    .as_ref()
                    .map(|r| {
                        format!(
                            "загружено {}, повторов {}, пропущено {}, отклонено {}",
                            r.counts.imported,
                            r.counts.duplicate,
                            r.counts.skipped,
                            r.counts.rejected
                        )
                    })
                    .unwrap_or_default(),
                error: run.and_then(|r| r.error).unwrap_or_default(),
                push: state
                    .push
                    .get(c.id)
                    .map(|p| push_line(&p, tz))
                    .unwrap_or_default(),
                name: c.name,
            }
        })
        .collect();
    let schedule = crate::admin_settings::load(state.storage.as_ref(), &state.settings).await?;
    let (progress, outcome) = tasks.current();
    let page = ListPage {
        layout: Layout::new(viewer, "admin"),
        collectors,
        notice: notice.or(outcome),
        progress,
        schedule: schedule.mail_collector_cron.value,
        schedule_enabled: schedule.mail_collector_enabled.value,
    };
    Ok((status, page).into_response())
}

/// The push state in words: `подключено с 29.11.2026 19:00; последнее событие …; ошибка …`.
fn push_line(p: &crate::push::PushStatus, tz: chrono_tz::Tz) -> String {
    let mut line = match (p.state, p.connected_since) {
        ("connected", Some(since)) => format!("подключено с {}", fmt::datetime(since, tz)),
        ("unsupported", _) => "сервер не поддерживает IDLE: только по расписанию".to_owned(),
        ("waiting", _) => "нет соединения, переподключение".to_owned(),
        _ => "подключение".to_owned(),
    };
    if let Some(at) = p.last_event {
        line.push_str(&format!("; последнее событие {}", fmt::datetime(at, tz)));
    }
    if let (Some(error), Some(at)) = (&p.last_error, p.last_error_at) {
        line.push_str(&format!("; ошибка {}: {error}", fmt::datetime(at, tz)));
    }
    line
}

/// `GET /admin/collectors`.
pub async fn list(
    State(state): State<AppState>,
    Extension(tasks): Extension<Arc<CollectorTasks>>,
    AdminViewer(viewer): AdminViewer,
) -> Result<Response, ApiError> {
    list_page(&state, &tasks, &viewer, StatusCode::OK, None).await
}

/// The collector form's values, as text (what the form shows and sends back).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CollectorForm {
    /// Name (only when creating).
    #[serde(default)]
    pub name: String,
    /// `imap` or `pop3`.
    pub protocol: String,
    /// Host.
    pub host: String,
    /// Port.
    pub port: String,
    /// `implicit`, `starttls` or `none`.
    pub tls: String,
    /// Login.
    pub username: String,
    /// Environment variable with the password.
    #[serde(default)]
    pub password_env: String,
    /// The mailbox password typed in the form: write-only, never shown back.
    #[serde(default)]
    pub password: super::collector_password::TypedPassword,
    /// Whether a typed password is stored for the collector's current server (set by the handler).
    #[serde(skip)]
    pub has_stored_password: bool,
    /// IMAP folder.
    #[serde(default)]
    pub folder: String,
    /// Subject keyword.
    #[serde(default)]
    pub keyword: String,
    /// `server` or `local`: who judges the subjects of new IMAP messages.
    #[serde(default)]
    pub subject_filter: String,
    /// Calendar id.
    pub calendar: String,
    /// Default charset.
    #[serde(default)]
    pub default_charset: String,
    /// `keep`, `seen`, `move` or `delete`.
    pub after_import: String,
    /// Folder for `move`.
    #[serde(default)]
    pub move_to: String,
    /// Folder for rejected messages.
    #[serde(default)]
    pub failed_folder: String,
    /// Retention in days.
    #[serde(default)]
    pub delete_after_days: String,
    /// Checkbox: form tech cards automatically.
    #[serde(default)]
    pub auto_tech_cards: Option<String>,
    /// Checkbox: IMAP push (IDLE).
    #[serde(default)]
    pub push: Option<String>,
}

/// The form showing a stored collector.
impl From<&CollectorRecord> for CollectorForm {
    fn from(c: &CollectorRecord) -> Self {
        Self {
            name: c.name.clone(),
            protocol: c.protocol.as_str().into(),
            host: c.host.clone(),
            port: c.port.to_string(),
            tls: c.tls.as_str().into(),
            username: c.username.clone(),
            // Shown apart (see `FormPage`): an empty field keeps the binding while the address stays.
            password_env: String::new(),
            password: super::collector_password::TypedPassword::default(),
            has_stored_password: false,
            folder: c.folder.clone(),
            keyword: c.keyword.clone(),
            subject_filter: c.subject_filter.as_str().into(),
            calendar: c.calendar_id.to_string(),
            default_charset: c.default_charset.clone(),
            after_import: c.after_import.as_str().into(),
            move_to: c.move_to.clone().unwrap_or_default(),
            failed_folder: c.failed_folder.clone().unwrap_or_default(),
            delete_after_days: c
                .delete_after_days
                .map(|d| d.to_string())
                .unwrap_or_default(),
            auto_tech_cards: c.auto_tech_cards.then(|| "on".into()),
            push: c.push.then(|| "on".into()),
        }
    }
}

impl CollectorForm {
    /// The form of a new collector: every setting at its default ([`CollectorRecord::new`]), in the default
    /// calendar.
    fn blank(default_calendar: i64) -> Self {
        let defaults = CollectorRecord {
            calendar_id: default_calendar,
            ..CollectorRecord::new("", Protocol::Imap, "", CollectorRecord::DEFAULT_PORT, "")
        };
        Self::from(&defaults)
    }

    fn is_checked(&self) -> bool {
        self.auto_tech_cards.is_some()
    }
}

/// The one environment variable the UI may name for a collector's password:
/// `LEADGATE_COLLECTOR_<NAME>_PASSWORD`, the name upper-cased and every character other than a Latin letter
/// or a digit written as `_` (`site-orders` → `LEADGATE_COLLECTOR_SITE_ORDERS_PASSWORD`).
pub fn reserved_password_env(collector: &str) -> String {
    let name: String = collector
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("LEADGATE_COLLECTOR_{name}_PASSWORD")
}

/// Another collector whose reserved variable is the same as this one's (`a.b` and `a-b`), so that naming it
/// would hand one collector's password to the other.
fn reserved_env_taken_by<'c>(name: &str, all: &'c [CollectorRecord]) -> Option<&'c str> {
    let env = reserved_password_env(name);
    all.iter()
        .find(|c| c.name != name && reserved_password_env(&c.name) == env)
        .map(|c| c.name.as_str())
}

/// Whether a host is this machine: `localhost` or a loopback address (127.0.0.0/8, `::1`).
pub fn is_loopback_host(host: &str) -> bool {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    bare.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn plain(s: &str, max: usize) -> bool {
    s.chars().count() <= max && !s.chars().any(char::is_control)
}

fn opt(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

/// Checks the form and builds the collector it describes: the one conversion from the form (the way back
/// is `From<&CollectorRecord>`). `base` carries what the form does not edit (id, name, files, flags) and,
/// when editing, the stored address and password binding (see the module docs for the rules).
///
/// # Errors
/// A Russian sentence saying what is wrong.
fn record(
    form: &CollectorForm,
    base: &CollectorRecord,
    calendars: &[CalendarView],
) -> Result<CollectorRecord, String> {
    let protocol: Protocol = form
        .protocol
        .parse()
        .map_err(|_| "Протокол: IMAP или POP3.".to_owned())?;
    let tls: TlsMode = form
        .tls
        .parse()
        .map_err(|_| "Шифрование: TLS, STARTTLS или без шифрования.".to_owned())?;
    let host = form.host.trim();
    if host.is_empty()
        || host.len() > 253
        || !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
    {
        return Err("Сервер: имя хоста или IP-адрес.".into());
    }
    let port: u16 = form
        .port
        .trim()
        .parse()
        .ok()
        .filter(|p| *p > 0)
        .ok_or("Порт: число от 1 до 65535.")?;
    let username = form.username.trim();
    if username.is_empty() || !plain(username, 200) {
        return Err("Укажите логин почтового ящика.".into());
    }
    let moved =
        host != base.host || port != base.port || tls != base.tls || username != base.username;
    if tls == TlsMode::None && moved && !is_loopback_host(host) {
        return Err(
            "Без шифрования можно подключаться только к этому компьютеру (localhost, 127.0.0.1, ::1): \
             иначе пароль уйдёт по сети открытым текстом. Выберите TLS или STARTTLS."
                .into(),
        );
    }
    let reserved = reserved_password_env(&base.name);
    let had_binding = base.password_env.is_some() || base.password_file.is_some();
    let (password_env, password_file) = match opt(&form.password_env) {
        Some(env) if env == reserved => (Some(env), None),
        Some(_) => {
            return Err(format!(
                "Пароль этого сборщика можно указать только в переменной окружения {reserved} \
                 (другие переменные и файлы задаются в leadgate.toml)."
            ));
        }
        None if moved => (None, None),
        None => (base.password_env.clone(), base.password_file.clone()),
    };
    // A stored typed password counts even when the collector moves: saving then deletes it (it is bound to
    // the old server), and the collector waits for a password typed again.
    let typed = form.password.is_given() || form.has_stored_password;
    if password_env.is_none() && password_file.is_none() && !typed {
        return Err(if had_binding {
            format!(
                "Сервер, порт, шифрование или логин изменились: введите пароль или укажите переменную \
                 {reserved} заново (прежний пароль к новому адресу не переносится)."
            )
        } else {
            format!("Введите пароль почтового ящика или укажите переменную окружения {reserved}.")
        });
    }
    let calendar_id: i64 = form
        .calendar
        .parse()
        .ok()
        .filter(|id| calendars.iter().any(|c| c.id == *id))
        .ok_or("Выберите календарь.")?;
    let after_import: AfterImport = form
        .after_import
        .parse()
        .map_err(|_| "Неизвестное действие после загрузки.".to_owned())?;
    let subject_filter: SubjectFilter = match opt(&form.subject_filter) {
        None => SubjectFilter::default(),
        Some(f) => f
            .parse()
            .map_err(|_| "Неизвестный способ отбора по теме.".to_owned())?,
    };
    let move_to = opt(&form.move_to);
    if after_import == AfterImport::Move && move_to.is_none() {
        return Err("Для «переместить» укажите папку.".into());
    }
    let charset =
        opt(&form.default_charset).unwrap_or_else(|| CollectorRecord::DEFAULT_CHARSET.into());
    if encoding_rs::Encoding::for_label(charset.as_bytes()).is_none() {
        return Err(format!("Неизвестная кодировка {charset}."));
    }
    let delete_after_days = match opt(&form.delete_after_days) {
        None => None,
        Some(d) => Some(
            d.parse::<u32>()
                .ok()
                .filter(|d| *d > 0)
                .ok_or("Срок хранения: целое число дней.")?,
        ),
    };
    let keyword = opt(&form.keyword).unwrap_or_else(|| CollectorRecord::DEFAULT_KEYWORD.into());
    let folder = opt(&form.folder).unwrap_or_else(|| CollectorRecord::DEFAULT_FOLDER.into());
    for (text, what) in [
        (keyword.as_str(), "Ключевое слово"),
        (folder.as_str(), "Папка"),
        (move_to.as_deref().unwrap_or(""), "Папка перемещения"),
        (form.failed_folder.as_str(), "Папка отклонённых"),
    ] {
        if !plain(text, 200) {
            return Err(format!("{what}: не длиннее 200 символов, без управляющих."));
        }
    }
    Ok(CollectorRecord {
        protocol,
        host: host.to_owned(),
        port,
        tls,
        username: username.to_owned(),
        password_env,
        password_file,
        folder,
        keyword,
        subject_filter,
        calendar_id,
        default_charset: charset,
        after_import,
        move_to,
        failed_folder: opt(&form.failed_folder),
        delete_after_days,
        auto_tech_cards: form.is_checked(),
        push: form.push.is_some(),
        ..base.clone()
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "admin_collector_form.html")]
struct FormPage {
    layout: Layout,
    id: Option<i64>,
    form: CollectorForm,
    calendars: Vec<CalendarView>,
    error: Option<String>,
    /// The variable reserved for this collector's password (empty while a new one has no name).
    reserved_env: String,
    /// The stored binding's variable, shown beside the (empty) field.
    current_env: String,
    password_file: String,
    ca_file: String,
    auto_tech_cards: bool,
    push: bool,
    /// Declared in the configuration file: shown read-only, without a form.
    managed: bool,
    /// A password typed in the UI is stored for the collector's current server (never shown itself).
    stored_password: bool,
}

async fn form_page(
    state: &AppState,
    viewer: &Viewer,
    status: StatusCode,
    id: Option<i64>,
    form: CollectorForm,
    base: Option<&CollectorRecord>,
    error: Option<String>,
) -> Result<Response, ApiError> {
    let managed = match id {
        Some(id) => is_managed(state, id).await?,
        None => false,
    };
    let stored_password = match base {
        Some(b) => super::collector_password::has_stored(state, b).await?,
        None => false,
    };
    let page = FormPage {
        managed,
        layout: Layout::new(viewer, "admin"),
        stored_password,
        id,
        auto_tech_cards: form.is_checked(),
        push: form.push.is_some(),
        form,
        calendars: state.storage.calendars().await?,
        error,
        reserved_env: base.map_or_else(String::new, |b| reserved_password_env(&b.name)),
        current_env: base
            .and_then(|b| b.password_env.clone())
            .unwrap_or_default(),
        password_file: base
            .and_then(|b| b.password_file.as_ref())
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        ca_file: base
            .and_then(|b| b.ca_file.as_ref())
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
    };
    Ok((status, page).into_response())
}

async fn default_calendar(state: &AppState) -> Result<i64, ApiError> {
    let id = crate::intake::default_calendar_id(state.storage.as_ref(), &state.settings).await?;
    Ok(id.unwrap_or_default())
}

/// `GET /admin/collectors/new`.
pub async fn new_form(
    State(state): State<AppState>,
    AdminViewer(viewer): AdminViewer,
) -> Result<Response, ApiError> {
    let form = CollectorForm::blank(default_calendar(&state).await?);
    form_page(&state, &viewer, StatusCode::OK, None, form, None, None).await
}

/// Whether the configuration file manages the collector with this id.
async fn is_managed(state: &AppState, id: i64) -> Result<bool, ApiError> {
    Ok(state
        .storage
        .managed_by_file()
        .await?
        .collectors
        .contains(&id))
}

/// The answer to a change of a collector the configuration file manages: the list, with why not.
async fn refuse_managed(
    state: &AppState,
    tasks: &CollectorTasks,
    viewer: &Viewer,
    c: &CollectorRecord,
) -> Result<Response, ApiError> {
    let notice = Notice {
        ok: false,
        text: super::admin::managed_refusal("Сборщик", &c.name),
    };
    list_page(state, tasks, viewer, StatusCode::CONFLICT, Some(notice)).await
}

async fn stored(state: &AppState, id: i64) -> Result<CollectorRecord, ApiError> {
    state
        .storage
        .collector(id)
        .await?
        .ok_or(ApiError::NotFound("collector"))
}

/// `GET /admin/collectors/{id}`.
pub async fn edit_form(
    State(state): State<AppState>,
    AdminViewer(viewer): AdminViewer,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    let c = stored(&state, id).await?;
    form_page(
        &state,
        &viewer,
        StatusCode::OK,
        Some(id),
        CollectorForm::from(&c),
        Some(&c),
        None,
    )
    .await
}

/// `POST /admin/collectors`: creates a collector.
#[instrument(skip_all)]
pub async fn create(
    State(state): State<AppState>,
    CsrfForm(viewer, form): CsrfForm<CollectorForm>,
) -> Result<Response, ApiError> {
    viewer.require_admin()?;
    let name = form.name.trim().to_owned();
    let fail = |msg: String, form: CollectorForm| {
        let state = state.clone();
        let viewer = viewer.clone();
        async move {
            form_page(
                &state,
                &viewer,
                StatusCode::BAD_REQUEST,
                None,
                form,
                None,
                Some(msg),
            )
            .await
        }
    };
    if Name::parse(&name).is_err() {
        return fail("Имя: от 1 до 64 букв, цифр и знаков . _ - @".into(), form).await;
    }
    let all = state.storage.collectors(true).await?;
    if all.iter().any(|c| c.name == name) {
        return fail(format!("Сборщик {name} уже существует."), form).await;
    }
    if let Some(other) = reserved_env_taken_by(&name, &all) {
        return fail(
            format!(
                "У сборщика {other} та же переменная пароля {}: выберите другое имя.",
                reserved_password_env(&name)
            ),
            form,
        )
        .await;
    }
    let base = CollectorRecord::new(
        name.clone(),
        Protocol::Imap,
        "",
        CollectorRecord::DEFAULT_PORT,
        "",
    );
    let calendars = state.storage.calendars().await?;
    let record = match record(&form, &base, &calendars) {
        Ok(r) => r,
        Err(msg) => return fail(msg, form).await,
    };
    let id = state.storage.upsert_collector(&record).await?;
    let saved = CollectorRecord { id, ..record };
    super::collector_password::save(&state, &saved, &form.password).await?;
    info!(collector = id, by = %viewer.login, "collector created");
    Ok(Redirect::to("/admin/collectors").into_response())
}

/// `POST /admin/collectors/{id}`: saves changes (the name stays).
#[instrument(skip_all, fields(collector = id))]
pub async fn update(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Extension(tasks): Extension<Arc<CollectorTasks>>,
    CsrfForm(viewer, form): CsrfForm<CollectorForm>,
) -> Result<Response, ApiError> {
    viewer.require_admin()?;
    let base = stored(&state, id).await?;
    if is_managed(&state, id).await? {
        return refuse_managed(&state, &tasks, &viewer, &base).await;
    }
    let calendars = state.storage.calendars().await?;
    let form = CollectorForm {
        has_stored_password: super::collector_password::has_stored(&state, &base).await?,
        ..form
    };
    let mut checked = record(&form, &base, &calendars);
    if checked.is_ok() && !form.password_env.trim().is_empty() {
        let all = state.storage.collectors(true).await?;
        if let Some(other) = reserved_env_taken_by(&base.name, &all) {
            checked = Err(format!(
                "У сборщика {other} та же переменная пароля {}: задайте пароль в leadgate.toml.",
                reserved_password_env(&base.name)
            ));
        }
    }
    match checked {
        Ok(r) => {
            state.storage.upsert_collector(&r).await?;
            super::collector_password::save(&state, &r, &form.password).await?;
            info!(collector = id, by = %viewer.login, "collector changed");
            Ok(Redirect::to("/admin/collectors").into_response())
        }
        Err(msg) => {
            let form = CollectorForm {
                name: base.name.clone(),
                ..form
            };
            form_page(
                &state,
                &viewer,
                StatusCode::BAD_REQUEST,
                Some(id),
                form,
                Some(&base),
                Some(msg),
            )
            .await
        }
    }
}

/// `POST /admin/collectors/{id}/delete`: marks for deletion, or takes the mark off.
pub async fn toggle_deleted(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Extension(tasks): Extension<Arc<CollectorTasks>>,
    CsrfForm(viewer, NoFields {}): CsrfForm<NoFields>,
) -> Result<Response, ApiError> {
    viewer.require_admin()?;
    let mut c = stored(&state, id).await?;
    if is_managed(&state, id).await? {
        return refuse_managed(&state, &tasks, &viewer, &c).await;
    }
    c.deleted = !c.deleted;
    state.storage.upsert_collector(&c).await?;
    info!(collector = id, deleted = c.deleted, by = %viewer.login, "collector deletion mark changed");
    Ok(Redirect::to("/admin/collectors").into_response())
}

/// `POST /admin/collectors/{id}/test`: starts connecting and logging in, and sends the browser to the list,
/// which shows the test going on and then its outcome.
#[instrument(skip_all, fields(collector = id))]
pub async fn test(
    State(state): State<AppState>,
    Extension(tasks): Extension<Arc<CollectorTasks>>,
    Path(id): Path<i64>,
    CsrfForm(viewer, NoFields {}): CsrfForm<NoFields>,
) -> Result<Response, ApiError> {
    viewer.require_admin()?;
    let c = stored(&state, id).await?;
    let seq = tasks.begin(format!("{}: проверка соединения…", c.name));
    let job = state.job.clone();
    tokio::spawn(async move {
        let notice = match crate::collector::test_connection(
            job.env(),
            &c,
            crate::collector::DEFAULT_TIMEOUT,
        )
        .await
        {
            Ok(()) => Notice {
                ok: true,
                text: format!("{}: соединение и вход успешны.", c.name),
            },
            Err(e) => Notice {
                ok: false,
                text: format!("{}: {e}", c.name),
            },
        };
        tasks.finish(seq, notice);
    });
    Ok(Redirect::to("/admin/collectors").into_response())
}

/// `POST /admin/collectors/{id}/run`: starts the mail collector job now for this collector and sends the
/// browser to the list, which shows the run going on and then its counts.
#[instrument(skip_all, fields(collector = id))]
pub async fn run(
    State(state): State<AppState>,
    Extension(tasks): Extension<Arc<CollectorTasks>>,
    Path(id): Path<i64>,
    CsrfForm(viewer, NoFields {}): CsrfForm<NoFields>,
) -> Result<Response, ApiError> {
    viewer.require_admin()?;
    let c = stored(&state, id).await?;
    let refused = match state.job.start(Some(&c.name)).await {
        Ok(run) => {
            let tasks = tasks.clone();
            let seq = tasks.begin(format!("{}: сбор почты идёт…", c.name));
            let name = c.name.clone();
            tokio::spawn(async move {
                let notice = match run.await {
                    Ok(summaries) => run_notice(summaries),
                    Err(e) => Notice {
                        ok: false,
                        text: format!("{name}: запуск прервался ({e})."),
                    },
                };
                tasks.finish(seq, notice);
            });
            info!(collector = id, by = %viewer.login, "collector run started from the UI");
            return Ok(Redirect::to("/admin/collectors").into_response());
        }
        Err(JobError::UnknownCollector(_)) => Notice {
            ok: false,
            text: format!("{} помечен на удаление и не запускается.", c.name),
        },
        Err(e @ (JobError::AlreadyRunning | JobError::LockedElsewhere)) => Notice {
            ok: false,
            text: format!("Сборщик уже работает, повторите позже ({e})."),
        },
        Err(JobError::Storage(e)) => return Err(e.into()),
    };
    list_page(&state, &tasks, &viewer, StatusCode::OK, Some(refused)).await
}

fn run_notice(summaries: Vec<crate::jobs::CollectorSummary>) -> Notice {
    match summaries.into_iter().next() {
        Some(s) => Notice {
            ok: s.error.is_none(),
            text: format!(
                "{}: загружено {}, повторов {}, пропущено {}, отклонено {}{}",
                s.collector,
                s.counts.imported,
                s.counts.duplicate,
                s.counts.skipped,
                s.counts.rejected,
                s.error
                    .map(|e| format!("; ошибка: {e}"))
                    .unwrap_or_default()
            ),
        },
        None => Notice {
            ok: true,
            text: "Нечего запускать.".into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_collectors_form_left_at_its_defaults_makes_the_default_collector() {
        let calendars = [CalendarView {
            id: 3,
            name: "Заявки с сайта".into(),
            owner: None,
            color: "#3366cc".into(),
        }];
        let env = reserved_password_env("site");
        let form = CollectorForm {
            host: "mail.example.ru".into(),
            username: "orders".into(),
            password_env: env.clone(),
            ..CollectorForm::blank(3)
        };
        let base = CollectorRecord::new(
            "site",
            Protocol::Imap,
            "",
            CollectorRecord::DEFAULT_PORT,
            "",
        );
        let made = record(&form, &base, &calendars).expect("the form is valid");
        let expected = CollectorRecord {
            calendar_id: 3,
            password_env: Some(env),
            ..CollectorRecord::new("site", Protocol::Imap, "mail.example.ru", 993, "orders")
        };
        assert_eq!(made, expected);
        // And back: the stored collector's form shows the same values (the password variable apart).
        let shown = CollectorForm::from(&made);
        assert_eq!(
            record(
                &CollectorForm {
                    password_env: String::new(),
                    ..shown
                },
                &made,
                &calendars
            ),
            Ok(expected)
        );
    }

    #[test]
    fn a_collectors_reserved_variable_is_its_name_upper_cased_with_underscores() {
        assert_eq!(
            reserved_password_env("site-orders"),
            "LEADGATE_COLLECTOR_SITE_ORDERS_PASSWORD"
        );
        assert_eq!(
            reserved_password_env("Почта.1@shop"),
            "LEADGATE_COLLECTOR_______1_SHOP_PASSWORD"
        );
    }

    #[test]
    fn only_loopback_hosts_count_as_this_machine() {
        for ok in [
            "localhost",
            "LOCALHOST",
            "127.0.0.1",
            "127.1.2.3",
            "::1",
            "[::1]",
        ] {
            assert!(is_loopback_host(ok), "{ok}");
        }
        for bad in [
            "10.0.0.5",
            "mail.example.ru",
            "localhost.example.ru",
            "192.168.1.1",
            "::ffff:10.0.0.5",
            "0.0.0.0",
        ] {
            assert!(!is_loopback_host(bad), "{bad}");
        }
    }
}
