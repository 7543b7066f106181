//! What managers change on a lead after it arrived: its subject, description and contact details, its order
//! lines, its tech cards' status, and whether it is a second submission of another lead.
//!
//! The lead's ledger record (the raw message or request it was made from) is never touched: these change the
//! lead only, and the timeline keeps the old values. Who may do it (a manager who may see the lead's
//! calendar) is the caller's check; each change is one transaction.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{FieldChange, Result, TechCardView};
use leadgate_domain::payload::{Contact, InnField, OrderLine};
use leadgate_domain::techcard::TechCardStatus;
use leadgate_domain::warning::Warning;

/// A manager's correction of a lead, every field read as the intake reads it (see
/// `leadgate_domain::payload::read_contact`): the whole new state of the fields, not a difference.
#[derive(Debug, Clone)]
pub struct LeadEdit {
    /// Тема.
    pub subject: Option<String>,
    /// Описание.
    pub description: Option<String>,
    /// Contact person, phone (as typed, and in E.164 when valid), e-mail.
    pub contact: Contact,
    /// The INN, valid or as typed. A valid one finds or creates its counterparty, as the intake does; any
    /// other unlinks the lead from the counterparty it had.
    pub inn: Option<InnField>,
    /// The lead's warnings after the correction.
    pub warnings: Vec<Warning>,
    /// The manager.
    pub by: i64,
}

/// A change to a lead's order lines, by line position (1-based, as in `Товары`).
#[derive(Debug, Clone)]
pub enum LineChange {
    /// A new line after the last one (its `position` is ignored).
    Add(OrderLine),
    /// The line at this position becomes this one.
    Edit {
        /// The line's position.
        position: u32,
        /// Its new content.
        line: OrderLine,
    },
    /// The line at this position goes.
    Remove {
        /// The line's position.
        position: u32,
    },
}

/// What a change to the lines did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinesChanged {
    /// The position of the line added, edited or removed.
    pub position: u32,
    /// Tech cards of that line that are stale now (the card keeps what it was formed from).
    pub stale_cards: Vec<i64>,
}

/// Moving a tech card on.
#[derive(Debug, Clone)]
pub enum CardStatusOutcome {
    /// The card moved to the new status.
    Changed(Box<TechCardView>),
    /// The card is not in the status the change starts from (another manager moved it meanwhile, or the
    /// status is not the next one): nothing changed.
    Refused {
        /// The card's status now.
        now: TechCardStatus,
    },
}

/// Another lead a lead may be a second submission of: same phone, e-mail or INN, and same external number
/// or subject, received in the [`DUPLICATE_WINDOW`] before it.
#[derive(Debug, Clone)]
pub struct DuplicateHint {
    /// The earlier lead.
    pub of: i64,
    /// What matched: `phone`, `email` or `inn`, then `external_number` or `subject`.
    pub matched: Vec<&'static str>,
}

/// How far back a lead's possible first submission is looked for.
pub const DUPLICATE_WINDOW: chrono::TimeDelta = chrono::TimeDelta::hours(24);

/// What marking a duplicate did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DuplicateOutcome {
    /// Marked (or dismissed) now.
    Done,
    /// No such lead, or the other lead is not its current hint.
    NotFound,
}

/// Changes managers make to leads.
#[async_trait]
pub trait LeadEdits: Send + Sync {
    /// Corrects a lead's subject, description, contact details and INN (re-linking its counterparty), and
    /// records the changed fields with their old values in the timeline (`subject`, `description`,
    /// `contact_person`, `phone`, `email`, `inn`), in one transaction. Returns the fields
    /// that changed (none: nothing was written), `None` when there is no such lead.
    ///
    /// # Errors
    /// Database errors.
    async fn edit_lead(&self, id: i64, edit: &LeadEdit) -> Result<Option<Vec<FieldChange>>>;

    /// Adds, edits or removes an order line, and sets the lead's kind (an order with lines, a contact lead
    /// without) and warnings. A line that has a tech card is never rewritten: it is kept for its card, which
    /// is marked stale, and a new line takes its place (forming the cards again gives the new line its own
    /// card). `None` when there is no such lead, or no line at that position.
    ///
    /// # Errors
    /// Database errors.
    async fn change_order_lines(
        &self,
        lead_id: i64,
        change: &LineChange,
        warnings: &[Warning],
        by: i64,
    ) -> Result<Option<LinesChanged>>;

    /// Moves a tech card from `from` to `to` (the caller checks that `to` is `from`'s next status) and records
    /// it in the timeline; `None` when there is no such card.
    ///
    /// # Errors
    /// Database errors.
    async fn set_tech_card_status(
        &self,
        id: i64,
        from: TechCardStatus,
        to: TechCardStatus,
        by: i64,
    ) -> Result<Option<CardStatusOutcome>>;

    /// The earliest lead, in these calendars (`None`: every calendar), that this lead may be a second
    /// submission of; `None` when there is none, when the lead is marked a duplicate already, or when its
    /// hint was dismissed. Found through indexes on the phone, e-mail and INN with the receipt time.
    ///
    /// # Errors
    /// Database errors.
    async fn duplicate_hint(
        &self,
        lead_id: i64,
        calendars: Option<&[i64]>,
    ) -> Result<Option<DuplicateHint>>;

    /// Which of these leads have a duplicate hint in these calendars, and the lead each may repeat.
    ///
    /// # Errors
    /// Database errors.
    async fn duplicate_hints(
        &self,
        lead_ids: &[i64],
        calendars: Option<&[i64]>,
    ) -> Result<Vec<(i64, i64)>>;

    /// Marks a lead a duplicate of `of` (it leaves the inbox, linked to `of`), in one transaction with its
    /// timeline entry.
    ///
    /// # Errors
    /// Database errors.
    async fn mark_duplicate(&self, lead_id: i64, of: i64, by: i64) -> Result<DuplicateOutcome>;

    /// Dismisses a lead's duplicate hint of `of`, or undoes its marking as a duplicate of `of`: the lead is not
    /// a duplicate (back in the inbox) and is not hinted at again.
    ///
    /// # Errors
    /// Database errors.
    async fn dismiss_duplicate(&self, lead_id: i64, of: i64, by: i64) -> Result<DuplicateOutcome>;
}

/// The start of the window a lead received at `received_at` looks back over for its first submission.
pub fn duplicate_window_start(received_at: DateTime<Utc>) -> DateTime<Utc> {
    received_at - DUPLICATE_WINDOW
}
