//! Mail collectors end to end: real messages in a real Dovecot, collected by leadgate over IMAP and POP3
//! (plain, TLS, STARTTLS), filed as leads exactly once.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::collections::HashMap;
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

/// Fixtures that must become leads, with their external numbers.
const IMPORTED: &[(&str, &str)] = &[
    ("phpmailer_cp1251", "123"),
    ("phpmailer_cp1251_declared", "123"),
    ("seed_sample", "123"),
    ("nodemailer_cp1251", "7"),
    ("nodemailer_utf8_json", "88"),
    ("python_rfc2231", "5"),
    ("python_rfc2231_long", "6"),
    ("outlook_rfc2047_name", "77"),
    ("fwd_lowercase", "5"),
    ("fwd_as_attachment", "88"),
    ("prose_then_json", "12"),
    ("encoded_subject", "42"),
    ("hostile", "13"),
    ("dot_line", "14"),
];
/// ORDER messages that must be rejected, with a word of the reason.
const REJECTED: &[(&str, &str)] = &[("broken_json", "JSON"), ("json_array", "JSON object")];

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(Path::new(FIXTURES).join(format!("{name}.eml"))).unwrap()
}

/// A password file for the test Dovecot (any user logs in with its password).
fn password_file(dir: &Path, password: &str) -> PathBuf {
    let path = dir.join(format!("password-{:08x}", rand::random::<u32>()));
    std::fs::write(&path, format!("{password}\n")).unwrap();
    path
}

fn collector(
    dc: &Dovecot,
    name: &str,
    user: &str,
    protocol: Protocol,
    tls: TlsMode,
    password: PathBuf,
) -> CollectorConfig {
    let port_key = match (protocol, tls) {
        (Protocol::Imap, TlsMode::Implicit) => "DOVECOT_IMAPS_PORT",
        (Protocol::Imap, _) => "DOVECOT_IMAP_PORT",
        (Protocol::Pop3, TlsMode::Implicit) => "DOVECOT_POP3S_PORT",
        (Protocol::Pop3, _) => "DOVECOT_POP3_PORT",
    };
    CollectorConfig {
        tls,
        ca_file: Some(PathBuf::from(dc.var("DOVECOT_CA_FILE"))),
        password_file: Some(password),
        ..CollectorConfig::new(name, protocol, "localhost", dc.port(port_key), user)
    }
}

async fn app_with(collectors: Vec<CollectorConfig>) -> TestApp {
    TestApp::spawn_with(move |s| {
        s.schedule.mail_collector.enabled = false;
        s.collectors = collectors;
    })
    .await
}

/// An app with one collector, "site", reading `user`'s mailbox over `protocol` without TLS.
async fn plain_site(dc: &Dovecot, user: &str, protocol: Protocol, secrets: &Path) -> TestApp {
    app_with(vec![collector(
        dc,
        "site",
        user,
        protocol,
        TlsMode::None,
        password_file(secrets, "secret"),
    )])
    .await
}

/// "Run now" over the API; waits for the run it started and returns its record (counts and error).
async fn run_now(app: &TestApp, name: &str) -> Value {
    app.run_collector_now(name).await
}

fn counts(summary: &Value) -> (u64, u64, u64, u64) {
    let c = &summary["counts"];
    let n = |k: &str| c[k].as_u64().unwrap();
    (n("imported"), n("duplicate"), n("skipped"), n("rejected"))
}

/// Reprocesses a ledger record over the API and returns the answer.
async fn reprocess(app: &TestApp, id: &Value) -> Value {
    app.post(&format!("/api/v1/messages/{id}/reprocess"))
        .await
        .json()
        .await
        .unwrap()
}

async fn all_leads(app: &TestApp) -> Vec<Value> {
    app.get("/api/v1/leads?limit=500").await["items"]
        .as_array()
        .unwrap()
        .clone()
}

