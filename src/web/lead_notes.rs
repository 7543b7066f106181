//! Comments and follow-ups on the lead page: the section that shows them, and its three forms (add a
//! comment, plan a follow-up, mark one done).
//!
//! A follow-up's date and time are typed in the shop's time zone (`timezone` of the settings) and stored in
//! UTC. The rules (who may plan for whom) are [`crate::app::lead_notes`]'s, shared with the API; every form
//! carries the session's CSRF token and every handler first checks that the viewer may see the lead.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Deserialize;
use tracing::instrument;

use super::fmt;
use super::lead::{History, visible_lead};
use super::session::{CsrfForm, NoFields, Viewer};
use super::timezone;
use crate::app::lead_notes::{self, Actor};
use crate::app::{ApiError, AppState};
use leadgate_storage::{CommentView, FollowUpView, LeadView};

/// A comment, written out.
#[derive(Debug, Clone)]
pub struct CommentRow {
    /// Id.
    pub id: i64,
    /// The author's display name.
    pub author: String,
    /// When, in the shop's zone.
    pub when: String,
    /// The text as typed (escaped by the template; line breaks kept by CSS).
    pub body: String,
}

/// A follow-up, written out.
#[derive(Debug, Clone)]
pub struct FollowUpRow {
    /// Id.
    pub id: i64,
    /// Due, in the shop's zone.
    pub when: String,
    /// Whose it is (display name).
    pub owner: String,
    /// The note.
    pub note: String,
    /// Marked done.
    pub done: bool,
    /// Open and past due.
    pub overdue: bool,
    /// Who planned it and when, for the tooltip.
    pub planned: String,
}

/// A user an administrator may plan a follow-up for.
#[derive(Debug, Clone)]
pub struct OwnerChoice {
    /// Login (the value sent).
    pub login: String,
    /// Display name.
    pub name: String,
    /// The viewer themself (chosen by default).
    pub selected: bool,
}

/// The lead page's section of comments and follow-ups.
#[derive(Debug, Clone, Default)]
pub struct NotesSection {
    /// Comments, oldest first.
    pub comments: Vec<CommentRow>,
    /// Older comments left out.
    pub comments_hidden: usize,
    /// Follow-ups, by due time.
    pub follow_ups: Vec<FollowUpRow>,
    /// Follow-ups done long ago left out.
    pub follow_ups_hidden: usize,
    /// For an administrator: the users who may see the lead; empty for a manager (they plan for themself).
    pub owners: Vec<OwnerChoice>,
    /// The date field's default: tomorrow.
    pub default_date: String,
    /// The time field's default.
    pub default_time: String,
    /// The shop's time zone, named beside the fields.
    pub timezone: String,
}

/// Writes out a comment.
pub fn comment_row(c: &CommentView, tz: Tz) -> CommentRow {
    CommentRow {
        id: c.id,
        author: c.author_name.clone(),
        when: fmt::datetime(c.created_at, tz),
        body: c.body.clone(),
    }
}

/// Writes out a follow-up.
pub fn follow_up_row(f: &FollowUpView, tz: Tz, now: DateTime<Utc>) -> FollowUpRow {
    FollowUpRow {
        id: f.id,
        when: fmt::datetime(f.due_at, tz),
        owner: f.owner_name.clone(),
        note: f.note.clone(),
        done: f.done_at.is_some(),
        overdue: f.done_at.is_none() && f.due_at < now,
        planned: format!(
            "Запланировал {} {}",
            f.created_by_login,
            fmt::datetime(f.created_at, tz)
        ),
    }
}

/// The section for a lead the viewer may see: with [`History::Newest`], the newest comments, and the open
/// follow-ups with the latest done ones.
///
/// # Errors
/// Database errors.
pub async fn section(
    state: &AppState,
    viewer: &Viewer,
    lead: &LeadView,
    history: History,
) -> Result<NotesSection, ApiError> {
    let tz = timezone(state);
    let now = Utc::now();
    let mut comments = state.storage.comments_of_lead(lead.id).await?;
    let comments_hidden = history.trim(&mut comments, 0);
    let mut follow_ups = state.storage.follow_ups_of_lead(lead.id).await?;
    // Every open follow-up stays; of the done ones, those marked done longest ago are left out first, so one
    // just marked stays in sight however long ago it was due.
    let mut done: Vec<_> = follow_ups
        .iter()
        .filter_map(|f| Some((f.done_at?, f.id)))
        .collect();
    let follow_ups_hidden = history.hidden(done.len());
    done.sort_unstable();
    let left_out: std::collections::HashSet<i64> = done[..follow_ups_hidden]
        .iter()
        .map(|(_, id)| *id)
        .collect();
    follow_ups.retain(|f| !left_out.contains(&f.id));
    let owners = if viewer.is_admin() {
        let calendar = state
            .storage
            .calendars()
            .await?
            .into_iter()
            .find(|c| c.id == lead.calendar.id);
        state
            .storage
            .users()
            .await?
            .into_iter()
            .filter(|u| !u.disabled)
            .filter(|u| {
                calendar
                    .as_ref()
                    .is_some_and(|c| c.visible_to(&u.login, u.role))
            })
            .map(|u| OwnerChoice {
                selected: u.id == viewer.user_id,
                login: u.login,
                name: u.display_name,
            })
            .collect()
    } else {
        Vec::new()
    };
    Ok(NotesSection {
        comments: comments.iter().map(|c| comment_row(c, tz)).collect(),
        comments_hidden,
        follow_ups: follow_ups
            .iter()
            .map(|f| follow_up_row(f, tz, now))
            .collect(),
        follow_ups_hidden,
        owners,
        default_date: fmt::iso_date(fmt::today(tz) + Duration::days(1)),
        default_time: "10:00".into(),
        timezone: tz.name().to_owned(),
    })
}

