//! The pure domain: the site payload format, INN, phones, charsets and tech-card arithmetic.
//!
//! Nothing here does IO, is async, or knows about SQL: every rule of the specification that can be stated as
//! a function of its input lives here, so it can be tested exhaustively.

pub mod charset;
pub mod email;
pub mod inn;
pub mod lead;
pub mod lenient;
pub mod payload;
pub mod personal_data;
pub mod phone;
pub mod subject;
pub mod techcard;
pub mod warning;

#[cfg(test)]
mod proptests;