async fn fixtures_import_over(protocol: Protocol, tls: TlsMode) {
    let dc = dovecot();
    let user = unique_user("fixtures");
    let secrets = tempfile::tempdir().unwrap();
    for (name, _) in IMPORTED.iter().chain(REJECTED) {
        dc.deliver(&user, &fixture(name));
    }
    for name in ["borderline", "no_keyword", "no_attachment"] {
        dc.deliver(&user, &fixture(name));
    }
    let app = app_with(vec![collector(
        &dc,
        "site",
        &user,
        protocol,
        tls,
        password_file(secrets.path(), "secret"),
    )])
    .await;
    let summary = run_now(&app, "site").await;
    assert_eq!(summary["error"], Value::Null, "{summary}");
    let (imported, duplicate, skipped, rejected) = counts(&summary);
    assert_eq!(imported, IMPORTED.len() as u64, "{summary}");
    assert_eq!(rejected, REJECTED.len() as u64, "{summary}");
    assert_eq!(duplicate, 0);
    // IMAP lets the server filter by subject, so "no_keyword" is never downloaded; "BORDERLINE" matches the
    // server's substring search and is skipped by the whole-word rule. POP3 reads both headers with TOP. An
    // ORDER message without any attachment is a reply, skipped too.
    assert_eq!(
        skipped,
        if protocol == Protocol::Imap { 2 } else { 3 },
        "{summary}"
    );

    let leads = all_leads(&app).await;
    let mut numbers: Vec<&str> = leads
        .iter()
        .map(|l| l["source"]["external_number"].as_str().unwrap())
        .collect();
    numbers.sort_unstable();
    let mut expected: Vec<&str> = IMPORTED.iter().map(|(_, n)| *n).collect();
    expected.sort_unstable();
    assert_eq!(numbers, expected);
    for lead in &leads {
        assert_eq!(lead["source"]["channel"], "mail");
        assert_eq!(lead["source"]["collector"], "site");
        assert!(
            lead["source"]["message_id"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    let by_number = |n: &'static str| {
        leads
            .iter()
            .filter(move |l| l["source"]["external_number"] == n)
    };
    let seed = by_number("123")
        .find(|l| l["lines"].as_array().unwrap().len() == 2)
        .unwrap();
    assert_eq!(seed["kind"], "order");
    assert_eq!(seed["lines"][0]["nomenclature"], "Ролап 123 22 22");
    assert_eq!(seed["lines"][0]["resolution"], "360 dpi");
    assert_eq!(seed["lines"][0]["extra_works"][2]["kind"], "Карманы");
    assert_eq!(seed["counterparty"]["inn"], "7709745454");
    let contact = by_number("7").next().unwrap();
    assert_eq!(contact["kind"], "contact");
    assert_eq!(contact["contact"]["person"], "Иванова Мария Петровна");
    assert_eq!(contact["contact"]["phone_e164"], "+79161234567");
    assert_eq!(
        by_number("77").next().unwrap()["contact"]["person"],
        "Прилепский Алексей Анатольевич"
    );
    assert_eq!(
        by_number("13").next().unwrap()["subject"],
        "<script>alert(1)</script>"
    );

    let rejected = app.get("/api/v1/messages?outcome=rejected").await;
    let reasons: Vec<&str> = rejected["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["reason"].as_str().unwrap())
        .collect();
    for (_, word) in REJECTED {
        assert!(
            reasons.iter().any(|r| r.contains(word)),
            "no reason mentions {word:?}: {reasons:?}"
        );
    }

    // A second run over the same mailbox finds nothing new.
    let again = run_now(&app, "site").await;
    assert_eq!(counts(&again), (0, 0, 0, 0), "{again}");
    assert_eq!(all_leads(&app).await.len(), IMPORTED.len());
}

#[tokio::test]
async fn every_fixture_imports_with_its_cyrillic_over_plain_imap() {
    fixtures_import_over(Protocol::Imap, TlsMode::None).await;
}

#[tokio::test]
async fn every_fixture_imports_with_its_cyrillic_over_imaps() {
    fixtures_import_over(Protocol::Imap, TlsMode::Implicit).await;
}

#[tokio::test]
async fn every_fixture_imports_with_its_cyrillic_over_imap_starttls() {
    fixtures_import_over(Protocol::Imap, TlsMode::StartTls).await;
}

#[tokio::test]
async fn every_fixture_imports_with_its_cyrillic_over_plain_pop3() {
    fixtures_import_over(Protocol::Pop3, TlsMode::None).await;
}

#[tokio::test]
async fn every_fixture_imports_with_its_cyrillic_over_pop3s() {
    fixtures_import_over(Protocol::Pop3, TlsMode::Implicit).await;
}

#[tokio::test]
async fn every_fixture_imports_with_its_cyrillic_over_pop3_stls() {
    fixtures_import_over(Protocol::Pop3, TlsMode::StartTls).await;
}

/// A lead as the manager sees it, without what tells two arrivals of it apart (ids, times, the message and
/// the collector it came through).
fn as_seen(lead: &Value) -> String {
    let mut lead = lead.clone();
    let object = lead.as_object_mut().unwrap();
    for key in ["id", "received_at"] {
        object.remove(key);
    }
    let source = object["source"].as_object_mut().unwrap();
    source.remove("message_id");
    source.remove("collector");
    lead.to_string()
}

/// What one collector filed in its last run: the run's counts, its leads as seen (sorted), and its
/// rejections (external number and reason, sorted).
async fn filed_by(
    app: &TestApp,
    name: &str,
) -> ((u64, u64, u64, u64), Vec<String>, Vec<(Value, Value)>) {
    let collectors = app.get("/api/v1/collectors").await;
    let summary = collectors
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .map(|c| c["last_run"].clone())
        .unwrap();
    let mut leads: Vec<String> = all_leads(app)
        .await
        .iter()
        .filter(|l| l["source"]["collector"] == name)
        .map(as_seen)
        .collect();
    leads.sort_unstable();
    let rejected = app.get("/api/v1/messages?outcome=rejected&limit=500").await;
    let mut rejections: Vec<(Value, Value)> = rejected["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["collector"] == name)
        .map(|m| (m["external_number"].clone(), m["reason"].clone()))
        .collect();
    rejections.sort_unstable_by_key(|(n, r)| (n.to_string(), r.to_string()));
    (counts(&summary), leads, rejections)
}

/// A manager forwards each site order as an attachment into the collected mailbox (as it is, and in base64
/// as some webmail does): each forward is filed exactly as its original is, with the same lead (Cyrillic
/// included), the same rejection and the same skip.
#[tokio::test]
async fn every_fixture_forwarded_as_an_attachment_is_filed_like_the_original() {
    use common::forward::{Carried, forward_as_attachment};
    let dc = dovecot();
    let secrets = tempfile::tempdir().unwrap();
    let originals = unique_user("originals");
    let as_is = unique_user("forwarded");
    let base64 = unique_user("forwarded-b64");
    let names = IMPORTED
        .iter()
        .chain(REJECTED)
        .map(|(name, _)| *name)
        .chain(["borderline", "no_keyword", "no_attachment"]);
    for name in names {
        let raw = fixture(name);
        dc.deliver(&originals, &raw);
        dc.deliver(&as_is, &forward_as_attachment(&raw, name, Carried::AsIs));
        dc.deliver(&base64, &forward_as_attachment(&raw, name, Carried::Base64));
    }
    let mailbox = |name: &str, user: &str| {
        collector(
            &dc,
            name,
            user,
            Protocol::Imap,
            TlsMode::None,
            password_file(secrets.path(), "secret"),
        )
    };
    let app = app_with(vec![
        mailbox("originals", &originals),
        mailbox("forwarded", &as_is),
        mailbox("forwarded-b64", &base64),
    ])
    .await;

    for name in ["originals", "forwarded", "forwarded-b64"] {
        let summary = run_now(&app, name).await;
        assert_eq!(summary["error"], Value::Null, "{name}: {summary}");
    }
    let original = filed_by(&app, "originals").await;
    assert_eq!(
        original.0,
        (IMPORTED.len() as u64, 0, 2, REJECTED.len() as u64),
        "the originals"
    );
    assert_eq!(original.1.len(), IMPORTED.len());
    assert!(
        original
            .1
            .iter()
            .any(|l| l.contains("Прилепский Алексей Анатольевич")),
        "{:?}",
        original.1
    );
    for forwarded in ["forwarded", "forwarded-b64"] {
        let filed = filed_by(&app, forwarded).await;
        assert_eq!(filed.0, original.0, "{forwarded}: the run's counts");
        assert_eq!(filed.1, original.1, "{forwarded}: the leads");
        assert_eq!(filed.2, original.2, "{forwarded}: the rejections");
    }
}

async fn imap_session(dc: &Dovecot, user: &str) -> ImapSession {
    ImapSession::connect_and_login(&dc.imap(TlsMode::None), &dc.login(user))
        .await
        .unwrap()
}

#[tokio::test]
async fn the_same_message_delivered_twice_is_one_lead_and_one_duplicate() {
    for protocol in [Protocol::Imap, Protocol::Pop3] {
        let dc = dovecot();
        let user = unique_user("twice");
        let secrets = tempfile::tempdir().unwrap();
        dc.deliver(&user, &fixture("seed_sample"));
        dc.deliver(&user, &fixture("seed_sample"));
        let app = plain_site(&dc, &user, protocol, secrets.path()).await;
        let summary = run_now(&app, "site").await;
        assert_eq!(counts(&summary), (1, 1, 0, 0), "{protocol:?}: {summary}");
        assert_eq!(all_leads(&app).await.len(), 1);
        let duplicates = app.get("/api/v1/messages?outcome=duplicate").await;
        assert_eq!(
            duplicates["items"].as_array().unwrap().len(),
            1,
            "the second copy is recorded once"
        );
        assert_eq!(counts(&run_now(&app, "site").await), (0, 0, 0, 0));
    }
}

#[tokio::test]
async fn seen_flags_and_a_uidvalidity_change_never_cause_a_second_import() {
    let dc = dovecot();
    let user = unique_user("seen");
    let secrets = tempfile::tempdir().unwrap();
    for name in ["seed_sample", "nodemailer_cp1251", "python_rfc2231"] {
        dc.deliver(&user, &fixture(name));
    }
    // A site's order without a Message-ID: the ledger knows it by its content.
    let raw = fixture("phpmailer_cp1251");
    let start = raw
        .windows(12)
        .position(|w| w == b"\r\nMessage-ID")
        .unwrap()
        + 2;
    let end = start + raw[start..].windows(2).position(|w| w == b"\r\n").unwrap() + 2;
    let without_id = [&raw[..start], &raw[end..]].concat();
    assert!(extract::headers(&without_id).message_id.is_none());
    dc.deliver(&user, &without_id);
    let app = plain_site(&dc, &user, Protocol::Imap, secrets.path()).await;
    assert_eq!(counts(&run_now(&app, "site").await), (4, 0, 0, 0));

    // leadgate fetched with BODY.PEEK: a person reading the mailbox still sees the messages as new.
    let mut session = imap_session(&dc, &user).await;
    session.select("INBOX").await.unwrap();
    let uids = session.search_new("", 0).await.unwrap();
    let flags = session.flags(&uids).await.unwrap();
    assert!(
        flags.iter().all(|(_, f)| !f.iter().any(|f| f == "\\Seen")),
        "{flags:?}"
    );
    // Someone reads them all.
    session.mark_seen(&uids).await.unwrap();
    session.logout().await.unwrap();
    assert_eq!(counts(&run_now(&app, "site").await), (0, 0, 0, 0));

    // The server renumbers the folder (a new UIDVALIDITY): every UID leadgate remembers is void, so it
    // rescans the whole folder, downloads the four messages again and the ledger knows each of them.
    let before = dc.uid_validity(&user, "INBOX");
    dc.renumber(&user, "INBOX", before.wrapping_add(1000));
    let rescan = run_now(&app, "site").await;
    assert_eq!(rescan["error"], Value::Null, "{rescan}");
    assert_eq!(counts(&rescan), (0, 4, 0, 0), "{rescan}");
    let duplicates = app.get("/api/v1/messages?outcome=duplicate").await;
    let mut ids: Vec<Option<&str>> = duplicates["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["message_id"].as_str())
        .collect();
    ids.sort_unstable();
    assert_eq!(
        ids,
        [
            None,
            Some("nodemailer_cp1251@shop.example"),
            Some("python_rfc2231@shop.example"),
            Some("seed_sample@shop.example")
        ],
        "{duplicates}"
    );
    assert_eq!(all_leads(&app).await.len(), 4);
    // The new position is kept: the next run downloads nothing.
    assert_eq!(counts(&run_now(&app, "site").await), (0, 0, 0, 0));
}

async fn folder_uids(dc: &Dovecot, user: &str, folder: &str) -> Vec<(u32, Vec<String>)> {
    let mut session = imap_session(dc, user).await;
    let uids = match session.select(folder).await {
        Ok(_) => session.search_new("", 0).await.unwrap(),
        Err(_) => Vec::new(),
    };
    let flags = if uids.is_empty() {
        Vec::new()
    } else {
        session.flags(&uids).await.unwrap()
    };
    session.logout().await.unwrap();
    flags
}

#[tokio::test]
async fn each_after_import_action_runs_and_rejected_mail_goes_to_the_failed_folder() {
    let dc = dovecot();
    let secrets = tempfile::tempdir().unwrap();
    let mut configs = Vec::new();
    let mut users = HashMap::new();
    for action in [
        AfterImport::Keep,
        AfterImport::Seen,
        AfterImport::Move,
        AfterImport::Delete,
    ] {
        let user = unique_user(action.as_str());
        dc.deliver(&user, &fixture("seed_sample"));
        dc.deliver(&user, &fixture("broken_json"));
        let mut c = collector(
            &dc,
            action.as_str(),
            &user,
            Protocol::Imap,
            TlsMode::None,
            password_file(secrets.path(), "secret"),
        );
        c.after_import = action;
        c.move_to = Some("Processed".to_owned());
        c.failed_folder = Some("Failed".to_owned());
        configs.push(c);
        users.insert(action, user);
    }
    let app = app_with(configs).await;
    for action in [
        AfterImport::Keep,
        AfterImport::Seen,
        AfterImport::Move,
        AfterImport::Delete,
    ] {
        let summary = run_now(&app, action.as_str()).await;
        assert_eq!(counts(&summary), (1, 0, 0, 1), "{action:?}: {summary}");
        let user = &users[&action];
        let inbox = folder_uids(&dc, user, "INBOX").await;
        let failed = folder_uids(&dc, user, "Failed").await;
        assert_eq!(
            failed.len(),
            1,
            "{action:?}: the rejected message moved to Failed"
        );
        match action {
            AfterImport::Keep => {
                assert_eq!(inbox.len(), 1);
                assert!(!inbox[0].1.iter().any(|f| f == "\\Seen"));
            }
            AfterImport::Seen => {
                assert_eq!(inbox.len(), 1);
                assert!(inbox[0].1.iter().any(|f| f == "\\Seen"), "{inbox:?}");
            }
            AfterImport::Move => {
                assert!(inbox.is_empty());
                assert_eq!(folder_uids(&dc, user, "Processed").await.len(), 1);
            }
            AfterImport::Delete => assert!(inbox.is_empty()),
        }
    }
    assert_eq!(all_leads(&app).await.len(), 4);
}

/// POP3 deletes at QUIT: mail whose lead a run committed but whose session ended before QUIT (the server
/// gone mid-run; here, a collector that kept its mail until it was told to delete) is deleted by the next
/// run with `after_import = "delete"`. Mail the ledger holds as skipped or rejected stays.
#[tokio::test]
async fn pop3_deletes_mail_imported_by_an_earlier_run_that_it_could_not_delete() {
    let dc = dovecot();
    let user = unique_user("pop3-late-delete");
    let secrets = tempfile::tempdir().unwrap();
    for name in [
        "seed_sample",
        "nodemailer_cp1251",
        "broken_json",
        "no_keyword",
    ] {
        dc.deliver(&user, &fixture(name));
    }
    let mut c = collector(
        &dc,
        "site",
        &user,
        Protocol::Pop3,
        TlsMode::None,
        password_file(secrets.path(), "secret"),
    );
    let app = app_with(vec![c.clone()]).await;
    assert_eq!(counts(&run_now(&app, "site").await), (2, 0, 1, 1));
    assert_eq!(folder_uids(&dc, &user, "INBOX").await.len(), 4);

    let dir = app.stop().await;
    c.after_import = AfterImport::Delete;
    let app = TestApp::spawn_in(dir, move |s| {
        s.schedule.mail_collector.enabled = false;
        s.collectors = vec![c];
    })
    .await;
    assert_eq!(counts(&run_now(&app, "site").await), (0, 0, 0, 0));
    assert_eq!(
        folder_uids(&dc, &user, "INBOX").await.len(),
        2,
        "the two imported orders are deleted; the rejected and the skipped message stay"
    );
    assert_eq!(all_leads(&app).await.len(), 2);
}

#[tokio::test]
async fn retention_deletes_only_recorded_mail_older_than_its_days() {
    for protocol in [Protocol::Imap, Protocol::Pop3] {
        let dc = dovecot();
        let user = unique_user("retention");
        let secrets = tempfile::tempdir().unwrap();
        let old = SystemTime::now() - Duration::from_secs(40 * 86_400);
        dc.deliver_at(&user, &fixture("seed_sample"), old);
        dc.deliver_at(&user, &fixture("no_keyword"), old);
        dc.deliver(&user, &fixture("nodemailer_cp1251"));
        let mut c = collector(
            &dc,
            "site",
            &user,
            protocol,
            TlsMode::None,
            password_file(secrets.path(), "secret"),
        );
        c.delete_after_days = Some(30);
        let app = app_with(vec![c]).await;
        assert_eq!(run_now(&app, "site").await["counts"]["imported"], 2);
        let mut session = imap_session(&dc, &user).await;
        session.select("INBOX").await.unwrap();
        let left = session.search_new("", 0).await.unwrap();
        session.logout().await.unwrap();
        match protocol {
            // IMAP judges age by the server's INTERNALDATE: the old order goes, the old non-order stays
            // (the ledger never held it), the new order stays.
            Protocol::Imap => assert_eq!(left.len(), 2, "{protocol:?}"),
            // POP3 has no dates without downloading: it judges by when the ledger recorded the message,
            // which is now, so nothing is old enough yet.
            Protocol::Pop3 => assert_eq!(left.len(), 3, "{protocol:?}"),
        }
    }
}

#[tokio::test]
async fn a_wrong_password_on_one_collector_does_not_stop_the_next() {
    let dc = dovecot();
    let secrets = tempfile::tempdir().unwrap();
    let (bad_user, good_user) = (unique_user("bad"), unique_user("good"));
    dc.deliver(&bad_user, &fixture("seed_sample"));
    dc.deliver(&good_user, &fixture("seed_sample"));
    let dir = common::TestDir::new().await;
    let config = dir.path().join("leadgate.toml");
    let port = dc.port("DOVECOT_IMAP_PORT");
    std::fs::write(
        &config,
        format!(
            "{db}\n\
             [[collectors]]\nname = \"a-bad\"\nprotocol = \"imap\"\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\n\
             username = \"{bad_user}\"\npassword_file = \"{bad}\"\n\n\
             [[collectors]]\nname = \"b-good\"\nprotocol = \"imap\"\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\n\
             username = \"{good_user}\"\npassword_file = \"{good}\"\n",
            db = dir.database_toml(),
            bad = password_file(secrets.path(), "wrong").display(),
            good = password_file(secrets.path(), "secret").display(),
        ),
    )
    .unwrap();
    let output = common::cli::leadgate_process()
        .arg("--config")
        .arg(&config)
        .arg("collect")
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(1),
        "a failed collector makes the exit code 1: {stdout}"
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[1].starts_with("a-bad") && lines[1].contains("IMAP"),
        "{stdout}"
    );
    // The server's own words, not the IMAP library's debug form of them.
    assert!(
        lines[1].contains(&format!(
            "IMAP login as {bad_user:?} refused: [AUTHENTICATIONFAILED] Authentication failed."
        )),
        "{stdout}"
    );
    assert!(
        lines[2].starts_with("b-good") && lines[2].split_whitespace().nth(1) == Some("1"),
        "{stdout}"
    );
    assert!(!stdout.contains("wrong"), "the password is never printed");
}

/// A Dovecot of the test's own, which it can stop and start.
struct PrivateDovecot {
    dir: tempfile::TempDir,
}

impl PrivateDovecot {
    fn script() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/dovecot.sh")
    }

    fn start() -> (Self, Dovecot) {
        let me = Self {
            dir: tempfile::tempdir().unwrap(),
        };
        me.up();
        let dc = Dovecot::from_env_file(&me.dir.path().join("env"));
        (me, dc)
    }

    fn up(&self) {
        let status = std::process::Command::new(Self::script())
            .arg("start")
            .arg(self.dir.path())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
    }

    fn down(&self) {
        self.script_do("stop");
    }

    /// Kills the server and its sessions at once: a crash or a lost network, as leadgate sees it.
    fn crash(&self) {
        self.script_do("kill");
    }

    fn script_do(&self, what: &str) {
        let status = std::process::Command::new(Self::script())
            .arg(what)
            .arg(self.dir.path())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for PrivateDovecot {
    fn drop(&mut self) {
        self.down();
    }
}

/// `n` distinct site-order messages, made by `leadgate make-eml` from the product note's sample.
fn orders(n: usize) -> Vec<Vec<u8>> {
    let template = String::from_utf8(fixture("seed_sample")).unwrap();
    let id_line = template
        .lines()
        .find(|l| l.starts_with("Message-ID:"))
        .unwrap()
        .to_owned();
    let subject_line = template
        .lines()
        .find(|l| l.starts_with("Subject:"))
        .unwrap()
        .to_owned();
    (0..n)
        .map(|i| {
            template
                .replacen(
                    &id_line,
                    &format!("Message-ID: <order-{i}@shop.example>"),
                    1,
                )
                .replacen(&subject_line, &format!("Subject: ORDER: {i}"), 1)
                .into_bytes()
        })
        .collect()
}

/// The leads in the database, 0 while it or its tables do not exist yet.
async fn lead_count(db: &str) -> i64 {
    let Ok(database) = TestDatabase::open_read_only(db).await else {
        return 0;
    };
    let n = database.lead_numbers().await.map_or(0, |(n, _)| n);
    database.close().await;
    n
}

/// The leads in the database and their distinct external numbers.
async fn distinct_numbers(db: &str) -> (i64, i64) {
    let database = TestDatabase::open(db).await.unwrap();
    let numbers = database.lead_numbers().await.unwrap();
    database.close().await;
    numbers
}

fn config_for(dir: &common::TestDir, dc: &Dovecot, user: &str, secrets: &Path) -> PathBuf {
    let config = dir.path().join("leadgate.toml");
    std::fs::write(
        &config,
        format!(
            "{db}\n[[collectors]]\nname = \"site\"\nprotocol = \"imap\"\n\
             host = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\nusername = \"{user}\"\npassword_file = \"{pw}\"\n",
            db = dir.database_toml(),
            port = dc.port("DOVECOT_IMAP_PORT"),
            pw = password_file(secrets, "secret").display(),
        ),
    )
    .unwrap();
    config
}

fn collect(config: &Path) -> std::process::Child {
    common::cli::leadgate_process()
        .arg("--config")
        .arg(config)
        .arg("collect")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

#[tokio::test]
async fn dovecot_dying_during_a_run_then_restarted_loses_and_duplicates_nothing() {
    let (server, dc) = PrivateDovecot::start();
    let user = "orders";
    for raw in orders(4000) {
        dc.deliver(user, &raw);
    }
    let dir = common::TestDir::new().await;
    let config = config_for(&dir, &dc, user, dir.path());
    let db = dir.database_url();
    let mut child = collect(&config);
    // Stop the server as soon as the first batch is committed.
    while lead_count(&db).await == 0 {
        assert!(
            child.try_wait().unwrap().is_none(),
            "collect ended before its first commit"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.crash();
    let status = child.wait().unwrap();
    let partial = lead_count(&db).await;
    assert!(
        partial < 4000,
        "the run was interrupted (got {partial}, exit {status:?})"
    );
    assert_eq!(
        status.code(),
        Some(1),
        "the collector's failure shows in the exit code"
    );
    // The run's record counts every lead it committed, the batches in flight when it failed included.
    let runs = common::backend::storage_at(&db)
        .await
        .last_runs()
        .await
        .unwrap();
    let run = runs.values().next().expect("the run is recorded");
    assert_eq!(
        i64::try_from(run.counts.imported).unwrap(),
        partial,
        "{run:?}"
    );
    server.up();
    let status = collect(&config).wait().unwrap();
    assert!(status.success());
    assert_eq!(distinct_numbers(&db).await, (4000, 4000));
}

#[tokio::test]
async fn leadgate_killed_during_a_run_imports_every_order_exactly_once_after_restart() {
    let dc = dovecot();
    let user = unique_user("sigkill");
    for raw in orders(1000) {
        dc.deliver(&user, &raw);
    }
    let dir = common::TestDir::new().await;
    let config = config_for(&dir, &dc, &user, dir.path());
    let db = dir.database_url();
    let mut child = collect(&config);
    while lead_count(&db).await == 0 {
        assert!(
            child.try_wait().unwrap().is_none(),
            "collect ended before its first commit"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let partial = lead_count(&db).await;
    assert!(partial < 1000, "killed mid-run (got {partial})");
    let status = collect(&config).wait().unwrap();
    assert!(status.success());
    assert_eq!(distinct_numbers(&db).await, (1000, 1000));
}

#[tokio::test]
async fn the_collector_list_shows_each_last_run_with_its_counts_and_error() {
    let dc = dovecot();
    let secrets = tempfile::tempdir().unwrap();
    let (good_user, bad_user) = (unique_user("listed"), unique_user("listed-bad"));
    dc.deliver(&good_user, &fixture("seed_sample"));
    let good = collector(
        &dc,
        "good",
        &good_user,
        Protocol::Imap,
        TlsMode::None,
        password_file(secrets.path(), "secret"),
    );
    let bad = collector(
        &dc,
        "bad",
        &bad_user,
        Protocol::Pop3,
        TlsMode::None,
        password_file(secrets.path(), "wrong"),
    );
    let mut deleted = collector(
        &dc,
        "old",
        &good_user,
        Protocol::Imap,
        TlsMode::None,
        password_file(secrets.path(), "secret"),
    );
    deleted.deleted = true;
    let app = app_with(vec![good, bad, deleted]).await;
    run_now(&app, "good").await;
    let failed = run_now(&app, "bad").await;
    assert!(
        failed["error"].as_str().unwrap().contains("POP3"),
        "{failed}"
    );
    let missing = app.post("/api/v1/collectors/old/run").await;
    assert_eq!(
        missing.status().as_u16(),
        404,
        "a collector marked for deletion does not run"
    );

    let list = app.get("/api/v1/collectors").await;
    let by_name = |n: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == n)
            .unwrap()
            .clone()
    };
    assert_eq!(by_name("good")["last_run"]["counts"]["imported"], 1);
    assert_eq!(by_name("good")["last_run"]["error"], Value::Null);
    assert!(by_name("good")["last_run"]["finished_at"].is_string());
    assert!(
        by_name("bad")["last_run"]["error"]
            .as_str()
            .unwrap()
            .contains("POP3")
    );
    assert_eq!(by_name("old")["deleted"], true);
    assert_eq!(by_name("old")["last_run"], Value::Null);
    let text = list.to_string();
    assert!(
        !text.contains("\"secret\"") && !text.contains("wrong\\n"),
        "no password in the API"
    );
}

#[tokio::test]
async fn the_schedule_runs_every_active_collector_by_itself() {
    let dc = dovecot();
    let secrets = tempfile::tempdir().unwrap();
    let (a, b) = (unique_user("cron-a"), unique_user("cron-b"));
    dc.deliver(&a, &fixture("seed_sample"));
    dc.deliver(&b, &fixture("nodemailer_cp1251"));
    let configs = vec![
        collector(
            &dc,
            "a",
            &a,
            Protocol::Imap,
            TlsMode::None,
            password_file(secrets.path(), "secret"),
        ),
        collector(
            &dc,
            "b",
            &b,
            Protocol::Pop3,
            TlsMode::None,
            password_file(secrets.path(), "secret"),
        ),
    ];
    let app = TestApp::spawn_with(move |s| {
        s.schedule.mail_collector.cron = "* * * * * *".to_owned(); // every second
        s.collectors = configs;
    })
    .await;
    // Waiting here is for the schedule to fall due, not for readiness.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while all_leads(&app).await.len() < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the scheduled job did not import both collectors' mail"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let list = app.get("/api/v1/collectors").await;
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .all(|c| c["last_run"].is_object())
    );
    app.stop().await;
}

#[tokio::test]
async fn a_rejected_message_is_reprocessed_after_the_limit_is_raised() {
    let dc = dovecot();
    let user = unique_user("reprocess");
    let secrets = tempfile::tempdir().unwrap();
    dc.deliver(&user, &fixture("seed_sample"));
    dc.deliver(&user, &fixture("json_array"));
    let config = collector(
        &dc,
        "site",
        &user,
        Protocol::Imap,
        TlsMode::None,
        password_file(secrets.path(), "secret"),
    );
    let again = config.clone();
    let app = TestApp::spawn_with(move |s| {
        s.schedule.mail_collector.enabled = false;
        s.limits.max_body_bytes = 200; // the sample's attachment is larger
        s.collectors = vec![config];
    })
    .await;
    assert_eq!(counts(&run_now(&app, "site").await), (0, 0, 0, 2));
    let rejected = app.get("/api/v1/messages?outcome=rejected").await;
    let too_large = rejected["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["reason"].as_str().unwrap().contains("limit"))
        .unwrap()
        .clone();
    let array = rejected["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] != too_large["id"])
        .unwrap()
        .clone();
    let raw = app.raw(&too_large["id"]).await;
    assert_eq!(raw.headers()["content-type"], "application/octet-stream");
    assert_eq!(
        raw.bytes().await.unwrap().as_ref(),
        fixture("seed_sample").as_slice(),
        "the raw message is kept"
    );

    // The administrator raises the limit and reprocesses.
    let dir = app.stop().await;
    let app = TestApp::spawn_in(dir, move |s| {
        s.schedule.mail_collector.enabled = false;
        s.collectors = vec![again];
    })
    .await;
    let done = reprocess(&app, &too_large["id"]).await;
    assert_eq!(done["outcome"], "imported", "{done}");
    let lead = app.get(&format!("/api/v1/leads/{}", done["lead_id"])).await;
    assert_eq!(lead["source"]["external_number"], "123");
    assert_eq!(lead["source"]["collector"], "site");
    assert_eq!(lead["lines"].as_array().unwrap().len(), 2);
    let still = reprocess(&app, &array["id"]).await;
    assert_eq!(still["outcome"], "rejected");
    let twice = app
        .post(&format!("/api/v1/messages/{}/reprocess", too_large["id"]))
        .await;
    assert_eq!(
        twice.status().as_u16(),
        409,
        "an imported message is not reprocessed again"
    );
    let imported = app.get("/api/v1/messages?outcome=imported").await;
    assert_eq!(imported["items"][0]["lead_id"], done["lead_id"]);
}

/// An order over `limits.max_message_bytes` is not downloaded, and not lost either: its record names it by its
/// header fields, and once the limit is raised, reprocessing downloads it from where the collector left it
/// (over IMAP the failed folder, over POP3 the mailbox) and files its lead. One no longer there is a clear 409.
#[tokio::test]
async fn an_order_over_the_size_limit_is_downloaded_again_and_filed_when_reprocessed_after_the_limit_is_raised()
 {
    for protocol in [Protocol::Imap, Protocol::Pop3] {
        let dc = dovecot();
        let user = unique_user("oversize");
        let secrets = tempfile::tempdir().unwrap();
        dc.deliver(&user, &fixture("seed_sample"));
        dc.deliver(&user, &fixture("phpmailer_cp1251"));
        let mut config = collector(
            &dc,
            "site",
            &user,
            protocol,
            TlsMode::None,
            password_file(secrets.path(), "secret"),
        );
        config.failed_folder = (protocol == Protocol::Imap).then(|| "Failed".to_owned());
        let again = config.clone();
        let app = TestApp::spawn_with(move |s| {
            s.schedule.mail_collector.enabled = false;
            s.limits.max_message_bytes = 2048; // both orders are larger
            s.collectors = vec![config];
        })
        .await;
        assert_eq!(
            counts(&run_now(&app, "site").await),
            (0, 0, 0, 2),
            "{protocol:?}"
        );
        let rejected = app.get("/api/v1/messages?outcome=rejected").await["items"].clone();
        let record = |message_id: &str| {
            rejected
                .as_array()
                .unwrap()
                .iter()
                .find(|m| m["message_id"] == message_id)
                .unwrap_or_else(|| panic!("{protocol:?}: no record of {message_id} in {rejected}"))
                .clone()
        };
        let (sample, other) = (
            record("seed_sample@shop.example"),
            record("phpmailer_cp1251@shop.example"),
        );
        assert!(
            sample["reason"]
                .as_str()
                .unwrap()
                .contains("not downloaded"),
            "{sample}"
        );
        let head = app.raw(&sample["id"]).await.text().await.unwrap();
        assert!(head.contains("Subject: ORDER: 123"), "{protocol:?}: {head}");
        assert!(!head.contains("Content-Type: application/json"), "{head}");

        // Still over the limit: still rejected, with the size.
        let still = reprocess(&app, &sample["id"]).await;
        assert_eq!(still["outcome"], "rejected", "{protocol:?}: {still}");
        assert!(
            still["reason"].as_str().unwrap().contains("still over"),
            "{still}"
        );

        // The other order leaves the mailbox before the limit is raised.
        if protocol == Protocol::Imap {
            let mut session = imap_session(&dc, &user).await;
            session.select("Failed").await.unwrap();
            let uids = session
                .search_message_id("phpmailer_cp1251@shop.example")
                .await
                .unwrap();
            assert_eq!(uids.len(), 1, "the rejected order is in the failed folder");
            session.delete(&uids).await.unwrap();
            session.logout().await.unwrap();
        } else {
            let mut client = leadgate_mail::pop3::Pop3Client::connect_and_login(
                &dc.pop3(TlsMode::None),
                &dc.login(&user),
            )
            .await
            .unwrap();
            client.dele(2).await.unwrap();
            client.quit().await.unwrap();
        }

        let dir = app.stop().await;
        let app = TestApp::spawn_in(dir, move |s| {
            s.schedule.mail_collector.enabled = false;
            s.collectors = vec![again];
        })
        .await;
        let done = reprocess(&app, &sample["id"]).await;
        assert_eq!(done["outcome"], "imported", "{protocol:?}: {done}");
        let lead = app.get(&format!("/api/v1/leads/{}", done["lead_id"])).await;
        assert_eq!(lead["source"]["external_number"], "123");
        assert_eq!(lead["lines"].as_array().unwrap().len(), 2);
        // The ledger keeps the message it downloaded: the lead's original is the whole e-mail.
        let kept = app.raw(&sample["id"]).await.bytes().await.unwrap();
        assert_eq!(
            kept.as_ref(),
            fixture("seed_sample").as_slice(),
            "{protocol:?}: the whole message is kept"
        );

        let gone = app
            .post(&format!("/api/v1/messages/{}/reprocess", other["id"]))
            .await;
        assert_eq!(gone.status().as_u16(), 409, "{protocol:?}");
        let error: Value = gone.json().await.unwrap();
        assert!(
            error["error"]["message"]
                .as_str()
                .unwrap()
                .contains("no longer in the mailbox"),
            "{protocol:?}: {error}"
        );
        // Collecting again imports nothing twice.
        assert_eq!(counts(&run_now(&app, "site").await).0, 0, "{protocol:?}");
        assert_eq!(all_leads(&app).await.len(), 1, "{protocol:?}");
    }
}

/// The product note's sample with a binary layout file after its JSON attachment, `size` bytes in all:
/// large enough to be downloaded and stored in parts.
fn order_with_layout(number: u32, size: usize) -> Vec<u8> {
    use base64::Engine as _;
    let template = String::from_utf8(fixture("seed_sample")).unwrap();
    let closing = "--b1_af1bed0f152cac54c10ec00990679153a9ad698f6c2b4cfba526761ba626dae1--";
    // Base64 in lines of 76 (and CRLF) takes 4/3 × 78/76 of the bytes; leave 16 KiB for the rest.
    let layout: Vec<u8> = (0..(size - 16 * 1024) / 4 * 3 / 78 * 76)
        .map(|i| (i * 7919 % 251) as u8)
        .collect();
    let encoded = base64::engine::general_purpose::STANDARD.encode(&layout);
    let lines: Vec<&str> = encoded
        .as_bytes()
        .chunks(76)
        .map(|l| std::str::from_utf8(l).unwrap())
        .collect();
    let part = format!(
        "--b1_af1bed0f152cac54c10ec00990679153a9ad698f6c2b4cfba526761ba626dae1\r\n\
         Content-Type: application/pdf; name=layout.pdf\r\n\
         Content-Transfer-Encoding: base64\r\n\
         Content-Disposition: attachment; filename=layout.pdf\r\n\r\n{}\r\n",
        lines.join("\r\n")
    );
    let mut message = template
        .replacen(
            "Message-ID: <seed_sample@shop.example>",
            &format!("Message-ID: <layout-{number}@shop.example>"),
            1,
        )
        .replacen(
            "Subject: ORDER: 123",
            &format!("Subject: ORDER: {number}"),
            1,
        )
        .replacen(closing, &format!("{part}{closing}"), 1);
    // Blank lines after the base64 text (ignored when decoding) bring the message to exactly `size`.
    let pad = size - message.len();
    let at = message.find(closing).unwrap();
    let (spaces, breaks) = if pad % 2 == 1 {
        (1, (pad - 3) / 2 + 1)
    } else {
        (0, pad / 2)
    };
    message.insert_str(
        at,
        &format!("{}{}", " ".repeat(spaces), "\r\n".repeat(breaks)),
    );
    assert_eq!(message.len(), size);
    message.into_bytes()
}

#[tokio::test]
async fn a_large_message_is_downloaded_and_stored_in_parts_and_comes_back_whole() {
    for protocol in [Protocol::Imap, Protocol::Pop3] {
        large_messages_come_back_whole(protocol).await;
    }
}

async fn large_messages_come_back_whole(protocol: Protocol) {
    let dc = dovecot();
    let user = unique_user("large");
    let secrets = tempfile::tempdir().unwrap();
    // One exactly three parts long (the last part request finds nothing more), one not a whole number.
    let exact = order_with_layout(901, 3 << 20);
    let uneven = order_with_layout(902, (3 << 20) + 12_345);
    // Two more take the mail past a batch's 8 MiB, so the run splits it into batches (IMAP before a
    // message that would cross 8 MiB, POP3 once 8 MiB is reached).
    let more = order_with_layout(903, (3 << 20) + 1);
    let last = order_with_layout(904, 2 << 20);
    dc.deliver(&user, &exact);
    dc.deliver(&user, &fixture("seed_sample"));
    dc.deliver(&user, &uneven);
    dc.deliver(&user, &more);
    dc.deliver(&user, &last);
    let app = plain_site(&dc, &user, protocol, secrets.path()).await;
    assert_eq!(
        counts(&run_now(&app, "site").await),
        (5, 0, 0, 0),
        "{protocol:?}"
    );

    let messages = app.get("/api/v1/messages?outcome=imported").await;
    let mut seen = Vec::new();
    for message in messages["items"].as_array().unwrap() {
        let number = message["external_number"].as_str().unwrap().to_owned();
        let raw = app.raw(&message["id"]).await.bytes().await.unwrap();
        let sent = match number.as_str() {
            "901" => &exact,
            "902" => &uneven,
            "903" => &more,
            "904" => &last,
            "123" => &fixture("seed_sample"),
            other => panic!("unexpected external number {other}"),
        };
        assert_eq!(raw.len(), sent.len(), "{protocol:?}: message {number}");
        assert!(
            raw.as_ref() == sent.as_slice(),
            "{protocol:?}: message {number} comes back byte for byte"
        );
        let lead = app
            .get(&format!("/api/v1/leads/{}", message["lead_id"]))
            .await;
        assert_eq!(lead["inn"], "7709745454", "{lead}");
        assert_eq!(lead["lines"].as_array().unwrap().len(), 2);
        seen.push(number);
    }
    seen.sort();
    assert_eq!(seen, ["123", "901", "902", "903", "904"]);
    app.stop().await;
}

#[tokio::test]
async fn a_run_asked_for_while_one_is_going_is_refused_and_the_first_one_finishes() {
    let dc = dovecot();
    let user = unique_user("overlap");
    let secrets = tempfile::tempdir().unwrap();
    for raw in orders(2000) {
        dc.deliver(&user, &raw);
    }
    let app = plain_site(&dc, &user, Protocol::Imap, secrets.path()).await;
    // "Run now" answers at once; the run it started holds the job until it ends.
    let first = app.post("/api/v1/collectors/site/run").await;
    assert_eq!(first.status().as_u16(), 202);
    let first: Value = first.json().await.unwrap();
    let second = app.post("/api/v1/collectors/site/run").await;
    assert_eq!(second.status().as_u16(), 409);
    let error: Value = second.json().await.unwrap();
    assert_eq!(error["error"]["code"], "conflict", "{error}");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("in progress"),
        "{error}"
    );

    assert_eq!(
        counts(&app.finished_run("site", &first).await),
        (2000, 0, 0, 0)
    );
    assert_eq!(
        counts(&run_now(&app, "site").await),
        (0, 0, 0, 0),
        "the refused run lost nothing and the next one finds nothing new"
    );
    app.stop().await;
}

/// A run that cannot reach its mailbox says why, in the run's record the UI and the API show: an untrusted
/// certificate, a CA file that is missing, a port nobody listens on (named with its host).
#[tokio::test]
async fn a_failed_connection_is_recorded_with_its_cause() {
    let dc = dovecot();
    let secrets = tempfile::tempdir().unwrap();
    let user = unique_user("tls-cause");
    let password = password_file(secrets.path(), "secret");
    let mut untrusted = collector(
        &dc,
        "untrusted",
        &user,
        Protocol::Imap,
        TlsMode::Implicit,
        password.clone(),
    );
    untrusted.ca_file = None;
    let mut no_ca = collector(
        &dc,
        "no-ca",
        &user,
        Protocol::Pop3,
        TlsMode::Implicit,
        password.clone(),
    );
    let missing = secrets.path().join("missing-ca.pem");
    no_ca.ca_file = Some(missing.clone());
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port();
    drop(closed);
    let mut refused = collector(
        &dc,
        "refused",
        &user,
        Protocol::Imap,
        TlsMode::None,
        password,
    );
    refused.host = "127.0.0.1".into();
    refused.port = closed_port;
    let app = app_with(vec![untrusted, no_ca, refused]).await;
    let error = |run: Value| run["error"].as_str().unwrap_or_default().to_owned();
    let untrusted = error(run_now(&app, "untrusted").await);
    assert!(
        untrusted.contains("IMAP TLS") && untrusted.contains("certificate"),
        "{untrusted}"
    );
    let no_ca = error(run_now(&app, "no-ca").await);
    assert!(
        no_ca.contains(&missing.display().to_string()) && no_ca.contains("No such file"),
        "{no_ca}"
    );
    let refused = error(run_now(&app, "refused").await);
    assert!(
        refused.contains(&format!("127.0.0.1:{closed_port}")) && refused.contains("refused"),
        "{refused}"
    );
}
