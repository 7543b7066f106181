//! Lead-to-screen latency benchmark (not a timed test): how long an order takes from the site to an open inbox
//! in headless Chromium, (a) posted over HTTP and (b) mailed to the shop's mailbox (a real Dovecot) and pushed
//! by IMAP IDLE, and (c) from either until a webhook receiver on loopback has it, with the default
//! configuration (the schedule every 5 minutes stays as the safety net). Beside them, the schedule alone: the
//! same order mail to a mailbox whose collector has push off. Then the cost of 200 open live pages: the
//! process's memory before and after their event streams open (per stream), and HTTP intake under wrk with
//! and without them.
//!
//! It starts the real server on a port-0 listener with a fresh SQLite database, two IMAP collectors (push on,
//! the default, and push off), its own Dovecot (`scripts/dovecot.sh start` in a temporary directory), a
//! webhook receiver on loopback registered for every calendar, and chromedriver with one headless Chromium
//! signed in as a manager on `/inbox`. The page records, with a `MutationObserver`, when each row appears
//! (`performance.timeOrigin + performance.now()`, wall-clock milliseconds); the receiver notes when each
//! order's webhook arrives; the benchmark notes the wall clock just before it sends the request or drops the
//! mail into the Maildir, and reports p50, p99 and the maximum of the difference. Orders are sent one after
//! the other, each once the previous one is on the screen. The push-off orders are dropped at even intervals
//! over one period of the schedule, from a task of their own while the rest runs, so their wait for the next
//! run spreads over the whole period.
//!
//! Before measuring, it waits until the push connection is up (the collector list says so) and its first run
//! has ended, then for one order mail on the screen; every wait has [`PATIENCE`] (a loaded machine is slow,
//! and the schedule would import a missed mail within it), and one that runs out names what the server knew
//! (the collectors' state and the newest leads) instead of only what the page did not show.
//!
//! The live pages: each is `GET /inbox/events` with the manager's session cookie on a connection of its own,
//! read as it comes (a task and a 16 KiB buffer per page, in this process too). A page the server tells to
//! reload (it fell too far behind) loads `/inbox` once and opens its stream again, as the browser does. HTTP
//! intake is `wrk -t2 -c64 -d10s -s bench/http/intake.lua` (as `bench/run http`) against this server, with no
//! page open, with them open, and with none again; the browser is on `about:blank` and the webhooks deleted
//! by then, so that neither loads one round more than the other.
//!
//! Run: `bench/latency.sh` (or `cargo bench --bench latency`). Knobs: `LG_BENCH_LATENCY_ORDERS` (100 per
//! channel), `LG_BENCH_LATENCY_SCHEDULED` (4 push-off orders over one period of the schedule, 0 to skip),
//! `LG_BENCH_LATENCY_STREAMS` (200 open pages), `CHROMEDRIVER`, `CHROMIUM`, `RUST_LOG` (the server's log, to
//! stderr; warnings by default). The intake part needs `wrk` (skipped without it).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use fantoccini::{Client, ClientBuilder, Locator};
use leadgate::config::{CollectorConfig, Settings};
use leadgate::startup::Application;
use leadgate_domain::account::Role;
use leadgate_domain::collector::{Protocol, TlsMode};
use leadgate_sqlite::SqliteStorage;
use leadgate_storage::Accounts;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The server in this process allocates as `leadgate serve` does.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

const SAMPLE: &str = include_str!("../bench/sample-order.json");

const WEBSITE_TOKEN: &str = "website-token-for-the-benchmark";
const ADMIN_TOKEN: &str = "admin-token-for-the-benchmark";

/// The mailbox of the collector with push on (the default), and of the one with push off.
const PUSHED: (&str, &str) = ("site", "orders");
const SCHEDULED: (&str, &str) = ("site-scheduled", "scheduled");

/// How long any one wait may take: a machine under heavy load is slow, and the schedule would have imported a
/// mail that push missed well within it.
const PATIENCE: Duration = Duration::from_secs(600);

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
fn env_file(path: &Path) -> HashMap<String, String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter_map(|l| l.trim().strip_prefix("export "))
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.trim_matches(['"', '\'']).to_owned()))
        .collect()
}

