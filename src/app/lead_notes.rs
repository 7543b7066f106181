//! Comments and follow-ups on a lead: the rules the web UI and the API share.
//!
//! Whoever may see a lead may comment on it, plan a follow-up on it and mark its follow-ups done. A
//! follow-up is the planner's own; only an administrator may plan one for someone else, and only for a user
//! who may see the lead's calendar (whose calendar views and feed it will appear in). The caller has checked
//! that the acting user may see the lead; these functions check the rest, write through storage (one
//! transaction with the lead's history entry) and wake the due announcer of this instance.

use chrono::{DateTime, Utc};

use super::{ApiError, AppState};
use leadgate_domain::account::Role;
use leadgate_storage::{CommentView, FollowUpView, LeadView, NewComment, NewFollowUp};

/// The longest comment, in characters.
pub const MAX_COMMENT_CHARS: usize = 10_000;
/// The longest follow-up note, in characters.
pub const MAX_NOTE_CHARS: usize = 2_000;

/// Who acts: the signed-in viewer or the owner of an API token.
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    /// User id.
    pub user_id: i64,
    /// Login.
    pub login: &'a str,
    /// Role.
    pub role: Role,
}

fn rejected(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::Rejected {
        code,
        message: message.into(),
    }
}

/// The first instant a follow-up may not fall due: its calendar entry (half an hour) and its time in any time
/// zone stay within four-digit years, which the calendar feed and the pages write.
const LAST_DUE: DateTime<Utc> =
    DateTime::from_timestamp(253_402_128_000, 0).expect("9999-12-30T00:00:00Z");

/// Text as typed, with line ends made `\n`, kept as a lead's fields are
/// ([`leadgate_domain::payload::storable_text`]: no NUL, no bidirectional overrides), and the blank lines
/// around it trimmed; `None` when nothing is left.
fn clean(text: &str) -> Option<String> {
    let text = leadgate_domain::payload::storable_text(text)
        .replace("\r\n", "\n")
        .replace('\r', "\n");
    let text = text.trim_matches(|c: char| c == '\n' || c.is_whitespace());
    (!text.is_empty()).then(|| text.to_owned())
}

/// Adds a comment by `actor` on `lead` (which the actor may see).
///
/// # Errors
/// 422 for an empty or too long text; database errors.
pub async fn add_comment(
    state: &AppState,
    actor: Actor<'_>,
    lead: &LeadView,
    body: &str,
) -> Result<CommentView, ApiError> {
    let body = clean(body).ok_or_else(|| rejected("empty_comment", "the comment is empty"))?;
    if body.chars().count() > MAX_COMMENT_CHARS {
        return Err(rejected(
            "comment_too_long",
            format!("a comment holds at most {MAX_COMMENT_CHARS} characters"),
        ));
    }
    let comment = state
        .storage
        .add_comment(&NewComment {
            lead_id: lead.id,
            author_id: actor.user_id,
            body,
            at: Utc::now(),
        })
        .await?
        .ok_or(ApiError::NotFound("lead"))?;
    state.intake.announce(lead.id, crate::live::Change::Updated);
    tracing::info!(lead_id = lead.id, user = %actor.login, comment = comment.id, "comment added");
    Ok(comment)
}

/// Plans a follow-up on `lead` (which the actor may see) at `due_at`, for `owner` (a login; `None`: the
/// actor).
///
/// # Errors
/// 403 when a manager plans for someone else; 422 for an owner who is unknown, disabled or may not see the
/// lead, a time from 9999-12-30 on, or a note too long; database errors.
pub async fn plan_follow_up(
    state: &AppState,
    actor: Actor<'_>,
    lead: &LeadView,
    owner: Option<&str>,
    due_at: DateTime<Utc>,
    note: &str,
) -> Result<FollowUpView, ApiError> {
    let owner = owner.map(str::trim).filter(|o| !o.is_empty());
    let owner_id = match owner {
        None => actor.user_id,
        Some(login) if login == actor.login => actor.user_id,
        Some(login) => {
            if actor.role != Role::Admin {
                return Err(ApiError::Forbidden);
            }
            let user = state
                .storage
                .users()
                .await?
                .into_iter()
                .find(|u| u.login == login && !u.disabled)
                .ok_or_else(|| rejected("unknown_owner", format!("no active user {login:?}")))?;
            let may_see = state
                .storage
                .calendars()
                .await?
                .iter()
                .find(|c| c.id == lead.calendar.id)
                .is_some_and(|c| c.visible_to(&user.login, user.role));
            if !may_see {
                return Err(rejected(
                    "owner_cannot_see_lead",
                    format!("{login:?} may not see this lead's calendar"),
                ));
            }
            user.id
        }
    };
    if due_at >= LAST_DUE {
        return Err(rejected(
            "due_at_out_of_range",
            "a follow-up falls due before 9999-12-30",
        ));
    }
    let note = clean(note).unwrap_or_default();
    if note.chars().count() > MAX_NOTE_CHARS {
        return Err(rejected(
            "note_too_long",
            format!("a note holds at most {MAX_NOTE_CHARS} characters"),
        ));
    }
    let planned = state
        .storage
        .plan_follow_up(&NewFollowUp {
            lead_id: lead.id,
            owner_id,
            due_at,
            note,
            created_by: actor.user_id,
            at: Utc::now(),
        })
        .await?
        .ok_or(ApiError::NotFound("lead"))?;
    state.live.follow_up_planned();
    state.intake.announce(lead.id, crate::live::Change::Updated);
    tracing::info!(lead_id = lead.id, user = %actor.login, follow_up = planned.id,
        owner = %planned.owner_login, "follow-up planned");
    Ok(planned)
}

/// Marks a follow-up of `lead` (which the actor may see) done; one done already stays as it was.
///
/// # Errors
/// 404 when the follow-up is not the lead's; database errors.
pub async fn complete_follow_up(
    state: &AppState,
    actor: Actor<'_>,
    lead: &LeadView,
    follow_up_id: i64,
) -> Result<FollowUpView, ApiError> {
    let found = state
        .storage
        .follow_up(follow_up_id)
        .await?
        .filter(|f| f.lead_id == lead.id)
        .ok_or(ApiError::NotFound("follow-up"))?;
    if found.done_at.is_some() {
        return Ok(found);
    }
    let done = state
        .storage
        .complete_follow_up(follow_up_id, actor.user_id, Utc::now())
        .await?
        .ok_or(ApiError::NotFound("follow-up"))?;
    state.intake.announce(lead.id, crate::live::Change::Updated);
    tracing::info!(lead_id = lead.id, user = %actor.login, follow_up = follow_up_id, "follow-up done");
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_keeps_its_inner_line_breaks_and_loses_the_blank_ones_around_it() {
        assert_eq!(
            clean("\r\n  Перезвонить\r\nпосле обеда \n\n").as_deref(),
            Some("Перезвонить\nпосле обеда")
        );
        assert_eq!(clean(" \r\n\t "), None);
    }
}
