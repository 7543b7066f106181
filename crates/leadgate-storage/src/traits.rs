//! The storage interface: one role trait per aggregate, and [`Storage`], which is all of them.
//!
//! Every method is a complete unit of work: it either commits or changes nothing. Everything that must be
//! atomic lives behind these traits, inside a transaction of the backend: the ledger record and its lead
//! commit together, a counterparty is found or created in the lead's transaction, and an idempotency key is
//! claimed in the same transaction as the lead it answers with.
//!
//! The names follow one vocabulary: `thing(id)` reads one record, `things(..)` lists them, `create_thing`
//! inserts one that must be new (a name taken is a [`StorageError::Conflict`]), `upsert_thing` creates or
//! updates by name (what the configuration provisions), `update_thing` changes some fields, `set_*` replaces
//! one value, `revoke_*`/`delete_*` take something away, and `*_of_*`/`*_by_*` read through another record.
//!
//! [`StorageError::Conflict`]: super::StorageError::Conflict

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::error::Result;
use super::model::*;
use super::web_model::*;
use super::{
    CollectorPasswordStore, CounterpartyEdits, FileManaged, LayoutFileStore, Reports, SettingsStore,
};
use leadgate_domain::account::Role;
use leadgate_domain::ledger::Outcome;
use leadgate_domain::personal_data::PersonDataQuery;

/// The ledger: every message received, with its outcome, and the intake's writes.
#[async_trait]
pub trait Ledger: Send + Sync {
    /// Checks that the database answers (for `/readyz`).
    ///
    /// # Errors
    /// The database does not answer.
    async fn ping(&self) -> Result<()>;

    /// Records a batch of submissions in ONE transaction (group commit) and returns one outcome per
    /// submission, in order. When the batch as a whole fails, the caller retries each submission alone so
    /// that one bad row never takes its neighbours down.
    ///
    /// # Errors
    /// Database errors; nothing of the batch is stored then.
    async fn submit_batch(&self, batch: &[Submission]) -> Result<Vec<SubmitOutcome>>;

    /// How many [`Ledger::submit_batch`] transactions the group-commit writer runs at once. An embedded
    /// database with one write lock gains nothing from a second; a database server works on one group while
    /// another waits for its commit or a lock.
    fn concurrent_batches(&self) -> usize;

    /// Files a lead for an existing rejected ledger record after reprocessing, and marks it imported, in one
    /// transaction. The outcome is checked inside that transaction: a record that is no longer rejected (a
    /// concurrent reprocessing got there first) gets no second lead. The new lead's history records the
    /// reprocessing (`by`: the user who asked for it).
    ///
    /// # Errors
    /// `NotFound` for an unknown record; database errors.
    async fn import_for_message(
        &self,
        message_id: i64,
        draft: &LeadDraft,
        by: Option<i64>,
    ) -> Result<Reimport>;

    /// Replaces the raw bytes of a record that is still rejected: a message the ledger held as its header
    /// fields alone, downloaded whole by reprocessing, is kept whole from then on, whatever its new outcome.
    /// `false` (and nothing changed) when it is no longer rejected.
    ///
    /// # Errors
    /// Database errors.
    async fn replace_raw(&self, id: i64, content_type: &str, raw: &StoredRaw) -> Result<bool>;

    /// Replaces the outcome of a record that is still rejected, after reprocessing or discarding it; `false`
    /// (and nothing changed) when it is no longer rejected.
    ///
    /// # Errors
    /// Database errors.
    async fn resolve_message(
        &self,
        id: i64,
        outcome: Outcome,
        reason: Option<&str>,
        lead_id: Option<i64>,
    ) -> Result<bool>;

    /// A page of ledger records, newest first.
    ///
    /// # Errors
    /// Database errors.
    async fn messages(
        &self,
        outcome: Option<Outcome>,
        page: PageRequest,
    ) -> Result<Page<MessageView>>;

    /// One ledger record.
    ///
    /// # Errors
    /// Database errors.
    async fn message(&self, id: i64) -> Result<Option<MessageView>>;

    /// The raw bytes kept for a ledger record, with their content type.
    ///
    /// # Errors
    /// Database errors.
    async fn message_raw(&self, id: i64) -> Result<Option<RawMessage>>;

