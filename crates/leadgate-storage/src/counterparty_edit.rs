//! What managers change on a counterparty: its name and the contacts they type, and the link of a lead
//! without an INN to a customer known by the lead's phone or e-mail.
//!
//! Who may do it (a manager who sees one of the counterparty's leads) is the UI's check; storage keeps each
//! change one statement or one transaction.

use async_trait::async_trait;

use super::Result;

/// Phone or e-mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactKind {
    /// A phone, kept in E.164.
    Phone,
    /// An e-mail address, as typed.
    Email,
}

impl ContactKind {
    /// The word stored in `counterparty_contacts.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            ContactKind::Phone => "phone",
            ContactKind::Email => "email",
        }
    }
}

/// A contact of a counterparty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CounterpartyContact {
    /// Phone or e-mail.
    pub kind: ContactKind,
    /// The value as stored (a phone in E.164).
    pub value: String,
}

/// What linking a lead to a counterparty did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkOutcome {
    /// The lead is linked now, and its phone and e-mail are the counterparty's contacts.
    Linked,
    /// The lead has a counterparty already (or an INN that names one): nothing changed.
    AlreadyLinked,
    /// No such lead or counterparty.
    NotFound,
}

/// Changes managers make to counterparties.
#[async_trait]
pub trait CounterpartyEdits: Send + Sync {
    /// Names a counterparty; `false` when there is no such counterparty.
    ///
    /// # Errors
    /// Database errors.
    async fn rename_counterparty(&self, id: i64, name: &str) -> Result<bool>;

    /// Adds a contact a manager typed (shown to whoever may see the counterparty); `false` when the
    /// counterparty has it already.
    ///
    /// # Errors
    /// `NotFound` for an unknown counterparty; database errors.
    async fn add_counterparty_contact(
        &self,
        id: i64,
        contact: &CounterpartyContact,
        entered_by: i64,
    ) -> Result<bool>;

    /// Removes a contact for a viewer of `calendars` (`None`: every calendar); `false` when the counterparty
    /// does not have it. A contact that a lead in a calendar outside them brought stays, private to that
    /// lead's viewers as before anyone typed it: what the viewer removes is the contact as typed or
    /// confirmed by a manager, never what another manager's lead brought. A later lead with the INN may
    /// bring it back, as it would bring a new one.
    ///
    /// # Errors
    /// Database errors.
    async fn remove_counterparty_contact(
        &self,
        id: i64,
        contact: &CounterpartyContact,
        calendars: Option<&[i64]>,
    ) -> Result<bool>;

    /// Counterparties holding this phone (E.164) or this e-mail (ASCII letters in any case) as a contact,
    /// newest first, at most `limit`: the candidates a lead without an INN may belong to. Whether the viewer
    /// may see them, and the contact that matched, is the caller's check.
    ///
    /// # Errors
    /// Database errors.
    async fn counterparties_by_contact(
        &self,
        phone_e164: Option<&str>,
        email: Option<&str>,
        limit: u32,
    ) -> Result<Vec<i64>>;

    /// Links a lead that has no counterparty to one, and adds the lead's phone and e-mail to its contacts,
    /// in one transaction (so the lead is then one of the counterparty's leads, and the contacts it brought
    /// are as private as it is).
    ///
    /// # Errors
    /// Database errors.
    async fn link_lead_to_counterparty(
        &self,
        lead_id: i64,
        counterparty_id: i64,
    ) -> Result<LinkOutcome>;
}