/// Drops a message into the user's Maildir/new via tmp/, owned as Dovecot's mail is.
fn deliver(mail_root: &Path, user: &str, raw: &[u8], number: usize) {
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
    let name = format!("{}.bench{number}.leadgate", now_ms() as u64);
    let tmp = maildir.join("tmp").join(&name);
    std::fs::write(&tmp, raw).unwrap();
    std::os::unix::fs::chown(&tmp, Some(meta.uid()), Some(meta.gid())).unwrap();
    std::fs::rename(&tmp, maildir.join("new").join(&name)).unwrap();
}

/// The site's order mail for order `number`: a short text and the payload as an attachment, as sites send it
/// (`№number` in the payload's subject, so in the lead's title). A payload in the body instead of an
/// attachment would be skipped as a letter, not a site order.
fn mail(number: usize) -> Vec<u8> {
    let payload = SAMPLE.replace("№123", &format!("№{number}"));
    format!(
        "From: site@shop.example\r\nTo: orders@shop.example\r\nSubject: ORDER: {number}\r\n\
         Message-ID: <latency-{number}@shop.example>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"latency-order\"\r\n\r\n\
         --latency-order\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\
         Заказ №{number}: данные для загрузки во вложении.\r\n\
         --latency-order\r\nContent-Type: application/json; charset=utf-8; name=\"order.json\"\r\n\
         Content-Disposition: attachment; filename=\"order.json\"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\
         {payload}\r\n--latency-order--\r\n"
    )
    .into_bytes()
}

fn summary(name: &str, mut ms: Vec<f64>) {
    if ms.is_empty() {
        println!("{name:<48} n=0");
        return;
    }
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms[((ms.len() as f64 * q).ceil() as usize).clamp(1, ms.len()) - 1];
    println!(
        "{name:<48} n={:<4} p50 {:>8.0} ms   p99 {:>8.0} ms   max {:>8.0} ms",
        ms.len(),
        at(0.50),
        at(0.99),
        ms[ms.len() - 1]
    );
}