    /// The ledger record a lead was made from.
    ///
    /// # Errors
    /// Database errors.
    async fn message_of_lead(&self, lead_id: i64) -> Result<Option<i64>>;

    /// Which of these mailbox keys (UIDVALIDITY:UID or UIDL) the ledger holds for a source.
    ///
    /// # Errors
    /// Database errors.
    async fn known_mailbox_keys(&self, source: &str, keys: &[String]) -> Result<HashSet<String>>;

    /// Which of these mailbox keys the ledger holds as imported, or as a duplicate of an imported record:
    /// the only mail retention may delete.
    ///
    /// # Errors
    /// Database errors.
    async fn imported_mailbox_keys(&self, source: &str, keys: &[String])
    -> Result<HashSet<String>>;

    /// Mailbox keys of a source recorded before `before` as imported, or as a duplicate of an imported
    /// record (POP3 retention).
    ///
    /// # Errors
    /// Database errors.
    async fn imported_mailbox_keys_before(
        &self,
        source: &str,
        before: DateTime<Utc>,
    ) -> Result<HashSet<String>>;
}

/// Leads and what hangs off them: order lines, tech cards, counterparties; the API's list and the web UI's
/// inbox, calendar views and calendar feed.
#[async_trait]
pub trait Leads: Send + Sync {
    /// One lead in the API's shape.
    ///
    /// # Errors
    /// Database errors or a corrupt row.
    async fn lead(&self, id: i64) -> Result<Option<LeadView>>;

    /// A page of leads, newest first, of these calendars only (`None`: every calendar).
    ///
    /// # Errors
    /// Database errors or a corrupt row.
    async fn leads(
        &self,
        filter: &LeadFilter,
        calendars: Option<&[i64]>,
        page: PageRequest,
    ) -> Result<Page<LeadView>>;

    /// Changes status and/or assignee; `None` when the lead does not exist. Each change is recorded in the
    /// lead's history, by `patch.by`, in the same transaction.
    ///
    /// # Errors
    /// `NotFound` for an unknown assignee; database errors.
    async fn update_lead(&self, id: i64, patch: &LeadPatch) -> Result<Option<LeadView>>;

    /// Moves a lead to another calendar, recording the move in its history (by `by`) in the same
    /// transaction; `None` when the lead does not exist, and nothing recorded when it is there already.
    /// `unassign` names an assignee who may not see the new calendar: when the lead is still that user's,
    /// the move takes it from them too, recorded as an assignment to nobody (a lead is never left with an
    /// assignee who cannot open it).
    ///
    /// # Errors
    /// `NotFound` for an unknown calendar; database errors.
    async fn move_lead(
        &self,
        id: i64,
        calendar_id: i64,
        by: Option<i64>,
        unassign: Option<&str>,
    ) -> Result<Option<LeadView>>;

    /// Forms the tech cards of a lead, one per non-service line; forming again changes nothing. Cards
    /// formed are recorded in the lead's history (`by`: the user who formed them). Returns `None` when the
    /// lead does not exist.
    ///
    /// # Errors
    /// Database errors.
    async fn form_tech_cards(
        &self,
        lead_id: i64,
        by: Option<i64>,
    ) -> Result<Option<Vec<TechCardView>>>;

    /// The tech cards of a lead.
    ///
    /// # Errors
    /// Database errors.
    async fn tech_cards_of_lead(&self, lead_id: i64) -> Result<Vec<TechCardView>>;

    /// One tech card.
    ///
    /// # Errors
    /// Database errors.
    async fn tech_card(&self, id: i64) -> Result<Option<TechCardView>>;

    /// Counterparties, newest first, optionally only the one with this INN. With `calendars`, only
    /// counterparties that have a lead in one of them, with only the contacts those leads brought (`None`:
    /// every counterparty with every contact).
    ///
    /// # Errors
    /// Database errors.
    async fn counterparties(
        &self,
        inn: Option<&str>,
        calendars: Option<&[i64]>,
        page: PageRequest,
    ) -> Result<Page<CounterpartyView>>;

