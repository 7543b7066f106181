//! leadgate's pure domain: the site payload format, INN, phones, charsets, tech-card arithmetic, and every
//! closed vocabulary (a lead's kind and status, a message's outcome, a user's role, a collector's protocol,
//! TLS mode and actions).
//!
//! Nothing here does IO, is async, or knows about SQL or HTTP: every rule of the specification that can be
//! stated as a function of its input lives here, so it can be tested exhaustively. The crate depends on no
//! runtime, database or web framework, so the rest of leadgate can use it and it can use none of them.

pub mod account;
pub mod charset;
pub mod collector;
pub mod days;
pub mod email;
pub mod inn;
pub mod lead;
pub mod ledger;
pub mod lenient;
pub mod payload;
pub mod personal_data;
pub mod phone;
pub mod subject;
pub mod techcard;
pub mod vocabulary;
pub mod warning;

#[cfg(test)]
mod proptests;
