//! `subject_filter = "local"`: leadgate judges every new IMAP message's subject itself instead of trusting the
//! server's `SEARCH SUBJECT`, which some servers run on the raw, RFC 2047-encoded header. Against a small IMAP
//! server on loopback whose SEARCH does not decode, and against the real Dovecot.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::TestApp;
use common::dovecot::{dovecot, unique_user};
use leadgate::config::CollectorConfig;
use leadgate_domain::collector::Protocol;
use leadgate_domain::collector::SubjectFilter;
use leadgate_domain::collector::TlsMode;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/mail");

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(Path::new(FIXTURES).join(format!("{name}.eml"))).unwrap()
}

/// The product note's sample order with its subject as some mailers write it: `ORDER: 42`, RFC 2047-encoded.
fn encoded_order() -> Vec<u8> {
    String::from_utf8(fixture("seed_sample"))
        .unwrap()
        .replacen(
            "Subject: ORDER: 123",
            "Subject: =?utf-8?B?T1JERVI6IDQy?=",
            1,
        )
        .into_bytes()
}

fn letter() -> Vec<u8> {
    b"Message-ID: <letter@shop.example>\r\nSubject: Lunch?\r\n\r\nShall we?\r\n".to_vec()
}

/// An IMAP server just big enough for a collector run, holding `messages` (UIDs 1, 2, ...) in INBOX. Its
/// `SEARCH SUBJECT` looks for the text in the raw header, as servers that do not decode RFC 2047 do.
async fn undecoding_server(messages: Vec<Vec<u8>>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let messages = Arc::new(messages);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(stream, messages.clone()));
        }
    });
    port
}

fn subject_line(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw)
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("subject:"))
        .unwrap_or_default()
        .to_owned()
}

/// The UIDs of an IMAP sequence set such as `1,3:4` or `2:*`.
fn uid_set(set: &str, highest: u32) -> Vec<u32> {
    let mut uids = Vec::new();
    for range in set.split(',') {
        let bound = |s: &str| {
            if s == "*" {
                highest
            } else {
                s.parse().unwrap()
            }
        };
        let (a, b) = match range.split_once(':') {
            Some((a, b)) => (bound(a), bound(b)),
            None => (bound(range), bound(range)),
        };
        uids.extend(a.min(b)..=a.max(b));
    }
    uids
}

async fn serve(stream: tokio::net::TcpStream, messages: Arc<Vec<Vec<u8>>>) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    let highest = messages.len() as u32;
    write
        .write_all(b"* OK [CAPABILITY IMAP4rev1] ready\r\n")
        .await
        .unwrap();
    while let Ok(Some(line)) = lines.next_line().await {
        let mut words = line.splitn(3, ' ');
        let (tag, command, rest) = (
            words.next().unwrap_or_default(),
            words.next().unwrap_or_default().to_ascii_uppercase(),
            words.next().unwrap_or_default(),
        );
        let mut out: Vec<u8> = Vec::new();
        match command.as_str() {
            "CAPABILITY" => out.extend_from_slice(b"* CAPABILITY IMAP4rev1\r\n"),
            "SELECT" => out.extend_from_slice(
                format!(
                    "* {highest} EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\n* OK [UIDNEXT {}] ok\r\n",
                    highest + 1
                )
                .as_bytes(),
            ),
            "LOGOUT" => {
                let _ = write
                    .write_all(format!("* BYE\r\n{tag} OK bye\r\n").as_bytes())
                    .await;
                return;
            }
            "UID" if rest.to_ascii_uppercase().starts_with("SEARCH") => {
                // `SEARCH UID n:* [SUBJECT "text"]`
                let args: Vec<&str> = rest.split(' ').collect();
                let mut uids = uid_set(args[2], highest);
                if let Some(at) = args.iter().position(|a| a.eq_ignore_ascii_case("SUBJECT")) {
                    let text = args[at + 1].trim_matches('"').to_ascii_lowercase();
                    uids.retain(|uid| {
                        subject_line(&messages[*uid as usize - 1])
                            .to_ascii_lowercase()
                            .contains(&text)
                    });
                }
                let list: Vec<String> = uids.iter().map(u32::to_string).collect();
                out.extend_from_slice(format!("* SEARCH {}\r\n", list.join(" ")).as_bytes());
            }
            "UID" if rest.to_ascii_uppercase().starts_with("FETCH") => {
                let args: Vec<&str> = rest.splitn(3, ' ').collect();
                let items = args[2].to_ascii_uppercase();
                for uid in uid_set(args[1], highest) {
                    let Some(raw) = messages.get(uid as usize - 1) else {
                        continue;
                    };
                    let (name, data): (&str, Vec<u8>) = if items.contains("RFC822.SIZE") {
                        let line =
                            format!("* {uid} FETCH (UID {uid} RFC822.SIZE {})\r\n", raw.len());
                        out.extend_from_slice(line.as_bytes());
                        continue;
                    } else if items.contains("HEADER.FIELDS") {
                        let subject = format!("{}\r\n\r\n", subject_line(raw));
                        (
                            "BODY[HEADER.FIELDS (SUBJECT MESSAGE-ID)]",
                            subject.into_bytes(),
                        )
                    } else {
                        ("BODY[]", raw.clone())
                    };
                    out.extend_from_slice(
                        format!("* {uid} FETCH (UID {uid} {name} {{{}}}\r\n", data.len())
                            .as_bytes(),
                    );
                    out.extend_from_slice(&data);
                    out.extend_from_slice(b")\r\n");
                }
            }
            _ => {}
        }
        out.extend_from_slice(format!("{tag} OK done\r\n").as_bytes());
        if write.write_all(&out).await.is_err() {
            return;
        }
    }
}

