//! leadgate: loads leads and orders from print shops' websites into managers' calendars.

pub mod domain;
pub mod mail;
