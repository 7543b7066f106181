//! leadgate: loads leads and orders from print shops' websites into managers' calendars.
//!
//! Data flows one way, and the crates and modules are layered so that only this way builds:
//! - the channels, [`http`] (the API) and [`collector`] (the mail collectors, over the `leadgate_mail` wire),
//!   feed the [`intake`] pipeline, which uses the pure `leadgate_domain` and writes through the storage traits of `leadgate_storage`
//!   (implemented by `leadgate_sqlite`);
//! - the web UI ([`web`]) and the API share [`app`] (state and the one error type) and never import each
//!   other; [`router`] alone puts their routes together;
//! - [`startup`] wires everything for the server and for the one-shot commands of [`cli`].

/// `println!` for the command line that returns the error of a closed stdout (a pipe whose reader left, as
/// `| head` does) instead of panicking: the command then ends with one line on stderr and exit code 2. What
/// it prints often comes from a website (a lead's subject, a name), so control characters other than line
/// breaks and tabs are shown escaped ([`terminal_safe`]): a payload cannot drive the administrator's terminal.
macro_rules! say {
    ($($arg:tt)*) => {
        std::io::Write::write_all(
            &mut std::io::stdout().lock(),
            $crate::terminal_safe(format!("{}\n", format_args!($($arg)*))).as_bytes(),
        )
    };
}

/// The text with every control character but the line feed and the tab written as a Rust escape (`\u{1b}`):
/// terminal escape sequences, carriage returns and bells in a website's text are shown, not obeyed.
pub fn terminal_safe(text: String) -> String {
    if !text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return text;
    }
    text.chars()
        .map(|c| match c {
            '\n' | '\t' => c.to_string(),
            c if c.is_control() => c.escape_unicode().to_string(),
            c => c.to_string(),
        })
        .collect()
}

pub mod admin_settings;
pub mod app;
pub mod cli;
pub mod collector;
pub mod config;
pub mod db_commands;
pub mod http;
pub mod intake;
pub mod jobs;
pub mod layout_files;
pub mod live;
pub mod notifications;
pub mod password;
pub mod personal_data;
pub mod push;
pub mod router;
pub mod secrets;
pub mod startup;
pub mod telemetry;
pub mod tokens;
pub mod web;
pub mod webhooks;