/// The comment form.
#[derive(Debug, Deserialize)]
pub struct CommentForm {
    /// The text.
    body: String,
}

/// `POST /leads/{id}/comments`.
#[instrument(skip_all, fields(lead_id = id, user = %viewer.login))]
pub async fn add_comment(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(viewer, form): CsrfForm<CommentForm>,
) -> Result<Response, ApiError> {
    let lead = visible_lead(&state, &viewer, id).await?;
    let comment = lead_notes::add_comment(&state, actor(&viewer), &lead, &form.body).await?;
    Ok(Redirect::to(&format!("/leads/{id}#comment-{}", comment.id)).into_response())
}

/// The follow-up form: a local date and time, a note, and (for an administrator) whose it is.
#[derive(Debug, Deserialize)]
pub struct FollowUpForm {
    /// `YYYY-MM-DD`.
    date: String,
    /// `HH:MM`.
    time: String,
    /// What to do.
    #[serde(default)]
    note: String,
    /// Whose (a login); the viewer when absent.
    owner: Option<String>,
}

/// A local date and time in `tz` as UTC; a time a clock change skips is taken as the first time after it.
///
/// # Errors
/// 400 for a malformed date or time.
pub fn local_due(date: &str, time: &str, tz: Tz) -> Result<DateTime<Utc>, ApiError> {
    let date = fmt::parse_iso_date(date.trim())
        .ok_or_else(|| ApiError::BadRequest("malformed date".into()))?;
    let time = NaiveTime::parse_from_str(time.trim(), "%H:%M")
        .or_else(|_| NaiveTime::parse_from_str(time.trim(), "%H:%M:%S"))
        .map_err(|_| ApiError::BadRequest("malformed time".into()))?;
    let naive = NaiveDate::and_time(&date, time);
    tz.from_local_datetime(&naive)
        .earliest()
        .or_else(|| {
            tz.from_local_datetime(&(naive + Duration::hours(1)))
                .earliest()
        })
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| ApiError::BadRequest("no such local time".into()))
}

/// `POST /leads/{id}/follow-ups`.
#[instrument(skip_all, fields(lead_id = id, user = %viewer.login))]
pub async fn plan_follow_up(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(viewer, form): CsrfForm<FollowUpForm>,
) -> Result<Response, ApiError> {
    let lead = visible_lead(&state, &viewer, id).await?;
    let due_at = local_due(&form.date, &form.time, timezone(&state))?;
    let planned = lead_notes::plan_follow_up(
        &state,
        actor(&viewer),
        &lead,
        form.owner.as_deref(),
        due_at,
        &form.note,
    )
    .await?;
    Ok(Redirect::to(&format!("/leads/{id}#follow-up-{}", planned.id)).into_response())
}

/// `POST /leads/{id}/follow-ups/{follow_up}/done`.
#[instrument(skip_all, fields(lead_id = id, follow_up, user = %viewer.login))]
pub async fn complete_follow_up(
    State(state): State<AppState>,
    Path((id, follow_up)): Path<(i64, i64)>,
    CsrfForm(viewer, NoFields {}): CsrfForm<NoFields>,
) -> Result<Response, ApiError> {
    let lead = visible_lead(&state, &viewer, id).await?;
    lead_notes::complete_follow_up(&state, actor(&viewer), &lead, follow_up).await?;
    Ok(Redirect::to(&format!("/leads/{id}#follow-up-{follow_up}")).into_response())
}

fn actor(viewer: &Viewer) -> Actor<'_> {
    Actor {
        user_id: viewer.user_id,
        login: &viewer.login,
        role: viewer.role,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_local_time_is_read_in_the_shops_zone() {
        let tz: Tz = chrono_tz::Europe::Moscow;
        let t = local_due("2026-06-03", "11:00", tz).map(|t| t.to_rfc3339());
        assert_eq!(t.ok().as_deref(), Some("2026-06-03T08:00:00+00:00"));
        assert!(local_due("2026-06-31", "11:00", tz).is_err());
        assert!(local_due("2026-06-03", "25:00", tz).is_err());
        // A time the spring-forward gap skips is the first time after the gap.
        let berlin: Tz = chrono_tz::Europe::Berlin;
        let t = local_due("2026-03-29", "02:30", berlin).map(|t| t.to_rfc3339());
        assert_eq!(t.ok().as_deref(), Some("2026-03-29T01:30:00+00:00"));
    }
}