fn collector(port: u16, user: &str, filter: SubjectFilter, secrets: &Path) -> CollectorConfig {
    let password = secrets.join(format!("password-{:08x}", rand::random::<u32>()));
    std::fs::write(&password, "secret\n").unwrap();
    CollectorConfig {
        tls: TlsMode::None,
        password_file: Some(password),
        subject_filter: filter,
        ..CollectorConfig::new("site", Protocol::Imap, "127.0.0.1", port, user)
    }
}

async fn app_with(c: CollectorConfig) -> TestApp {
    TestApp::spawn_with(move |s| {
        s.schedule.mail_collector.enabled = false;
        s.collectors = vec![c];
    })
    .await
}

/// (imported, duplicate, skipped, rejected) of a run that must have ended without an error.
async fn run_now(app: &TestApp) -> (u64, u64, u64, u64) {
    let summary = &app.run_collector_now("site").await;
    assert_eq!(summary["error"], Value::Null, "{summary}");
    let n = |k: &str| summary["counts"][k].as_u64().unwrap();
    (n("imported"), n("duplicate"), n("skipped"), n("rejected"))
}

#[tokio::test]
async fn an_encoded_order_subject_that_the_servers_search_misses_is_imported_when_leadgate_judges_subjects()
 {
    let port = undecoding_server(vec![letter(), encoded_order()]).await;
    let secrets = tempfile::tempdir().unwrap();

    // Trusting the server's SEARCH, the order is never seen.
    let app = app_with(collector(
        port,
        "shop",
        SubjectFilter::Server,
        secrets.path(),
    ))
    .await;
    assert_eq!(run_now(&app).await, (0, 0, 0, 0));
    drop(app);

    let app = app_with(collector(
        port,
        "shop",
        SubjectFilter::Local,
        secrets.path(),
    ))
    .await;
    assert_eq!(run_now(&app).await, (1, 0, 1, 0));
    let leads = app.get("/api/v1/leads").await;
    assert_eq!(leads["items"][0]["source"]["external_number"], "42");
    // Every new message was judged: the next run has nothing new.
    assert_eq!(run_now(&app).await, (0, 0, 0, 0));
}

#[tokio::test]
async fn with_the_local_subject_filter_dovecot_mail_is_judged_by_leadgate_and_each_message_once() {
    let dc = dovecot();
    let user = unique_user("local-filter");
    let secrets = tempfile::tempdir().unwrap();
    for name in ["seed_sample", "no_keyword", "borderline", "encoded_subject"] {
        dc.deliver(&user, &fixture(name));
    }
    let mut c = collector(
        dc.port("DOVECOT_IMAP_PORT"),
        &user,
        SubjectFilter::Local,
        secrets.path(),
    );
    c.host = "localhost".to_owned();
    c.ca_file = Some(PathBuf::from(dc.var("DOVECOT_CA_FILE")));
    std::fs::write(
        c.password_file.as_ref().unwrap(),
        dc.var("DOVECOT_PASSWORD"),
    )
    .unwrap();
    let app = app_with(c).await;
    // The letter without the keyword is judged here too, from its header fields, and recorded as skipped.
    assert_eq!(run_now(&app).await, (2, 0, 2, 0));
    dc.deliver(&user, &fixture("nodemailer_cp1251"));
    assert_eq!(run_now(&app).await, (1, 0, 0, 0));
    let skipped = app.get("/api/v1/messages?outcome=skipped").await;
    assert_eq!(skipped["items"].as_array().unwrap().len(), 2);
}