    /// One counterparty with its contacts. With `calendars`, `None` unless it has a lead in one of them,
    /// and only the contacts those leads brought (`None`: every calendar).
    ///
    /// # Errors
    /// Database errors.
    async fn counterparty(
        &self,
        id: i64,
        calendars: Option<&[i64]>,
    ) -> Result<Option<CounterpartyView>>;

    /// Counterparties whose INN starts with the digits of `query`, or whose name has words starting with its
    /// words (case-insensitive in any script); all of them when `query` is empty. Newest first. With
    /// `calendars`, only those with a lead in one of them, as [`Leads::counterparty`] shows them.
    ///
    /// # Errors
    /// Database errors.
    async fn search_counterparties(
        &self,
        query: &str,
        calendars: Option<&[i64]>,
        page: PageRequest,
    ) -> Result<Page<CounterpartyView>>;

    /// The latest leads of a counterparty.
    ///
    /// # Errors
    /// Database errors or a corrupt row.
    async fn leads_of_counterparty(
        &self,
        counterparty_id: i64,
        limit: u32,
    ) -> Result<Vec<LeadSummary>>;

    /// A page of the inbox: new leads first, then the rest, newest first, keyset-paged.
    ///
    /// # Errors
    /// Database errors or a corrupt row.
    async fn inbox(&self, query: &InboxQuery) -> Result<InboxPage>;

    /// The highest lead id and the number of new leads in these calendars (`None`: every calendar).
    ///
    /// # Errors
    /// Database errors.
    async fn inbox_pulse(&self, calendars: Option<&[i64]>) -> Result<InboxPulse>;

    /// The days between consecutive `bounds` (n bounds make n-1 days): for each, how many leads of these
    /// calendars start in it and the first `per_day` of them by time.
    ///
    /// # Errors
    /// Database errors or a corrupt row.
    async fn calendar_days(
        &self,
        calendars: &[i64],
        bounds: &[DateTime<Utc>],
        per_day: u32,
    ) -> Result<Vec<DaySlot>>;

    /// Leads of one calendar starting at or after `from`, latest first (future ones included), at most
    /// `limit` (the calendar feed).
    ///
    /// # Errors
    /// Database errors or a corrupt row.
    async fn calendar_feed(
        &self,
        calendar_id: i64,
        from: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<LeadSummary>>;
}

/// The name of a configured API token once the configuration replaced or removed it (it is revoked then,
/// and comes back if configured again); `tokens list` shows it.
pub const REPLACED_CONFIGURED_TOKEN: &str = "configured, replaced";

/// Users and how they prove who they are: passwords, web sessions, the sign-in rate limit, API tokens and
/// calendar feed keys. Secrets reach storage only as hashes.
#[async_trait]
pub trait Accounts: Send + Sync {
    /// Whether an administrator's account exists, enabled or not. The first start is the one that finds none
    /// and creates it: calendar owners that the configuration names exist as managers before it.
    ///
    /// # Errors
    /// Database errors.
    async fn has_admin(&self) -> Result<bool>;

    /// One user.
    ///
    /// # Errors
    /// Database errors or a corrupt role.
    async fn user(&self, id: i64) -> Result<Option<UserView>>;

    /// Every user, by login.
    ///
    /// # Errors
    /// Database errors or a corrupt role.
    async fn users(&self) -> Result<Vec<UserView>>;

    /// Creates a user; a login that exists already is a `Conflict`.
    ///
    /// # Errors
    /// `Conflict`, database errors.
    async fn create_user(
        &self,
        login: &str,
        display_name: &str,
        role: Role,
        password_hash: Option<&str>,
    ) -> Result<i64>;

    /// Creates or updates a user by login; `password_hash: None` keeps the stored one.
    ///
    /// # Errors
    /// Database errors.
    async fn upsert_user(
        &self,
        login: &str,
        role: Role,
        password_hash: Option<&str>,
    ) -> Result<i64>;

    /// Changes a user's role and/or password hash (`None` keeps it). Changing the password ends the user's
    /// sessions, revokes their API tokens (all but the one the configuration provisions) and their calendar
    /// feed key.
    ///
    /// # Errors
    /// `NotFound`, database errors.
    async fn update_user(
        &self,
        id: i64,
        role: Option<Role>,
        password_hash: Option<&str>,
    ) -> Result<()>;

