//! PostgreSQL going down and coming back under a running `leadgate serve`, in the middle of an HTTP load and
//! in the middle of a mail collect: nothing acknowledged is lost (every 201's lead is in the database
//! afterwards), nothing is stored twice (clients retry the 503s with their `Idempotency-Key`, and the ledger
//! holds each order once), and everything resumes by itself.
//!
//! The server is stopped the hard way (`pg_ctlcluster … stop -m immediate`, as a crash: no checkpoint, a
//! recovery at the next start) and started again. It is a cluster of these tests' own,
//! `LEADGATE_TEST_POSTGRES_RESTART_URL` and `LEADGATE_TEST_POSTGRES_RESTART_CLUSTER` (`scripts/postgres.sh`
//! makes it), never the server the other tests share; and one test at a time restarts it (a file lock, and
//! the nextest test group `postgres-restart`).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::dovecot::{Dovecot, dovecot, unique_user};
use leadgate_postgres::testing::FreshPg;
use sqlx::{Connection, PgConnection};

const URL_VAR: &str = "LEADGATE_TEST_POSTGRES_RESTART_URL";
const CLUSTER_VAR: &str = "LEADGATE_TEST_POSTGRES_RESTART_CLUSTER";
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/mail");
const ADMIN_TOKEN: &str = "admin-token-for-tests";
const SOURCE_TOKEN: &str = "website-token-for-tests";

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: the restart tests need a PostgreSQL cluster of their own. \
             scripts/postgres.sh start DIR makes it; then `. DIR/env` before cargo test"
        )
    })
}

/// The restart tests' cluster, held by one test at a time.
struct Cluster {
    version: String,
    name: String,
    _turn: std::fs::File,
}

impl Cluster {
    /// Waits for this test's turn (other processes' restart tests included), then has the cluster.
    fn take() -> Self {
        let cluster = var(CLUSTER_VAR);
        let mut parts = cluster.split_whitespace();
        let (Some(version), Some(name)) = (parts.next(), parts.next()) else {
            panic!("{CLUSTER_VAR}={cluster:?}: it is \"VERSION NAME\"");
        };
        let turn = std::fs::File::create(
            std::env::temp_dir().join(format!("leadgate-postgres-restart-{version}-{name}.lock")),
        )
        .unwrap();
        turn.lock().unwrap();
        let cluster = Self {
            version: version.to_owned(),
            name: name.to_owned(),
            _turn: turn,
        };
        // A test that failed while the server was down left it so.
        cluster.control(&["start"], true);
        cluster
    }

    fn control(&self, action: &[&str], may_be_running: bool) {
        let status = Command::new("pg_ctlcluster")
            .args([&self.version, &self.name])
            .args(action)
            .status()
            .unwrap_or_else(|e| panic!("pg_ctlcluster: {e}"));
        // pg_ctlcluster start exits with 2 when the server is already running.
        let ok = status.success() || (may_be_running && status.code() == Some(2));
        assert!(ok, "pg_ctlcluster {action:?}: {status}");
    }

    /// Stops the server as a crash would: every session cut at once, no checkpoint.
    fn crash(&self) {
        self.control(&["stop", "-m", "immediate"], false);
    }

    fn start(&self) {
        self.control(&["start"], false);
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("pg_ctlcluster")
            .args([&self.version, &self.name, "start"])
            .status();
    }
}

