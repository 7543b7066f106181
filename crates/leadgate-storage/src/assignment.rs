//! Who works on a lead: each calendar's assignment rule, applied to its new leads as they are filed, and the
//! inbox's filter by assignee.
//!
//! The rule is applied by the backend inside the transaction that inserts the leads (every path that files
//! leads), so a lead is never committed unassigned under a rule that assigns it, and round-robin turns are
//! taken under the calendar's lock: however many leads are filed at once, by however many instances, the
//! counts of the managers of a round-robin never differ by more than one (a manager added later starts level
//! with the fewest). Each assignment is recorded in the lead's history, by leadgate (no actor), with
//! `detail.rule`.

use async_trait::async_trait;
use leadgate_domain::lead::AssignmentRule;

use super::Result;

/// Whose leads the inbox shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssigneeFilter {
    /// Leads nobody is assigned to.
    Unassigned,
    /// Leads assigned to this user.
    User(i64),
}

/// A manager of a round-robin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoundRobinMember {
    /// The user.
    pub user_id: i64,
    /// Their login.
    pub login: String,
    /// Leads the round-robin has given them so far.
    pub assigned: i64,
}

/// A calendar's assignment rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarAssignment {
    /// The calendar.
    pub calendar_id: i64,
    /// How its new leads are assigned.
    pub rule: AssignmentRule,
    /// The managers of its round-robin, by user id (kept when the rule is another, so switching back
    /// restores them).
    pub members: Vec<RoundRobinMember>,
}

/// The calendars' assignment rules.
#[async_trait]
pub trait Assignments: Send + Sync {
    /// Every calendar's rule, by calendar id.
    ///
    /// # Errors
    /// Database errors or a corrupt row.
    async fn calendar_assignments(&self) -> Result<Vec<CalendarAssignment>>;

    /// Sets a calendar's rule and the managers of its round-robin (`members`, user ids; those kept keep
    /// their counts, new ones start level with the fewest). `NotFound` for an unknown calendar or user.
    ///
    /// # Errors
    /// `NotFound`, database errors.
    async fn set_assignment_rule(
        &self,
        calendar_id: i64,
        rule: AssignmentRule,
        members: &[i64],
    ) -> Result<()>;
}
