//! The administrator's settings page: the default calendar for site data, and the mail collector job's
//! schedule and switch, with when the job next runs.
//!
//! A value the configuration sets is shown with "задано в файле настроек" and cannot be changed here (its
//! field is disabled, and a value sent for it anyway is ignored): the file is its one truth. A schedule is
//! checked before it is saved, so a typo gets a sentence saying what is wrong rather than a job that never
//! runs; once saved, the running job follows it at once.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tracing::{info, instrument};

use super::session::{AdminViewer, CsrfForm, Viewer};
use super::{Layout, timezone};
use crate::admin_settings::{
    self, DEFAULT_CALENDAR, Effective, MAIL_COLLECTOR_CRON, MAIL_COLLECTOR_ENABLED, Origin,
};
use crate::app::{ApiError, AppState};

/// What the page says of a value's origin.
fn origin_note(origin: Origin) -> &'static str {
    match origin {
        Origin::File => "задано в файле настроек",
        Origin::Ui => "задано здесь",
        Origin::Default => "по умолчанию",
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "admin_settings.html")]
struct SettingsPage {
    layout: Layout,
    calendars: Vec<(i64, String)>,
    calendar_id: i64,
    calendar_name: String,
    calendar_file: bool,
    calendar_note: &'static str,
    cron: String,
    cron_file: bool,
    cron_note: &'static str,
    enabled: bool,
    enabled_file: bool,
    enabled_note: &'static str,
    next_run: Option<String>,
    error: Option<String>,
    saved: bool,
}

/// `?saved=1` after a save.
#[derive(Debug, Deserialize)]
pub struct PageQuery {
    saved: Option<String>,
}

async fn render(
    state: &AppState,
    viewer: &Viewer,
    status: StatusCode,
    error: Option<String>,
    typed: Option<&SettingsForm>,
    saved: bool,
) -> Result<Response, ApiError> {
    let effective = admin_settings::load(state.storage.as_ref(), &state.settings).await?;
    let calendars = state
        .storage
        .calendars()
        .await?
        .into_iter()
        .map(|c| (c.id, c.name))
        .collect();
    let tz = timezone(state);
    let Effective {
        default_calendar,
        mail_collector_cron,
        mail_collector_enabled,
    } = effective;
    // A refused form shows what was typed, so nothing has to be typed again.
    let cron = typed
        .filter(|_| mail_collector_cron.origin.is_editable())
        .and_then(|f| f.cron.clone())
        .unwrap_or(mail_collector_cron.value);
    let page = SettingsPage {
        layout: Layout::new(viewer, "admin"),
        calendars,
        calendar_id: default_calendar.value.id.unwrap_or_default(),
        calendar_name: default_calendar.value.name,
        calendar_file: default_calendar.origin == Origin::File,
        calendar_note: origin_note(default_calendar.origin),
        cron,
        cron_file: mail_collector_cron.origin == Origin::File,
        cron_note: origin_note(mail_collector_cron.origin),
        enabled: mail_collector_enabled.value,
        enabled_file: mail_collector_enabled.origin == Origin::File,
        enabled_note: origin_note(mail_collector_enabled.origin),
        next_run: state
            .job
            .next_run(tz)
            .map(|t| t.format("%d.%m.%Y %H:%M:%S").to_string()),
        error,
        saved,
    };
    Ok((status, page).into_response())
}

/// `GET /admin/settings`.
pub async fn page(
    State(state): State<AppState>,
    AdminViewer(viewer): AdminViewer,
    Query(q): Query<PageQuery>,
) -> Result<Response, ApiError> {
    render(
        &state,
        &viewer,
        StatusCode::OK,
        None,
        None,
        q.saved.is_some(),
    )
    .await
}

/// The settings form. A disabled field (a value of the file) is not sent; `enabled` is a checkbox, sent
/// only when ticked.
#[derive(Debug, Default, Deserialize)]
pub struct SettingsForm {
    /// Calendar id.
    default_calendar: Option<String>,
    /// Cron expression.
    cron: Option<String>,
    /// `on` when the job is switched on.
    enabled: Option<String>,
}

/// `POST /admin/settings`: saves the values the file does not set, and hands the schedule to the job.
#[instrument(skip_all, fields(user = %viewer.login))]
pub async fn save(
    State(state): State<AppState>,
    CsrfForm(viewer, form): CsrfForm<SettingsForm>,
) -> Result<Response, ApiError> {
    viewer.require_admin()?;
    let tz = timezone(&state);
    let effective = admin_settings::load(state.storage.as_ref(), &state.settings).await?;
    let refuse = |message: String| {
        let state = state.clone();
        let viewer = viewer.clone();
        let form = &form;
        async move {
            render(
                &state,
                &viewer,
                StatusCode::BAD_REQUEST,
                Some(message),
                Some(form),
                false,
            )
            .await
        }
    };
    let mut values: Vec<(&str, Option<String>)> = Vec::new();
    if effective.default_calendar.origin.is_editable()
        && let Some(chosen) = form.default_calendar.as_deref()
    {
        let calendars = state.storage.calendars().await?;
        let Some(calendar) = chosen
            .trim()
            .parse::<i64>()
            .ok()
            .and_then(|id| calendars.iter().find(|c| c.id == id))
        else {
            return refuse("Такого календаря нет: выберите календарь из списка.".into()).await;
        };
        values.push((DEFAULT_CALENDAR, Some(calendar.id.to_string())));
    }
    if effective.mail_collector_cron.origin.is_editable()
        && let Some(cron) = form.cron.as_deref()
    {
        let cron = cron.trim();
        if let Err(e) = admin_settings::parse_schedule(cron, tz) {
            let reason = match e {
                admin_settings::ScheduleError::Invalid { reason, .. } => {
                    format!("Расписание «{cron}» не распознано ({reason}).")
                }
                admin_settings::ScheduleError::Never(_) => {
                    format!("Расписание «{cron}» никогда не наступает.")
                }
            };
            return refuse(format!(
                "{reason} Нужно выражение cron из 6 полей (секунды минуты часы день месяц день_недели) \
                 или из 5, без секунд; например, 0 */5 * * * * — каждые 5 минут."
            ))
            .await;
        }
        values.push((MAIL_COLLECTOR_CRON, Some(cron.to_owned())));
    }
    if effective.mail_collector_enabled.origin.is_editable() {
        values.push((
            MAIL_COLLECTOR_ENABLED,
            Some(form.enabled.is_some().to_string()),
        ));
    }
    let borrowed: Vec<(&str, Option<&str>)> =
        values.iter().map(|(k, v)| (*k, v.as_deref())).collect();
    state
        .storage
        .save_settings(&borrowed, Some(viewer.user_id))
        .await?;
    let effective = admin_settings::load(state.storage.as_ref(), &state.settings).await?;
    let schedule = effective
        .schedule(tz)
        .map_err(|e| ApiError::Internal(e.into()))?;
    state.job.set_schedule(schedule);
    info!(
        default_calendar = ?effective.default_calendar.value.id,
        cron = %effective.mail_collector_cron.value,
        enabled = effective.mail_collector_enabled.value,
        "settings saved"
    );
    Ok(Redirect::to("/admin/settings?saved=1").into_response())
}
