//! leadgate: loads leads and orders from print shops' websites into managers' calendars.

pub mod domain;
/// The mail channel: reading site requests out of mailboxes (its `//!` docs live with the collector).
pub mod mail;