/// A `leadgate serve` process on a database of the restart cluster, its log in a file.
struct Serve {
    child: Child,
    base: String,
    log: PathBuf,
    client: reqwest::Client,
    // Dropped after the process: the database outlives its last connection.
    _dir: tempfile::TempDir,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Serve {
    /// Starts `leadgate serve` on `db` with the source "website" and, when given, `more` configuration.
    async fn start(db: &FreshPg, more: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = |name: &str| dir.path().join(name).display().to_string();
        std::fs::write(dir.path().join("admin.token"), format!("{ADMIN_TOKEN}\n")).unwrap();
        std::fs::write(
            dir.path().join("website.token"),
            format!("{SOURCE_TOKEN}\n"),
        )
        .unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config = dir.path().join("leadgate.toml");
        std::fs::write(
            &config,
            format!(
                "[server]\nlisten = \"127.0.0.1:{port}\"\nadmin_token_file = {admin:?}\n\n\
                 [database]\nurl = {url:?}\ndata_dir = {data:?}\n\n\
                 [layout_files]\nenabled = false\n\n\
                 [[http_sources]]\nname = \"website\"\ntoken_file = {token:?}\n\
                 rate_limit_per_client = 0\nrate_limit_total = 0\n\n{more}",
                admin = path("admin.token"),
                url = db.url(),
                data = path("data"),
                token = path("website.token"),
            ),
        )
        .unwrap();
        let log = dir.path().join("serve.log");
        let file = std::fs::File::create(&log).unwrap();
        let child = common::cli::leadgate_process()
            .arg("--config")
            .arg(&config)
            .arg("serve")
            .env("RUST_LOG", "info,sqlx=warn")
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap();
        let serve = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
            client: reqwest::Client::new(),
            _dir: dir,
        };
        serve.until_ready(200).await;
        serve
    }

    /// Polls `/readyz` until it answers `status`.
    async fn until_ready(&self, status: u16) {
        let url = format!("{}/readyz", self.base);
        until(
            Duration::from_secs(60),
            &format!("/readyz never answered {status}"),
            async || {
                let r = self.client.get(&url).send().await.ok()?;
                (r.status().as_u16() == status).then_some(())
            },
        )
        .await;
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    async fn post(&self, path: &str) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.base))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap()
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap()
    }
}

/// Polls `probe` every few milliseconds until it gives a value, failing after `limit` with `what`.
async fn until<T>(limit: Duration, what: &str, mut probe: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Asserts a 503 that says when to try again.
fn assert_unavailable(r: &reqwest::Response, what: &str) {
    assert_eq!(r.status().as_u16(), 503, "{what}");
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry > 0, "{what}: Retry-After {retry}");
}

/// A number from the database, on a connection of the test's own (made anew: the server may have restarted
/// since the last one).
async fn scalar(url: &str, sql: &'static str) -> Option<i64> {
    let mut conn = PgConnection::connect(url).await.ok()?;
    let n = sqlx::query_scalar(sql).fetch_one(&mut conn).await.ok();
    let _ = conn.close().await;
    n
}

/// One contact lead; the same `n` gives the same body, so a retry is a replay.
fn lead(n: &str) -> serde_json::Value {
    serde_json::json!({
        "Тема": format!("Заявка {n}"),
        "КонтактноеЛицо": "Иванова Мария Петровна",
        "Телефон": "+79161234567",
    })
}

/// A site posting leads until `stop`: each lead with an `Idempotency-Key` of its own, retried after every 503
/// (which must say when to try again) until it is acknowledged. Returns each key's acknowledged lead id.
async fn client_posting(
    base: String,
    client: usize,
    acknowledged: Arc<AtomicUsize>,
    refused: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
) -> BTreeMap<String, i64> {
    let http = reqwest::Client::new();
    let mut ids = BTreeMap::new();
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let key = format!("client-{client}-lead-{n}");
        loop {
            let r = http
                .post(format!("{base}/api/v1/intake"))
                .bearer_auth(SOURCE_TOKEN)
                .header("idempotency-key", &key)
                .json(&lead(&key))
                .send()
                .await
                .unwrap_or_else(|e| panic!("{key}: the server dropped the request: {e}"));
            match r.status().as_u16() {
                // Created, or (a replay) created by an earlier try whose answer was a 503.
                201 | 200 => {
                    let body: serde_json::Value = r.json().await.unwrap();
                    ids.insert(key, body["id"].as_i64().unwrap());
                    acknowledged.fetch_add(1, Ordering::Relaxed);
                    break;
                }
                503 => {
                    assert_unavailable(&r, &key);
                    refused.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                status => panic!("{key}: {status} {}", r.text().await.unwrap_or_default()),
            }
        }
    }
    ids
}

