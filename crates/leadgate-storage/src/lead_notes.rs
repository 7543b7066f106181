//! What managers add to a lead beside its data: comments, and follow-ups ("call back on 3 June at 11:00").
//!
//! A comment is plain text with its author and time. A follow-up belongs to one user, its owner, who sees it
//! in their calendar views and feed and is told when it is due; it stays open until marked done. Both are
//! written in one transaction with the lead's history entry, and both are read per lead, so the lead page and
//! its timeline can show them. Who may do what (the lead's visibility, planning for someone else) is the
//! caller's rule; storage checks only that the lead and the users exist.

use std::collections::HashSet;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::Result;

/// A comment to add.
#[derive(Debug, Clone)]
pub struct NewComment {
    /// The lead.
    pub lead_id: i64,
    /// Who writes it.
    pub author_id: i64,
    /// The text, as typed.
    pub body: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// A comment as shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentView {
    /// Id.
    pub id: i64,
    /// The lead.
    pub lead_id: i64,
    /// Its author.
    pub author_id: i64,
    /// The author's login.
    pub author_login: String,
    /// The author's display name.
    pub author_name: String,
    /// The text, as typed.
    pub body: String,
    /// When it was written.
    pub created_at: DateTime<Utc>,
}

/// A follow-up to plan.
#[derive(Debug, Clone)]
pub struct NewFollowUp {
    /// The lead.
    pub lead_id: i64,
    /// Whose it is: who sees it in their calendar and is told when it is due.
    pub owner_id: i64,
    /// When it is due.
    pub due_at: DateTime<Utc>,
    /// What to do ("ask about the layout").
    pub note: String,
    /// Who planned it.
    pub created_by: i64,
    /// When it was planned.
    pub at: DateTime<Utc>,
}

/// A follow-up as shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowUpView {
    /// Id.
    pub id: i64,
    /// The lead.
    pub lead_id: i64,
    /// The lead's calendar.
    pub calendar_id: i64,
    /// The lead's subject, if any.
    pub lead_subject: Option<String>,
    /// Its owner.
    pub owner_id: i64,
    /// The owner's login.
    pub owner_login: String,
    /// The owner's display name.
    pub owner_name: String,
    /// When it is due.
    pub due_at: DateTime<Utc>,
    /// What to do.
    pub note: String,
    /// Who planned it (login).
    pub created_by_login: String,
    /// When it was planned.
    pub created_at: DateTime<Utc>,
    /// When it was marked done; `None` while open.
    pub done_at: Option<DateTime<Utc>>,
    /// Who marked it done (login).
    pub done_by_login: Option<String>,
}

/// Comments and follow-ups of leads.
#[async_trait]
pub trait LeadNotes: Send + Sync {
    /// Adds a comment, with its history entry, in one transaction; `None` when the lead does not exist.
    ///
    /// # Errors
    /// `NotFound` for an unknown author; database errors.
    async fn add_comment(&self, comment: &NewComment) -> Result<Option<CommentView>>;

    /// A lead's comments, oldest first.
    ///
    /// # Errors
    /// Database errors.
    async fn comments_of_lead(&self, lead_id: i64) -> Result<Vec<CommentView>>;

    /// Plans a follow-up, with its history entry, in one transaction; `None` when the lead does not exist.
    ///
    /// # Errors
    /// `NotFound` for an unknown owner or planner; database errors.
    async fn plan_follow_up(&self, follow_up: &NewFollowUp) -> Result<Option<FollowUpView>>;

    /// Marks a follow-up done, with its history entry, in one transaction. One already done stays as it was
    /// (no second entry); `None` when there is no such follow-up.
    ///
    /// # Errors
    /// Database errors.
    async fn complete_follow_up(
        &self,
        id: i64,
        by: i64,
        at: DateTime<Utc>,
    ) -> Result<Option<FollowUpView>>;

    /// One follow-up.
    ///
    /// # Errors
    /// Database errors.
    async fn follow_up(&self, id: i64) -> Result<Option<FollowUpView>>;

    /// A lead's follow-ups, by due time.
    ///
    /// # Errors
    /// Database errors.
    async fn follow_ups_of_lead(&self, lead_id: i64) -> Result<Vec<FollowUpView>>;

    /// A user's follow-ups due in `from..to`, by due time, on leads of these calendars (`None`: every
    /// calendar), open and done, at most `limit` (the calendar views and feed).
    ///
    /// # Errors
    /// Database errors.
    async fn follow_ups_of_owner(
        &self,
        owner_id: i64,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        calendars: Option<&[i64]>,
        limit: u32,
    ) -> Result<Vec<FollowUpView>>;

    /// Open follow-ups that fall due in `after..=upto` (exclusive of `after`), by due time, at most `limit`:
    /// what the due announcer tells their owners.
    ///
    /// # Errors
    /// Database errors.
    async fn follow_ups_falling_due(
        &self,
        after: DateTime<Utc>,
        upto: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<FollowUpView>>;

    /// Which of these leads have an open follow-up due before `now` (the inbox's overdue mark).
    ///
    /// # Errors
    /// Database errors.
    async fn leads_with_overdue_follow_ups(
        &self,
        lead_ids: &[i64],
        now: DateTime<Utc>,
    ) -> Result<HashSet<i64>>;
}
