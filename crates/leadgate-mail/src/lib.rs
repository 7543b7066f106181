//! The mail wire: talking to the shops' mailboxes, and reading and writing the messages they hold.
//!
//! Sites send their orders by e-mail, so leadgate reads mailboxes over IMAP or POP3. This crate
//! connects (with TLS verified by default), logs in, lists and fetches messages without marking them
//! read, and tidies the mailbox after import; [`extract`] finds the payload in a message. It knows nothing
//! of storage or of the intake pipeline: the application's collector ties it to both.
//!
//! - [`extract`]: the subject and the JSON attachment of a message;
//! - [`eml`]: the site-style ORDER e-mail, as site developers should send it;
//! - [`tls`]: TCP/TLS transport and timeouts shared by both protocols;
//! - [`imap`]: a thin, timeout-guarded wrapper over `async-imap`;
//! - [`pop3`]: a small POP3 client (no maintained crate supports STLS with rustls 0.23).

use std::fmt;

pub mod eml;
pub mod extract;
pub mod imap;
pub mod pop3;
pub mod tls;

/// A mailbox password. Its `Debug` and `Display` never show the value, so it can sit in
/// settings structs and error contexts that get logged.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Wraps a password read from the environment or a file.
    pub fn new(password: impl Into<String>) -> Self {
        Self(password.into())
    }

    /// The password itself, for the one place that sends it to the server.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

impl fmt::Display for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// A mailbox login: user name and password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The login name.
    pub user: String,
    /// The password; never logged.
    pub password: Password,
}

impl Credentials {
    /// Builds credentials from a user name and a password.
    pub fn new(user: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            user: user.into(),
            password: Password::new(password),
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &self.password)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_show_the_password() {
        let credentials = Credentials::new("orders@shop", "hunter2");
        let shown = format!("{credentials:?} {}", credentials.password);
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("orders@shop"), "{shown}");
    }
}
