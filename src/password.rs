//! Password hashing with argon2id, off the async threads and under a global limit.
//!
//! People choose passwords, so unlike API tokens (random, hashed with SHA-256) they get a slow, memory-hard
//! hash. One hash takes tens of milliseconds of CPU and 19 MiB of memory: it runs in `spawn_blocking` so a
//! burst of sign-ins never stalls the request threads, at most one per core runs at once, and at most
//! [`MAX_WAITING`] more wait for a turn; beyond that a hash is refused at once ([`PasswordError::Busy`]), so a
//! flood of sign-ins costs neither unbounded memory nor the CPU the intake needs.

use std::sync::OnceLock;

use tokio::sync::Semaphore;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

/// Errors from hashing or checking a password.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// argon2 refused the input or its parameters.
    #[error("password hashing failed: {0}")]
    Hash(String),
    /// The stored hash is not a PHC string argon2 can read.
    #[error("the stored password hash is malformed")]
    MalformedHash,
    /// The blocking task was cancelled or panicked.
    #[error("the password hashing task failed")]
    Task(#[from] tokio::task::JoinError),
    /// Too many hashes are running or waiting already.
    #[error("too many password checks at once")]
    Busy,
}

/// Hashes that may wait for a turn beyond those running.
pub const MAX_WAITING: usize = 32;

/// The turns: `running` permits hash, `admitted` bounds those running plus waiting.
struct Turns {
    running: Semaphore,
    admitted: Semaphore,
}

fn turns() -> &'static Turns {
    static TURNS: OnceLock<Turns> = OnceLock::new();
    TURNS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let running = cores.clamp(1, 4);
        Turns {
            running: Semaphore::new(running),
            admitted: Semaphore::new(running + MAX_WAITING),
        }
    })
}

/// Runs one argon2 computation in its turn.
async fn in_turn<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, PasswordError> + Send + 'static,
) -> Result<T, PasswordError> {
    let turns = turns();
    let _admitted = turns
        .admitted
        .try_acquire()
        .map_err(|_| PasswordError::Busy)?;
    let _running = turns
        .running
        .acquire()
        .await
        .map_err(|_| PasswordError::Busy)?;
    tokio::task::spawn_blocking(work).await?
}

/// The shortest password `users add` and the administration page accept.
pub const MIN_LENGTH: usize = 8;

/// Hashes a password into an argon2id PHC string with a fresh random salt.
///
/// # Errors
/// argon2 fails, the blocking task does, or too many hashes are waiting (`Busy`).
pub async fn hash(password: String) -> Result<String, PasswordError> {
    in_turn(move || hash_blocking(&password)).await
}

fn hash_blocking(password: &str) -> Result<String, PasswordError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// Checks a password against a stored PHC string. With no stored hash (unknown login, or a user without a
/// password) it still spends the time of one verification, against a fixed dummy hash, and answers `false`,
/// so response time does not tell which logins exist.
///
/// # Errors
/// A malformed stored hash, the blocking task fails, or too many hashes are waiting (`Busy`).
pub async fn verify(password: String, stored: Option<String>) -> Result<bool, PasswordError> {
    in_turn(move || {
        let (phc, known) = match stored {
            Some(s) => (s, true),
            None => (dummy_hash()?.to_owned(), false),
        };
        let parsed = PasswordHash::new(&phc).map_err(|_| PasswordError::MalformedHash)?;
        let ok = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        Ok(ok && known)
    })
    .await
}

fn dummy_hash() -> Result<&'static str, PasswordError> {
    static DUMMY: OnceLock<String> = OnceLock::new();
    if let Some(h) = DUMMY.get() {
        return Ok(h);
    }
    let h = hash_blocking("leadgate dummy password for unknown logins")?;
    Ok(DUMMY.get_or_init(|| h))
}

/// A new random password for the first administrator: 18 characters from an alphabet without look-alikes
/// (no 0/O, 1/l/I), about 100 bits.
pub fn generate() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"23456789abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ";
    let mut rng = rand::rng();
    (0..18)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hashed_password_verifies_and_a_wrong_one_does_not() {
        let phc = hash("correct horse".into()).await.unwrap();
        assert!(phc.starts_with("$argon2id$"));
        assert!(
            verify("correct horse".into(), Some(phc.clone()))
                .await
                .unwrap()
        );
        assert!(!verify("wrong horse".into(), Some(phc)).await.unwrap());
    }

    #[tokio::test]
    async fn an_unknown_login_never_verifies_even_with_the_dummy_password() {
        assert!(
            !verify("leadgate dummy password for unknown logins".into(), None)
                .await
                .unwrap()
        );
    }

    #[test]
    fn generated_passwords_are_long_and_differ() {
        let (a, b) = (generate(), generate());
        assert_eq!(a.len(), 18);
        assert_ne!(a, b);
    }
}