/// Waits until the page recorded the row of a lead whose link text contains `№marker`; its time (ms), or
/// `None` after `patience`.
async fn arrival(browser: &Client, marker: &str, patience: Duration) -> Option<f64> {
    let deadline = Instant::now() + patience;
    loop {
        let seen = browser
            .execute(
                "return window.__arrivals[arguments[0]] || null",
                vec![Value::String(marker.to_owned())],
            )
            .await
            .unwrap();
        if let Some(at) = seen.as_f64() {
            return Some(at);
        }
        if Instant::now() >= deadline {
            return None;
        }
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

/// The administrator's API.
struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    async fn get(&self, path: &str) -> Value {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "GET {path}: {}", r.status());
        r.json().await.unwrap()
    }

    /// A collector's entry in the collector list (its last run and its push state).
    async fn collector(&self, name: &str) -> Value {
        self.get("/api/v1/collectors")
            .await
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .cloned()
            .unwrap_or(Value::Null)
    }

    /// What the server knew when the page did not show an order: the collectors and the newest leads.
    async fn what_the_server_knew(&self) -> String {
        let collectors = self.get("/api/v1/collectors").await;
        let leads = self.get("/api/v1/leads?limit=5").await;
        let newest: Vec<&str> = leads["items"]
            .as_array()
            .map(|items| items.iter().filter_map(|l| l["subject"].as_str()).collect())
            .unwrap_or_default();
        format!("collectors: {collectors}\nnewest leads: {newest:?}")
    }

    /// Waits until `name`'s IDLE connection is up and the run it starts with has ended: from then on a mail
    /// that comes is announced.
    async fn push_ready(&self, name: &str) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let c = self.collector(name).await;
            let time = |v: &Value| {
                v.as_str()
                    .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                    .map(|t| t.with_timezone(&Utc))
            };
            let since = time(&c["push_status"]["connected_since"]);
            // Runs are recorded to the millisecond.
            let run_since_connected = time(&c["last_run"]["started_at"])
                .zip(since)
                .is_some_and(|(run, since)| run + chrono::TimeDelta::milliseconds(1) > since);
            let run_ended = c["last_run"]["finished_at"].is_string();
            if c["push_status"]["state"] == "connected" && run_since_connected && run_ended {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "push was not up after {PATIENCE:?}: {c}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The number after the first `№` in `text`.
fn order_number(text: &str) -> Option<String> {
    let at = text.find('№')? + '№'.len_utf8();
    let digits: String = text[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    (!digits.is_empty()).then_some(digits)
}

/// The webhook's order: the number after `№` in its lead's subject (or anywhere in its lead), for
/// `lead.created` only.
fn webhook_order(body: &str) -> Option<String> {
    let event: Value = serde_json::from_str(body).ok()?;
    if event["type"] != "lead.created" {
        return None;
    }
    event["lead"]["subject"]
        .as_str()
        .and_then(order_number)
        .or_else(|| order_number(&event["lead"].to_string()))
}

/// Latencies from `sent` (order, wall clock ms) to `arrived`, in the order sent; panics on an order that
/// never arrived.
fn latencies(what: &str, sent: &[(String, f64)], arrived: &HashMap<String, f64>) -> Vec<f64> {
    sent.iter()
        .map(|(number, at)| {
            let Some(got) = arrived.get(number) else {
                panic!("{what}: order {number} never arrived");
            };
            got - at
        })
        .collect()
}

/// The process's resident memory, KiB (the server runs in this process).
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// HTTP intake under `wrk -t2 -c64 -d10s` (`bench/http/intake.lua`, as `bench/run http`): leads/s (201s a
/// second) and p99 ms, or `None` without wrk. Awaited, not blocking: the server shares this runtime.
async fn intake_under_wrk(base: &str) -> Option<(f64, f64)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = tokio::process::Command::new("wrk")
        .args(["-t2", "-c64", "-d10s", "--latency", "-s"])
        .arg(root.join("bench/http/intake.lua"))
        .arg(base)
        .env("BENCH_TOKEN", WEBSITE_TOKEN)
        .output()
        .await
        .ok()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().find(|l| l.starts_with("intake: "))?;
    let field = |k: &str| -> f64 {
        line.split(' ')
            .find_map(|kv| kv.strip_prefix(k))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    };
    Some((field("status_201=") / field("seconds="), field("p99_ms=")))
}

/// What the open live pages saw.
#[derive(Default)]
struct PageCounts {
    /// Streams open now.
    open: AtomicU64,
    /// `lead` events received, over every page.
    leads: AtomicU64,
    /// Bytes of the streams received, over every page.
    bytes: AtomicU64,
    /// `reload` events: the page fell too far behind and loaded its list again.
    reloads: AtomicU64,
    /// Streams the server ended without a reload, or refused.
    lost: AtomicU64,
}

/// Opens `GET /inbox/events` on a connection of its own: the connection and what came after the answer's
/// head, or `None` unless the answer is 200.
async fn open_stream(addr: &str, cookie: &str) -> Option<(tokio::net::TcpStream, Vec<u8>)> {
    let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
    let request = format!(
        "GET /inbox/events HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\nAccept: text/event-stream\r\n\r\n"
    );
    s.write_all(request.as_bytes()).await.ok()?;
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        let n = s.read(&mut buf).await.ok()?;
        if n == 0 {
            return None;
        }
        head.extend_from_slice(&buf[..n]);
        if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            if !head.starts_with(b"HTTP/1.1 200") {
                return None;
            }
            return Some((s, head.split_off(end + 4)));
        }
    }
}

/// Occurrences of `needle` in `hay` that end past `fresh_from` (the bytes before it were counted before).
fn count(hay: &[u8], needle: &[u8], fresh_from: usize) -> u64 {
    let start = fresh_from.saturating_sub(needle.len() - 1);
    memchr::memmem::find_iter(&hay[start..], needle).count() as u64
}

