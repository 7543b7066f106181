//! Records the web UI reads and writes through [`super::Storage`]: users with their credentials, sessions,
//! and the light lead summaries that lists and calendars show.
//!
//! They are kept apart from [`super::model`] because they never cross the JSON API: a lead list in the
//! browser needs a dozen columns, not the full [`super::LeadView`] with lines and extra works, and loading
//! less is what keeps the inbox and the month view fast with 100,000 leads.

use chrono::{DateTime, Utc};

use super::model::HttpSourceRecord;
use leadgate_domain::account::Role;
use leadgate_domain::lead::{Channel, LeadKind, LeadStatus};
use leadgate_domain::payload::Contact;

/// A user as the administration page lists them.
#[derive(Debug, Clone)]
pub struct UserView {
    /// Id.
    pub id: i64,
    /// Login.
    pub login: String,
    /// Name shown in the UI.
    pub display_name: String,
    /// Role.
    pub role: Role,
    /// Whether the user can sign in with a password.
    pub has_password: bool,
    /// Whether a calendar feed key was issued.
    pub has_ics_secret: bool,
    /// Whether an administrator disabled the user (no sign-in, no token, no feed).
    pub disabled: bool,
    /// When the user was created.
    pub created_at: DateTime<Utc>,
}

/// What signing in needs: the user and the stored argon2 PHC string.
#[derive(Clone)]
pub struct UserCredentials {
    /// Id.
    pub id: i64,
    /// Login.
    pub login: String,
    /// Role.
    pub role: Role,
    /// Argon2 PHC string; `None` for users who cannot sign in with a password.
    pub password_hash: Option<String>,
    /// Disabled by an administrator: may not sign in.
    pub disabled: bool,
}

impl std::fmt::Debug for UserCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserCredentials")
            .field("id", &self.id)
            .field("login", &self.login)
            .field("role", &self.role)
            .field("disabled", &self.disabled)
            .finish_non_exhaustive()
    }
}

/// A session to store. The id itself never reaches storage, only its SHA-256.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// SHA-256 (hex) of the cookie's session id.
    pub id_hash: String,
    /// Who signed in.
    pub user_id: i64,
    /// The session's CSRF token, put into every form.
    pub csrf_token: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it stops being valid.
    pub expires_at: DateTime<Utc>,
}

/// Which sessions are live at a moment: not expired, used since `idle_since`, of a user not disabled.
#[derive(Debug, Clone, Copy)]
pub struct SessionCheck {
    /// Now.
    pub now: DateTime<Utc>,
    /// A session not used since before this has gone idle.
    pub idle_since: DateTime<Utc>,
}

/// A live session with its user.
#[derive(Debug, Clone)]
pub struct SessionRecord {
    /// User id.
    pub user_id: i64,
    /// Login.
    pub login: String,
    /// Display name.
    pub display_name: String,
    /// Role.
    pub role: Role,
    /// CSRF token of the session.
    pub csrf_token: String,
    /// When the session was last used (recorded every few minutes, not on every request).
    pub last_seen_at: DateTime<Utc>,
}

/// One sign-in attempt to reserve against the rate limits, before its password is checked.
#[derive(Debug, Clone)]
pub struct LoginAttempt {
    /// SHA-256 (hex) of the lower-cased login: the login itself is never stored.
    pub login_key: String,
    /// The client address (an IPv6 client by its /64).
    pub address: String,
    /// Now.
    pub at: DateTime<Utc>,
    /// Attempts before this are forgotten.
    pub window_start: DateTime<Utc>,
}

/// The rate limits a sign-in attempt is checked against: per login and per client address, a number of free
/// failures in the window, then a wait after the latest one that doubles with each further failure.
#[derive(Debug, Clone, Copy)]
pub struct LoginLimits {
    /// Failures per login before waits begin.
    pub free_per_login: i64,
    /// Failures per client address before waits begin.
    pub free_per_address: i64,
    /// The first wait.
    pub first_wait: chrono::Duration,
    /// The longest wait.
    pub max_wait: chrono::Duration,
}

impl LoginLimits {
    /// How long after the latest of `failures` failures the next attempt must wait (`None`: it may go now).
    pub fn wait(
        &self,
        free: i64,
        failures: i64,
        latest: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Option<chrono::Duration> {
        if failures < free {
            return None;
        }
        let doublings = u32::try_from(failures - free).unwrap_or(u32::MAX).min(16);
        let wait = self
            .first_wait
            .checked_mul(1 << doublings)
            .unwrap_or(self.max_wait)
            .min(self.max_wait);
        let left = latest + wait - now;
        (left > chrono::Duration::zero()).then_some(left)
    }
}

/// What the rate limits said about a sign-in attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginReservation {
    /// Recorded as a failure until it succeeds; the id of its per-address record.
    Granted {
        /// The per-address record, deleted when the sign-in succeeds.
        address_attempt: i64,
    },
    /// Too many recent failures for the login or the address: try again after this long.
    Refused {
        /// The wait.
        retry_after: chrono::Duration,
    },
}

