//! A collected mailbox loses nothing leadgate did not import: retention and the after-import actions touch
//! only imported mail, two messages sharing a Message-ID are two messages, a reply quoting the keyword is left
//! alone, and one message storage refuses never blocks its collector. Real Dovecot, real SQLite.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use common::TestApp;
use common::TestDatabase;
use common::dovecot::{Dovecot, dovecot, unique_user};
use leadgate::config::CollectorConfig;
use leadgate_domain::collector::AfterImport;
use leadgate_domain::collector::Protocol;
use leadgate_domain::collector::TlsMode;
use leadgate_mail::extract;
use leadgate_mail::imap::ImapSession;
use serde_json::Value;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/mail");

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(Path::new(FIXTURES).join(format!("{name}.eml"))).unwrap()
}

/// The product note's sample order with another Message-ID and subject: `ORDER: {number}`.
fn order(message_id: &str, number: &str) -> Vec<u8> {
    let template = String::from_utf8(fixture("seed_sample")).unwrap();
    template
        .replacen(
            "Message-ID: <seed_sample@shop.example>",
            &format!("Message-ID: <{message_id}>"),
            1,
        )
        .replacen(
            "Subject: ORDER: 123",
            &format!("Subject: ORDER: {number}"),
            1,
        )
        .into_bytes()
}

/// A fixture with its Message-ID replaced.
fn with_message_id(name: &str, message_id: &str) -> Vec<u8> {
    let raw = fixture(name);
    let start = raw.windows(11).position(|w| w == b"Message-ID:").unwrap();
    let end = start + raw[start..].iter().position(|&b| b == b'\r').unwrap();
    [
        &raw[..start],
        format!("Message-ID: <{message_id}>").as_bytes(),
        &raw[end..],
    ]
    .concat()
}

fn collector(dc: &Dovecot, user: &str, protocol: Protocol, secrets: &Path) -> CollectorConfig {
    let password = secrets.join(format!("password-{:08x}", rand::random::<u32>()));
    std::fs::write(&password, format!("{}\n", dc.var("DOVECOT_PASSWORD"))).unwrap();
    let port = dc.port(match protocol {
        Protocol::Imap => "DOVECOT_IMAP_PORT",
        Protocol::Pop3 => "DOVECOT_POP3_PORT",
    });
    CollectorConfig {
        tls: TlsMode::None,
        ca_file: Some(PathBuf::from(dc.var("DOVECOT_CA_FILE"))),
        password_file: Some(password),
        ..CollectorConfig::new("site", protocol, "localhost", port, user)
    }
}

async fn app_with(c: CollectorConfig) -> TestApp {
    TestApp::spawn_with(move |s| {
        s.schedule.mail_collector.enabled = false;
        s.collectors = vec![c];
    })
    .await
}

async fn run_now(app: &TestApp) -> Value {
    app.run_collector_now("site").await
}

/// (imported, duplicate, skipped, rejected) of a run that must have ended without an error.
fn counts(summary: &Value) -> (u64, u64, u64, u64) {
    assert_eq!(summary["error"], Value::Null, "{summary}");
    let c = &summary["counts"];
    let n = |k: &str| c[k].as_u64().unwrap();
    (n("imported"), n("duplicate"), n("skipped"), n("rejected"))
}

