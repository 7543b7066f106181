//! Push (IMAP IDLE) against a real Dovecot: `leadgate serve` keeps an IDLE connection per IMAP collector and
//! imports a message as soon as the server announces it, with no scheduled run due, and one already waiting
//! when it connects; after the server restarts the connection comes back; push and runs started besides it
//! import each message exactly once; on PostgreSQL, push whose lock the database dropped takes it again.
//! The schedule in these tests falls due once a year, so only push can import.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::TestApp;
use common::backend::end_lock_sessions;
use common::dovecot::{Dovecot, dovecot, unique_user};
use leadgate::config::CollectorConfig;
use leadgate::push::PUSH_LOCK;
use leadgate_domain::collector::{Protocol, TlsMode};
use serde_json::Value;
use sqlx::{Connection, PgConnection};

/// Long enough for a loaded CI machine; push itself takes well under a second.
const PATIENCE: Duration = Duration::from_secs(60);

/// The site-order sample mail as `leadgate make-eml` writes it, with its own number and Message-ID.
fn order(number: &str) -> Vec<u8> {
    let template = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/mail/seed_sample.eml"
    ))
    .unwrap();
    let line = |prefix: &str| {
        template
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap()
            .to_owned()
    };
    template
        .replacen(
            &line("Message-ID:"),
            &format!(
                "Message-ID: <push-{number}-{:08x}@shop.example>",
                rand::random::<u32>()
            ),
            1,
        )
        .replacen(&line("Subject:"), &format!("Subject: ORDER: {number}"), 1)
        .into_bytes()
}

fn password_file(dir: &Path, password: &str) -> PathBuf {
    let path = dir.join(format!("password-{:08x}", rand::random::<u32>()));
    std::fs::write(&path, format!("{password}\n")).unwrap();
    path
}

async fn pushing_app(dc: &Dovecot, user: &str, secrets: &Path) -> TestApp {
    let collector = CollectorConfig {
        tls: TlsMode::None,
        ca_file: Some(PathBuf::from(dc.var("DOVECOT_CA_FILE"))),
        password_file: Some(password_file(secrets, dc.var("DOVECOT_PASSWORD"))),
        ..CollectorConfig::new(
            "site",
            Protocol::Imap,
            "localhost",
            dc.port("DOVECOT_IMAP_PORT"),
            user,
        )
    };
    assert!(collector.push, "push is on by default");
    TestApp::spawn_with(move |s| {
        // On, but due only on the first of January at midnight: push alone imports here.
        s.schedule.mail_collector.enabled = true;
        s.schedule.mail_collector.cron = "0 0 0 1 1 *".into();
        s.collectors = vec![collector];
    })
    .await
}

async fn collector_status(app: &TestApp) -> Value {
    let list = app.get("/api/v1/collectors").await;
    list.as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "site")
        .cloned()
        .unwrap()
}