/// An API token as `leadgate tokens list` shows it (never the token itself, which is not stored).
#[derive(Debug, Clone)]
pub struct ApiTokenView {
    /// Id.
    pub id: i64,
    /// Owner's login.
    pub owner: String,
    /// The token's name (`configured` for the one from `server.admin_token_env`/`_file`).
    pub name: String,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Revoked, when it was.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// The columns of a lead that lists, calendars and feeds show.
#[derive(Debug, Clone)]
pub struct LeadSummary {
    /// Id.
    pub id: i64,
    /// Calendar id.
    pub calendar_id: i64,
    /// Calendar name.
    pub calendar_name: String,
    /// Contact or order.
    pub kind: LeadKind,
    /// Status.
    pub status: LeadStatus,
    /// Subject (Тема).
    pub subject: Option<String>,
    /// Free text (for the calendar feed's DESCRIPTION).
    pub description: Option<String>,
    /// Who to call back.
    pub contact: Contact,
    /// INN as sent.
    pub inn: Option<String>,
    /// Counterparty name, when found by INN.
    pub counterparty_name: Option<String>,
    /// Where the calendar shows it: the payload's Дата, else receipt.
    pub starts_at: DateTime<Utc>,
    /// Receipt.
    pub received_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Channel.
    pub channel: Channel,
    /// External number from the subject.
    pub external_number: Option<String>,
    /// Assignee login.
    pub assignee: Option<String>,
}

/// Filters and position of an inbox page.
#[derive(Debug, Clone, Default)]
pub struct InboxQuery {
    /// Only these calendars (the ones the user may see, narrowed by the calendar filter); `None` is every
    /// calendar. An empty list shows nothing.
    pub calendars: Option<Vec<i64>>,
    /// Only this status.
    pub status: Option<LeadStatus>,
    /// Only this kind.
    pub kind: Option<LeadKind>,
    /// `starts_at` from (inclusive).
    pub from: Option<DateTime<Utc>>,
    /// `starts_at` to (exclusive).
    pub to: Option<DateTime<Utc>>,
    /// Text search: a fragment of the lead's search text, as [`crate::SearchKey`] folds it.
    pub search: Option<String>,
    /// Only leads of this assignee, or only unassigned ones.
    pub assignee: Option<crate::AssigneeFilter>,
    /// Only leads with an open follow-up due before this time (the overdue follow-ups filter).
    pub overdue_at: Option<DateTime<Utc>>,
    /// Continue after this position.
    pub cursor: Option<InboxCursor>,
    /// Page size.
    pub limit: u32,
}

impl InboxQuery {
    /// The runs the query walks, in order, each with the lead it continues after: the new leads (`true`), then
    /// the others; a status filter leaves one of them, and a cursor past the new leads leaves the others.
    pub fn runs(&self) -> Vec<(bool, Option<i64>)> {
        let runs: &[bool] = match self.status {
            Some(LeadStatus::New) => &[true],
            Some(_) => &[false],
            None => &[true, false],
        };
        runs.iter()
            .filter_map(|&in_new| match self.cursor {
                Some(c) if c.in_new == in_new => Some((in_new, Some(c.after_id))),
                // The cursor is already past the run of new leads.
                Some(c) if in_new && !c.in_new => None,
                _ => Some((in_new, None)),
            })
            .collect()
    }

    /// The text searched for, as the search compares it; `None` when there is none.
    pub fn search_key(&self) -> Option<crate::SearchKey> {
        self.search.as_deref().and_then(crate::SearchKey::parse)
    }
}

/// A position in the inbox. New leads come first, newest first; then every other lead, newest first. The
/// cursor says which of the two runs the page is in and the last id shown, so paging is a keyset walk of an
/// index, whatever the page number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InboxCursor {
    /// Still in the run of new leads.
    pub in_new: bool,
    /// Last id shown.
    pub after_id: i64,
}

impl InboxCursor {
    /// The cursor as a URL token: `n123` or `o123`.
    pub fn encode(&self) -> String {
        format!("{}{}", if self.in_new { 'n' } else { 'o' }, self.after_id)
    }

    /// Reads [`InboxCursor::encode`]'s form; `None` for anything else.
    pub fn decode(s: &str) -> Option<Self> {
        let in_new = match s.chars().next()? {
            'n' => true,
            'o' => false,
            _ => return None,
        };
        let after_id = s.get(1..)?.parse().ok()?;
        Some(Self { in_new, after_id })
    }
}