/// The external numbers (`ORDER: N`) of the leads, sorted.
async fn external_numbers(app: &TestApp) -> Vec<String> {
    let leads = app.get("/api/v1/leads?limit=100").await;
    let mut numbers: Vec<String> = leads["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["source"]["external_number"].as_str().unwrap().to_owned())
        .collect();
    numbers.sort_unstable();
    numbers
}

async fn messages(app: &TestApp, outcome: &str) -> Vec<Value> {
    app.get(&format!("/api/v1/messages?outcome={outcome}&limit=500"))
        .await["items"]
        .as_array()
        .unwrap()
        .clone()
}

/// The subjects of the messages in `folder`, sorted.
async fn subjects(dc: &Dovecot, user: &str, folder: &str) -> Vec<String> {
    let mut session = ImapSession::connect_and_login(&dc.imap(TlsMode::None), &dc.login(user))
        .await
        .unwrap();
    let uids = match session.select(folder).await {
        Ok(_) => session.search_new("", 0).await.unwrap(),
        Err(_) => Vec::new(),
    };
    let raws = if uids.is_empty() {
        Vec::new()
    } else {
        session.fetch_batch(&uids).await.unwrap()
    };
    session.logout().await.unwrap();
    let mut subjects: Vec<String> = raws
        .iter()
        .map(|m| extract::headers(&m.raw).subject.unwrap_or_default())
        .collect();
    subjects.sort();
    subjects
}

/// Makes every ledger record look `days` older, as if it had been recorded then.
async fn age_the_ledger(app: &TestApp, days: i64) {
    let database = TestDatabase::open(&app.database_url()).await.unwrap();
    database
        .age_the_ledger(chrono::Duration::days(days))
        .await
        .unwrap();
    database.close().await;
}

/// A shared mailbox: a person's own letter, a broken order, a customer's reply quoting the keyword, and one
/// good order.
fn shared_mailbox(dc: &Dovecot, user: &str, received: SystemTime) {
    for name in ["no_keyword", "broken_json", "no_attachment", "seed_sample"] {
        dc.deliver_at(user, &fixture(name), received);
    }
}

/// The subjects of those four messages, less the imported order.
fn all_but_the_order() -> Vec<String> {
    let mut left: Vec<String> = ["no_keyword", "broken_json", "no_attachment"]
        .iter()
        .map(|name| extract::headers(&fixture(name)).subject.unwrap())
        .collect();
    left.sort();
    left
}

#[tokio::test]
async fn imap_retention_deletes_the_imported_order_and_leaves_the_letter_the_reply_and_the_rejected_order()
 {
    let dc = dovecot();
    let user = unique_user("keep-imap");
    let secrets = tempfile::tempdir().unwrap();
    shared_mailbox(
        &dc,
        &user,
        SystemTime::now() - Duration::from_secs(40 * 86_400),
    );
    let mut c = collector(&dc, &user, Protocol::Imap, secrets.path());
    c.delete_after_days = Some(30);
    let app = app_with(c).await;
    // The server's SEARCH never lists the letter; the reply is skipped, the broken order rejected.
    assert_eq!(counts(&run_now(&app).await), (1, 0, 1, 1));
    assert_eq!(subjects(&dc, &user, "INBOX").await, all_but_the_order());
}

#[tokio::test]
async fn pop3_retention_deletes_the_imported_order_and_leaves_the_letter_the_reply_and_the_rejected_order()
 {
    let dc = dovecot();
    let user = unique_user("keep-pop3");
    let secrets = tempfile::tempdir().unwrap();
    shared_mailbox(&dc, &user, SystemTime::now());
    let mut c = collector(&dc, &user, Protocol::Pop3, secrets.path());
    c.delete_after_days = Some(30);
    let app = app_with(c).await;
    assert_eq!(counts(&run_now(&app).await), (1, 0, 2, 1));
    // POP3 judges age by when the ledger recorded a message: 40 days on, the next run's retention.
    age_the_ledger(&app, 40).await;
    assert_eq!(counts(&run_now(&app).await), (0, 0, 0, 0));
    assert_eq!(subjects(&dc, &user, "INBOX").await, all_but_the_order());
}

#[tokio::test]
async fn a_reply_quoting_the_keyword_is_skipped_with_its_reason_and_never_moved_or_deleted() {
    let dc = dovecot();
    let reply = extract::headers(&fixture("no_attachment")).subject.unwrap();
    for (protocol, action) in [
        (Protocol::Imap, AfterImport::Keep),
        (Protocol::Imap, AfterImport::Seen),
        (Protocol::Imap, AfterImport::Move),
        (Protocol::Imap, AfterImport::Delete),
        (Protocol::Pop3, AfterImport::Delete),
    ] {
        let user = unique_user("reply");
        let secrets = tempfile::tempdir().unwrap();
        dc.deliver(&user, &fixture("no_attachment"));
        dc.deliver(&user, &fixture("seed_sample"));
        let mut c = collector(&dc, &user, protocol, secrets.path());
        c.after_import = action;
        c.move_to = Some("Processed".to_owned());
        c.failed_folder = Some("Failed".to_owned());
        let app = app_with(c).await;
        assert_eq!(
            counts(&run_now(&app).await),
            (1, 0, 1, 0),
            "{protocol:?} {action:?}"
        );
        let skipped = messages(&app, "skipped").await;
        assert_eq!(skipped.len(), 1);
        assert!(
            skipped[0]["reason"]
                .as_str()
                .unwrap()
                .contains("no attachment"),
            "{skipped:?}"
        );
        let inbox = subjects(&dc, &user, "INBOX").await;
        assert!(inbox.contains(&reply), "{protocol:?} {action:?}: {inbox:?}");
        assert!(subjects(&dc, &user, "Failed").await.is_empty());
        assert!(!subjects(&dc, &user, "Processed").await.contains(&reply));
    }
    // Nor is it marked read.
    let user = unique_user("reply-seen");
    let secrets = tempfile::tempdir().unwrap();
    dc.deliver(&user, &fixture("no_attachment"));
    let mut c = collector(&dc, &user, Protocol::Imap, secrets.path());
    c.after_import = AfterImport::Seen;
    let app = app_with(c).await;
    assert_eq!(counts(&run_now(&app).await), (0, 0, 1, 0));
    let mut session = ImapSession::connect_and_login(&dc.imap(TlsMode::None), &dc.login(&user))
        .await
        .unwrap();
    session.select("INBOX").await.unwrap();
    let uids = session.search_new("", 0).await.unwrap();
    let flags = session.flags(&uids).await.unwrap();
    session.logout().await.unwrap();
    assert!(
        flags.iter().all(|(_, f)| !f.iter().any(|f| f == "\\Seen")),
        "{flags:?}"
    );
}

#[tokio::test]
async fn a_keyword_message_whose_attachments_hold_no_json_object_is_still_rejected() {
    let dc = dovecot();
    let user = unique_user("nojson");
    let secrets = tempfile::tempdir().unwrap();
    let raw = "Message-ID: <picture@shop.example>\r\nSubject: ORDER: 31\r\nMIME-Version: 1.0\r\n\
        Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n\
        See the layout.\r\n--b\r\nContent-Type: image/png; name=\"layout.png\"\r\n\
        Content-Disposition: attachment; filename=\"layout.png\"\r\nContent-Transfer-Encoding: base64\r\n\r\n\
        iVBORw0KGgo=\r\n--b--\r\n";
    dc.deliver(&user, raw.as_bytes());
    let mut c = collector(&dc, &user, Protocol::Imap, secrets.path());
    c.failed_folder = Some("Failed".to_owned());
    let app = app_with(c).await;
    assert_eq!(counts(&run_now(&app).await), (0, 0, 0, 1));
    assert_eq!(
        subjects(&dc, &user, "Failed").await,
        vec!["ORDER: 31".to_owned()]
    );
}

async fn two_orders_sharing_a_message_id(protocol: Protocol) {
    let dc = dovecot();
    let user = unique_user("same-id");
    let secrets = tempfile::tempdir().unwrap();
    let first = order("shared@shop.example", "501");
    let second = order("shared@shop.example", "502");
    let broken = with_message_id("broken_json", "shared@shop.example");
    for raw in [&first, &second, &broken] {
        dc.deliver(&user, raw);
    }
    let mut c = collector(&dc, &user, protocol, secrets.path());
    c.after_import = AfterImport::Delete;
    let app = app_with(c).await;
    assert_eq!(counts(&run_now(&app).await), (2, 0, 0, 1), "{protocol:?}");

    assert_eq!(external_numbers(&app).await, ["501", "502"], "{protocol:?}");
    // Each order's own bytes are kept, and the broken one waits in the mailbox for a person.
    let mut kept = Vec::new();
    for m in messages(&app, "imported").await {
        kept.push(app.raw(&m["id"]).await.bytes().await.unwrap().to_vec());
    }
    kept.sort();
    let mut sent = vec![first.clone(), second.clone()];
    sent.sort();
    assert_eq!(kept, sent, "{protocol:?}");
    let broken_subject = extract::headers(&broken).subject.unwrap();
    assert_eq!(
        subjects(&dc, &user, "INBOX").await,
        vec![broken_subject.clone()],
        "{protocol:?}"
    );

    // A true copy of an imported order is a duplicate, and may go as the order did.
    dc.deliver(&user, &second);
    assert_eq!(counts(&run_now(&app).await), (0, 1, 0, 0), "{protocol:?}");
    assert_eq!(
        subjects(&dc, &user, "INBOX").await,
        vec![broken_subject],
        "{protocol:?}"
    );
}

#[tokio::test]
async fn two_different_orders_sharing_a_message_id_are_both_imported_over_imap_and_none_is_deleted_unimported()
 {
    two_orders_sharing_a_message_id(Protocol::Imap).await;
}

#[tokio::test]
async fn two_different_orders_sharing_a_message_id_are_both_imported_over_pop3_and_none_is_deleted_unimported()
 {
    two_orders_sharing_a_message_id(Protocol::Pop3).await;
}

async fn storage_refuses_one_order(protocol: Protocol) {
    let dc = dovecot();
    let user = unique_user("refused");
    let secrets = tempfile::tempdir().unwrap();
    let refused = order("refused@shop.example", "666");
    for (i, raw) in [
        order("a@shop.example", "1"),
        refused.clone(),
        order("b@shop.example", "2"),
    ]
    .iter()
    .enumerate()
    {
        dc.deliver_at(
            &user,
            raw,
            SystemTime::now() - Duration::from_secs(60 - i as u64),
        );
    }
    let app = app_with(collector(&dc, &user, protocol, secrets.path())).await;
    // The database itself refuses any lead numbered 666.
    let database = TestDatabase::open(&app.database_url()).await.unwrap();
    database.refuse_leads_numbered(666).await.unwrap();
    database.close().await;

    assert_eq!(counts(&run_now(&app).await), (2, 0, 0, 1), "{protocol:?}");
    let rejected = messages(&app, "rejected").await;
    assert_eq!(rejected.len(), 1, "{protocol:?}");
    assert!(
        rejected[0]["reason"]
            .as_str()
            .unwrap()
            .contains("lead 666 refused"),
        "{rejected:?}"
    );
    let raw = app.raw(&rejected[0]["id"]).await.bytes().await.unwrap();
    assert_eq!(raw.as_ref(), refused.as_slice(), "the raw message is kept");
    // The collector has moved on: the next run finds nothing new and no error.
    assert_eq!(counts(&run_now(&app).await), (0, 0, 0, 0), "{protocol:?}");
}

#[tokio::test]
async fn an_imap_message_the_storage_refuses_is_recorded_rejected_and_its_batch_and_scan_go_on() {
    storage_refuses_one_order(Protocol::Imap).await;
}

#[tokio::test]
async fn a_pop3_message_the_storage_refuses_is_recorded_rejected_and_its_batch_and_scan_go_on() {
    storage_refuses_one_order(Protocol::Pop3).await;
}

/// `raw` with `lines` `Received:` lines before its header, as mail relayed through many hops (or made to
/// look so) carries: a header of hundreds of kilobytes.
fn with_long_header(raw: &[u8], lines: usize) -> Vec<u8> {
    let hops: String = (0..lines)
        .map(|i| {
            format!(
                "Received: from relay{i}.example.net (relay{i}.example.net [192.0.2.{}])\r\n\tby mx.example.net with ESMTPS id {i:08x}; Mon, 1 Jun 2026 10:00:00 +0300\r\n",
                i % 250
            )
        })
        .collect();
    [hops.as_bytes(), raw].concat()
}

async fn messages_with_long_headers(protocol: Protocol) {
    let dc = dovecot();
    let user = unique_user("long-header");
    let secrets = tempfile::tempdir().unwrap();
    // Each header is over 300 KB, more than a POP3 collector reads to judge a header.
    let long_order = with_long_header(&order("long-header@shop.example", "602"), 2_500);
    let long_letter = with_long_header(&fixture("no_keyword"), 2_500);
    assert!(long_order.len() > 300_000);
    dc.deliver(&user, &order("before@shop.example", "601"));
    dc.deliver(&user, &long_order);
    dc.deliver(&user, &long_letter);
    dc.deliver(&user, &order("after@shop.example", "603"));
    let mut c = collector(&dc, &user, protocol, secrets.path());
    c.after_import = AfterImport::Delete;
    let app = app_with(c).await;
    // IMAP asks the server for the keyword's messages; POP3 reads each header and records the letter skipped.
    let skipped = u64::from(protocol == Protocol::Pop3);
    assert_eq!(
        counts(&run_now(&app).await),
        (3, 0, skipped, 0),
        "{protocol:?}"
    );
    assert_eq!(
        external_numbers(&app).await,
        ["601", "602", "603"],
        "{protocol:?}"
    );
    // The order is kept whole, its long header too; the letter stays in the mailbox.
    let imported = messages(&app, "imported").await;
    let mut kept = Vec::new();
    for m in &imported {
        kept.push(app.raw(&m["id"]).await.bytes().await.unwrap().to_vec());
    }
    assert!(kept.contains(&long_order), "{protocol:?}");
    assert_eq!(
        subjects(&dc, &user, "INBOX").await,
        vec![extract::headers(&long_letter).subject.unwrap()],
        "{protocol:?}"
    );
    assert_eq!(counts(&run_now(&app).await), (0, 0, 0, 0), "{protocol:?}");
}

#[tokio::test]
async fn an_imap_message_with_a_header_of_hundreds_of_kilobytes_is_judged_as_any_other() {
    messages_with_long_headers(Protocol::Imap).await;
}

#[tokio::test]
async fn a_pop3_message_with_a_header_of_hundreds_of_kilobytes_is_judged_as_any_other_and_blocks_nothing()
 {
    messages_with_long_headers(Protocol::Pop3).await;
}
