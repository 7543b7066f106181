//! Mail servers that misbehave cannot hold a collector run: every IMAP and POP3 command has a deadline for the
//! whole of it, every run has one too, a literal too large to hold is refused when it is announced, and an
//! answer that never ends is not drained forever. The job then goes on with the next collector.
//!
//! The misbehaving servers are written here, on 127.0.0.1: they speak just enough IMAP or POP3 to get the
//! collector to the step they spoil, then send a byte now and then (each read makes progress, so only a
//! deadline on the whole command ends it), or announce a huge literal, or stream an answer without end.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::dovecot::{dovecot, unique_user};
use leadgate::config::{CollectorConfig, Settings};
use leadgate::jobs::CollectorSummary;
use leadgate::startup::Services;
use leadgate_domain::collector::{Protocol, TlsMode};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// How a fake server spoils the run.
#[derive(Clone, Copy)]
enum Trouble {
    /// Answers the step with a line that never ends, one byte every 100 ms.
    Trickle,
    /// Announces a 400 MB literal for the message, then trickles.
    HugeLiteral,
    /// Answers RETR with lines as fast as it can, without end.
    Flood,
    /// Greets with a response code followed by a non-ASCII byte, which the IMAP library's parser panics on.
    BadGreeting,
}

/// Sends `prefix`, then one byte every 100 ms until the client goes away.
async fn trickle(stream: &mut tokio::net::tcp::OwnedWriteHalf, prefix: &[u8]) {
    if stream.write_all(prefix).await.is_err() {
        return;
    }
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        tick.tick().await;
        if stream.write_all(b"a").await.is_err() {
            return;
        }
    }
}

/// An IMAP server on 127.0.0.1 that logs anyone in, offers one ORDER message, and spoils its download.
async fn fake_imap(trouble: Trouble) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read).lines();
                let greeting: &[u8] = match trouble {
                    Trouble::BadGreeting => b"* OK [CAPABILITY IMAP4rev1]\xa0fake IMAP ready\r\n",
                    _ => b"* OK fake IMAP ready\r\n",
                };
                write.write_all(greeting).await.unwrap();
                while let Ok(Some(line)) = lines.next_line().await {
                    let mut words = line.split_whitespace();
                    let tag = words.next().unwrap_or("*").to_owned();
                    let rest = line.to_ascii_uppercase();
                    let answer = if rest.contains(" LOGIN ") {
                        format!("{tag} OK logged in\r\n")
                    } else if rest.contains(" CAPABILITY") {
                        format!("* CAPABILITY IMAP4rev1\r\n{tag} OK done\r\n")
                    } else if rest.contains(" SELECT ") {
                        format!(
                            "* 1 EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\n* OK [UIDNEXT 2] ok\r\n{tag} OK [READ-WRITE] done\r\n"
                        )
                    } else if rest.contains(" SEARCH ") {
                        format!("* SEARCH 1\r\n{tag} OK done\r\n")
                    } else if rest.contains("RFC822.SIZE") {
                        format!("* 1 FETCH (UID 1 RFC822.SIZE 500)\r\n{tag} OK done\r\n")
                    } else if rest.contains("BODY.PEEK[]") {
                        let prefix: &[u8] = match trouble {
                            Trouble::HugeLiteral => b"* 1 FETCH (UID 1 BODY[] {400000000}\r\n",
                            _ => b"* 1 FETCH (UID 1 BODY[] {500}\r\nSubject: ORDER: 1\r\n",
                        };
                        trickle(&mut write, prefix).await;
                        return;
                    } else if rest.contains(" LOGOUT") {
                        format!("* BYE\r\n{tag} OK bye\r\n")
                    } else {
                        format!("{tag} BAD unknown\r\n")
                    };
                    if write.write_all(answer.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

/// A POP3 server on 127.0.0.1 that logs anyone in, offers one ORDER message, and spoils `UIDL` (trickle) or
/// `RETR` (flood).
async fn fake_pop3(trouble: Trouble) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read).lines();
                write.write_all(b"+OK fake POP3 ready\r\n").await.unwrap();
                while let Ok(Some(line)) = lines.next_line().await {
                    let command = line.to_ascii_uppercase();
                    let answer: &[u8] = if command.starts_with("UIDL") {
                        if let Trouble::Trickle = trouble {
                            trickle(&mut write, b"+OK\r\n1 ").await;
                            return;
                        }
                        b"+OK\r\n1 one\r\n.\r\n"
                    } else if command.starts_with("LIST 1") {
                        b"+OK 1 100\r\n"
                    } else if command.starts_with("LIST") {
                        b"+OK\r\n1 100\r\n.\r\n"
                    } else if command.starts_with("STAT") {
                        b"+OK 1 100\r\n"
                    } else if command.starts_with("TOP") {
                        b"+OK\r\nSubject: ORDER: 1\r\nMessage-ID: <flood@example.test>\r\n\r\n.\r\n"
                    } else if command.starts_with("RETR") {
                        let flood = format!("{}\r\n", "x".repeat(64 * 1024)).into_bytes();
                        if write.write_all(b"+OK\r\n").await.is_err() {
                            return;
                        }
                        while write.write_all(&flood).await.is_ok() {}
                        return;
                    } else if command.starts_with("CAPA") {
                        b"-ERR no\r\n"
                    } else {
                        b"+OK\r\n"
                    };
                    if write.write_all(answer).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

fn password_file(dir: &Path) -> PathBuf {
    let path = dir.join(format!("password-{:08x}", rand::random::<u32>()));
    std::fs::write(&path, "secret\n").unwrap();
    path
}

fn collector(
    name: &str,
    protocol: Protocol,
    port: u16,
    user: &str,
    password: PathBuf,
) -> CollectorConfig {
    CollectorConfig {
        tls: TlsMode::None,
        password_file: Some(password),
        ..CollectorConfig::new(name, protocol, "127.0.0.1", port, user)
    }
}

/// Runs the collector "bad" against the fake server on `bad_port`, then "good" against the test Dovecot
/// holding one site order; returns both summaries.
async fn run_bad_then_good(
    protocol: Protocol,
    bad_port: u16,
    limits: impl FnOnce(&mut Settings),
) -> (CollectorSummary, CollectorSummary) {
    let dc = dovecot();
    let user = unique_user("deadline");
    dc.deliver(
        &user,
        &std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/mail/phpmailer_cp1251.eml"
        ))
        .unwrap(),
    );
    let dir = common::TestDir::new().await;
    let mut settings = common::settings_in(&dir);
    settings.schedule.mail_collector.enabled = false;
    settings.collectors = vec![
        collector(
            "bad",
            protocol,
            bad_port,
            "anyone",
            password_file(dir.path()),
        ),
        collector(
            "good",
            Protocol::Imap,
            dc.port("DOVECOT_IMAP_PORT"),
            &user,
            password_file(dir.path()),
        ),
    ];
    limits(&mut settings);
    let services = Services::open(settings).await.unwrap();
    let mut summaries = services.job.run_once(None).await.unwrap();
    assert_eq!(summaries.len(), 2);
    let good = summaries.pop().unwrap();
    let bad = summaries.pop().unwrap();
    assert_eq!(bad.collector, "bad");
    assert_eq!(good.collector, "good");
    assert_eq!(good.error, None, "the next collector runs as usual");
    assert_eq!(
        good.counts.imported, 1,
        "the next collector imports its order"
    );
    (bad, good)
}

