//! leadgate: loads leads and orders from print shops' websites into managers' calendars.
//!
//! Data flows one way: the channels (`http`, and the mail collectors) feed the [`intake`] pipeline, which
//! uses the pure [`domain`] and writes through [`storage`]. [`startup`] wires them together for the server
//! and for the one-shot commands of [`cli`].

pub mod cli;
pub mod collector;
pub mod config;
pub mod http;
pub mod intake;
pub mod jobs;
pub mod personal_data;
pub mod reprocess;
pub mod schema;
pub mod startup;
pub mod storage;
pub mod telemetry;
pub mod tokens;
pub mod web;