#[tokio::test]
async fn postgresql_crashing_and_restarting_under_an_http_load_loses_no_acknowledged_lead_and_stores_none_twice()
 {
    let cluster = Cluster::take();
    let db = FreshPg::on(&var(URL_VAR)).await;
    let serve = Serve::start(&db, "").await;

    let acknowledged = Arc::new(AtomicUsize::new(0));
    let refused = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..8)
        .map(|client| {
            tokio::spawn(client_posting(
                serve.base.clone(),
                client,
                acknowledged.clone(),
                refused.clone(),
                stop.clone(),
            ))
        })
        .collect();
    let at_least = |n: usize| {
        let acknowledged = acknowledged.clone();
        async move || (acknowledged.load(Ordering::Relaxed) >= n).then_some(())
    };
    until(
        Duration::from_secs(60),
        "the load never got going",
        at_least(200),
    )
    .await;

    cluster.crash();
    serve.until_ready(503).await;
    let down = serve
        .client
        .post(format!("{}/api/v1/intake", serve.base))
        .bearer_auth(SOURCE_TOKEN)
        .json(&lead("while the database is down"))
        .send()
        .await
        .unwrap();
    assert_unavailable(&down, "the intake while the database is down");
    let before = acknowledged.load(Ordering::Relaxed);
    let refused_before = refused.load(Ordering::Relaxed);
    until(
        Duration::from_secs(30),
        "the clients were never refused",
        async || (refused.load(Ordering::Relaxed) > refused_before).then_some(()),
    )
    .await;
    cluster.start();
    serve.until_ready(200).await;
    until(
        Duration::from_secs(60),
        "the load never resumed",
        at_least(before + 200),
    )
    .await;
    stop.store(true, Ordering::Relaxed);
    let mut ids = BTreeMap::new();
    for client in clients {
        ids.extend(client.await.unwrap());
    }

    let mut conn = PgConnection::connect(db.url()).await.unwrap();
    let stored: BTreeSet<i64> = sqlx::query_scalar::<_, i64>("SELECT id FROM leads")
        .fetch_all(&mut conn)
        .await
        .unwrap()
        .into_iter()
        .collect();
    conn.close().await.unwrap();
    let answered: BTreeSet<i64> = ids.values().copied().collect();
    let lost: Vec<_> = answered.difference(&stored).collect();
    assert!(lost.is_empty(), "acknowledged leads lost: {lost:?}");
    assert_eq!(answered.len(), ids.len(), "two keys were given one lead");
    // Every lead is one key's: a try answered 503 whose commit got through was replayed, not stored again.
    let unasked: Vec<_> = stored.difference(&answered).collect();
    assert!(
        unasked.is_empty(),
        "leads stored twice or unasked: {unasked:?}"
    );
    println!(
        "{} leads acknowledged, {} tries refused with 503 while PostgreSQL was down",
        ids.len(),
        refused.load(Ordering::Relaxed)
    );
    let log = serve.log();
    assert!(!log.contains("panicked"), "{log}");
    drop(serve);
    drop(db);
    drop(cluster);
}

/// How many site orders the mailbox holds: six of the collector's batches.
const ORDERS: usize = 3000;

/// The product note's sample order with a Message-ID and an order number of its own.
fn order(template: &str, n: usize) -> Vec<u8> {
    template
        .replacen(
            "Message-ID: <seed_sample@shop.example>",
            &format!("Message-ID: <restart-{n}@shop.example>"),
            1,
        )
        .replacen("Subject: ORDER: 123", &format!("Subject: ORDER: {n}"), 1)
        .into_bytes()
}

/// The collector "site-orders" on the test Dovecot's mailbox of `user`, run only when asked.
fn collector_config(dc: &Dovecot, user: &str, password: &Path) -> String {
    format!(
        "[schedule.mail_collector]\nenabled = false\n\n\
         [[collectors]]\nname = \"site-orders\"\nprotocol = \"imap\"\nhost = \"localhost\"\n\
         port = {imap}\ntls = \"none\"\nusername = {user:?}\npassword_file = {password:?}\n\
         folder = \"INBOX\"\nkeyword = \"ORDER\"\npush = false\n",
        imap = dc.port("DOVECOT_IMAP_PORT"),
        password = password.display().to_string(),
    )
}

