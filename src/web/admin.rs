//! Administration (administrators only): users, calendars and HTTP sources.
//!
//! Secrets follow the rest of leadgate: a new HTTP source's token is shown once, on the page that made it,
//! and only its SHA-256 is stored; passwords are argon2-hashed off the async threads. A form that fails
//! validation, or names something that exists already, comes back with the reason and nothing stored.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tracing::info;

use super::assets;
use super::session::{AdminViewer, CsrfForm, NoFields, Viewer};
use super::{Layout, fmt, timezone};
use crate::app::{ApiError, AppState};
use crate::password;
use crate::tokens;
use leadgate_domain::account::{Name, Role};
use leadgate_storage::{CalendarView, HttpSourceView, StorageError, UserView};

/// A user, written out.
#[derive(Debug, Clone)]
pub struct UserRow {
    /// Id.
    pub id: i64,
    /// Login.
    pub login: String,
    /// Display name.
    pub display_name: String,
    /// Role word.
    pub role_key: &'static str,
    /// Russian role.
    pub role: &'static str,
    /// Can sign in with a password.
    pub has_password: bool,
    /// Disabled by an administrator.
    pub disabled: bool,
    /// Created.
    pub created: String,
    /// The viewer themself (cannot change their own role).
    pub is_me: bool,
}

fn role_of(word: &str) -> Result<Role, ApiError> {
    word.parse()
        .map_err(|_| ApiError::BadRequest("unknown role".into()))
}

#[derive(Template, WebTemplate)]
#[template(path = "admin_users.html")]
struct UsersPage {
    layout: Layout,
    users: Vec<UserRow>,
    error: Option<String>,
    notice: Option<String>,
    min_password: usize,
}

async fn users_page(
    state: &AppState,
    viewer: &Viewer,
    status: StatusCode,
    error: Option<String>,
    notice: Option<String>,
) -> Result<Response, ApiError> {
    let tz = timezone(state);
    let users = state
        .storage
        .users()
        .await?
        .into_iter()
        .map(|u: UserView| UserRow {
            id: u.id,
            is_me: u.id == viewer.user_id,
            login: u.login,
            display_name: u.display_name,
            role_key: u.role.as_str(),
            role: fmt::role(u.role),
            has_password: u.has_password,
            disabled: u.disabled,
            created: fmt::datetime(u.created_at, tz),
        })
        .collect();
    let page = UsersPage {
        layout: Layout::new(viewer, "admin"),
        users,
        error,
        notice,
        min_password: password::MIN_LENGTH,
    };
    Ok((status, page).into_response())
}

/// `GET /admin/users`.
pub async fn users(
    State(state): State<AppState>,
    AdminViewer(viewer): AdminViewer,
) -> Result<Response, ApiError> {
    users_page(&state, &viewer, StatusCode::OK, None, None).await
}

/// The new-user form.
#[derive(Debug, Deserialize)]
pub struct NewUser {
    login: String,
    display_name: Option<String>,
    role: String,
    password: String,
}

