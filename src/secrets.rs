//! Secrets kept in the database (mailbox passwords typed in the UI), encrypted at rest.
//!
//! The cipher is ChaCha20-Poly1305 (RustCrypto's `chacha20poly1305`), an AEAD: a changed or swapped
//! ciphertext fails to decrypt instead of yielding garbage. Each secret is sealed with a fresh random nonce
//! and with associated data naming what it belongs to (for a mailbox password: the protocol, login, host and
//! port), so a password sealed for one server never decrypts for another.
//!
//! The key never enters the database: it comes from `[secrets] key_env` or `key_file` (64 hex digits), or,
//! when neither is given, from `secret.key` in the data directory, generated at the first start with mode
//! 0600. A database copied without its key keeps its mailbox passwords unreadable; so the key must be backed
//! up with the database.

use std::path::{Path, PathBuf};

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use rand::RngCore;

use crate::config::{SecretsSettings, read_secret};
use leadgate_storage::Sealed;

/// The key file generated in the data directory when the configuration names none.
pub const KEY_FILE: &str = "secret.key";

/// Errors of the secret box.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The configured key cannot be read.
    #[error("reading the secrets key")]
    Config(#[from] crate::config::ConfigError),
    /// The key is not 64 hex digits.
    #[error("the secrets key must be 64 hex digits (32 bytes)")]
    BadKey,
    /// The generated key file cannot be written or read.
    #[error("the secrets key file {path}")]
    KeyFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Decryption failed: another key, another owner, or altered bytes.
    #[error("the stored secret cannot be decrypted with this key for this owner")]
    Open,
}

/// The key, ready to seal and open secrets.
#[derive(Clone)]
pub struct SecretBox {
    cipher: ChaCha20Poly1305,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(…)")
    }
}

impl SecretBox {
    /// The box for a 32-byte key.
    pub fn new(key: &[u8; 32]) -> Self {
        Self {
            cipher: ChaCha20Poly1305::new(&Key::from(*key)),
        }
    }

    /// The box for the configured key, or for the key in `data_dir/secret.key`, generated (mode 0600) when
    /// the file does not exist yet.
    ///
    /// # Errors
    /// The configured key is missing or malformed, or the key file cannot be written or read.
    pub fn load(settings: &SecretsSettings, data_dir: &Path) -> Result<Self, SecretError> {
        if let Some(text) = read_secret(settings.key_env.as_deref(), settings.key_file.as_deref())?
        {
            return Ok(Self::new(&parse_key(&text)?));
        }
        let path = data_dir.join(KEY_FILE);
        let key_file = |source| SecretError::KeyFile {
            path: path.clone(),
            source,
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Self::new(&parse_key(&text)?)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = [0u8; 32];
                rand::rng().fill_bytes(&mut key);
                write_private(&path, &format!("{}\n", hex::encode(key))).map_err(key_file)?;
                tracing::warn!(file = %path.display(), "generated the key that encrypts mailbox passwords: back it up with the database");
                Ok(Self::new(&key))
            }
            Err(e) => Err(key_file(e)),
        }
    }

    /// Seals `secret` for `owner` (the associated data) with a fresh random nonce.
    ///
    /// # Errors
    /// Never in practice (the cipher fails only for inputs beyond 256 GiB).
    pub fn seal(&self, secret: &str, owner: &str) -> Result<Sealed, SecretError> {
        let mut nonce = [0u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        let ciphertext = self
            .cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: secret.as_bytes(),
                    aad: owner.as_bytes(),
                },
            )
            .map_err(|_| SecretError::Open)?;
        Ok(Sealed {
            nonce: nonce.to_vec(),
            ciphertext,
        })
    }

    /// Opens a secret sealed for `owner`.
    ///
    /// # Errors
    /// [`SecretError::Open`] for another key, another owner or altered bytes.
    pub fn open(&self, sealed: &Sealed, owner: &str) -> Result<String, SecretError> {
        let nonce: [u8; 12] = sealed
            .nonce
            .as_slice()
            .try_into()
            .map_err(|_| SecretError::Open)?;
        let plain = self
            .cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: &sealed.ciphertext,
                    aad: owner.as_bytes(),
                },
            )
            .map_err(|_| SecretError::Open)?;
        String::from_utf8(plain).map_err(|_| SecretError::Open)
    }
}

fn parse_key(text: &str) -> Result<[u8; 32], SecretError> {
    let bytes = hex::decode(text.trim()).map_err(|_| SecretError::BadKey)?;
    bytes.try_into().map_err(|_| SecretError::BadKey)
}

/// Creates a new file readable only by its owner (0600); an existing file is an error, so a key is never
/// overwritten.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(parent) = path.parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_password_opens_only_with_its_key_and_for_its_owner() {
        let key = SecretBox::new(&[7; 32]);
        let owner = leadgate_storage::mailbox_owner("imap", "orders@shop.ru", "Mail.Shop.ru", 993);
        assert_eq!(owner, "imap://orders@shop.ru@mail.shop.ru:993");
        let sealed = key.seal("hunter2", &owner).unwrap();
        assert!(
            !sealed
                .ciphertext
                .windows(7)
                .any(|w| w == b"hunter2".as_slice())
        );
        assert_eq!(key.open(&sealed, &owner).unwrap(), "hunter2");
        let moved = leadgate_storage::mailbox_owner("imap", "orders@shop.ru", "evil.example", 993);
        assert!(key.open(&sealed, &moved).is_err());
        assert!(SecretBox::new(&[8; 32]).open(&sealed, &owner).is_err());
        let again = key.seal("hunter2", &owner).unwrap();
        assert_ne!(again.nonce, sealed.nonce, "every seal has a fresh nonce");
    }

    #[test]
    fn without_a_configured_key_one_is_generated_once_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let first = SecretBox::load(&SecretsSettings::default(), dir.path()).unwrap();
        let path = dir.path().join(KEY_FILE);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let sealed = first.seal("secret", "owner").unwrap();
        let second = SecretBox::load(&SecretsSettings::default(), dir.path()).unwrap();
        assert_eq!(second.open(&sealed, "owner").unwrap(), "secret");
    }

    #[test]
    fn a_configured_key_file_is_used_and_a_malformed_one_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("key");
        std::fs::write(&file, format!("{}\n", "ab".repeat(32))).unwrap();
        let settings = SecretsSettings {
            key_env: None,
            key_file: Some(file.clone()),
        };
        let configured = SecretBox::load(&settings, dir.path()).unwrap();
        let sealed = configured.seal("x", "o").unwrap();
        assert_eq!(SecretBox::new(&[0xab; 32]).open(&sealed, "o").unwrap(), "x");
        assert!(!dir.path().join(KEY_FILE).exists(), "nothing generated");
        std::fs::write(&file, "not hex").unwrap();
        assert!(matches!(
            SecretBox::load(&settings, dir.path()),
            Err(SecretError::BadKey)
        ));
    }
}