/// The collector's last run as `GET /api/v1/collectors` shows it.
async fn last_run(serve: &Serve) -> Option<serde_json::Value> {
    let r = serve.get("/api/v1/collectors").await;
    if !r.status().is_success() {
        return None;
    }
    let list: serde_json::Value = r.json().await.ok()?;
    list.as_array()?
        .iter()
        .find(|c| c["name"] == "site-orders")
        .map(|c| c["last_run"].clone())
}

#[tokio::test]
async fn postgresql_crashing_and_restarting_during_a_collect_imports_every_order_once_and_the_next_run_completes()
 {
    let dc = dovecot();
    let user = unique_user("pg-restart");
    let template = std::fs::read_to_string(Path::new(FIXTURES).join("seed_sample.eml")).unwrap();
    for n in 1..=ORDERS {
        dc.deliver(&user, &order(&template, n));
    }
    let secrets = tempfile::tempdir().unwrap();
    let password = secrets.path().join("mailbox.password");
    std::fs::write(&password, format!("{}\n", dc.var("DOVECOT_PASSWORD"))).unwrap();

    let cluster = Cluster::take();
    let db = FreshPg::on(&var(URL_VAR)).await;
    let serve = Serve::start(&db, &collector_config(&dc, &user, &password)).await;
    let messages = "SELECT count(*) FROM messages";

    let run = serve.post("/api/v1/collectors/site-orders/run").await;
    assert_eq!(run.status().as_u16(), 202);
    until(
        Duration::from_secs(60),
        "the run committed nothing",
        async || (scalar(db.url(), messages).await? > 0).then_some(()),
    )
    .await;
    cluster.crash();
    serve.until_ready(503).await;
    let read = serve.get("/api/v1/collectors").await;
    assert_unavailable(&read, "the collectors' list while the database is down");
    cluster.start();
    serve.until_ready(200).await;
    let before = until(
        Duration::from_secs(30),
        "the database never answered",
        async || scalar(db.url(), messages).await,
    )
    .await;
    assert!(
        before > 0 && before < ORDERS as i64,
        "the crash came in the middle of the collect ({before} of {ORDERS} recorded)"
    );

    // The next run: asked for until the interrupted one has given up, then followed to its end.
    let accepted_at = until(
        Duration::from_secs(120),
        "the interrupted run never gave up",
        async || {
            let r = serve.post("/api/v1/collectors/site-orders/run").await;
            match r.status().as_u16() {
                202 => Some(r.json::<serde_json::Value>().await.unwrap()["accepted_at"].clone()),
                409 | 503 => None,
                status => panic!("run now: {status} {}", r.text().await.unwrap_or_default()),
            }
        },
    )
    .await;
    let run = until(
        Duration::from_secs(120),
        "the next run never completed",
        async || {
            let run = last_run(&serve).await?;
            (run["started_at"].as_str()? >= accepted_at.as_str()? && run["finished_at"].is_string())
                .then_some(run)
        },
    )
    .await;
    // The interrupted run may have finished the import itself once the server was back (its commits
    // wait for a connection), or given up; either way the next run completes, and imports what is left.
    assert_eq!(run["error"], serde_json::Value::Null, "{run}");
    println!("{before} of {ORDERS} orders recorded at the crash; the next run: {run}");

    let mut conn = PgConnection::connect(db.url()).await.unwrap();
    let mut count = async |sql: &'static str| -> i64 {
        sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap()
    };
    assert_eq!(count("SELECT count(*) FROM leads").await, ORDERS as i64);
    assert_eq!(
        count("SELECT count(*) FROM messages WHERE outcome = 'imported'").await,
        ORDERS as i64
    );
    assert_eq!(
        count("SELECT count(DISTINCT message_id) FROM messages").await,
        ORDERS as i64,
        "no order recorded twice"
    );
    conn.close().await.unwrap();
    let log = serve.log();
    assert!(!log.contains("panicked"), "{log}");
    drop(serve);
    drop(db);
    drop(cluster);
}
