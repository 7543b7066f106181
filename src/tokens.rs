//! Bearer tokens: generated from the OS's CSPRNG, stored only as their SHA-256.
//!
//! Tokens are 256-bit random strings, so a fast hash is as safe as a slow one and keeps every authenticated
//! request to one indexed lookup. Passwords, which people choose, use argon2 instead (see the web UI).

use rand::RngCore;
use sha2::{Digest, Sha256};

/// A new random token: 32 bytes, URL-safe base64, prefixed `lg_` so it is recognisable in a leaked file.
pub fn generate() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!(
        "lg_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// The stored form of a token: lower-case hex SHA-256.
pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_differ_and_hash_to_64_hex_digits() {
        let (a, b) = (generate(), generate());
        assert_ne!(a, b);
        assert!(a.starts_with("lg_") && a.len() > 40);
        assert_eq!(hash(&a).len(), 64);
        assert_eq!(hash(&a), hash(&a));
        assert_ne!(hash(&a), hash(&b));
    }
}
