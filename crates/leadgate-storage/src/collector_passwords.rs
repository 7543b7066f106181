//! Mailbox passwords typed in the UI, kept sealed (by the application's `secrets` module): storage holds only
//! the nonce, the ciphertext and what the password is bound to, never the password or the key.

use async_trait::async_trait;

use super::Result;

/// A sealed mailbox password with the server and login it was typed for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPassword {
    /// `protocol://user@host:port` ([`mailbox_owner`]).
    pub bound_to: String,
    /// The sealed password.
    pub sealed: Sealed,
}

impl StoredPassword {
    /// What a password typed for this collector is bound to: its protocol and TLS mode, login, host and
    /// port (`imap+implicit://user@host:993`).
    pub fn owner_of(c: &super::CollectorRecord) -> String {
        use leadgate_domain::collector::TlsMode;
        let tls = match c.tls {
            TlsMode::Implicit => "implicit",
            TlsMode::StartTls => "starttls",
            TlsMode::None => "none",
        };
        let scheme = format!("{}+{tls}", c.protocol.as_str());
        mailbox_owner(&scheme, &c.username, &c.host, c.port)
    }
}

/// The sealed mailbox passwords of collectors.
#[async_trait]
pub trait CollectorPasswordStore: Send + Sync {
    /// Keeps (replacing) a collector's sealed password.
    ///
    /// # Errors
    /// Database errors (an unknown collector is a foreign-key error).
    async fn set_collector_password(
        &self,
        collector_id: i64,
        password: &StoredPassword,
    ) -> Result<()>;

    /// A collector's sealed password.
    ///
    /// # Errors
    /// Database errors.
    async fn collector_password(&self, collector_id: i64) -> Result<Option<StoredPassword>>;

    /// Forgets a collector's password; `false` when it had none.
    ///
    /// # Errors
    /// Database errors.
    async fn clear_collector_password(&self, collector_id: i64) -> Result<bool>;
}

/// A sealed secret: the nonce and the ciphertext (with its tag).
#[derive(Clone, PartialEq, Eq)]
pub struct Sealed {
    /// 12 random bytes.
    pub nonce: Vec<u8>,
    /// Ciphertext and tag.
    pub ciphertext: Vec<u8>,
}

impl std::fmt::Debug for Sealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealed").finish_non_exhaustive()
    }
}

/// What a mailbox password is bound to: `protocol://user@host:port`. Moving a collector changes it.
pub fn mailbox_owner(protocol: &str, username: &str, host: &str, port: u16) -> String {
    format!(
        "{protocol}://{}@{}:{port}",
        username.trim(),
        host.trim().to_ascii_lowercase()
    )
}
