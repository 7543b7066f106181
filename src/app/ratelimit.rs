//! Rate limits of the HTTP sources: a source's token is in its website's pages, so anyone can post with it.
//! Each source has a token bucket per client address and one for all clients together; a request that
//! finds either empty is answered 429 with `Retry-After`.
//!
//! The client address is the connection's peer, or, when the peer is one of `server.trusted_proxies`, the
//! last address in `X-Forwarded-For` that is not a trusted proxy.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::Instant;

use axum::extract::ConnectInfo;
use axum::http::{Extensions, HeaderMap};

use crate::config::{HttpSourceConfig, Settings};

/// Requests a client address may send a source per minute, when the source does not say.
pub const DEFAULT_PER_CLIENT_PER_MINUTE: u32 = 120;
/// Requests all clients together may send a source per minute, when the source does not say.
pub const DEFAULT_TOTAL_PER_MINUTE: u32 = 1200;
/// Buckets kept at most; full ones are forgotten first.
const MAX_BUCKETS: usize = 100_000;

/// A source's limits, requests per minute; 0 is no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceLimits {
    /// Per client address.
    pub per_client: u32,
    /// All clients together.
    pub total: u32,
}

impl SourceLimits {
    /// The limits of the source named `name`: its configuration's, else the defaults (a source made in the
    /// UI has no configuration).
    pub fn of(settings: &Settings, name: &str) -> Self {
        let config = settings.http_sources.iter().find(|s| s.name == name);
        Self {
            per_client: config
                .and_then(|c| c.rate_limit_per_client)
                .unwrap_or(DEFAULT_PER_CLIENT_PER_MINUTE),
            total: config
                .and_then(|c| c.rate_limit_total)
                .unwrap_or(DEFAULT_TOTAL_PER_MINUTE),
        }
    }
}

/// The honeypot field of the source named `name`, if its configuration names one.
pub fn honeypot<'a>(settings: &'a Settings, name: &str) -> Option<&'a str> {
    settings
        .http_sources
        .iter()
        .find(|s| s.name == name)
        .and_then(|c: &HttpSourceConfig| c.honeypot_field.as_deref())
        .filter(|f| !f.is_empty())
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    /// Refills at `per_minute` a minute up to `per_minute`; returns the tokens now.
    fn refill(&mut self, per_minute: u32, now: Instant) -> f64 {
        let capacity = f64::from(per_minute);
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * capacity / 60.0).min(capacity);
        self.at = now;
        self.tokens
    }

    /// Seconds until one token is there.
    fn wait(&self, per_minute: u32) -> u64 {
        let missing = (1.0 - self.tokens).max(0.0);
        // At most 60 s: a whole minute refills a whole bucket.
        let secs = (missing * 60.0 / f64::from(per_minute.max(1))).ceil();
        if secs >= 60.0 {
            60
        } else {
            (secs as u64).max(1)
        }
    }
}

/// Who is limited: a source, and a client address or everyone.
type Key = (i64, Option<IpAddr>);

/// The token buckets of every source.
#[derive(Debug, Default)]
pub struct RateLimiter {
    buckets: Mutex<HashMap<Key, Bucket>>,
}

impl RateLimiter {
    /// Takes one request of `source` from `client` out of its buckets.
    ///
    /// # Errors
    /// The seconds to wait when a bucket is empty (nothing is taken then).
    pub fn check(&self, source: i64, client: IpAddr, limits: SourceLimits) -> Result<(), u64> {
        let now = Instant::now();
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() >= MAX_BUCKETS {
            buckets.retain(|(_, client), b| {
                client.is_none()
                    || b.tokens + now.saturating_duration_since(b.at).as_secs_f64() < 1.0
            });
        }
        let limited = [(Some(client), limits.per_client), (None, limits.total)];
        for (who, per_minute) in limited {
            if per_minute == 0 {
                continue;
            }
            let bucket = buckets.entry((source, who)).or_insert(Bucket {
                tokens: f64::from(per_minute),
                at: now,
            });
            if bucket.refill(per_minute, now) < 1.0 {
                return Err(bucket.wait(per_minute));
            }
        }
        for (who, per_minute) in limited {
            if per_minute > 0
                && let Some(bucket) = buckets.get_mut(&(source, who))
            {
                bucket.tokens -= 1.0;
            }
        }
        Ok(())
    }
}

/// The client's address: the peer, or behind a trusted proxy the address it forwarded for. `None` when the
/// request came without a connection (never in the server).
pub fn client_address(
    extensions: &Extensions,
    headers: &HeaderMap,
    trusted_proxies: &[IpAddr],
) -> Option<IpAddr> {
    let peer = extensions.get::<ConnectInfo<SocketAddr>>()?.0.ip();
    Some(forwarded_client(peer, headers, trusted_proxies))
}

/// Who sent a request that reached leadgate from `peer`: the peer itself, unless it is a trusted proxy; then
/// the rightmost address of `X-Forwarded-For` that is not a trusted proxy (the ones left of it are the
/// client's to write, so they are never believed).
pub fn forwarded_client(peer: IpAddr, headers: &HeaderMap, trusted_proxies: &[IpAddr]) -> IpAddr {
    if !trusted_proxies.contains(&peer) {
        return peer;
    }
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse::<IpAddr>().ok())
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .find(|a| !trusted_proxies.contains(a))
        .unwrap_or(peer)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_client_over_its_limit_waits_and_others_are_not_held_back() {
        let limiter = RateLimiter::default();
        let limits = SourceLimits {
            per_client: 2,
            total: 3,
        };
        let a: IpAddr = "127.0.0.2".parse().unwrap();
        let b: IpAddr = "127.0.0.3".parse().unwrap();
        assert!(limiter.check(1, a, limits).is_ok());
        assert!(limiter.check(1, a, limits).is_ok());
        let wait = limiter.check(1, a, limits).unwrap_err();
        assert!((1..=30).contains(&wait), "{wait}");
        assert!(limiter.check(1, b, limits).is_ok());
        assert!(limiter.check(1, b, limits).is_err(), "the total is spent");
        assert!(limiter.check(2, b, limits).is_ok(), "another source");
    }
}
