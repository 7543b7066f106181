//! Lead-to-screen latency benchmark (not a timed test): how long an order takes from the site to an open inbox
//! in headless Chromium, (a) posted over HTTP and (b) mailed to the shop's mailbox (a real Dovecot) and pushed
//! by IMAP IDLE, with the default configuration (the schedule every 5 minutes stays as the safety net).
//!
//! It starts the real server on a port-0 listener with a fresh SQLite database and one IMAP collector, its
//! own Dovecot (`scripts/dovecot.sh start` in a temporary directory), and chromedriver with one headless
//! Chromium signed in as a manager on `/inbox`. The page records, with a `MutationObserver`, when each row
//! appears (`performance.timeOrigin + performance.now()`, wall-clock milliseconds); the benchmark notes the
//! wall clock just before it sends the request or drops the mail into the Maildir, and reports p50, p99 and
//! the maximum of the difference. Orders are sent one after the other, each once the previous one is on the
//! screen.
//!
//! Run: `bench/latency.sh` (or `cargo bench --bench latency`). Knobs: `LG_BENCH_LATENCY_ORDERS` (100 per
//! channel), `CHROMEDRIVER`, `CHROMIUM`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use fantoccini::{Client, ClientBuilder, Locator};
use leadgate::config::{CollectorConfig, Settings};
use leadgate::startup::Application;
use leadgate_domain::account::Role;
use leadgate_domain::collector::{Protocol, TlsMode};
use leadgate_sqlite::SqliteStorage;
use leadgate_storage::Accounts;

const SAMPLE: &str = include_str!("../bench/sample-order.json");

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        * 1000.0
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Reads `export KEY=value` lines.
fn env_file(path: &Path) -> std::collections::HashMap<String, String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter_map(|l| l.trim().strip_prefix("export "))
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.trim_matches(['"', '\'']).to_owned()))
        .collect()
}

/// Drops a message into the user's Maildir/new via tmp/, owned as Dovecot's mail is.
fn deliver(mail_root: &Path, user: &str, raw: &[u8], n: usize) {
    let meta = std::fs::metadata(mail_root).unwrap();
    let maildir = mail_root.join(user).join("Maildir");
    for dir in [
        mail_root.join(user),
        maildir.clone(),
        maildir.join("new"),
        maildir.join("cur"),
        maildir.join("tmp"),
    ] {
        std::fs::create_dir_all(&dir).unwrap();
        std::os::unix::fs::chown(&dir, Some(meta.uid()), Some(meta.gid())).unwrap();
    }
    let name = format!("{}.bench{n}.leadgate", now_ms() as u64);
    let tmp = maildir.join("tmp").join(&name);
    std::fs::write(&tmp, raw).unwrap();
    std::os::unix::fs::chown(&tmp, Some(meta.uid()), Some(meta.gid())).unwrap();
    std::fs::rename(&tmp, maildir.join("new").join(&name)).unwrap();
}

fn mail(n: usize) -> Vec<u8> {
    let body = SAMPLE.replace("№123", &format!("№{}", 10_000 + n));
    format!(
        "From: site@shop.example\r\nTo: orders@shop.example\r\nSubject: ORDER: {}\r\n\
         Message-ID: <latency-{n}@shop.example>\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{body}\r\n",
        10_000 + n
    )
    .into_bytes()
}

fn summary(name: &str, mut ms: Vec<f64>) {
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms[((ms.len() as f64 * q).ceil() as usize).clamp(1, ms.len()) - 1];
    println!(
        "{name:<34} n={:<4} p50 {:>7.0} ms   p99 {:>7.0} ms   max {:>7.0} ms",
        ms.len(),
        at(0.50),
        at(0.99),
        ms[ms.len() - 1]
    );
}

/// Waits until the page recorded the row of a lead whose link text contains `marker`; its time (ms).
async fn arrival(browser: &Client, marker: &str) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let seen = browser
            .execute(
                "return window.__arrivals[arguments[0]] || null",
                vec![serde_json::Value::String(marker.to_owned())],
            )
            .await
            .unwrap();
        if let Some(at) = seen.as_f64() {
            return at;
        }
        assert!(Instant::now() < deadline, "{marker} never appeared");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Records when each row appears, keyed by the number in its link text (`№10001`).
const OBSERVER: &str = "window.__arrivals = {};
  var body = document.querySelector('#leads tbody');
  new MutationObserver(function (changes) {
    var at = performance.timeOrigin + performance.now();
    changes.forEach(function (c) {
      c.addedNodes.forEach(function (row) {
        var link = row.querySelector && row.querySelector('.lead-link');
        var m = link && link.textContent.match(/№(\\d+)/);
        if (m && !(m[1] in window.__arrivals)) { window.__arrivals[m[1]] = at; }
      });
    });
  }).observe(body, { childList: true });
  return null";