fn short_commands(settings: &mut Settings) {
    settings.limits.mail_timeout_secs = 1;
}

#[tokio::test]
async fn an_imap_server_that_trickles_an_answer_is_cut_off_by_the_command_deadline() {
    let port = fake_imap(Trouble::Trickle).await;
    let (bad, _) = run_bad_then_good(Protocol::Imap, port, short_commands).await;
    let error = bad.error.unwrap();
    assert!(error.contains("IMAP FETCH timed out"), "{error}");
}

#[tokio::test]
async fn a_pop3_server_that_trickles_a_listing_is_cut_off_by_the_command_deadline() {
    let port = fake_pop3(Trouble::Trickle).await;
    let (bad, _) = run_bad_then_good(Protocol::Pop3, port, short_commands).await;
    let error = bad.error.unwrap();
    assert!(error.contains("POP3 UIDL timed out"), "{error}");
}

#[tokio::test]
async fn a_run_that_outlasts_its_deadline_stops_and_the_job_goes_on() {
    let port = fake_imap(Trouble::Trickle).await;
    let (bad, _) = run_bad_then_good(Protocol::Imap, port, |settings| {
        settings.limits.mail_timeout_secs = 3600;
        settings.limits.collector_run_deadline_secs = 1;
    })
    .await;
    let error = bad.error.unwrap();
    assert!(error.contains("deadline"), "{error}");
}

#[tokio::test]
async fn an_imap_literal_larger_than_max_message_bytes_is_refused_when_announced() {
    let port = fake_imap(Trouble::HugeLiteral).await;
    // The command deadline stays long: the refusal must come from the announcement, not from waiting.
    let (bad, _) = run_bad_then_good(Protocol::Imap, port, |settings| {
        settings.limits.mail_timeout_secs = 3600;
        settings.limits.collector_run_deadline_secs = 3600;
    })
    .await;
    let error = bad.error.unwrap();
    assert!(
        error.contains("announced a literal of more than 26214400 bytes"),
        "{error}"
    );
}

#[tokio::test]
async fn a_pop3_answer_that_never_ends_is_drained_only_so_far() {
    let port = fake_pop3(Trouble::Flood).await;
    let (bad, _) = run_bad_then_good(Protocol::Pop3, port, |settings| {
        settings.limits.mail_timeout_secs = 3600;
        settings.limits.collector_run_deadline_secs = 3600;
    })
    .await;
    let error = bad.error.unwrap();
    assert!(error.contains("still going after"), "{error}");
}

#[tokio::test]
async fn an_imap_answer_that_makes_the_parser_panic_fails_that_run_and_the_job_goes_on() {
    let port = fake_imap(Trouble::BadGreeting).await;
    let (bad, _) = run_bad_then_good(Protocol::Imap, port, short_commands).await;
    let error = bad.error.unwrap();
    assert!(error.contains("could not be read"), "{error}");
}