/// `POST /admin/users`.
pub async fn create_user(
    State(state): State<AppState>,
    CsrfForm(viewer, form): CsrfForm<NewUser>,
) -> Result<Response, ApiError> {
    viewer.require_admin()?;
    let login = form.login.trim().to_owned();
    let role = role_of(&form.role)?;
    let fail = |msg: String| users_page(&state, &viewer, StatusCode::BAD_REQUEST, Some(msg), None);
    if Name::parse(&login).is_err() {
        return fail("Логин: от 1 до 64 букв, цифр и знаков . _ - @".into()).await;
    }
    if form.password.chars().count() < password::MIN_LENGTH {
        return fail(format!(
            "Пароль должен быть не короче {} символов.",
            password::MIN_LENGTH
        ))
        .await;
    }
    let display = form
        .display_name
        .map(|d| d.trim().to_owned())
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| login.clone());
    let hash = password::hash(form.password).await?;
    match state
        .storage
        .create_user(&login, &display, role, Some(&hash))
        .await
    {
        Ok(id) => {
            info!(user_id = id, by = %viewer.login, "user created");
            users_page(
                &state,
                &viewer,
                StatusCode::OK,
                None,
                Some(format!("Пользователь {login} создан.")),
            )
            .await
        }
        Err(StorageError::Conflict(_)) => {
            users_page(
                &state,
                &viewer,
                StatusCode::CONFLICT,
                Some(format!("Пользователь {login} уже существует.")),
                None,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

/// The change-user form: a role and/or a new password.
#[derive(Debug, Deserialize)]
pub struct UserChange {
    role: Option<String>,
    password: Option<String>,
}

/// `POST /admin/users/{id}`.
pub async fn update_user(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(viewer, form): CsrfForm<UserChange>,
) -> Result<Response, ApiError> {
    viewer.require_admin()?;
    let role = form
        .role
        .as_deref()
        .filter(|r| !r.is_empty())
        .map(role_of)
        .transpose()?;
    if id == viewer.user_id && role.is_some_and(|r| r != viewer.role) {
        return users_page(
            &state,
            &viewer,
            StatusCode::BAD_REQUEST,
            Some("Свою роль изменить нельзя: попросите другого администратора.".into()),
            None,
        )
        .await;
    }
    let new_password = form.password.filter(|p| !p.is_empty());
    if new_password
        .as_ref()
        .is_some_and(|p| p.chars().count() < password::MIN_LENGTH)
    {
        return users_page(
            &state,
            &viewer,
            StatusCode::BAD_REQUEST,
            Some(format!(
                "Пароль должен быть не короче {} символов.",
                password::MIN_LENGTH
            )),
            None,
        )
        .await;
    }
    let hash = match new_password {
        Some(p) => Some(password::hash(p).await?),
        None => None,
    };
    state.storage.update_user(id, role, hash.as_deref()).await?;
    info!(user_id = id, by = %viewer.login, "user changed");
    Ok(Redirect::to("/admin/users").into_response())
}

/// `POST /admin/users/{id}/disable`: the user can no longer sign in, their sessions end, and their API tokens
/// and calendar feed key stop working (until enabled again).
pub async fn disable_user(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(viewer, NoFields {}): CsrfForm<NoFields>,
) -> Result<Response, ApiError> {
    viewer.require_admin()?;
    if id == viewer.user_id {
        return users_page(
            &state,
            &viewer,
            StatusCode::BAD_REQUEST,
            Some("Себя отключить нельзя: попросите другого администратора.".into()),
            None,
        )
        .await;
    }
    if !state.storage.set_user_disabled(id, true).await? {
        return Err(ApiError::NotFound("user"));
    }
    info!(user_id = id, by = %viewer.login, "user disabled");
    Ok(Redirect::to("/admin/users").into_response())
}

/// `POST /admin/users/{id}/enable`.
pub async fn enable_user(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(viewer, NoFields {}): CsrfForm<NoFields>,
) -> Result<Response, ApiError> {
    viewer.require_admin()?;
    if !state.storage.set_user_disabled(id, false).await? {
        return Err(ApiError::NotFound("user"));
    }
    info!(user_id = id, by = %viewer.login, "user enabled");
    Ok(Redirect::to("/admin/users").into_response())
}

/// A calendar, written out.
#[derive(Debug, Clone)]
pub struct CalendarRow {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Owner login, empty for common.
    pub owner: String,
    /// Colour shown.
    pub colour: String,
    /// Declared in the configuration file: shown with a mark, changed only there.
    pub managed: bool,
    /// Whether its owner is notified of new leads by e-mail.
    pub notify_owner: bool,
    /// Further addresses notified, one per line.
    pub notify: String,
    /// Its assignment rule's word.
    pub rule: &'static str,
    /// Who may be in its round-robin (the users who see it): id, login, and whether they are.
    pub members: Vec<(i64, String, bool)>,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin_calendars.html")]
struct CalendarsPage {
    layout: Layout,
    calendars: Vec<CalendarRow>,
    /// Everyone notified by e-mail so far: address, waiting leads, last mail, last error.
    recipients: Vec<RecipientRow>,
    /// Whether an SMTP server is configured (`[notifications] smtp_host`).
    smtp: bool,
    users: Vec<(i64, String)>,
    error: Option<String>,
    suggested_colour: String,
}

async fn calendars_page(
    state: &AppState,
    viewer: &Viewer,
    status: StatusCode,
    error: Option<String>,
) -> Result<Response, ApiError> {
    let calendars: Vec<CalendarView> = state.storage.calendars().await?;
    let managed = state.storage.managed_by_file().await?;
    let suggested_colour = assets::PALETTE[calendars.len() % assets::PALETTE.len()].to_owned();
    let rules = state.storage.calendar_assignments().await?;
    let users = state.storage.users().await?;
    let mut rows = Vec::with_capacity(calendars.len());
    for c in &calendars {
        let notifications = state.storage.calendar_notifications(c.id).await?;
        let rule = rules.iter().find(|r| r.calendar_id == c.id);
        rows.push(CalendarRow {
            id: c.id,
            name: c.name.clone(),
            owner: c.owner.clone().unwrap_or_default(),
            colour: assets::colour_of(c),
            managed: managed.calendars.contains(&c.id),
            notify_owner: notifications.notify_owner,
            notify: notifications.addresses.join("\n"),
            rule: rule.map_or("none", |r| r.rule.as_str()),
            members: users
                .iter()
                .filter(|u| !u.disabled && c.visible_to(&u.login, u.role))
                .map(|u| {
                    let chosen = rule.is_some_and(|r| r.members.iter().any(|m| m.user_id == u.id));
                    (u.id, u.login.clone(), chosen)
                })
                .collect(),
        });
    }
    let tz = timezone(state);
    let recipients = state
        .storage
        .notification_recipients()
        .await?
        .into_iter()
        .map(|r| RecipientRow {
            address: r.address,
            pending: r.pending,
            last_sent: r
                .last_sent_at
                .map(|t| fmt::datetime(t, tz))
                .unwrap_or_default(),
            last_error: r.last_error.unwrap_or_default(),
            failures: r.failures,
        })
        .collect();
    let page = CalendarsPage {
        layout: Layout::new(viewer, "admin"),
        calendars: rows,
        recipients,
        smtp: state.settings.notifications.smtp_host.is_some()
            && state.settings.notifications.enabled,
        users: users.into_iter().map(|u| (u.id, u.login)).collect(),
        error,
        suggested_colour,
    };
    Ok((status, page).into_response())
}

/// `GET /admin/calendars`.
pub async fn calendars(
    State(state): State<AppState>,
    AdminViewer(viewer): AdminViewer,
) -> Result<Response, ApiError> {
    calendars_page(&state, &viewer, StatusCode::OK, None).await
}

/// `POST /admin/calendars/{id}/assignment`: sets how the calendar's new leads are assigned (`rule`: `none`,
/// `owner` for a personal calendar, `round_robin` among the checked `member`s, who must see the calendar).
pub async fn set_assignment(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(viewer, fields): CsrfForm<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    use leadgate_domain::lead::AssignmentRule;
    viewer.require_admin()?;
    let calendar = state
        .storage
        .calendars()
        .await?
        .into_iter()
        .find(|c| c.id == id)
        .ok_or(ApiError::NotFound("calendar"))?;
    let rule: AssignmentRule = fields
        .iter()
        .find(|(k, _)| k == "rule")
        .map_or("none", |(_, v)| v.as_str())
        .parse()
        .map_err(|_| ApiError::BadRequest("malformed rule".into()))?;
    let members = fields
        .iter()
        .filter(|(k, _)| k == "member")
        .map(|(_, v)| {
            v.parse::<i64>()
                .map_err(|_| ApiError::BadRequest("malformed member".into()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let error = match rule {
        AssignmentRule::Owner if calendar.owner.is_none() => {
            Some("Владельцу можно назначать только в личном календаре.".to_owned())
        }
        AssignmentRule::RoundRobin if members.is_empty() => {
            Some("Для назначения по очереди отметьте хотя бы одного менеджера.".to_owned())
        }
        _ => None,
    };
    let users = state.storage.users().await?;
    let blind = members.iter().any(|m| {
        users
            .iter()
            .find(|u| u.id == *m)
            .is_none_or(|u| !calendar.visible_to(&u.login, u.role))
    });
    let error = error.or_else(|| {
        blind.then(|| "По очереди можно назначать только тем, кто видит календарь.".to_owned())
    });
    if let Some(error) = error {
        return calendars_page(&state, &viewer, StatusCode::BAD_REQUEST, Some(error)).await;
    }
    state
        .storage
        .set_assignment_rule(id, rule, &members)
        .await?;
    info!(calendar = id, rule = %rule, members = members.len(), by = %viewer.login, "assignment rule set");
    Ok(Redirect::to("/admin/calendars").into_response())
}

/// The new-calendar form.
#[derive(Debug, Deserialize)]
pub struct NewCalendar {
    name: String,
    owner: Option<String>,
    colour: Option<String>,
}

/// `POST /admin/calendars`.
pub async fn create_calendar(
    State(state): State<AppState>,
    CsrfForm(viewer, form): CsrfForm<NewCalendar>,
) -> Result<Response, ApiError> {
    viewer.require_admin()?;
    let name = form.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 100 {
        return calendars_page(
            &state,
            &viewer,
            StatusCode::BAD_REQUEST,
            Some("Название: от 1 до 100 символов.".into()),
        )
        .await;
    }
    let owner = form
        .owner
        .as_deref()
        .filter(|o| !o.is_empty())
        .map(|o| {
            o.parse::<i64>()
                .map_err(|_| ApiError::BadRequest("malformed owner".into()))
        })
        .transpose()?;
    if let Some(owner) = owner
        && state.storage.user(owner).await?.is_none()
    {
        return Err(ApiError::NotFound("user"));
    }
    let colour = form
        .colour
        .filter(|c| assets::is_colour(c))
        .unwrap_or_else(|| assets::DEFAULT_COLOUR.to_owned());
    match state.storage.create_calendar(&name, owner, &colour).await {
        Ok(id) => {
            info!(calendar = id, by = %viewer.login, "calendar created");
            Ok(Redirect::to("/admin/calendars").into_response())
        }
        Err(StorageError::Conflict(_)) => {
            calendars_page(
                &state,
                &viewer,
                StatusCode::CONFLICT,
                Some(format!("Календарь «{name}» уже существует.")),
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

/// A recipient of e-mail notifications, as the calendars page lists it.
pub struct RecipientRow {
    /// The address.
    pub address: String,
    /// Leads waiting for its next mail.
    pub pending: u64,
    /// The last mail sent, formatted; empty if none yet.
    pub last_sent: String,
    /// The last failure's error, while it is failing; empty otherwise.
    pub last_error: String,
    /// Failed attempts since its last mail.
    pub failures: u32,
}

/// The notification form of a calendar.
#[derive(Debug, Deserialize)]
pub struct NotificationsForm {
    /// `on` when the owner is notified.
    notify_owner: Option<String>,
    /// Addresses, separated by line breaks, commas or spaces.
    #[serde(default)]
    notify: String,
}

/// `POST /admin/calendars/{id}/notifications`: whom a calendar notifies of its new leads by e-mail. The
/// calendars of the configuration file are set there.
pub async fn set_notifications(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(viewer, form): CsrfForm<NotificationsForm>,
) -> Result<Response, ApiError> {
    viewer.require_admin()?;
    let calendar = state
        .storage
        .calendars()
        .await?
        .into_iter()
        .find(|c| c.id == id)
        .ok_or(ApiError::NotFound("calendar"))?;
    if state
        .storage
        .managed_by_file()
        .await?
        .calendars
        .contains(&id)
    {
        return calendars_page(
            &state,
            &viewer,
            StatusCode::CONFLICT,
            Some(managed_refusal("Календарь", &calendar.name)),
        )
        .await;
    }
    let mut addresses: Vec<String> = form
        .notify
        .split(|c: char| c == ',' || c == ';' || c.is_whitespace())
        .filter(|a| !a.is_empty())
        .map(str::to_lowercase)
        .collect();
    addresses.sort();
    addresses.dedup();
    if let Some(bad) = addresses.iter().find(|a| !crate::config::valid_email(a)) {
        return calendars_page(
            &state,
            &viewer,
            StatusCode::BAD_REQUEST,
            Some(format!("«{bad}» — не адрес электронной почты.")),
        )
        .await;
    }
    if addresses.len() > 50 {
        return calendars_page(
            &state,
            &viewer,
            StatusCode::BAD_REQUEST,
            Some("Не больше 50 адресов на календарь.".into()),
        )
        .await;
    }
    let notify_owner = form.notify_owner.is_some() && calendar.owner.is_some();
    state
        .storage
        .set_calendar_notifications(
            id,
            &leadgate_storage::CalendarNotifications {
                notify_owner,
                addresses,
            },
        )
        .await?;
    info!(calendar = id, by = %viewer.login, "calendar notifications changed");
    Ok(Redirect::to("/admin/calendars").into_response())
}

/// The label of a record the configuration file manages, and why it cannot be changed here.
pub const MANAGED_MARK: &str = "из файла настроек";

/// The sentence a refused change of a record the configuration file manages is answered with.
pub fn managed_refusal(what: &str, name: &str) -> String {
    format!(
        "{what} «{name}» задан в файле настроек (leadgate.toml): изменить или удалить его можно только там, \
         изменения применяются при следующем запуске."
    )
}

/// An HTTP source, written out.
#[derive(Debug, Clone)]
pub struct SourceRow {
    /// The source.
    pub view: HttpSourceView,
    /// Declared in the configuration file: read-only here.
    pub managed: bool,
    /// Its CORS origins, space-separated (the form's value).
    pub cors: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin_sources.html")]
struct SourcesPage {
    layout: Layout,
    sources: Vec<SourceRow>,
    calendars: Vec<CalendarView>,
    error: Option<String>,
    new_token: Option<(String, String)>,
    managed_mark: &'static str,
}

async fn sources_page(
    state: &AppState,
    viewer: &Viewer,
    status: StatusCode,
    error: Option<String>,
    new_token: Option<(String, String)>,
) -> Result<Response, ApiError> {
    let managed = state.storage.managed_by_file().await?;
    let page = SourcesPage {
        layout: Layout::new(viewer, "admin"),
        sources: state
            .storage
            .http_sources()
            .await?
            .into_iter()
            .map(|view| SourceRow {
                managed: managed.http_sources.contains(&view.source.id),
                cors: view.source.cors_origins.join(" "),
                view,
            })
            .collect(),
        calendars: state.storage.calendars().await?,
        error,
        new_token,
        managed_mark: MANAGED_MARK,
    };
    Ok((status, page).into_response())
}

/// Reads the CORS origins typed into a form: separated by spaces, commas or new lines, each
/// `scheme://host[:port]`.
///
/// # Errors
/// A Russian sentence naming the first malformed origin.
fn cors_origins_of(text: &str) -> Result<Vec<String>, String> {
    let mut origins: Vec<String> = Vec::new();
    for origin in text
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|o| !o.is_empty())
    {
        let origin = origin.trim_end_matches('/');
        if !crate::config::valid_origin(origin) {
            return Err(format!(
                "«{origin}» — не адрес сайта: укажите схему и хост, например https://shop.example \
                 (без пути)."
            ));
        }
        if !origins.iter().any(|o| o == origin) {
            origins.push(origin.to_owned());
        }
    }
    if origins.len() > 20 {
        return Err("Не больше 20 адресов сайтов.".into());
    }
    Ok(origins)
}

/// The HTTP source with this id, and whether the configuration file manages it.
async fn source_of(state: &AppState, id: i64) -> Result<(HttpSourceView, bool), ApiError> {
    let source = state
        .storage
        .http_sources()
        .await?
        .into_iter()
        .find(|s| s.source.id == id)
        .ok_or(ApiError::NotFound("HTTP source"))?;
    let managed = state
        .storage
        .managed_by_file()
        .await?
        .http_sources
        .contains(&id);
    Ok((source, managed))
}

/// `GET /admin/sources`.
pub async fn sources(
    State(state): State<AppState>,
    AdminViewer(viewer): AdminViewer,
) -> Result<Response, ApiError> {
    sources_page(&state, &viewer, StatusCode::OK, None, None).await
}

/// The new-source form.
#[derive(Debug, Deserialize)]
pub struct NewSource {
    name: String,
    calendar: i64,
    /// The sites allowed to post from a browser (CORS), space-separated.
    #[serde(default)]
    cors_origins: String,
}

/// `POST /admin/sources`: creates a source and shows its token once.
pub async fn create_source(
    State(state): State<AppState>,
    CsrfForm(viewer, form): CsrfForm<NewSource>,
) -> Result<Response, ApiError> {
    viewer.require_admin()?;
    let name = form.name.trim().to_owned();
    if Name::parse(&name).is_err() {
        return sources_page(
            &state,
            &viewer,
            StatusCode::BAD_REQUEST,
            Some("Имя источника: от 1 до 64 букв, цифр и знаков . _ - @".into()),
            None,
        )
        .await;
    }
    if !state
        .storage
        .calendars()
        .await?
        .iter()
        .any(|c| c.id == form.calendar)
    {
        return Err(ApiError::NotFound("calendar"));
    }
    let origins = match cors_origins_of(&form.cors_origins) {
        Ok(origins) => origins,
        Err(msg) => {
            return sources_page(&state, &viewer, StatusCode::BAD_REQUEST, Some(msg), None).await;
        }
    };
    let token = tokens::generate();
    match state
        .storage
        .create_http_source(&name, form.calendar, &tokens::hash(&token))
        .await
    {
        Ok(id) => {
            if !origins.is_empty() {
                state.storage.set_http_source_cors(id, &origins).await?;
                state.sources.clear();
            }
            info!(source = id, by = %viewer.login, "HTTP source created");
            sources_page(&state, &viewer, StatusCode::OK, None, Some((name, token))).await
        }
        Err(StorageError::Conflict(_)) => {
            sources_page(
                &state,
                &viewer,
                StatusCode::CONFLICT,
                Some(format!("Источник {name} уже существует.")),
                None,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /admin/sources/{id}/revoke`.
pub async fn revoke_source(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(viewer, NoFields {}): CsrfForm<NoFields>,
) -> Result<Response, ApiError> {
    viewer.require_admin()?;
    let (source, managed) = source_of(&state, id).await?;
    if managed {
        let msg = managed_refusal("Источник", &source.source.name);
        return sources_page(&state, &viewer, StatusCode::CONFLICT, Some(msg), None).await;
    }
    if !state.storage.revoke_http_source(id).await? {
        return Err(ApiError::NotFound("HTTP source"));
    }
    // Authenticated sources are cached for a few seconds: forget them, so the token stops working now.
    state.sources.clear();
    info!(source = id, by = %viewer.login, "HTTP source token revoked");
    Ok(Redirect::to("/admin/sources").into_response())
}

/// The CORS form of an HTTP source.
#[derive(Debug, Deserialize)]
pub struct CorsForm {
    /// Origins, space-separated.
    #[serde(default)]
    cors_origins: String,
}

/// `POST /admin/sources/{id}/cors`: sets the sites allowed to post to a source from a browser (only for a
/// source made here: the file's sources take theirs from the file).
pub async fn set_source_cors(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(viewer, form): CsrfForm<CorsForm>,
) -> Result<Response, ApiError> {
    viewer.require_admin()?;
    let (source, managed) = source_of(&state, id).await?;
    if managed {
        let msg = managed_refusal("Источник", &source.source.name);
        return sources_page(&state, &viewer, StatusCode::CONFLICT, Some(msg), None).await;
    }
    let origins = match cors_origins_of(&form.cors_origins) {
        Ok(origins) => origins,
        Err(msg) => {
            return sources_page(&state, &viewer, StatusCode::BAD_REQUEST, Some(msg), None).await;
        }
    };
    if !state.storage.set_http_source_cors(id, &origins).await? {
        return Err(ApiError::NotFound("HTTP source"));
    }
    // The CORS layer and the intake read the origins through the cache: forget it, so the change holds now.
    state.sources.clear();
    info!(source = id, by = %viewer.login, "HTTP source CORS origins changed");
    Ok(Redirect::to("/admin/sources").into_response())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn cors_origins_are_read_from_spaces_commas_and_lines() {
        assert_eq!(
            cors_origins_of(" https://a.example, http://127.0.0.1:3000\nhttps://a.example/ ")
                .unwrap(),
            vec![
                "https://a.example".to_owned(),
                "http://127.0.0.1:3000".to_owned()
            ]
        );
        assert!(cors_origins_of("").unwrap().is_empty());
        assert!(cors_origins_of("https://a.example/form").is_err());
        assert!(cors_origins_of("a.example").is_err());
    }
}