#[tokio::main]
async fn main() {
    let orders = env_num("LG_BENCH_LATENCY_ORDERS", 100) as usize;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let work = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        work.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();

    // Dovecot of its own.
    let dovecot_dir = work.path().join("dovecot");
    let dovecot = |what: &str| {
        let status = Command::new(root.join("scripts/dovecot.sh"))
            .arg(what)
            .arg(&dovecot_dir)
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "scripts/dovecot.sh {what}");
    };
    dovecot("start");
    let dc = env_file(&dovecot_dir.join("env"));
    let password = work.path().join("mail.password");
    std::fs::write(&password, &dc["DOVECOT_PASSWORD"]).unwrap();

    // leadgate with the default configuration, one IMAP collector and one HTTP source.
    let mut settings = Settings::default();
    settings.layout_files.enabled = false;
    let db = work.path().join("leadgate.db");
    settings.database.url = format!("sqlite://{}", db.display());
    let token_file = work.path().join("website.token");
    std::fs::write(&token_file, "website-token-for-the-benchmark").unwrap();
    settings.http_sources = vec![leadgate::config::HttpSourceConfig {
        name: "website".into(),
        token_file: Some(token_file),
        rate_limit_per_client: Some(0),
        rate_limit_total: Some(0),
        ..leadgate::config::HttpSourceConfig::default()
    }];
    settings.collectors = vec![CollectorConfig {
        tls: TlsMode::None,
        password_file: Some(password),
        ..CollectorConfig::new(
            "site",
            Protocol::Imap,
            "127.0.0.1",
            dc["DOVECOT_IMAP_PORT"].parse().unwrap(),
            "orders",
        )
    }];
    {
        let storage = SqliteStorage::connect(&settings.database.url)
            .await
            .unwrap();
        let hash = leadgate::password::hash("bench-password".to_owned())
            .await
            .unwrap();
        storage
            .create_user("manager1", "manager1", Role::Manager, Some(&hash))
            .await
            .unwrap();
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = Application::build(settings, listener).await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));

    // Chromium, signed in, on the inbox.
    let driver_bin =
        std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let port = free_port();
    let mut driver = Command::new(&driver_bin)
        .process_group(0)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let profile = work.path().join("chromium");
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": chromium,
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--no-first-run",
                     "--disable-dev-shm-usage", format!("--user-data-dir={}", profile.display())]
        }),
    );
    let mut browser = None;
    for _ in 0..200 {
        if let Ok(c) = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            browser = Some(c);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let browser = browser.expect("a Chromium session");
    browser.goto(&format!("{base}/login")).await.unwrap();
    for (css, text) in [("#login", "manager1"), ("#password", "bench-password")] {
        browser
            .find(Locator::Css(css))
            .await
            .unwrap()
            .send_keys(text)
            .await
            .unwrap();
    }
    browser
        .find(Locator::Css("#sign-in"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser
        .wait()
        .for_element(Locator::Css("#live[data-state=\"open\"]"))
        .await
        .unwrap();
    browser.execute(OBSERVER, vec![]).await.unwrap();

    // Push must be up before mail is measured.
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        // A first mail that arrives is proof that push is up: send one and wait for it (not measured).
        deliver(Path::new(&dc["DOVECOT_MAIL_ROOT"]), "orders", &mail(0), 0);
        if tokio::time::timeout(Duration::from_secs(20), arrival(&browser, "10000"))
            .await
            .is_ok()
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "push never imported the first mail"
        );
    }

    println!(
        "Lead-to-screen latency, one order at a time, {orders} per channel (default configuration)"
    );
    let mut latencies = Vec::with_capacity(orders);
    for n in 1..=orders {
        let number = 20_000 + n;
        let body = SAMPLE.replace("№123", &format!("№{number}"));
        let sent = now_ms();
        let r = http
            .post(format!("{base}/api/v1/intake"))
            .bearer_auth("website-token-for-the-benchmark")
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap_or_default());
        latencies.push(arrival(&browser, &number.to_string()).await - sent);
    }
    summary("(a) HTTP order -> open inbox", latencies);

    let mut latencies = Vec::with_capacity(orders);
    for n in 1..=orders {
        let sent = now_ms();
        deliver(Path::new(&dc["DOVECOT_MAIL_ROOT"]), "orders", &mail(n), n);
        latencies.push(arrival(&browser, &(10_000 + n).to_string()).await - sent);
    }
    summary("(b) order mail -> open inbox (IDLE)", latencies);
    println!(
        "(schedule alone, for comparison: mail waits for the next run of \"0 */5 * * * *\", up to 300,000 ms)"
    );

    browser.close().await.unwrap();
    let _ = Command::new("kill")
        .arg("--")
        .arg(format!("-{}", driver.id()))
        .status();
    let _ = driver.wait();
    let _ = stop.send(());
    let _ = server.await;
    dovecot("stop");
}
