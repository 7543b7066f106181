//! The signature of a delivery: HMAC-SHA256 with the webhook's secret over `<timestamp>.<body>`, sent as
//! `Leadgate-Signature: t=<unix seconds>,v1=<hex>` (the scheme Stripe uses). The timestamp is signed too,
//! so a receiver that rejects old timestamps cannot be fed a recorded delivery again later.

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

/// The header that carries the signature.
pub const SIGNATURE_HEADER: &str = "Leadgate-Signature";

/// A new signing secret: `whsec_` and 32 random bytes in hex.
pub fn generate_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("whsec_{}", hex::encode(bytes))
}

/// The hex HMAC-SHA256 of `<timestamp>.<body>` under `secret` (its bytes as written, prefix included).
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = mac(secret);
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

fn mac(secret: &str) -> Hmac<Sha256> {
    <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes a key of any length")
}

/// The header's value for this body at this time.
pub fn header_value(secret: &str, timestamp: i64, body: &[u8]) -> String {
    format!("t={timestamp},v1={}", signature(secret, timestamp, body))
}

/// Whether `header` signs `body` under `secret` with a timestamp at most `tolerance_secs` from `now`: what
/// a receiver checks (docs/webhooks.md). The comparison takes the same time wherever the digests differ.
pub fn verify(secret: &str, header: &str, body: &[u8], now: i64, tolerance_secs: i64) -> bool {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", v)) => signatures.push(v),
            _ => {}
        }
    }
    let Some(timestamp) = timestamp else {
        return false;
    };
    if (now - timestamp).abs() > tolerance_secs {
        return false;
    }
    signatures.into_iter().any(|candidate| {
        let Ok(candidate) = hex::decode(candidate) else {
            return false;
        };
        let mut mac = mac(secret);
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac.verify_slice(&candidate).is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The documented example in docs/webhooks.md, computed independently (`openssl dgst -sha256 -hmac`).
    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_dot_body() {
        assert_eq!(
            signature("whsec_test", 1_700_000_000, br#"{"id":1}"#),
            "2f441ba4b3b2d50d28a9ab9d9fd8880376ecd1eb5d0435401553f5d8d0a5dcf8"
        );
    }

    #[test]
    fn a_receiver_accepts_its_own_signature_and_nothing_else() {
        let body = br#"{"id":1,"type":"lead.created"}"#;
        let header = header_value("whsec_a", 1_000, body);
        assert!(verify("whsec_a", &header, body, 1_100, 300));
        assert!(
            !verify("whsec_b", &header, body, 1_100, 300),
            "another secret"
        );
        assert!(
            !verify("whsec_a", &header, b"{}", 1_100, 300),
            "another body"
        );
        assert!(!verify("whsec_a", &header, body, 2_000, 300), "too old");
        let moved = header.replace("t=1000", "t=1001");
        assert!(!verify("whsec_a", &moved, body, 1_100, 300), "another time");
        assert!(!verify("whsec_a", "v1=00", body, 1_100, 300), "no time");
        assert!(generate_secret().starts_with("whsec_"));
        assert_ne!(generate_secret(), generate_secret());
    }
}
