//! Storage: one trait, one module per backend.
//!
//! Everything that must be atomic lives behind this trait, inside a transaction of the backend: the ledger
//! record and its lead commit together, a counterparty is found or created in the lead's transaction, and an
//! idempotency key is claimed in the same transaction as the lead it answers with. Handlers and collectors
//! never compose these steps themselves, so no channel can get them half right.

pub mod model;
pub mod sqlite;
pub mod web_model;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use leadgate_domain::account::Role;
use leadgate_domain::ledger::Outcome;
use leadgate_domain::personal_data::PersonDataQuery;

pub use model::*;
pub use web_model::*;

/// Errors from the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The database failed or the connection was lost.
    #[error("database error")]
    Database(#[from] sqlx::Error),
    /// Migrations could not be applied.
    #[error("database migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A row referenced by name or id does not exist.
    #[error("{what} {key:?} does not exist")]
    NotFound {
        /// What kind of record.
        what: &'static str,
        /// Its name or id.
        key: String,
    },
    /// A stored value could not be read back (corrupt JSON, unknown enum value).
    #[error("stored value is corrupt: {0}")]
    Corrupt(String),
    /// The request conflicts with stored state.
    #[error("{0}")]
    Conflict(String),
}

/// A held job lock; dropping it releases the lock.
pub struct JobLock(#[allow(dead_code)] Box<dyn std::any::Any + Send + Sync>);

impl JobLock {
    /// Wraps whatever holds the lock (a locked file, a database connection).
    pub fn new(holder: impl std::any::Any + Send + Sync) -> Self {
        Self(Box::new(holder))
    }
}

impl std::fmt::Debug for JobLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JobLock")
    }
}

/// Shorthand for storage results.
pub type Result<T, E = StorageError> = std::result::Result<T, E>;

