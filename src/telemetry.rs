//! Logging and metrics set-up.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing::Level;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, fmt};

/// Targets whose trace output carries secrets: async-imap traces every line it sends, `LOGIN user password`
/// included, and imap-proto the bytes it parses. Their trace events are dropped whatever `RUST_LOG` says.
const SECRET_TRACING_TARGETS: &[&str] = &["async_imap", "imap_proto"];

/// Whether an event or span may be logged at all: nothing at trace level from the targets whose trace output
/// carries secrets (async-imap, which traces `LOGIN user password`, and imap-proto). Events forwarded from
/// the `log` crate (async-imap logs through it) carry their original target.
pub fn may_log(target: &str, level: Level) -> bool {
    level != Level::TRACE
        || !SECRET_TRACING_TARGETS
            .iter()
            .any(|t| target == *t || target.strip_prefix(t).is_some_and(|r| r.starts_with("::")))
}

/// Installs the global `tracing` subscriber: `RUST_LOG` filter (default `info`), to stderr, JSON when
/// `LEADGATE_LOG_FORMAT=json`. Trace output of the IMAP client library is never logged (see [`may_log`]).
/// Safe to call more than once.
///
/// The filters are global, not the output layer's own: a per-layer filter carries its decision from
/// `enabled` to the event in a thread-local, and sqlx, which asks whether its query log is enabled after every
/// query with metadata of its own, left that stale, so the next event on the thread was dropped (on
/// PostgreSQL, whose queries run on the caller's thread, the log lines that followed a query; tracing issue
/// 2519). With one output there is nothing a per-layer filter would add.
pub fn init() {
    let env =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let secrets = filter_fn(|meta| may_log(meta.target(), *meta.level()));
    let json = std::env::var("LEADGATE_LOG_FORMAT").is_ok_and(|v| v == "json");
    // Colours only for a terminal: a log written to a file or a pipe carries no escape codes.
    let layer = fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let layer = if json {
        layer.json().boxed()
    } else {
        layer.boxed()
    };
    let _ = tracing_subscriber::registry()
        .with(env)
        .with(secrets)
        .with(layer)
        .try_init();
}

/// The process-wide Prometheus recorder, installed on first use.
pub fn prometheus() -> Option<PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| PrometheusBuilder::new().install_recorder().ok())
        .clone()
}

/// `error` with its causes, `outer: inner: innermost`, each told once: a cause whose text the ones before
/// already end with (an error that shows its source's text itself) is not repeated. What an administrator
/// reads of a failure (a collector's run, a notification) needs the cause: "IMAP TLS" alone does not say
/// whether the certificate was untrusted or the CA file missing.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let told = cause.to_string();
        if !text.ends_with(&told) {
            text.push_str(": ");
            text.push_str(&told);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imap_client_trace_is_never_logged_but_its_debug_and_other_trace_are() {
        assert!(!may_log("async_imap", Level::TRACE));
        assert!(!may_log("async_imap::imap_stream", Level::TRACE));
        assert!(!may_log("imap_proto::parser", Level::TRACE));
        assert!(may_log("async_imap::client", Level::DEBUG));
        assert!(may_log("async_imapx", Level::TRACE));
        assert!(may_log("leadgate_mail::imap", Level::TRACE));
    }

    #[derive(Debug, thiserror::Error)]
    enum Outer {
        #[error("IMAP: {0}")]
        Shows(#[from] Inner),
    }

    #[derive(Debug, thiserror::Error)]
    #[error("IMAP TLS")]
    struct Inner(#[source] std::io::Error);

    #[test]
    fn each_cause_is_told_once() {
        let e = Outer::from(Inner(std::io::Error::other(
            "invalid peer certificate: UnknownIssuer",
        )));
        assert_eq!(
            error_chain(&e),
            "IMAP: IMAP TLS: invalid peer certificate: UnknownIssuer"
        );
    }
}