/// One open live page: reads its stream as it comes, counting its `lead` events; told to reload, it loads
/// `/inbox` once and opens its stream again, as the browser does. `opened` is told once the first stream is
/// open.
async fn live_page(
    addr: String,
    base: String,
    cookie: String,
    counts: Arc<PageCounts>,
    opened: tokio::sync::oneshot::Sender<bool>,
) {
    const LEAD: &[u8] = b"event: lead\n";
    const RELOAD: &[u8] = b"event: reload\n";
    let mut opened = Some(opened);
    let http = reqwest::Client::new();
    loop {
        let Some((mut stream, first)) = open_stream(&addr, &cookie).await else {
            counts.lost.fetch_add(1, Ordering::Relaxed);
            if let Some(opened) = opened.take() {
                let _ = opened.send(false);
            }
            return;
        };
        counts.open.fetch_add(1, Ordering::Relaxed);
        if let Some(opened) = opened.take() {
            let _ = opened.send(true);
        }
        let mut buf = vec![0u8; 16 * 1024];
        // The last bytes of the previous read, so that an event's name split over two reads is seen.
        let keep = RELOAD.len() - 1;
        let mut carry_len = first.len().min(keep);
        buf[..carry_len].copy_from_slice(&first[first.len() - carry_len..]);
        let mut reload = count(&first, RELOAD, 0) > 0;
        counts
            .bytes
            .fetch_add(first.len() as u64, Ordering::Relaxed);
        counts
            .leads
            .fetch_add(count(&first, LEAD, 0), Ordering::Relaxed);
        while !reload {
            let n = match stream.read(&mut buf[carry_len..]).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let seen = carry_len + n;
            counts.bytes.fetch_add(n as u64, Ordering::Relaxed);
            counts
                .leads
                .fetch_add(count(&buf[..seen], LEAD, carry_len), Ordering::Relaxed);
            reload = count(&buf[..seen], RELOAD, carry_len) > 0;
            let tail = seen.min(keep);
            buf.copy_within(seen - tail..seen, 0);
            carry_len = tail;
        }
        counts.open.fetch_sub(1, Ordering::Relaxed);
        if !reload {
            counts.lost.fetch_add(1, Ordering::Relaxed);
            return;
        }
        counts.reloads.fetch_add(1, Ordering::Relaxed);
        if let Ok(page) = http
            .get(format!("{base}/inbox"))
            .header("cookie", &cookie)
            .send()
            .await
        {
            let _ = page.bytes().await;
        }
    }
}

