//! Live pages with several instances on one PostgreSQL database: a page's stream opened on one `serve`
//! process carries the leads posted to and changed on another (relayed by `NOTIFY`/`LISTEN`), only what its
//! viewer may see, each event once; after the listener's connection was killed the page reloads its list
//! and gets what is posted afterwards.
//!
//! These run when the tests run against PostgreSQL (`LEADGATE_TEST_BACKEND=postgres`); SQLite serves one
//! process, whose live pages `ui_live` covers.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::TestDir;
use common::serve::{ADMIN_TOKEN, Instance, config};
use leadgate_domain::account::Role;
use leadgate_storage::Storage;
use serde_json::Value;
use sqlx::{Connection, PgConnection};

/// Long enough for a loaded CI machine; a relayed lead takes well under a second.
const PATIENCE: Duration = Duration::from_secs(60);

/// Whether the tests run against PostgreSQL; says why a test is skipped otherwise.
fn on_postgres(test: &str) -> bool {
    common::postgres_only(&format!(
        "{test}: several instances share a PostgreSQL database only; SQLite's one process is covered by ui_live"
    ))
}

/// Two instances on a fresh PostgreSQL database, the first started (and the database provisioned) first.
async fn two_instances() -> (TestDir, Instance, Instance) {
    let dir = TestDir::new_postgres().await;
    let config = config(&dir, "");
    let a = Instance::start(&config);
    let b = Instance::start(&config);
    // Each listener connects once its instance serves: nothing is posted before both listen.
    let mut db = PgConnection::connect(&dir.database_url()).await.unwrap();
    both_listen_again(&mut db, &HashSet::new()).await;
    db.close().await.unwrap();
    (dir, a, b)
}

async fn storage(dir: &TestDir) -> std::sync::Arc<dyn Storage> {
    common::backend::storage_at(&dir.database_url()).await
}

async fn add_user(s: &dyn Storage, login: &str, password: &str) -> i64 {
    let hash = leadgate::password::hash(password.to_owned()).await.unwrap();
    s.create_user(login, login, Role::Manager, Some(&hash))
        .await
        .unwrap()
}

