//! Mailbox passwords typed in the UI, kept sealed (see [`crate::secrets`]): storage holds only the nonce, the
//! ciphertext and what the password is bound to, never the password or the key.

use async_trait::async_trait;

use super::Result;
use crate::secrets::Sealed;

/// A sealed mailbox password with the server and login it was typed for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPassword {
    /// `protocol://user@host:port` ([`crate::secrets::mailbox_owner`]).
    pub bound_to: String,
    /// The sealed password.
    pub sealed: Sealed,
}

impl StoredPassword {
    /// What a password typed for this collector is bound to: its protocol and TLS mode, login, host and
    /// port (`imap+implicit://user@host:993`).
    pub fn owner_of(c: &super::CollectorRecord) -> String {
        use crate::mail::tls::TlsMode;
        let tls = match c.tls {
            TlsMode::Implicit => "implicit",
            TlsMode::StartTls => "starttls",
            TlsMode::None => "none",
        };
        let scheme = format!("{}+{tls}", c.protocol.as_str());
        crate::secrets::mailbox_owner(&scheme, &c.username, &c.host, c.port)
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