/// 200 open live pages: the process's memory before and after their streams open (per stream), and HTTP
/// intake with no page open, with them, and with none again.
async fn live_pages(api: &Api, addr: &str, browser: &Client) {
    let pages = env_num("LG_BENCH_LATENCY_STREAMS", 200) as usize;
    let cookie = browser
        .get_all_cookies()
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.name() == "lg_session")
        .map(|c| format!("lg_session={}", c.value()))
        .expect("the browser's session");
    // Neither the browser's page nor webhook deliveries load one intake round more than another.
    browser.goto("about:blank").await.unwrap();
    for hook in api.get("/api/v1/webhooks").await.as_array().unwrap() {
        let r = api
            .http
            .delete(format!("{}/api/v1/webhooks/{}", api.base, hook["id"]))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        assert!(
            r.status().is_success(),
            "deleting a webhook: {}",
            r.status()
        );
    }

    println!();
    let alone = intake_under_wrk(&api.base).await;
    let before = rss_kib();
    let counts = Arc::new(PageCounts::default());
    let mut tasks = Vec::with_capacity(pages);
    let mut opened = Vec::with_capacity(pages);
    for _ in 0..pages {
        let (tell, told) = tokio::sync::oneshot::channel();
        tasks.push(tokio::spawn(live_page(
            addr.to_owned(),
            api.base.clone(),
            cookie.clone(),
            counts.clone(),
            tell,
        )));
        opened.push(told);
    }
    let mut refused = 0;
    for told in opened {
        if !told.await.unwrap_or(false) {
            refused += 1;
        }
    }
    assert_eq!(refused, 0, "{refused} of {pages} live streams were refused");
    let open = rss_kib();
    let busy = intake_under_wrk(&api.base).await;
    let still_open = counts.open.load(Ordering::Relaxed);
    let after_load = rss_kib();
    for task in &tasks {
        task.abort();
    }
    for task in tasks {
        let _ = task.await;
    }
    let again = intake_under_wrk(&api.base).await;
    println!(
        "{pages} open live pages: process RSS {:.1} MB before, {:.1} MB with them open: {:.1} KiB a page \
         (this process's side of each stream included: a task and a 16 KiB buffer); {:.1} MB after the intake \
         load with them",
        before as f64 / 1024.0,
        open as f64 / 1024.0,
        open.saturating_sub(before) as f64 / pages as f64,
        after_load as f64 / 1024.0
    );
    let Some(((a, a99), (b, b99), (c, c99))) =
        alone.zip(busy).zip(again).map(|((a, b), c)| (a, b, c))
    else {
        println!("HTTP intake with open pages: skipped (wrk is not installed)");
        return;
    };
    println!("HTTP intake, wrk -t2 -c64 -d10s (bench/http/intake.lua):");
    let leads = counts.leads.load(Ordering::Relaxed);
    println!("  no page open                 {a:>8.0} leads/s   p99 {a99:>7.1} ms");
    println!(
        "  {pages} pages open              {b:>8.0} leads/s   p99 {b99:>7.1} ms   ({:.2}x the first round)",
        b / a
    );
    println!("  no page open again           {c:>8.0} leads/s   p99 {c99:>7.1} ms");
    println!(
        "  during the load the pages received {leads} lead events ({:.0} bytes an event with the stream's \
         comments), were told to reload {} times (each loaded /inbox and reopened its stream), {} streams were \
         lost; {still_open} of {pages} were open at its end",
        counts.bytes.load(Ordering::Relaxed) as f64 / leads.max(1) as f64,
        counts.reloads.load(Ordering::Relaxed),
        counts.lost.load(Ordering::Relaxed),
    );
}

/// Stops what the benchmark started outside this process (chromedriver's process group, Dovecot) when it
/// ends, a failed wait's panic included.
struct Started {
    dovecot: Option<(PathBuf, PathBuf)>,
    driver: Option<std::process::Child>,
}

impl Drop for Started {
    fn drop(&mut self) {
        if let Some(mut driver) = self.driver.take() {
            let _ = Command::new("kill")
                .arg("--")
                .arg(format!("-{}", driver.id()))
                .status();
            let _ = driver.wait();
        }
        if let Some((script, dir)) = self.dovecot.take() {
            let _ = Command::new(script)
                .arg("stop")
                .arg(dir)
                .stdout(Stdio::null())
                .status();
        }
    }
}