    /// Disables a user (ending their sessions) or enables them again; `false` when there is no such user.
    ///
    /// # Errors
    /// Database errors.
    async fn set_user_disabled(&self, id: i64, disabled: bool) -> Result<bool>;

    /// A user's credentials by login, for signing in.
    ///
    /// # Errors
    /// Database errors or a corrupt role.
    async fn user_credentials(&self, login: &str) -> Result<Option<UserCredentials>>;

    /// Reserves a sign-in attempt before its password is checked, in one transaction: forgets attempts
    /// older than the window, refuses when the login or the address must wait (see [`LoginLimits`]), and
    /// otherwise records the attempt as a failure for both, so concurrent guesses all count.
    ///
    /// # Errors
    /// Database errors: the caller must then refuse the sign-in.
    async fn reserve_login_attempt(
        &self,
        attempt: &LoginAttempt,
        limits: &LoginLimits,
    ) -> Result<LoginReservation>;

    /// After a successful sign-in: forgets the login's failures and the attempt's per-address record.
    ///
    /// # Errors
    /// Database errors.
    async fn clear_login_attempts(&self, login_key: &str, address_attempt: i64) -> Result<()>;

    /// Stores a new session (and drops expired ones).
    ///
    /// # Errors
    /// Database errors.
    async fn create_session(&self, session: &NewSession) -> Result<()>;

    /// The live session with this id hash: not expired, not idle, its user not disabled.
    ///
    /// # Errors
    /// Database errors or a corrupt role.
    async fn session(&self, id_hash: &str, check: SessionCheck) -> Result<Option<SessionRecord>>;

    /// Records that a session was used at `now` (for the idle timeout).
    ///
    /// # Errors
    /// Database errors.
    async fn touch_session(&self, id_hash: &str, now: DateTime<Utc>) -> Result<()>;

    /// Ends a session.
    ///
    /// # Errors
    /// Database errors.
    async fn delete_session(&self, id_hash: &str) -> Result<()>;

    /// Adds an API token for a user.
    ///
    /// # Errors
    /// Database errors (a token hash that exists already is a conflict).
    async fn create_api_token(&self, user_id: i64, name: &str, token_hash: &str) -> Result<()>;

    /// Makes the token with this hash the API token named `configured` of this user (adding it, or restoring
    /// it when the configuration had replaced it) and revokes every other `configured` token, renamed
    /// [`REPLACED_CONFIGURED_TOKEN`], so a token changed in or removed from
    /// the configuration stops working; `None` revokes them all. A configured token that a user revoked
    /// (`tokens revoke`, a new password of its owner) stays revoked: the answer is whether it works.
    ///
    /// # Errors
    /// Database errors.
    async fn provision_configured_token(&self, token: Option<(i64, &str)>) -> Result<bool>;

    /// Every API token, newest first.
    ///
    /// # Errors
    /// Database errors.
    async fn api_tokens(&self) -> Result<Vec<ApiTokenView>>;

    /// Revokes an API token; `false` when there is no such token or it was revoked already.
    ///
    /// # Errors
    /// Database errors.
    async fn revoke_api_token(&self, id: i64) -> Result<bool>;

    /// The user an API token belongs to, unless revoked or the user is disabled.
    ///
    /// # Errors
    /// Database errors.
    async fn user_by_token(&self, token_hash: &str) -> Result<Option<UserRecord>>;

    /// Sets the hash of a user's calendar feed key (replacing, and so revoking, the old one).
    ///
    /// # Errors
    /// Database errors.
    async fn set_ics_secret(&self, user_id: i64, secret_hash: &str) -> Result<()>;

    /// The user a calendar feed key belongs to, unless disabled.
    ///
    /// # Errors
    /// Database errors or a corrupt role.
    async fn user_by_ics_secret(&self, secret_hash: &str) -> Result<Option<UserRecord>>;
}

/// Mail collectors: their settings, where their IMAP scans stopped, their runs, and the lock that keeps a
/// collector job to one process at a time.
#[async_trait]
pub trait Collectors: Send + Sync {
    /// Creates or updates a collector by name.
    ///
    /// # Errors
    /// Database errors.
    async fn upsert_collector(&self, collector: &CollectorRecord) -> Result<i64>;

