//! Handing a lead to a colleague and moving it to another calendar: the rules the UI and the API share.
//!
//! The caller has checked that the actor may see the lead. A manager may assign it to any user who may see
//! its calendar (administrators, and for a common calendar every manager; for a personal one its owner);
//! an administrator to anyone. A lead moves to any calendar the actor may see. Each change is recorded in
//! the lead's history by storage, in the change's transaction, and announced to the live pages.

use leadgate_domain::account::Role;
use leadgate_storage::{CalendarView, LeadPatch, LeadView};

use super::{ApiError, AppState};
use crate::live::Change;

/// Who acts.
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    /// User id.
    pub id: i64,
    /// Login.
    pub login: &'a str,
    /// Role.
    pub role: Role,
}

/// The users a lead of `calendar` may be assigned to by `actor`, by login: enabled users who may see the
/// calendar, or every enabled user for an administrator.
///
/// # Errors
/// Database errors.
pub async fn assignable_users(
    state: &AppState,
    actor: Actor<'_>,
    calendar: &CalendarView,
) -> Result<Vec<leadgate_storage::UserView>, ApiError> {
    Ok(state
        .storage
        .users()
        .await?
        .into_iter()
        .filter(|u| !u.disabled)
        .filter(|u| actor.role == Role::Admin || calendar.visible_to(&u.login, u.role))
        .collect())
}

/// Refuses an assignee the actor may not give the lead to.
///
/// # Errors
/// `Rejected` (`assignee_not_allowed`); database errors.
pub async fn check_assignee(
    state: &AppState,
    actor: Actor<'_>,
    lead: &LeadView,
    login: &str,
) -> Result<(), ApiError> {
    let calendar = calendar(state, lead.calendar.id).await?;
    let allowed = assignable_users(state, actor, &calendar)
        .await?
        .iter()
        .any(|u| u.login == login);
    if allowed {
        Ok(())
    } else {
        Err(ApiError::Rejected {
            code: "assignee_not_allowed",
            message: format!(
                "{login:?} is not a user this lead may be assigned to (an enabled user who may see its calendar)"
            ),
        })
    }
}

/// Assigns the lead to `assignee` (a login; `None` takes it from whoever has it).
///
/// # Errors
/// `NotFound` for an unknown lead; `Rejected` (`assignee_not_allowed`) for a user the actor may not assign it
/// to; database errors.
pub async fn assign(
    state: &AppState,
    actor: Actor<'_>,
    lead: &LeadView,
    assignee: Option<&str>,
) -> Result<LeadView, ApiError> {
    if let Some(login) = assignee {
        check_assignee(state, actor, lead, login).await?;
    }
    let patch = LeadPatch {
        status: None,
        assignee: Some(assignee.unwrap_or_default().to_owned()),
        by: Some(actor.id),
    };
    let lead = state
        .storage
        .update_lead(lead.id, &patch)
        .await?
        .ok_or(ApiError::NotFound("lead"))?;
    state.intake.announce(lead.id, Change::Updated);
    tracing::info!(lead_id = lead.id, user = %actor.login, assignee = ?assignee, "lead assigned");
    Ok(lead)
}

/// Moves the lead to the calendar `to`, which the actor must see (else `NotFound`, as if it did not exist).
/// An assignee who may not see `to` loses the lead with the move (in its transaction, recorded): a lead is
/// never assigned to someone who cannot open it.
///
/// # Errors
/// `NotFound` for an unknown lead or a calendar the actor may not see; database errors.
pub async fn move_to(
    state: &AppState,
    actor: Actor<'_>,
    lead: &LeadView,
    to: i64,
) -> Result<LeadView, ApiError> {
    let target = calendar(state, to).await?;
    if !target.visible_to(actor.login, actor.role) {
        return Err(ApiError::NotFound("calendar"));
    }
    let unassign = match lead.assignee.as_deref() {
        Some(login) => state
            .storage
            .users()
            .await?
            .into_iter()
            .find(|u| u.login == login)
            .filter(|u| !target.visible_to(&u.login, u.role))
            .map(|u| u.login),
        None => None,
    };
    let from = lead.calendar.id;
    let moved = state
        .storage
        .move_lead(lead.id, to, Some(actor.id), unassign.as_deref())
        .await?
        .ok_or(ApiError::NotFound("lead"))?;
    if from != to {
        state.intake.announce(lead.id, Change::Moved { from });
        tracing::info!(lead_id = lead.id, user = %actor.login, from, to, "lead moved");
    }
    Ok(moved)
}

async fn calendar(state: &AppState, id: i64) -> Result<CalendarView, ApiError> {
    state
        .storage
        .calendars()
        .await?
        .into_iter()
        .find(|c| c.id == id)
        .ok_or(ApiError::NotFound("calendar"))
}