#[tokio::main]
async fn main() {
    if std::env::var_os("RUST_LOG").is_some() {
        leadgate::telemetry::init();
    } else {
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::WARN)
            .with_writer(std::io::stderr)
            .init();
    }
    let orders = env_num("LG_BENCH_LATENCY_ORDERS", 100) as usize;
    let scheduled = env_num("LG_BENCH_LATENCY_SCHEDULED", 4) as usize;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let work = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        work.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();

    // Dovecot of its own.
    let dovecot_dir = work.path().join("dovecot");
    let script = root.join("scripts/dovecot.sh");
    let status = Command::new(&script)
        .arg("start")
        .arg(&dovecot_dir)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "scripts/dovecot.sh start");
    let mut started = Started {
        dovecot: Some((script, dovecot_dir.clone())),
        driver: None,
    };
    let dc = env_file(&dovecot_dir.join("env"));
    let mail_root = PathBuf::from(&dc["DOVECOT_MAIL_ROOT"]);
    let password = work.path().join("mail.password");
    std::fs::write(&password, &dc["DOVECOT_PASSWORD"]).unwrap();

    // leadgate with the default configuration: one HTTP source, one IMAP collector (push on, the default) and
    // one with push off for the schedule alone; an administrator's token for the API, and webhooks allowed
    // to a receiver on loopback (as they would be to the shop's own network).
    let mut settings = Settings::default();
    settings.layout_files.enabled = false;
    let db = work.path().join("leadgate.db");
    settings.database.url = format!("sqlite://{}", db.display());
    let token_file = work.path().join("website.token");
    std::fs::write(&token_file, WEBSITE_TOKEN).unwrap();
    settings.http_sources = vec![leadgate::config::HttpSourceConfig {
        name: "website".into(),
        token_file: Some(token_file),
        rate_limit_per_client: Some(0),
        rate_limit_total: Some(0),
        ..leadgate::config::HttpSourceConfig::default()
    }];
    let admin_token_file = work.path().join("admin.token");
    std::fs::write(&admin_token_file, ADMIN_TOKEN).unwrap();
    settings.server.admin_token_file = Some(admin_token_file);
    settings.webhooks.allow_private_addresses = true;
    let collector = |(name, user): (&str, &str), push: bool| CollectorConfig {
        tls: TlsMode::None,
        password_file: Some(password.clone()),
        push,
        ..CollectorConfig::new(
            name,
            Protocol::Imap,
            "127.0.0.1",
            dc["DOVECOT_IMAP_PORT"].parse().unwrap(),
            user,
        )
    };
    settings.collectors = vec![collector(PUSHED, true)];
    if scheduled > 0 {
        settings.collectors.push(collector(SCHEDULED, false));
    }
    let cron = settings.schedule.mail_collector.cron.clone();
    let interval = {
        let schedule = leadgate::config::parse_cron(&cron).unwrap();
        let next = schedule.find_next_occurrence(&Utc::now(), false).unwrap();
        let after = schedule.find_next_occurrence(&next, false).unwrap();
        (after - next).to_std().unwrap()
    };
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
    let addr = listener.local_addr().unwrap().to_string();
    let base = format!("http://{addr}");
    let app = Application::build(settings, listener).await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    let api = Api {
        base: base.clone(),
        http: reqwest::Client::new(),
    };

    // The webhook receiver: when each order (by the number in its lead's subject) first arrived; a webhook
    // for every calendar.
    let hooks: Arc<Mutex<HashMap<String, f64>>> = Arc::default();
    let receiver = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let receiver_url = format!("http://{}/hook", receiver.local_addr().unwrap());
    {
        let hooks = hooks.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |body: String| {
                let at = now_ms();
                let hooks = hooks.clone();
                async move {
                    if let Some(number) = webhook_order(&body) {
                        hooks.lock().unwrap().entry(number).or_insert(at);
                    }
                    "ok"
                }
            }),
        );
        tokio::spawn(async move { axum::serve(receiver, app).await });
    }
    for calendar in api.get("/api/v1/calendars").await.as_array().unwrap() {
        let r = api
            .http
            .post(format!("{base}/api/v1/webhooks"))
            .bearer_auth(ADMIN_TOKEN)
            .json(&serde_json::json!({"calendar_id": calendar["id"], "url": receiver_url}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap_or_default());
    }

    // Chromium, signed in, on the inbox.
    let driver_bin =
        std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let port = free_port();
    started.driver = Some(
        Command::new(&driver_bin)
            .process_group(0)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
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

    // Push must be up before mail is measured: the collector list says so, and a first order mail (not
    // measured) reaches the page.
    api.push_ready(PUSHED.0).await;
    deliver(&mail_root, PUSHED.1, &mail(10_000), 10_000);
    if arrival(&browser, "10000", PATIENCE).await.is_none() {
        panic!(
            "the first order mail was not on the page after {PATIENCE:?}\n{}",
            api.what_the_server_knew().await
        );
    }

    // The schedule alone: push-off orders dropped at even intervals over one period, while the rest runs.
    let scheduled_orders = {
        let mail_root = mail_root.clone();
        let start = tokio::time::Instant::now();
        tokio::spawn(async move {
            let mut sent = Vec::with_capacity(scheduled);
            for k in 0..scheduled {
                tokio::time::sleep_until(start + interval * k as u32 / scheduled as u32).await;
                let number = 30_001 + k;
                sent.push((number.to_string(), now_ms()));
                deliver(&mail_root, SCHEDULED.1, &mail(number), number);
            }
            sent
        })
    };

    println!(
        "Lead-to-screen latency, one order at a time, {orders} per channel (default configuration: push on, \
         schedule \"{cron}\", every {} s)",
        interval.as_secs()
    );
    let mut sent_at = Vec::with_capacity(2 * orders);
    let mut on_screen = HashMap::new();
    for n in 1..=orders {
        let number = 20_000 + n;
        let body = SAMPLE.replace("№123", &format!("№{number}"));
        let sent = now_ms();
        sent_at.push((number.to_string(), sent));
        let r = api
            .http
            .post(format!("{base}/api/v1/intake"))
            .bearer_auth(WEBSITE_TOKEN)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap_or_default());
        let marker = number.to_string();
        let Some(at) = arrival(&browser, &marker, PATIENCE).await else {
            panic!(
                "HTTP order {number} was not on the page after {PATIENCE:?}\n{}",
                api.what_the_server_knew().await
            );
        };
        on_screen.insert(marker, at);
    }
    let by_http = latencies("(a)", &sent_at, &on_screen);
    for n in 1..=orders {
        let number = 10_000 + n;
        let sent = now_ms();
        sent_at.push((number.to_string(), sent));
        deliver(&mail_root, PUSHED.1, &mail(number), number);
        let marker = number.to_string();
        let Some(at) = arrival(&browser, &marker, PATIENCE).await else {
            panic!(
                "order mail {number} was not on the page after {PATIENCE:?}\n{}",
                api.what_the_server_knew().await
            );
        };
        on_screen.insert(marker, at);
    }
    let by_mail = latencies("(b)", &sent_at[orders..], &on_screen);

    // (c) The webhook receiver, for the same orders of both channels.
    let deadline = Instant::now() + PATIENCE;
    while Instant::now() < deadline && {
        let hooks = hooks.lock().unwrap();
        sent_at
            .iter()
            .any(|(number, _)| !hooks.contains_key(number))
    } {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let hooked = hooks.lock().unwrap().clone();
    let hooks_http = latencies("(c) webhook", &sent_at[..orders], &hooked);
    let hooks_mail = latencies("(c) webhook", &sent_at[orders..], &hooked);

    summary("(a) HTTP order -> open inbox", by_http);
    summary("(b) order mail -> open inbox (IMAP IDLE)", by_mail);
    summary("(c) HTTP order -> webhook receiver", hooks_http);
    summary("(c) order mail -> webhook receiver", hooks_mail);

    // The schedule alone: each push-off order waits for the next run.
    let wait = interval.as_secs_f64() * 1000.0;
    println!(
        "schedule alone: an order mail waits for the next run of \"{cron}\": evenly 0 to {wait:.0} ms, so \
         p50 {:.0} ms, p99 {:.0} ms, max {wait:.0} ms, plus the run",
        wait * 0.50,
        wait * 0.99
    );
    let scheduled_sent = scheduled_orders.await.unwrap();
    if !scheduled_sent.is_empty() {
        eprintln!(
            "(waiting up to {} s for the push-off orders' scheduled run)",
            interval.as_secs()
        );
        let mut on_schedule = HashMap::new();
        for (number, _) in &scheduled_sent {
            let Some(at) = arrival(&browser, number, interval + PATIENCE).await else {
                panic!(
                    "push-off order mail {number} was not on the page after a period and {PATIENCE:?}\n{}",
                    api.what_the_server_knew().await
                );
            };
            on_schedule.insert(number.clone(), at);
        }
        summary(
            "(b) order mail -> open inbox, push off (measured)",
            latencies("push off", &scheduled_sent, &on_schedule),
        );
    }

    live_pages(&api, &addr, &browser).await;

    browser.close().await.unwrap();
    let _ = stop.send(());
    let _ = server.await;
    drop(started);
}