    /// Collectors, by name; with `include_deleted` also those marked for deletion.
    ///
    /// # Errors
    /// Database errors or a corrupt row.
    async fn collectors(&self, include_deleted: bool) -> Result<Vec<CollectorRecord>>;

    /// One collector by id.
    ///
    /// # Errors
    /// Database errors or a corrupt row.
    async fn collector(&self, id: i64) -> Result<Option<CollectorRecord>>;

    /// Where the IMAP scan of a collector's folder stopped.
    ///
    /// # Errors
    /// Database errors.
    async fn scan_state(&self, collector_id: i64, folder: &str) -> Result<Option<ScanState>>;

    /// Remembers where the IMAP scan stopped.
    ///
    /// # Errors
    /// Database errors.
    async fn set_scan_state(&self, collector_id: i64, folder: &str, state: ScanState)
    -> Result<()>;

    /// Opens a run record; returns its id.
    ///
    /// # Errors
    /// Database errors.
    async fn start_run(&self, collector_id: i64) -> Result<i64>;

    /// Closes a run record with its counts and error.
    ///
    /// # Errors
    /// Database errors.
    async fn finish_run(&self, run_id: i64, counts: &RunCounts, error: Option<&str>) -> Result<()>;

    /// The last run of every collector that has one, by collector id.
    ///
    /// # Errors
    /// Database errors.
    async fn last_runs(&self) -> Result<HashMap<i64, RunView>>;

    /// Takes the lock of a job, or `None` when another holder has it. The lock is released when the guard
    /// is dropped, and when its holder dies (the SQLite backend uses a file lock, which the operating system
    /// releases), so a crash never blocks the job.
    ///
    /// # Errors
    /// The lock cannot be attempted (I/O or database errors).
    async fn try_lock_job(&self, job: &str) -> Result<Option<JobLock>>;
}

/// Calendars, and the HTTP sources that post leads into them.
#[async_trait]
pub trait Calendars: Send + Sync {
    /// All calendars, by id.
    ///
    /// # Errors
    /// Database errors.
    async fn calendars(&self) -> Result<Vec<CalendarView>>;

    /// Creates a calendar, common (`owner_id: None`) or personal; a name that exists already is a `Conflict`.
    ///
    /// # Errors
    /// `Conflict`, database errors.
    async fn create_calendar(&self, name: &str, owner_id: Option<i64>, color: &str) -> Result<i64>;

    /// Creates or updates a calendar by name; `owner` is a user login (created as a manager when missing).
    ///
    /// # Errors
    /// Database errors.
    async fn upsert_calendar(&self, name: &str, owner: Option<&str>) -> Result<i64>;

    /// Every HTTP source, by name.
    ///
    /// # Errors
    /// Database errors or corrupt CORS JSON.
    async fn http_sources(&self) -> Result<Vec<HttpSourceView>>;

    /// An HTTP source by id.
    ///
    /// # Errors
    /// Database errors.
    async fn http_source(&self, id: i64) -> Result<Option<HttpSourceRecord>>;

    /// The HTTP source a bearer token belongs to.
    ///
    /// # Errors
    /// Database errors.
    async fn http_source_by_token(&self, token_hash: &str) -> Result<Option<HttpSourceRecord>>;

    /// Creates an HTTP source; a name that exists already is a `Conflict`.
    ///
    /// # Errors
    /// `Conflict`, database errors.
    async fn create_http_source(
        &self,
        name: &str,
        calendar_id: i64,
        token_hash: &str,
    ) -> Result<i64>;

    /// Creates or updates an HTTP source by name. `token_hash: None` leaves the stored token unchanged.
    ///
    /// # Errors
    /// Database errors.
    async fn upsert_http_source(
        &self,
        source: &HttpSourceRecord,
        token_hash: Option<&str>,
    ) -> Result<i64>;

