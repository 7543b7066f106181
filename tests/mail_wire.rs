//! The mail wire layer against a real Dovecot (IMAP and POP3; plain, TLS and STARTTLS).
//!
//! `scripts/dovecot.sh start DIR` runs the server and writes DIR/env; the suite finds it through
//! `LEADGATE_TEST_DOVECOT_ENV`. Each test logs in as its own user, so it has its own empty
//! mailbox, and drops its messages straight into that user's `Maildir/new`.
//! A few tests use tiny fake servers on 127.0.0.1 for what Dovecot will not do (stall, lack
//! STARTTLS, under-report a size).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::{Duration, Instant, SystemTime};

use leadgate_domain::collector::TlsMode;
use leadgate_mail::Credentials;
use leadgate_mail::imap::{ImapError, ImapSession};
use leadgate_mail::pop3::{Pop3Client, Pop3Error};
use leadgate_mail::tls::{ConnectError, Endpoint, TlsError, TlsSettings};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

mod common;
use common::dovecot::{dovecot, unique_user};

const TIMEOUT: Duration = Duration::from_secs(10);

fn message(subject: &str, body: &str) -> Vec<u8> {
    format!(
        "From: Site <site@shop.example>\r\n\
         To: orders@shop.example\r\n\
         Subject: {subject}\r\n\
         Message-ID: <{:016x}@shop.example>\r\n\
         Date: Mon, 02 Nov 2026 10:00:00 +0300\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         \r\n\
         {body}\r\n",
        rand::random::<u64>()
    )
    .into_bytes()
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

// ---------------------------------------------------------------------------------------------
// IMAP: transports and login

async fn imap_logs_in_over(mode: TlsMode, expect_tls: bool) {
    let server = dovecot();
    let user = unique_user("imap-transport");
    server.deliver(&user, &message("ORDER: 1", "hello"));
    let mut session = ImapSession::connect_and_login(&server.imap(mode), &server.login(&user))
        .await
        .unwrap();
    assert_eq!(session.is_tls(), expect_tls);
    let inbox = session.select("INBOX").await.unwrap();
    assert_eq!(inbox.exists, 1);
    assert!(inbox.uid_validity > 0);
    session.logout().await.unwrap();
}

#[tokio::test]
async fn imap_without_tls_logs_in_and_selects_the_inbox() {
    imap_logs_in_over(TlsMode::None, false).await;
}

#[tokio::test]
async fn imaps_verifies_the_certificate_against_the_configured_ca() {
    imap_logs_in_over(TlsMode::Implicit, true).await;
}

#[tokio::test]
async fn imap_starttls_upgrades_the_connection_before_login() {
    imap_logs_in_over(TlsMode::StartTls, true).await;
}

/// `starttls` (or `none`) pointed at the implicit-TLS port: the server waits for a TLS handshake, leadgate for
/// a greeting. The error says which setting to change instead of a bare timeout.
#[tokio::test]
async fn plain_text_on_the_implicit_tls_port_names_the_tls_setting() {
    let server = dovecot();
    let mut imap = server.imap(TlsMode::Implicit);
    imap.tls.mode = TlsMode::StartTls;
    imap.timeout = Duration::from_millis(500);
    let err = ImapSession::connect_and_login(&imap, &server.login("plaintext-on-tls"))
        .await
        .unwrap_err();
    assert!(matches!(err, ImapError::NoGreeting { .. }), "{err:?}");
    assert!(err.to_string().contains("set tls = \"implicit\""), "{err}");
    let mut pop3 = server.pop3(TlsMode::Implicit);
    pop3.tls.mode = TlsMode::None;
    pop3.timeout = Duration::from_millis(500);
    let err = Pop3Client::connect(&pop3).await.unwrap_err();
    assert!(matches!(err, Pop3Error::NoGreeting { .. }), "{err:?}");
    assert!(err.to_string().contains("POP3S, usually 995"), "{err}");
}

#[tokio::test]
async fn a_wrong_imap_password_is_an_auth_error() {
    let server = dovecot();
    let user = unique_user("imap-wrong-password");
    let error = ImapSession::connect_and_login(
        &server.imap(TlsMode::Implicit),
        &Credentials::new(&user, "not-the-password"),
    )
    .await
    .unwrap_err();
    assert!(matches!(error, ImapError::Auth { .. }), "{error:?}");
    assert!(!format!("{error:?} {error}").contains("not-the-password"));
}

#[tokio::test]
async fn an_imaps_certificate_from_an_unknown_ca_is_refused() {
    let server = dovecot();
    let mut endpoint = server.imap(TlsMode::Implicit);
    endpoint.tls.ca_file = None;
    let error = ImapSession::connect_and_login(&endpoint, &server.login("nobody-gets-here"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, ImapError::Tls(TlsError::Handshake { .. })),
        "{error:?}"
    );
}

#[tokio::test]
async fn an_unverifiable_certificate_is_accepted_only_with_insecure_skip_verify() {
    let server = dovecot();
    let user = unique_user("imap-insecure");
    let mut endpoint = server.imap(TlsMode::StartTls);
    endpoint.tls.ca_file = None;
    endpoint.tls.insecure_skip_verify = true;
    let mut session = ImapSession::connect_and_login(&endpoint, &server.login(&user))
        .await
        .unwrap();
    assert!(session.is_tls());
    session.select("INBOX").await.unwrap();
    session.logout().await.unwrap();
}

#[tokio::test]
async fn a_certificate_for_another_name_is_refused() {
    let server = dovecot();
    let mut endpoint = server.imap(TlsMode::Implicit);
    // Reach the real server through a forwarder on 127.0.0.2, an address the certificate
    // does not name (it names localhost and 127.0.0.1).
    let forwarder = TcpListener::bind("127.0.0.2:0").await.unwrap();
    let target = endpoint.port;
    endpoint.host = "127.0.0.2".into();
    endpoint.port = forwarder.local_addr().unwrap().port();
    let forwarding = tokio::spawn(async move {
        let (mut inbound, _) = forwarder.accept().await.unwrap();
        let mut outbound = tokio::net::TcpStream::connect(("127.0.0.1", target))
            .await
            .unwrap();
        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
    });
    let error = ImapSession::connect_and_login(&endpoint, &server.login("nobody-gets-here"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, ImapError::Tls(TlsError::Handshake { .. })),
        "{error:?}"
    );
    forwarding.abort();
}

// ---------------------------------------------------------------------------------------------
// IMAP: what the collector does

#[tokio::test]
async fn uid_search_finds_only_newer_messages_with_the_keyword() {
    let server = dovecot();
    let user = unique_user("imap-search");
    server.deliver(&user, &message("ORDER: 1", "first"));
    server.deliver(&user, &message("Hello from a human", "not an order"));
    server.deliver(&user, &message("Fwd: order: 2", "second"));
    let mut session =
        ImapSession::connect_and_login(&server.imap(TlsMode::None), &server.login(&user))
            .await
            .unwrap();
    session.select("INBOX").await.unwrap();
    let first = session.search_new("ORDER", 0).await.unwrap();
    assert_eq!(first.len(), 2, "{first:?}");
    let highest = *first.iter().max().unwrap();

    // Nothing newer yet: "UID n:*" still returns the highest UID, which must be filtered out.
    assert_eq!(
        session.search_new("ORDER", highest).await.unwrap(),
        Vec::<u32>::new()
    );
    let everything = session.search_new("", 0).await.unwrap();
    assert_eq!(everything.len(), 3);
    let last = *everything.iter().max().unwrap();
    assert_eq!(
        session.search_new("ORDER", last).await.unwrap(),
        Vec::<u32>::new()
    );

    server.deliver(&user, &message("ORDER: 3", "third"));
    server.deliver(&user, &message("Just a question", "no"));
    let folder = session.select("INBOX").await.unwrap();
    assert_eq!(folder.exists, 5);
    let newer = session.search_new("ORDER", last).await.unwrap();
    assert_eq!(newer.len(), 1, "{newer:?}");
    assert!(newer[0] > last);
    let fetched = session.fetch_batch(&newer).await.unwrap();
    assert!(contains(&fetched[0].raw, "Subject: ORDER: 3"));
    session.logout().await.unwrap();
}

#[tokio::test]
async fn a_cyrillic_keyword_is_searched_on_the_server() {
    let server = dovecot();
    let user = unique_user("imap-cyrillic");
    server.deliver(
        &user,
        &message("=?UTF-8?B?0JfQsNC60LDQtyAxMg==?=", "encoded: Заказ 12"),
    );
    server.deliver(&user, &message("Other", "no"));
    let mut session =
        ImapSession::connect_and_login(&server.imap(TlsMode::None), &server.login(&user))
            .await
            .unwrap();
    session.select("INBOX").await.unwrap();
    let found = session.search_new("заказ", 0).await.unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    session.logout().await.unwrap();
}

#[tokio::test]
async fn fetching_with_body_peek_leaves_messages_unseen() {
    let server = dovecot();
    let user = unique_user("imap-peek");
    let raw = message("ORDER: 7", "{\"Тема\": \"x\"}");
    server.deliver(&user, &raw);
    let mut session =
        ImapSession::connect_and_login(&server.imap(TlsMode::Implicit), &server.login(&user))
            .await
            .unwrap();
    session.select("INBOX").await.unwrap();
    let uids = session.search_new("ORDER", 0).await.unwrap();
    let fetched = session.fetch_batch(&uids).await.unwrap();
    assert_eq!(fetched.len(), 1);
    assert_eq!(fetched[0].raw, raw);
    let sizes = session.fetch_sizes(&uids).await.unwrap();
    assert_eq!(sizes, vec![(uids[0], raw.len() as u32)]);

    let flags = session.flags(&uids).await.unwrap();
    assert!(!flags[0].1.iter().any(|f| f == "\\Seen"), "{flags:?}");

    session.mark_seen(&uids).await.unwrap();
    let flags = session.flags(&uids).await.unwrap();
    assert!(flags[0].1.iter().any(|f| f == "\\Seen"), "{flags:?}");
    session.logout().await.unwrap();
}

#[tokio::test]
async fn moving_messages_creates_the_folder_and_empties_the_inbox() {
    let server = dovecot();
    let user = unique_user("imap-move");
    server.deliver(&user, &message("ORDER: 1", "a"));
    server.deliver(&user, &message("ORDER: 2", "b"));
    server.deliver(&user, &message("Keep me", "c"));
    let mut session =
        ImapSession::connect_and_login(&server.imap(TlsMode::None), &server.login(&user))
            .await
            .unwrap();
    session.select("INBOX").await.unwrap();
    let uids = session.search_new("ORDER", 0).await.unwrap();
    session.move_to(&uids, "Обработано").await.unwrap();
    assert_eq!(session.select("INBOX").await.unwrap().exists, 1);
    let moved = session.select("Обработано").await.unwrap();
    assert_eq!(moved.exists, 2);

    // A second move into the now existing folder works too.
    session.select("INBOX").await.unwrap();
    let rest = session.search_new("", 0).await.unwrap();
    session.move_to(&rest, "Обработано").await.unwrap();
    assert_eq!(session.select("Обработано").await.unwrap().exists, 3);
    session.logout().await.unwrap();
}

#[tokio::test]
async fn deleting_messages_expunges_exactly_those() {
    let server = dovecot();
    let user = unique_user("imap-delete");
    server.deliver(&user, &message("ORDER: 1", "a"));
    server.deliver(&user, &message("Keep me", "b"));
    let mut session =
        ImapSession::connect_and_login(&server.imap(TlsMode::None), &server.login(&user))
            .await
            .unwrap();
    session.select("INBOX").await.unwrap();
    let uids = session.search_new("ORDER", 0).await.unwrap();
    assert_eq!(uids.len(), 1);
    session.delete(&uids).await.unwrap();
    assert_eq!(session.select("INBOX").await.unwrap().exists, 1);
    assert!(session.search_new("ORDER", 0).await.unwrap().is_empty());
    session.logout().await.unwrap();
}

#[tokio::test]
async fn search_before_finds_only_messages_older_than_the_date() {
    let server = dovecot();
    let user = unique_user("imap-retention");
    let day = Duration::from_secs(24 * 3600);
    server.deliver_at(
        &user,
        &message("ORDER: old", "a"),
        SystemTime::now() - 40 * day,
    );
    server.deliver(&user, &message("ORDER: new", "b"));
    let mut session =
        ImapSession::connect_and_login(&server.imap(TlsMode::None), &server.login(&user))
            .await
            .unwrap();
    session.select("INBOX").await.unwrap();
    let cutoff = (chrono::Utc::now() - chrono::Duration::days(30)).date_naive();
    let old = session.search_before(cutoff).await.unwrap();
    assert_eq!(old.len(), 1, "{old:?}");
    let fetched = session.fetch_batch(&old).await.unwrap();
    assert!(contains(&fetched[0].raw, "Subject: ORDER: old"));
    session.logout().await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// POP3

async fn pop3_logs_in_over(mode: TlsMode, expect_tls: bool) {
    let server = dovecot();
    let user = unique_user("pop3-transport");
    server.deliver(&user, &message("ORDER: 1", "hello"));
    let mut client = Pop3Client::connect_and_login(&server.pop3(mode), &server.login(&user))
        .await
        .unwrap();
    assert_eq!(client.is_tls(), expect_tls);
    assert_eq!(client.stat().await.unwrap().count, 1);
    client.quit().await.unwrap();
}

#[tokio::test]
async fn pop3_without_tls_logs_in_and_counts_messages() {
    pop3_logs_in_over(TlsMode::None, false).await;
}

#[tokio::test]
async fn pop3s_verifies_the_certificate_against_the_configured_ca() {
    pop3_logs_in_over(TlsMode::Implicit, true).await;
}

#[tokio::test]
async fn pop3_stls_upgrades_the_connection_before_login() {
    pop3_logs_in_over(TlsMode::StartTls, true).await;
}

#[tokio::test]
async fn a_wrong_pop3_password_is_an_auth_error() {
    let server = dovecot();
    let user = unique_user("pop3-wrong-password");
    let error = Pop3Client::connect_and_login(
        &server.pop3(TlsMode::StartTls),
        &Credentials::new(&user, "not-the-password"),
    )
    .await
    .unwrap_err();
    assert!(matches!(error, Pop3Error::Auth { .. }), "{error:?}");
    assert!(!format!("{error:?} {error}").contains("not-the-password"));
}

#[tokio::test]
async fn a_pop3s_certificate_from_an_unknown_ca_is_refused_unless_verification_is_off() {
    let server = dovecot();
    let user = unique_user("pop3-insecure");
    let mut endpoint = server.pop3(TlsMode::Implicit);
    endpoint.tls.ca_file = None;
    let error = Pop3Client::connect(&endpoint).await.unwrap_err();
    assert!(
        matches!(error, Pop3Error::Tls(TlsError::Handshake { .. })),
        "{error:?}"
    );

    endpoint.tls.insecure_skip_verify = true;
    let client = Pop3Client::connect_and_login(&endpoint, &server.login(&user))
        .await
        .unwrap();
    assert!(client.is_tls());
    client.quit().await.unwrap();
}

#[tokio::test]
async fn pop3_uidl_top_and_retr_return_the_message_with_dots_unstuffed() {
    let server = dovecot();
    let user = unique_user("pop3-dots");
    let raw = b"From: Site <site@shop.example>\r\n\
        Subject: ORDER: 42\r\n\
        Message-ID: <dots@shop.example>\r\n\
        \r\n\
        first line\r\n\
        .leading dot\r\n\
        ..two dots\r\n\
        .\r\n\
        last line\r\n"
        .to_vec();
    server.deliver(&user, &raw);
    server.deliver(&user, &message("Other", "x"));
    let mut client =
        Pop3Client::connect_and_login(&server.pop3(TlsMode::None), &server.login(&user))
            .await
            .unwrap();
    let uidls = client.uidl_all().await.unwrap();
    assert_eq!(uidls.len(), 2);
    assert!(uidls.iter().all(|(_, uidl)| uidl.len() == 16), "{uidls:?}");

    let mut ours = None;
    for (msgno, _) in &uidls {
        let headers = client.top_headers(*msgno, 64 * 1024).await.unwrap();
        assert!(headers.ends_with(b"\r\n\r\n"), "{headers:?}");
        assert!(!contains(&headers, "first line"));
        if contains(&headers, "Subject: ORDER: 42") {
            ours = Some(*msgno);
        }
    }
    let msgno = ours.expect("TOP shows the ORDER message's subject");
    let sizes = client.list_all().await.unwrap();
    assert_eq!(sizes.len(), 2);
    let retrieved = client.retr(msgno, 1024 * 1024).await.unwrap();
    assert_eq!(
        String::from_utf8_lossy(&retrieved),
        String::from_utf8_lossy(&raw)
    );
    client.quit().await.unwrap();
}

#[tokio::test]
async fn pop3_refuses_a_message_over_the_byte_cap_and_stays_usable() {
    let server = dovecot();
    let user = unique_user("pop3-cap");
    server.deliver(&user, &message("ORDER: big", &"x".repeat(10_000)));
    let mut client =
        Pop3Client::connect_and_login(&server.pop3(TlsMode::None), &server.login(&user))
            .await
            .unwrap();
    let error = client.retr(1, 1_000).await.unwrap_err();
    assert!(
        matches!(
            error,
            Pop3Error::MessageTooLarge {
                msgno: 1,
                limit: 1_000,
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(client.stat().await.unwrap().count, 1);
    assert!(client.retr(1, 100_000).await.is_ok());
    client.quit().await.unwrap();
}

#[tokio::test]
async fn pop3_dele_removes_the_message_at_quit() {
    let server = dovecot();
    let user = unique_user("pop3-dele");
    server.deliver(&user, &message("ORDER: 1", "a"));
    server.deliver(&user, &message("ORDER: 2", "b"));
    let endpoint = server.pop3(TlsMode::None);
    let mut client = Pop3Client::connect_and_login(&endpoint, &server.login(&user))
        .await
        .unwrap();
    client.dele(1).await.unwrap();
    assert!(matches!(
        client.retr(1, 1 << 20).await,
        Err(Pop3Error::Refused { .. })
    ));
    client.quit().await.unwrap();

    let mut client = Pop3Client::connect_and_login(&endpoint, &server.login(&user))
        .await
        .unwrap();
    assert_eq!(client.stat().await.unwrap().count, 1);
    client.quit().await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// Failures that need no Dovecot: fake servers on 127.0.0.1

fn local_endpoint(port: u16, mode: TlsMode, timeout: Duration) -> Endpoint {
    Endpoint {
        host: "127.0.0.1".into(),
        port,
        tls: TlsSettings {
            mode,
            ..TlsSettings::default()
        },
        timeout,
    }
}

#[tokio::test]
async fn a_connect_to_a_closed_port_fails_at_once() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let started = Instant::now();
    let endpoint = local_endpoint(port, TlsMode::None, TIMEOUT);
    let imap = ImapSession::connect_and_login(&endpoint, &Credentials::new("u", "p"))
        .await
        .unwrap_err();
    assert!(
        matches!(imap, ImapError::Connect(ConnectError::Io { .. })),
        "{imap:?}"
    );
    let pop3 = Pop3Client::connect(&endpoint).await.unwrap_err();
    assert!(
        matches!(pop3, Pop3Error::Connect(ConnectError::Io { .. })),
        "{pop3:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    let direct = leadgate_mail::tls::connect(&endpoint).await.unwrap_err();
    assert!(matches!(direct, ConnectError::Io { .. }), "{direct:?}");
}

#[tokio::test]
async fn a_server_that_never_greets_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket); // accept, then say nothing
        }
    });
    let short = Duration::from_millis(300);
    let started = Instant::now();
    let imap = ImapSession::connect_and_login(
        &local_endpoint(port, TlsMode::None, short),
        &Credentials::new("u", "p"),
    )
    .await
    .unwrap_err();
    assert!(matches!(imap, ImapError::NoGreeting { .. }), "{imap:?}");
    let pop3 = Pop3Client::connect(&local_endpoint(port, TlsMode::None, short))
        .await
        .unwrap_err();
    assert!(matches!(pop3, Pop3Error::NoGreeting { .. }), "{pop3:?}");
    let tls = Pop3Client::connect(&local_endpoint(port, TlsMode::Implicit, short))
        .await
        .unwrap_err();
    assert!(matches!(tls, Pop3Error::Timeout { .. }), "{tls:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
    server.abort();
}

/// Serves one connection: sends `greeting`, then answers each line with `reply(line)`, and
/// returns every line it received.
fn fake_server(
    greeting: &'static str,
    reply: fn(&str) -> String,
) -> (u16, tokio::task::JoinHandle<Vec<String>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let listener = TcpListener::from_std(listener).unwrap();
    let handle = tokio::spawn(async move {
        let (socket, _) = listener.accept().await.unwrap();
        let (read, mut write) = socket.into_split();
        write.write_all(greeting.as_bytes()).await.unwrap();
        let mut lines = BufReader::new(read).lines();
        let mut seen = Vec::new();
        while let Ok(Some(line)) = lines.next_line().await {
            let answer = reply(&line);
            seen.push(line);
            if write.write_all(answer.as_bytes()).await.is_err() {
                break;
            }
        }
        seen
    });
    (port, handle)
}

#[tokio::test]
async fn imap_starttls_that_the_server_lacks_stops_before_the_password() {
    let (port, server) = fake_server("* OK fake IMAP ready\r\n", |line| {
        let tag = line.split(' ').next().unwrap_or("*");
        format!("{tag} BAD no STARTTLS here\r\n")
    });
    let error = ImapSession::connect_and_login(
        &local_endpoint(port, TlsMode::StartTls, TIMEOUT),
        &Credentials::new("user", "secret-password"),
    )
    .await
    .unwrap_err();
    assert!(matches!(error, ImapError::StartTlsUnsupported), "{error:?}");
    let seen = server.await.unwrap();
    assert!(
        seen.iter().all(|l| !l.contains("secret-password")),
        "{seen:?}"
    );
}

#[tokio::test]
async fn pop3_stls_that_the_server_lacks_stops_before_the_password() {
    let (port, server) = fake_server("+OK fake POP3 ready\r\n", |line| {
        if line == "CAPA" {
            "+OK\r\nUSER\r\nUIDL\r\n.\r\n".into()
        } else {
            "-ERR no\r\n".into()
        }
    });
    let error = Pop3Client::connect_and_login(
        &local_endpoint(port, TlsMode::StartTls, TIMEOUT),
        &Credentials::new("user", "secret-password"),
    )
    .await
    .unwrap_err();
    assert!(matches!(error, Pop3Error::StartTlsUnsupported), "{error:?}");
    let seen = server.await.unwrap();
    assert_eq!(seen, vec!["CAPA".to_owned()]);
}

#[tokio::test]
async fn a_pop3_message_larger_than_its_listed_size_is_drained_and_refused() {
    let (port, server) = fake_server("+OK fake POP3 ready\r\n", |line| match line {
        "LIST 1" => "+OK 1 10\r\n".into(),
        "RETR 1" => format!("+OK\r\n{}\r\n.\r\n", "y".repeat(5_000)),
        "STAT" => "+OK 1 10\r\n".into(),
        _ => "+OK\r\n".into(),
    });
    let mut client = Pop3Client::connect_and_login(
        &local_endpoint(port, TlsMode::None, TIMEOUT),
        &Credentials::new("user", "pw"),
    )
    .await
    .unwrap();
    let error = client.retr(1, 100).await.unwrap_err();
    assert!(
        matches!(
            error,
            Pop3Error::MessageTooLarge {
                msgno: 1,
                limit: 100,
                ..
            }
        ),
        "{error:?}"
    );
    // The rest of the answer was drained: the next command reads its own reply.
    assert_eq!(client.stat().await.unwrap().count, 1);
    client.quit().await.unwrap();
    server.await.unwrap();
}