/// The one storage interface. SQLite is the embedded default; PostgreSQL implements the same trait.
///
/// Every method is a complete unit of work: it either commits or changes nothing.
#[async_trait]
pub trait Storage: Send + Sync + 'static {
    /// Checks that the database answers (for `/readyz`).
    async fn ping(&self) -> Result<()>;

    // ---- intake -------------------------------------------------------------------------------------------

    /// Records a batch of submissions in ONE transaction (group commit) and returns one outcome per
    /// submission, in order. When the batch as a whole fails, the caller retries each submission alone so
    /// that one bad row never takes its neighbours down.
    ///
    /// # Errors
    /// Database errors; nothing of the batch is stored then.
    async fn submit_batch(&self, batch: &[Submission]) -> Result<Vec<SubmitOutcome>>;

    // ---- leads --------------------------------------------------------------------------------------------

    /// One lead in the API's shape.
    ///
    /// # Errors
    /// Database errors or a corrupt row.
    async fn lead(&self, id: i64) -> Result<Option<LeadView>>;

    /// A page of leads, newest first, of these calendars only (`None`: every calendar).
    ///
    /// # Errors
    /// Database errors or a corrupt row.
    async fn list_leads(
        &self,
        filter: &LeadFilter,
        calendars: Option<&[i64]>,
        page: PageRequest,
    ) -> Result<Page<LeadView>>;

    /// Changes status and/or assignee.
    ///
    /// # Errors
    /// `NotFound` for an unknown assignee; database errors.
    async fn update_lead(&self, id: i64, patch: &LeadPatch) -> Result<Option<LeadView>>;

    /// Forms the tech cards of a lead, one per non-service line; forming again changes nothing.
    /// Returns `None` when the lead does not exist.
    ///
    /// # Errors
    /// Database errors.
    async fn form_tech_cards(&self, lead_id: i64) -> Result<Option<Vec<TechCardView>>>;

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

    // ---- counterparties -----------------------------------------------------------------------------------

    /// Counterparties, optionally only the one with this INN. With `calendars`, only counterparties that
    /// have a lead in one of them, with only the contacts those leads brought (`None`: every counterparty
    /// with every contact).
    ///
    /// # Errors
    /// Database errors.
    async fn list_counterparties(
        &self,
        inn: Option<&str>,
        calendars: Option<&[i64]>,
        page: PageRequest,
    ) -> Result<Page<CounterpartyView>>;

    // ---- ledger -------------------------------------------------------------------------------------------

    /// A page of ledger records, newest first.
    ///
    /// # Errors
    /// Database errors.
    async fn list_messages(
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

    // ---- personal data -----------------------------------------------------------------------------------

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

    /// Erases what [`Storage::find_personal_data`] finds, found again inside ONE transaction with the audit
    /// record it returns: leads anonymised (kept for the statistics, marked erased), raw bytes of their and
    /// the `mentioned` ledger records deleted, counterparties deleted or renamed, the person's contacts
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

    // ---- configuration records ----------------------------------------------------------------------------

    /// Creates or updates a calendar by name; `owner` is a user login (created as a manager when missing).
    ///
    /// # Errors
    /// Database errors.
    async fn upsert_calendar(&self, name: &str, owner: Option<&str>) -> Result<i64>;

    /// All calendars.
    ///
    /// # Errors
    /// Database errors.
    async fn calendars(&self) -> Result<Vec<CalendarView>>;

    /// Creates or updates an HTTP source by name. `token_hash: None` leaves the stored token unchanged.
    ///
    /// # Errors
    /// Database errors.
    async fn upsert_http_source(
        &self,
        source: &HttpSourceRecord,
        token_hash: Option<&str>,
    ) -> Result<i64>;

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

    /// Creates or updates a user by login.
    ///
    /// # Errors
    /// Database errors.
    async fn upsert_user(
        &self,
        login: &str,
        role: Role,
        password_hash: Option<&str>,
    ) -> Result<i64>;

    /// Adds an API token for a user.
    ///
    /// # Errors
    /// Database errors (a token hash that exists already is a conflict).
    async fn add_api_token(&self, user_id: i64, name: &str, token_hash: &str) -> Result<()>;

    /// Makes the token with this hash the API token named `configured` of this user (adding it, or restoring
    /// it when revoked) and revokes every other `configured` token, so a token changed in or removed from the
    /// configuration stops working; `None` revokes them all.
    ///
    /// # Errors
    /// Database errors.
    async fn provision_configured_token(&self, token: Option<(i64, &str)>) -> Result<()>;

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

    /// Whether any user exists (the first start creates the administrator).
    ///
    /// # Errors
    /// Database errors.
    async fn has_users(&self) -> Result<bool>;

    // ---- mail collectors -----------------------------------------------------------------------------------

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
    async fn save_scan_state(
        &self,
        collector_id: i64,
        folder: &str,
        state: ScanState,
    ) -> Result<()>;

    /// Which of these mailbox keys (UIDVALIDITY:UID or UIDL) the ledger holds for a source.
    ///
    /// # Errors
    /// Database errors.
    async fn known_mailbox_keys(
        &self,
        source: &str,
        keys: &[String],
    ) -> Result<std::collections::HashSet<String>>;

    /// Which of these mailbox keys the ledger holds as imported, or as a duplicate of an imported record:
    /// the only mail retention may delete.
    ///
    /// # Errors
    /// Database errors.
    async fn imported_mailbox_keys(
        &self,
        source: &str,
        keys: &[String],
    ) -> Result<std::collections::HashSet<String>>;

    /// Mailbox keys of a source recorded before `before` as imported, or as a duplicate of an imported
    /// record (POP3 retention).
    ///
    /// # Errors
    /// Database errors.
    async fn imported_mailbox_keys_before(
        &self,
        source: &str,
        before: chrono::DateTime<chrono::Utc>,
    ) -> Result<std::collections::HashSet<String>>;

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
    async fn last_runs(&self) -> Result<std::collections::HashMap<i64, RunView>>;

    /// Takes the lock of a job, or `None` when another process holds it. The lock is released when the guard
    /// is dropped, and by the operating system (SQLite: a file lock) or the database (PostgreSQL: a session
    /// advisory lock) when its holder dies, so a crash never blocks the job.
    ///
    /// # Errors
    /// The lock cannot be attempted (I/O or database errors).
    async fn try_lock_job(&self, job: &str) -> Result<Option<JobLock>>;

    /// Files a lead for an existing rejected ledger record after reprocessing, and marks it imported, in one
    /// transaction. The outcome is checked inside that transaction: a record that is no longer rejected (a
    /// concurrent reprocessing got there first) gets no second lead.
    ///
    /// # Errors
    /// `NotFound` for an unknown record; database errors.
    async fn import_for_message(&self, message_id: i64, draft: &LeadDraft) -> Result<Reimport>;

    // ---- web UI -------------------------------------------------------------------------------------------

    /// A user's credentials by login, for signing in.
    ///
    /// # Errors
    /// Database errors or a corrupt role.
    async fn user_credentials(&self, login: &str) -> Result<Option<UserCredentials>>;

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

    /// Records that a session was used now (for the idle timeout).
    ///
    /// # Errors
    /// Database errors.
    async fn touch_session(&self, id_hash: &str, now: DateTime<Utc>) -> Result<()>;

    /// Ends a session.
    ///
    /// # Errors
    /// Database errors.
    async fn delete_session(&self, id_hash: &str) -> Result<()>;

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

    /// The latest leads of a counterparty.
    ///
    /// # Errors
    /// Database errors or a corrupt row.
    async fn leads_of_counterparty(
        &self,
        counterparty_id: i64,
        limit: u32,
    ) -> Result<Vec<LeadSummary>>;

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
    /// `calendars`, only those with a lead in one of them, as [`Storage::counterparty`] shows them.
    ///
    /// # Errors
    /// Database errors.
    async fn search_counterparties(
        &self,
        query: &str,
        calendars: Option<&[i64]>,
        page: PageRequest,
    ) -> Result<Page<CounterpartyView>>;

    /// The ledger record a lead was made from.
    ///
    /// # Errors
    /// Database errors.
    async fn message_of_lead(&self, lead_id: i64) -> Result<Option<i64>>;

    /// Every HTTP source, by name.
    ///
    /// # Errors
    /// Database errors or corrupt CORS JSON.
    async fn http_sources(&self) -> Result<Vec<HttpSourceView>>;

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

    /// Revokes an HTTP source's token; `false` when there is no such source.
    ///
    /// # Errors
    /// Database errors.
    async fn revoke_http_source(&self, id: i64) -> Result<bool>;

    /// Creates a calendar, common (`owner_id: None`) or personal; a name that exists already is a `Conflict`.
    ///
    /// # Errors
    /// `Conflict`, database errors.
    async fn create_calendar(&self, name: &str, owner_id: Option<i64>, color: &str) -> Result<i64>;
}
