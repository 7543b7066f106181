//! Storage: role traits by aggregate; each backend is a crate of its own that implements them.
//!
//! [`traits`] holds the interface: [`Ledger`], [`Leads`], [`Accounts`], [`Collectors`], [`Calendars`] and
//! [`PersonalData`], and [`Storage`], which is all of them and what the application holds. Errors are
//! [`StorageError`]: the few cases callers tell apart, and the backend's own error boxed. [`model`] and
//! [`web_model`] are the records that cross the boundary. Nothing here names a database driver: a backend
//! (`leadgate-sqlite`, the embedded default, and `leadgate-postgres`) implements the traits in its own crate,
//! converts its driver's errors there, and proves itself against the [`contract`] suite.
//!
//! Handlers and collectors never compose the atomic steps themselves (the ledger record with its lead, the
//! counterparty found or created by INN, the idempotency key claimed with the lead it answers with): each
//! is one method, one transaction of the backend, so no channel can get them half right.

pub mod assignment;
pub mod collector_passwords;
pub mod contract;
pub mod counterparty_edit;
pub mod erasure;
pub mod error;
pub mod history;
pub mod layout_files;
pub mod lead_edits;
pub mod lead_notes;
pub mod live;
pub mod managed;
pub mod migrations;
pub mod model;
pub mod notifications;
pub mod reports;
pub mod search;
pub mod settings;
pub mod traits;
pub mod transfer;
pub mod web_model;
pub mod webhooks;

pub use assignment::*;
pub use collector_passwords::*;
pub use counterparty_edit::*;
pub use erasure::*;
pub use error::{BoxError, Result, StorageError};
pub use history::*;
pub use layout_files::*;
pub use lead_edits::*;
pub use lead_notes::*;
pub use live::*;
pub use managed::*;
pub use migrations::*;
pub use model::*;
pub use notifications::*;
pub use reports::*;
pub use search::*;
pub use settings::*;
pub use traits::*;
pub use web_model::*;
pub use webhooks::*;