/// One inbox page.
#[derive(Debug, Clone)]
pub struct InboxPage {
    /// The leads.
    pub items: Vec<LeadSummary>,
    /// Where the next page starts, `None` at the end.
    pub next: Option<InboxCursor>,
}

impl InboxPage {
    /// A page of at most `limit` leads from `found` (each with whether it is of the run of new leads, in the
    /// page's order), fetched with one extra lead: with the cursor to the next page when there is one.
    pub fn from_runs(mut found: Vec<(bool, LeadSummary)>, limit: usize) -> Self {
        let next = if found.len() > limit {
            found.truncate(limit);
            found.last().map(|(in_new, lead)| InboxCursor {
                in_new: *in_new,
                after_id: lead.id,
            })
        } else {
            None
        };
        InboxPage {
            items: found.into_iter().map(|(_, lead)| lead).collect(),
            next,
        }
    }

    /// [`InboxPage::from_runs`] of the leads `ids` names, in its order, taken from `leads` read in any order;
    /// a lead no longer there (erased in between) is left out.
    pub fn from_ids(ids: &[(bool, i64)], leads: Vec<LeadSummary>, limit: usize) -> Self {
        let mut leads: std::collections::HashMap<i64, LeadSummary> =
            leads.into_iter().map(|lead| (lead.id, lead)).collect();
        let found = ids
            .iter()
            .filter_map(|&(in_new, id)| leads.remove(&id).map(|lead| (in_new, lead)))
            .collect();
        Self::from_runs(found, limit)
    }
}

/// What the inbox polls for: has anything arrived?
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct InboxPulse {
    /// Highest lead id in the visible calendars (0 when none).
    pub latest_id: i64,
    /// How many visible leads are new, counted up to [`InboxPulse::NEW_COUNT_CAP`].
    pub new_count: i64,
}

impl InboxPulse {
    /// The most new leads the inbox counts; the page shows more as "1000+".
    pub const NEW_COUNT_CAP: i64 = 1000;

    /// Whether there are at least as many new leads as the count goes to.
    pub fn count_capped(&self) -> bool {
        self.new_count >= Self::NEW_COUNT_CAP
    }
}

/// One day of a calendar view.
#[derive(Debug, Clone, Default)]
pub struct DaySlot {
    /// How many leads start that day, counted up to [`DaySlot::COUNT_CAP`].
    pub count: i64,
    /// The first of them, by time.
    pub events: Vec<LeadSummary>,
}

impl DaySlot {
    /// The most leads a day of a calendar view counts; a busier day shows "ещё N+". Counting every lead of
    /// every day of a month read tens of thousands of index entries per page at a million leads.
    pub const COUNT_CAP: i64 = 100;

    /// Whether the day has at least as many leads as the count goes to.
    pub fn count_capped(&self) -> bool {
        self.count >= Self::COUNT_CAP
    }
}

/// An HTTP source as the administration page lists it: the source, and what only the list shows.
#[derive(Debug, Clone)]
pub struct HttpSourceView {
    /// The source.
    pub source: HttpSourceRecord,
    /// Whether it still has a token (revoked ones do not).
    pub active: bool,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn after_the_free_failures_the_wait_doubles_up_to_its_cap() {
        let limits = LoginLimits {
            free_per_login: 5,
            free_per_address: 20,
            first_wait: Duration::seconds(15),
            max_wait: Duration::minutes(2),
        };
        let now = Utc::now();
        assert_eq!(limits.wait(5, 4, now, now), None);
        assert_eq!(limits.wait(5, 5, now, now), Some(Duration::seconds(15)));
        assert_eq!(limits.wait(5, 6, now, now), Some(Duration::seconds(30)));
        assert_eq!(limits.wait(5, 50, now, now), Some(Duration::minutes(2)));
        assert_eq!(
            limits.wait(5, 5, now - Duration::seconds(10), now),
            Some(Duration::seconds(5))
        );
        assert_eq!(limits.wait(5, 5, now - Duration::seconds(15), now), None);
    }

    #[test]
    fn an_inbox_cursor_round_trips_and_rejects_anything_else() {
        for c in [
            InboxCursor {
                in_new: true,
                after_id: 42,
            },
            InboxCursor {
                in_new: false,
                after_id: 7,
            },
        ] {
            assert_eq!(InboxCursor::decode(&c.encode()), Some(c));
        }
        assert_eq!(InboxCursor::decode("x1"), None);
        assert_eq!(InboxCursor::decode("n"), None);
        assert_eq!(InboxCursor::decode(""), None);
    }
}