/// A browser-like client with a cookie jar, signed in through the sign-in form of `instance`. A browser
/// behind a load balancer sends the cookie to whichever instance answers: the jar does the same.
async fn signed_in(instance: &Instance, login: &str, password: &str) -> reqwest::Client {
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let form = client
        .get(format!("{}/login", instance.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let at = form.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    let csrf = form[at..].split('"').next().unwrap().to_owned();
    let r = client
        .post(format!("{}/login", instance.base))
        .form(&[
            ("login", login),
            ("password", password),
            ("csrf", &csrf),
            ("next", "/inbox"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "sign-in of {login}");
    client
}

async fn post_lead(instance: &Instance, token: Option<&str>, json: &str) -> i64 {
    let r = instance.post(&reqwest::Client::new(), token, json).await;
    assert_eq!(r.status(), 201);
    r.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
}

/// An HTTP source posting into `calendar`; returns its token.
async fn source_into(s: &dyn Storage, calendar: i64) -> String {
    let token = leadgate::tokens::generate();
    s.create_http_source(
        &format!("site-{calendar}"),
        calendar,
        &leadgate::tokens::hash(&token),
    )
    .await
    .unwrap();
    token
}

/// One event of a stream: its `event`, `id` and `data` fields.
#[derive(Debug, Default)]
struct SseEvent {
    event: String,
    id: String,
    data: String,
}

/// Reads a Server-Sent Events response as it comes.
struct SseReader {
    response: reqwest::Response,
    buffer: Vec<u8>,
    /// Everything read so far.
    seen: String,
}

impl SseReader {
    async fn open(instance: &Instance, client: &reqwest::Client, path: &str) -> Self {
        let response = client
            .get(format!("{}{path}", instance.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        Self {
            response,
            buffer: Vec::new(),
            seen: String::new(),
        }
    }

    async fn next(&mut self) -> SseEvent {
        loop {
            if let Some(end) = self.buffer.windows(2).position(|w| w == b"\n\n") {
                let block: Vec<u8> = self.buffer.drain(..end + 2).collect();
                let block = String::from_utf8(block).unwrap();
                self.seen.push_str(&block);
                let mut event = SseEvent::default();
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        event.event = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("id:") {
                        event.id = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        event.data.push_str(v.trim_start());
                    }
                }
                if event.event.is_empty() && event.data.is_empty() {
                    continue; // a keep-alive comment
                }
                return event;
            }
            let chunk = tokio::time::timeout(PATIENCE, self.response.chunk())
                .await
                .expect("an event in time")
                .unwrap()
                .expect("the stream stays open");
            self.buffer.extend_from_slice(&chunk);
        }
    }

    /// The next lead event: its lead id and data.
    async fn next_lead(&mut self) -> (i64, Value) {
        let event = self.next().await;
        assert_eq!(event.event, "lead", "{event:?}");
        let data: Value = serde_json::from_str(&event.data).unwrap();
        (data["id"].as_i64().unwrap(), data)
    }

    /// Reads lead events until the one of lead `id`; returns it and the ids read before it.
    async fn until_lead(&mut self, id: i64) -> (Value, Vec<i64>) {
        let mut before = Vec::new();
        loop {
            let (seen, data) = self.next_lead().await;
            if seen == id {
                return (data, before);
            }
            before.push(seen);
        }
    }
}

#[tokio::test]
async fn a_page_open_on_one_instance_gets_leads_posted_and_changed_on_another_each_once() {
    if !on_postgres(
        "a_page_open_on_one_instance_gets_leads_posted_and_changed_on_another_each_once",
    ) {
        return;
    }
    let (dir, a, b) = two_instances().await;
    let s = storage(&dir).await;
    add_user(s.as_ref(), "manager1", "manager-password").await;
    // Signed in on A; the session works on B.
    let manager = signed_in(&a, "manager1", "manager-password").await;
    let mut on_b = SseReader::open(&b, &manager, "/inbox/events").await;
    let mut on_a = SseReader::open(&a, &manager, "/inbox/events").await;

    let posted = post_lead(
        &a,
        None,
        r#"{"Тема": "Заказ с сайта", "Телефон": "+7 916 123-45-67"}"#,
    )
    .await;
    let (data, _) = on_b.until_lead(posted).await;
    assert_eq!(data["change"], "new");
    assert_eq!(data["title"], "Заказ с сайта");
    assert_eq!(data["phone"], "+7 916 123-45-67");

    let r = reqwest::Client::new()
        .patch(format!("{}/api/v1/leads/{posted}", a.base))
        .bearer_auth(ADMIN_TOKEN)
        .json(&serde_json::json!({"status": "in_progress"}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let (data, before) = on_b.until_lead(posted).await;
    assert_eq!(data["change"], "updated");
    assert_eq!(data["status_key"], "in_progress", "{data}");
    assert!(before.is_empty(), "{before:?}");

    // B's own lead: published by B at once, and not again when B's own relay note comes back. Once A has
    // it (through the relay, so its note is out), a lead posted on A after it reaches B after that note.
    let own = post_lead(&b, None, r#"{"Тема": "Заказ на B"}"#).await;
    let (data, before) = on_b.until_lead(own).await;
    assert_eq!(data["change"], "new");
    assert!(before.is_empty(), "{before:?}");
    on_a.until_lead(own).await;
    let later = post_lead(&a, None, r#"{"Тема": "Заказ на A"}"#).await;
    let (_, before) = on_b.until_lead(later).await;
    assert!(
        before.is_empty(),
        "B's stream carries its own lead twice: {before:?}"
    );
    // A's stream has had every event once, in order, its own lead included.
    let (_, before) = on_a.until_lead(later).await;
    assert!(before.is_empty(), "{before:?}");
    assert_eq!(
        on_a.seen.matches("\"change\":\"new\"").count(),
        3,
        "{}",
        on_a.seen
    );
}

#[tokio::test]
async fn a_stream_on_another_instance_never_carries_a_lead_of_another_managers_personal_calendar() {
    if !on_postgres(
        "a_stream_on_another_instance_never_carries_a_lead_of_another_managers_personal_calendar",
    ) {
        return;
    }
    let (dir, a, b) = two_instances().await;
    let s = storage(&dir).await;
    let me = add_user(s.as_ref(), "manager1", "manager-password").await;
    let other = add_user(s.as_ref(), "manager2", "manager2-password").await;
    let mine = s
        .create_calendar("Мой календарь", Some(me), "#16a34a")
        .await
        .unwrap();
    let theirs = s
        .create_calendar("Чужой календарь", Some(other), "#dc2626")
        .await
        .unwrap();
    let to_mine = source_into(s.as_ref(), mine).await;
    let to_theirs = source_into(s.as_ref(), theirs).await;
    let m1 = signed_in(&a, "manager1", "manager-password").await;
    let m2 = signed_in(&a, "manager2", "manager2-password").await;
    let mut mine_stream = SseReader::open(&b, &m1, "/inbox/events").await;
    let mut calendar_stream = SseReader::open(&b, &m1, "/calendar/events").await;
    let mut theirs_stream = SseReader::open(&b, &m2, "/inbox/events").await;

    let secret = post_lead(
        &a,
        Some(&to_theirs),
        r#"{"Тема": "Секретный заказ", "Телефон": "+7 916 111-11-11"}"#,
    )
    .await;
    let shared = post_lead(
        &a,
        None,
        r#"{"Тема": "Общий заказ", "Телефон": "+7 916 222-22-22"}"#,
    )
    .await;
    let own = post_lead(
        &a,
        Some(&to_mine),
        r#"{"Тема": "Мой заказ", "Телефон": "+7 916 333-33-33"}"#,
    )
    .await;

    // The other manager's stream on B carries their lead…
    let (data, _) = theirs_stream.until_lead(secret).await;
    assert_eq!(data["title"], "Секретный заказ");
    theirs_stream.until_lead(shared).await;
    // …the first manager's streams on B the shared and their own one, and nothing of the secret one (posted
    // before both).
    let (_, before) = mine_stream.until_lead(shared).await;
    assert!(before.is_empty(), "{before:?}");
    mine_stream.until_lead(own).await;
    calendar_stream.until_lead(shared).await;
    calendar_stream.until_lead(own).await;
    for seen in [&mine_stream.seen, &calendar_stream.seen] {
        assert!(!seen.contains("Секретный"), "{seen}");
        assert!(!seen.contains("111-11-11"), "{seen}");
        assert!(!seen.contains(&format!("\"id\":{secret},")), "{seen}");
    }
}

/// The server processes of the instances' live listeners on this database, idle and listening.
async fn listening(db: &mut PgConnection) -> HashSet<i32> {
    sqlx::query_scalar(
        "SELECT pid FROM pg_stat_activity
         WHERE datname = current_database() AND application_name = 'leadgate live'
           AND state = 'idle' AND query LIKE 'LISTEN%'",
    )
    .fetch_all(db)
    .await
    .unwrap()
    .into_iter()
    .collect()
}

/// Polls until both instances listen, on connections other than `killed`.
async fn both_listen_again(db: &mut PgConnection, killed: &HashSet<i32>) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let now = listening(db).await;
        if now.len() == 2 && now.is_disjoint(killed) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the live listeners never listened again: {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn after_its_listener_is_killed_a_page_reloads_and_gets_the_leads_posted_afterwards() {
    if !on_postgres(
        "after_its_listener_is_killed_a_page_reloads_and_gets_the_leads_posted_afterwards",
    ) {
        return;
    }
    let (dir, a, b) = two_instances().await;
    let s = storage(&dir).await;
    add_user(s.as_ref(), "manager1", "manager-password").await;
    let manager = signed_in(&a, "manager1", "manager-password").await;
    let mut on_b = SseReader::open(&b, &manager, "/inbox/events").await;
    let first = post_lead(&a, None, r#"{"Тема": "До обрыва"}"#).await;
    on_b.until_lead(first).await;

    let mut db = PgConnection::connect(&dir.database_url()).await.unwrap();
    let killed = listening(&mut db).await;
    assert_eq!(killed.len(), 2, "one listener per instance: {killed:?}");
    for pid in &killed {
        let ended: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
            .bind(pid)
            .fetch_one(&mut db)
            .await
            .unwrap();
        assert!(ended);
    }
    both_listen_again(&mut db, &killed).await;
    db.close().await.unwrap();
    // What other instances committed while it did not listen was not heard: the open page reloads its list…
    let event = on_b.next().await;
    assert_eq!(event.event, "reload", "{event:?}");
    assert!(
        b.log()
            .contains("the live relay lost its connection and listens again"),
        "{}",
        b.log()
    );

    // …and its new stream gets what is posted afterwards.
    let mut reloaded = SseReader::open(&b, &manager, "/inbox/events").await;
    let after = post_lead(&a, None, r#"{"Тема": "После обрыва"}"#).await;
    let (data, before) = reloaded.until_lead(after).await;
    assert_eq!(data["title"], "После обрыва");
    assert!(before.is_empty(), "{before:?}");
}

/// One instance on a fresh PostgreSQL database, with a manager's inbox open on it: the directory, the
/// configuration file, the instance and the page's stream.
async fn one_open_page() -> (TestDir, std::path::PathBuf, Instance, SseReader) {
    let dir = TestDir::new_postgres().await;
    let config = config(&dir, "");
    let a = Instance::start(&config);
    let s = storage(&dir).await;
    add_user(s.as_ref(), "manager1", "manager-password").await;
    let manager = signed_in(&a, "manager1", "manager-password").await;
    let page = SseReader::open(&a, &manager, "/inbox/events").await;
    (dir, config, a, page)
}

#[tokio::test]
async fn leads_a_one_shot_import_commits_reach_a_page_open_on_a_serving_instance() {
    if !on_postgres("leads_a_one_shot_import_commits_reach_a_page_open_on_a_serving_instance") {
        return;
    }
    let (dir, config, _a, mut page) = one_open_page().await;

    // `leadgate import` of many files: a process that serves no pages, commits and exits. What it committed
    // last is relayed before it exits, not lost with the process.
    const FILES: usize = 300;
    let files = dir.path().join("import");
    std::fs::create_dir(&files).unwrap();
    let paths: Vec<std::path::PathBuf> = (0..FILES)
        .map(|i| {
            let path = files.join(format!("order-{i}.json"));
            let json = serde_json::json!({"Тема": format!("Заказ из файла {i}")}).to_string();
            std::fs::write(&path, json).unwrap();
            path
        })
        .collect();
    let mut import = common::cli::leadgate_process();
    import
        .arg("--config")
        .arg(&config)
        .arg("import")
        .args(&paths);
    let output = common::cli::output(import).await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let mut db = PgConnection::connect(&dir.database_url()).await.unwrap();
    let imported: HashSet<i64> = sqlx::query_scalar("SELECT id FROM leads WHERE channel = 'file'")
        .fetch_all(&mut db)
        .await
        .unwrap()
        .into_iter()
        .collect();
    db.close().await.unwrap();
    assert_eq!(imported.len(), FILES);
    let shown = all_shown(&mut page, &imported).await;
    assert_eq!(shown, imported);
}

/// Reads lead events from `page` until every lead of `expected` was shown as new, at most [`PATIENCE`];
/// the leads shown.
async fn all_shown(page: &mut SseReader, expected: &HashSet<i64>) -> HashSet<i64> {
    let mut shown = HashSet::new();
    let read = async {
        while shown.len() < expected.len() {
            let (id, data) = page.next_lead().await;
            assert_eq!(data["change"], "new", "{data}");
            assert!(expected.contains(&id), "{data}");
            shown.insert(id);
        }
    };
    if tokio::time::timeout(PATIENCE, read).await.is_err() {
        panic!(
            "{} of {} leads never reached the page",
            expected.len() - shown.len(),
            expected.len()
        );
    }
    shown
}

#[tokio::test]
async fn a_one_shot_process_hands_what_it_committed_to_the_relay_before_it_ends() {
    if !on_postgres("a_one_shot_process_hands_what_it_committed_to_the_relay_before_it_ends") {
        return;
    }
    let (dir, _config, _a, mut page) = one_open_page().await;

    // A process that serves no pages, on a runtime of its own that ends the moment `flush` returns, as a
    // one-shot command's process ends after it: whatever the relay had not sent by then is lost.
    const LEADS: usize = 200;
    let settings = common::settings_in(&dir);
    let committed: HashSet<i64> = tokio::task::spawn_blocking(move || {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let committed = runtime.block_on(async {
            let services = leadgate::startup::Services::open(settings).await.unwrap();
            let services = &services;
            let ids = futures::future::join_all((0..LEADS).map(|i| async move {
                common::submit_file_lead(services, &format!("one-shot-{i}")).await
            }))
            .await;
            services.live.flush().await;
            ids
        });
        runtime.shutdown_background();
        committed.into_iter().collect()
    })
    .await
    .unwrap();
    assert_eq!(committed.len(), LEADS);
    let shown = all_shown(&mut page, &committed).await;
    assert_eq!(shown, committed);
}