/// Waits until the collector's IDLE connection is up (after `after`, if given) and returns its status.
async fn connected(app: &TestApp, after: Option<&str>) -> Value {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let status = collector_status(app).await;
        let push = &status["push_status"];
        if push["state"] == "connected"
            && after.is_none_or(|a| push["connected_since"].as_str().unwrap_or("") > a)
        {
            return status;
        }
        assert!(Instant::now() < deadline, "push never connected: {status}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn numbers(app: &TestApp) -> Vec<String> {
    let mut numbers: Vec<String> = app.get("/api/v1/leads?limit=500").await["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            l["source"]["external_number"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    numbers.sort();
    numbers
}

/// Waits until the leads hold exactly these external numbers (sorted).
async fn leads_become(app: &TestApp, want: &[&str]) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let got = numbers(app).await;
        if got == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the leads are {got:?}, not {want:?}; the collector: {}",
            collector_status(app).await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_message_delivered_while_leadgate_idles_is_imported_with_no_run_due() {
    let dc = dovecot();
    let user = unique_user("push");
    let secrets = tempfile::tempdir().unwrap();
    let app = pushing_app(&dc, &user, secrets.path()).await;
    let status = connected(&app, None).await;
    assert!(status["push_status"]["connected_since"].is_string());
    assert!(numbers(&app).await.is_empty());

    dc.deliver(&user, &order("1"));
    leads_become(&app, &["1"]).await;
    let status = collector_status(&app).await;
    assert!(status["push_status"]["last_event"].is_string(), "{status}");
    // The import went through the collector's ordinary run: it is recorded as one.
    assert!(status["last_run"]["started_at"].is_string(), "{status}");

    dc.deliver(&user, &order("2"));
    leads_become(&app, &["1", "2"]).await;
    app.stop().await;
}

#[tokio::test]
async fn a_message_that_came_before_the_idle_connection_is_imported_when_it_connects() {
    let dc = dovecot();
    let user = unique_user("push-early");
    let secrets = tempfile::tempdir().unwrap();
    // In the mailbox before leadgate starts: no announcement will come for it, and no run is due.
    dc.deliver(&user, &order("1"));
    let app = pushing_app(&dc, &user, secrets.path()).await;
    leads_become(&app, &["1"]).await;
    connected(&app, None).await;

    dc.deliver(&user, &order("2"));
    leads_become(&app, &["1", "2"]).await;
    app.stop().await;
}

#[tokio::test]
async fn after_its_own_dovecot_restarts_push_reconnects_and_imports_what_comes_next() {
    let (server, dc) = PrivateDovecot::start();
    let user = "orders";
    let secrets = tempfile::tempdir().unwrap();
    let app = pushing_app(&dc, user, secrets.path()).await;
    let first = connected(&app, None).await;
    dc.deliver(user, &order("1"));
    leads_become(&app, &["1"]).await;

    server.down();
    server.up();
    let since = first["push_status"]["connected_since"]
        .as_str()
        .unwrap()
        .to_owned();
    let again = connected(&app, Some(&since)).await;
    assert!(
        again["push_status"]["last_error"].is_string(),
        "the dropped connection is reported: {again}"
    );
    dc.deliver(user, &order("2"));
    leads_become(&app, &["1", "2"]).await;
    app.stop().await;
}

#[tokio::test]
async fn push_and_runs_started_beside_it_import_each_message_exactly_once() {
    let dc = dovecot();
    let user = unique_user("push-once");
    let secrets = tempfile::tempdir().unwrap();
    let app = pushing_app(&dc, &user, secrets.path()).await;
    connected(&app, None).await;
    let mut want: Vec<String> = Vec::new();
    for round in 0..10 {
        for i in 0..3 {
            let number = format!("{}", round * 3 + i + 10);
            dc.deliver(&user, &order(&number));
            want.push(number);
        }
        // A run as the schedule (or "run now") starts it, while push runs too.
        let response = app.post("/api/v1/collectors/site/run").await;
        assert!(
            [202, 409].contains(&response.status().as_u16()),
            "{}",
            response.status()
        );
    }
    want.sort();
    let want: Vec<&str> = want.iter().map(String::as_str).collect();
    leads_become(&app, &want).await;
    // Nothing more arrives later either: a last run finds every message recorded.
    let last = loop {
        let response = app.post("/api/v1/collectors/site/run").await;
        if response.status() == 202 {
            let started: Value = response.json().await.unwrap();
            break app.finished_run("site", &started).await;
        }
        // The runs started above are still going.
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(last["counts"]["imported"], 0, "{last}");
    assert_eq!(numbers(&app).await, want);
    app.stop().await;
}

/// On PostgreSQL the push lock lives in a database session. When the server ends that session (a restart or a
/// fail-over ends every session), the instance closes its IDLE connection and takes the lock again before it
/// connects anew; an instance that kept IDLE without the lock would keep it beside another instance's, which
/// takes a free lock within half a minute. Push goes on importing.
#[tokio::test]
async fn when_the_database_ends_the_push_locks_session_push_reconnects_under_the_lock_taken_again()
{
    if !common::postgres_only("the push lock is a database session's on PostgreSQL only") {
        return;
    }
    let dc = dovecot();
    let user = unique_user("push-lock");
    let secrets = tempfile::tempdir().unwrap();
    let app = pushing_app(&dc, &user, secrets.path()).await;
    let first = connected(&app, None).await;
    let since = first["push_status"]["connected_since"]
        .as_str()
        .unwrap()
        .to_owned();

    let mut db = PgConnection::connect(&app.database_url()).await.unwrap();
    assert!(
        end_lock_sessions(&mut db).await >= 1,
        "the push lock is held"
    );
    connected(&app, Some(&since)).await;
    let other = common::backend::storage_at(&app.database_url()).await;
    assert!(
        other.try_lock_job(PUSH_LOCK).await.unwrap().is_none(),
        "the instance that keeps IDLE holds the push lock again"
    );
    dc.deliver(&user, &order("1"));
    leads_become(&app, &["1"]).await;
    db.close().await.unwrap();
    app.stop().await;
}

/// A Dovecot of the test's own, which it can stop and start (never the shared suite's).
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
        self.script_do("start");
    }

    fn down(&self) {
        self.script_do("stop");
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
        assert!(status.success(), "scripts/dovecot.sh {what}");
    }
}

impl Drop for PrivateDovecot {
    fn drop(&mut self) {
        self.down();
    }
}
