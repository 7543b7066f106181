//! leadgate: loads leads and orders from print shops' websites into managers' calendars.
//!
//! Data flows one way: the channels (`http`, and the mail collectors) feed the [`intake`] pipeline, which
//! uses the pure [`domain`] and writes through [`storage`]. [`startup`] wires them together for the server
//! and for the one-shot commands of [`cli`].

pub mod admin_settings;
pub mod cli;
pub mod config;
pub mod domain;
pub mod eml;
pub mod http;
pub mod intake;
pub mod jobs;
pub mod layout_files;
pub mod mail;
pub mod personal_data;
pub mod reprocess;
pub mod secrets;
pub mod startup;
pub mod storage;
pub mod telemetry;
pub mod tokens;
pub mod web;