    /// Revokes an HTTP source's token; `false` when there is no such source.
    ///
    /// # Errors
    /// Database errors.
    async fn revoke_http_source(&self, id: i64) -> Result<bool>;
}

/// One person's data (152-ФЗ): finding it, erasing it, and the audit of erasures.
#[async_trait]
pub trait PersonalData: Send + Sync {
    /// Everything held about one phone, e-mail or INN: leads by their columns, counterparties and their
    /// contacts, the ledger records of those leads, and `mentioned` (ledger records without a lead whose raw
    /// bytes the caller found to mention the value).
    ///
    /// # Errors
    /// Database errors.
    async fn find_personal_data(
        &self,
        query: &PersonDataQuery,
        mentioned: &[i64],
    ) -> Result<PersonalDataFound>;

    /// Erases what [`PersonalData::find_personal_data`] finds, found again inside ONE transaction with the
    /// audit record it returns: leads anonymised (kept for the statistics, marked erased), raw bytes of their
    /// and the `mentioned` ledger records deleted, counterparties deleted or renamed, the person's contacts
    /// deleted, and search indexes purged of the erased text.
    ///
    /// # Errors
    /// Database errors; nothing is erased then.
    async fn erase_personal_data(
        &self,
        query: &PersonDataQuery,
        mentioned: &[i64],
        actor: &ErasureActor,
    ) -> Result<ErasureRecord>;

    /// The latest erasure audit records, newest first.
    ///
    /// # Errors
    /// Database errors or a corrupt row.
    async fn personal_data_erasures(&self, limit: u32) -> Result<Vec<ErasureRecord>>;
}

/// Every role at once: what the application holds as `Arc<dyn Storage>`. A backend implements the role
/// traits; this one comes with them.
pub trait Storage:
    Ledger
    + Leads
    + Accounts
    + Collectors
    + Calendars
    + PersonalData
    + FileManaged
    + CounterpartyEdits
    + super::LeadEdits
    + SettingsStore
    + LayoutFileStore
    + crate::lead_notes::LeadNotes
    + CollectorPasswordStore
    + super::LiveLeads
    + Reports
    + crate::webhooks::Webhooks
    + crate::notifications::Notifications
    + crate::history::LeadHistory
    + crate::assignment::Assignments
    + Send
    + Sync
    + 'static
{
}

impl<T> Storage for T where
    T: Ledger
        + Leads
        + Accounts
        + Collectors
        + Calendars
        + PersonalData
        + FileManaged
        + CounterpartyEdits
        + super::LeadEdits
        + SettingsStore
        + LayoutFileStore
        + crate::lead_notes::LeadNotes
        + CollectorPasswordStore
        + super::LiveLeads
        + Reports
        + crate::webhooks::Webhooks
        + crate::notifications::Notifications
        + crate::history::LeadHistory
        + crate::assignment::Assignments
        + Send
        + Sync
        + 'static
{
}

/// A held job lock; dropping it releases the lock.
pub struct JobLock {
    _holder: Box<dyn std::any::Any + Send + Sync>,
    loss: Option<Box<dyn LockLoss>>,
}

/// How a lock held in a database session learns that it is gone: a restarted or failed-over server ends the
/// session, and the lock with it, while its holder works on.
pub trait LockLoss: Send + Sync {
    /// Completes once the lock is known to be lost; never while it is held.
    fn lost(&self) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>>;
}

impl JobLock {
    /// Wraps whatever holds a lock that lasts as long as its holder (a locked file).
    pub fn new(holder: impl std::any::Any + Send + Sync) -> Self {
        Self {
            _holder: Box::new(holder),
            loss: None,
        }
    }

    /// Wraps whatever holds a lock that can be lost while held, with what tells when it is.
    pub fn losable(
        holder: impl std::any::Any + Send + Sync,
        loss: impl LockLoss + 'static,
    ) -> Self {
        Self {
            _holder: Box::new(holder),
            loss: Some(Box::new(loss)),
        }
    }

    /// Completes once the lock is lost while held; a holder must then stop the work the lock guards, as
    /// another process may take the lock and start the same work. Never completes for a lock that cannot be
    /// lost.
    pub async fn lost(&self) {
        match &self.loss {
            Some(loss) => loss.lost().await,
            None => std::future::pending().await,
        }
    }
}

impl std::fmt::Debug for JobLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JobLock")
    }
}
