//! `leadgate db copy --from URL --to URL`: a whole shop moved between databases of either backend, every id
//! kept, verified table by table; a target that holds data is refused; no password is ever printed.
//!
//! The shop is real: leads through the HTTP intake and through a mail collector reading the test Dovecot,
//! a rejected request and a rejected mail, tech cards, a manager with a password, a signed-in session and an
//! API token. It goes SQLite -> PostgreSQL -> SQLite; the last copy must answer the read API as the original
//! does, the session and the token still work, and collecting the same mailbox again imports nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
mod ui_support;

use std::path::Path;
use std::process::Output;

use common::dovecot::{Dovecot, dovecot, unique_user};
use common::{SEED_SAMPLE, TestApp};
use leadgate::config::{CollectorConfig, Settings};
use leadgate_domain::account::Role;
use leadgate_domain::collector::{Protocol, TlsMode};
use leadgate_sqlite::SqliteStorage;
use leadgate_storage::transfer::{CopiedTable, table_checksums};
use serde_json::Value;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/mail");

/// The manager's API token, as the user would keep it.
const MANAGER_TOKEN: &str = "manager-token-for-the-copy-test";

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(Path::new(FIXTURES).join(format!("{name}.eml"))).unwrap()
}

/// The collector "site" reading `user`'s mailbox in the test Dovecot over plain IMAP, its password in a file
/// in `dir`; the scheduled job off.
fn with_collector(dc: &Dovecot, user: &str, dir: &Path) -> impl FnOnce(&mut Settings) {
    let password = dir.join("mail.password");
    std::fs::write(&password, format!("{}\n", dc.var("DOVECOT_PASSWORD"))).unwrap();
    let config = CollectorConfig {
        tls: TlsMode::None,
        password_file: Some(password),
        ..CollectorConfig::new(
            "site",
            Protocol::Imap,
            "localhost",
            dc.port("DOVECOT_IMAP_PORT"),
            user,
        )
    };
    move |s: &mut Settings| {
        s.schedule.mail_collector.enabled = false;
        s.collectors = vec![config];
    }
}

fn sqlite_url(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("leadgate.db").display())
}

/// `leadgate db copy --from FROM --to TO`, from an environment without `LEADGATE_*` variables.
fn db_copy(from: &str, to: &str) -> Output {
    common::cli::leadgate()
        .env("RUST_LOG", "warn")
        .args(["db", "copy", "--from", from, "--to", to])
        .output()
        .unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn assert_copied(output: &Output) {
    assert_eq!(output.status.code(), Some(0), "{}", text(output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    for table in [
        "leads",
        "messages",
        "message_raw_parts",
        "collector_state",
        "sessions",
    ] {
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with(table) && l.ends_with("yes")),
            "{table} verified: {stdout}"
        );
    }
}

/// Every item of a read-API list, following its cursors.
async fn all(app: &TestApp, path: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let sep = if path.contains('?') { '&' } else { '?' };
        let page = match &cursor {
            Some(c) => app.get(&format!("{path}{sep}limit=500&cursor={c}")).await,
            None => app.get(&format!("{path}{sep}limit=500")).await,
        };
        items.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return items,
        }
    }
}

/// What the read API answers about the shop: every lead (list and detail), every ledger record with its raw
/// bytes, the counterparties, tech cards, calendars and collectors.
async fn read_api(app: &TestApp) -> Vec<(String, Value)> {
    let mut answers = Vec::new();
    let leads = all(app, "/api/v1/leads").await;
    answers.push(("/api/v1/leads".to_owned(), Value::Array(leads.clone())));
    for lead in &leads {
        let path = format!("/api/v1/leads/{}", lead["id"]);
        let detail = app.get(&path).await;
        if let Some(inn) = detail["counterparty"]["inn"].as_str() {
            let path = format!("/api/v1/counterparties?inn={inn}");
            answers.push((path.clone(), app.get(&path).await));
        }
        if lead["kind"] == "order" {
            // Forming them again changes nothing: it answers with the cards the lead has.
            let cards = app.post(&format!("{path}/tech-cards")).await;
            assert!(cards.status().is_success());
            let cards: Value = cards.json().await.unwrap();
            assert!(!cards.as_array().unwrap().is_empty());
            for card in cards.as_array().into_iter().flatten() {
                let path = format!("/api/v1/tech-cards/{}", card["id"]);
                answers.push((path.clone(), app.get(&path).await));
            }
        }
        // The lead search finds it by its e-mail, or by its phone's digits, through the search index that the
        // copy wrote for its leads.
        let fragment = detail["contact"]["email"]
            .as_str()
            .or(detail["contact"]["phone_e164"].as_str())
            .map(|f| f.trim_start_matches('+').to_owned());
        if let Some(fragment) = fragment {
            let search = format!(
                "/api/v1/leads?search={}",
                percent_encoding::utf8_percent_encode(
                    &fragment,
                    percent_encoding::NON_ALPHANUMERIC
                )
            );
            let found = app.get(&search).await;
            let ids: Vec<&Value> = found["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| &l["id"])
                .collect();
            assert!(ids.contains(&&lead["id"]), "{search}: {found}");
            answers.push((search, found));
        }
        answers.push((path, detail));
    }
    let messages = all(app, "/api/v1/messages").await;
    for message in &messages {
        if message["has_raw"] == true {
            let raw = app.raw(&message["id"]).await;
            assert_eq!(raw.status().as_u16(), 200);
            let bytes = raw.bytes().await.unwrap();
            answers.push((
                format!("/api/v1/messages/{}/raw", message["id"]),
                Value::String(hex::encode(bytes)),
            ));
        }
    }
    answers.push(("/api/v1/messages".to_owned(), Value::Array(messages)));
    answers.push((
        "/api/v1/calendars".to_owned(),
        app.get("/api/v1/calendars").await,
    ));
    answers.push((
        "/api/v1/collectors".to_owned(),
        app.get("/api/v1/collectors").await,
    ));
    answers
}

/// Builds the shop in `dir`, its collector's password in `secrets`; returns a client signed in as the manager.
async fn make_shop(
    dc: &Dovecot,
    user: &str,
    dir: tempfile::TempDir,
    secrets: &Path,
) -> (reqwest::Client, TempShop) {
    for name in ["seed_sample", "nodemailer_utf8_json", "broken_json"] {
        dc.deliver(user, &fixture(name));
    }
    let app = TestApp::spawn_in(dir, with_collector(dc, user, secrets)).await;

    // The HTTP channel: an order, a contact lead under an idempotency key, a body that is not JSON.
    let order = app.intake_json(SEED_SAMPLE).await;
    assert_eq!(order.status().as_u16(), 201);
    let contact = app
        .client
        .post(format!("{}/api/v1/intake", app.base))
        .bearer_auth(&app.source_token)
        .header("content-type", "application/json")
        .header("idempotency-key", "callback-1")
        .body(r#"{"Тема": "Перезвоните", "Телефон": "8 (916) 123-45-67", "КонтактноеЛицо": "Мария Иванова"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(contact.status().as_u16(), 201);
    assert_eq!(app.intake_json("{\"Тема\": ").await.status().as_u16(), 400);

    // The mail channel: two orders imported, one rejected; the scan position is kept.
    let run = app.run_collector_now("site").await;
    assert_eq!(run["counts"]["imported"], 2, "{run}");
    assert_eq!(run["counts"]["rejected"], 1, "{run}");

    // Tech cards for every order.
    for lead in all(&app, "/api/v1/leads").await {
        if lead["kind"] != "order" {
            continue;
        }
        let cards = app
            .post(&format!("/api/v1/leads/{}/tech-cards", lead["id"]))
            .await;
        assert!(cards.status().is_success());
    }

    // A manager with a password, signed in (a session), with an API token.
    let manager = ui_support::add_user(&app, "manager1", Role::Manager, "manager-password-1").await;
    let storage = ui_support::storage(&app).await;
    let token_hash = hex::encode(sha2::Digest::finalize(
        <sha2::Sha256 as sha2::Digest>::new_with_prefix(MANAGER_TOKEN),
    ));
    storage
        .create_api_token(manager, "phone", &token_hash)
        .await
        .unwrap();
    let browser = ui_support::signed_in(&app, "manager1", "manager-password-1").await;
    let (status, _) = ui_support::get(&app, &browser, "/inbox").await;
    assert_eq!(status, 200);
    (browser, TempShop(app.stop().await))
}

/// The shop's directory, its server stopped.
struct TempShop(common::TestDir);

impl TempShop {
    fn url(&self) -> String {
        self.0.database_url()
    }
}

async fn checksums(url: &str) -> Vec<CopiedTable> {
    let storage = SqliteStorage::connect(url).await.unwrap();
    table_checksums(&storage).await.unwrap()
}

/// A fresh PostgreSQL database on the test server: its URL (with the test role's password) and the guard
/// that drops it.
async fn fresh_postgres() -> (String, leadgate_postgres::testing::FreshPg) {
    let pg = leadgate_postgres::testing::FreshPg::new().await;
    (pg.url().to_owned(), pg)
}

/// The password of a URL, as it must never be printed.
fn password_of(url: &str) -> String {
    url::Url::parse(url)
        .unwrap()
        .password()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_shop_copied_to_postgresql_and_back_answers_the_read_api_as_before() {
    let dc = dovecot();
    let user = unique_user("db_copy");
    let secrets = tempfile::tempdir().unwrap();
    let (browser, shop) = make_shop(&dc, &user, tempfile::tempdir().unwrap(), secrets.path()).await;
    let original = checksums(&shop.url()).await;
    assert!(
        original
            .iter()
            .any(|t| t.name == "collector_state" && t.rows == 1)
    );
    assert!(original.iter().any(|t| t.name == "sessions" && t.rows >= 1));

    // SQLite -> PostgreSQL -> SQLite, through the command.
    let (pg_url, _pg) = fresh_postgres().await;
    let to_pg = db_copy(&shop.url(), &pg_url);
    assert_copied(&to_pg);
    let password = password_of(&pg_url);
    assert!(!password.is_empty());
    assert!(!text(&to_pg).contains(&password), "{}", text(&to_pg));
    let back_dir = tempfile::tempdir().unwrap();
    let back = db_copy(&pg_url, &sqlite_url(back_dir.path()));
    assert_copied(&back);
    assert!(!text(&back).contains(&password), "{}", text(&back));
    // The copy is its file alone: no write-ahead log is left beside it, and the file moved by itself holds
    // every row.
    assert!(!back_dir.path().join("leadgate.db-wal").exists());
    let alone = tempfile::tempdir().unwrap();
    std::fs::copy(
        back_dir.path().join("leadgate.db"),
        alone.path().join("leadgate.db"),
    )
    .unwrap();
    assert_eq!(checksums(&sqlite_url(alone.path())).await, original);

    // Table by table, the final copy holds the original's rows: same counts, same checksums.
    assert_eq!(checksums(&sqlite_url(back_dir.path())).await, original);

    // The read API answers the same.
    let app = TestApp::spawn_in(shop.0, with_collector(&dc, &user, secrets.path())).await;
    let copy = TestApp::spawn_in(back_dir, with_collector(&dc, &user, secrets.path())).await;
    let before = read_api(&app).await;
    let after = read_api(&copy).await;
    assert_eq!(before.len(), after.len());
    for ((path, a), (_, b)) in before.iter().zip(&after) {
        assert_eq!(a, b, "{path}");
    }
    assert_eq!(before, after);
    let leads = before.iter().find(|(p, _)| p == "/api/v1/leads").unwrap();
    let channels: Vec<_> = leads
        .1
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["source"]["channel"].clone())
        .collect();
    assert!(
        channels.contains(&Value::from("http")) && channels.contains(&Value::from("mail")),
        "{channels:?}"
    );

    // The manager's session and API token work on the copy.
    let (status, _) = ui_support::get(&copy, &browser, "/inbox").await;
    assert_eq!(
        status, 200,
        "the session made before the move is still signed in"
    );
    let with_token = copy
        .client
        .get(format!("{}/api/v1/leads", copy.base))
        .bearer_auth(MANAGER_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(with_token.status().as_u16(), 200);

    // Collecting the same mailbox again from the copy imports nothing new.
    let run = copy.run_collector_now("site").await;
    assert_eq!(run["counts"]["imported"], 0, "{run}");
    assert_eq!(run["error"], Value::Null, "{run}");
    let copied_leads = leads.1.as_array().unwrap().len();
    assert_eq!(copied_leads, 4, "two through the intake, two by mail");
    assert_eq!(all(&copy, "/api/v1/leads").await.len(), copied_leads);
    // New leads on the copy get new ids after the copied ones.
    let new = copy.intake_json(SEED_SAMPLE).await;
    assert_eq!(new.status().as_u16(), 201);
    let new: Value = new.json().await.unwrap();
    assert!(new["id"].as_i64().unwrap() > 4, "{new}");
    copy.stop().await;
    app.stop().await;
}

/// A target that holds any row is refused and left as it was; so is one on PostgreSQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_target_that_is_not_empty_is_refused() {
    let source = TestApp::spawn().await;
    assert_eq!(source.intake_json(SEED_SAMPLE).await.status().as_u16(), 201);
    let source = TempShop(source.stop().await);
    let target = TestApp::spawn().await;
    assert_eq!(target.intake_json(SEED_SAMPLE).await.status().as_u16(), 201);
    let target = TempShop(target.stop().await);
    let before = checksums(&target.url()).await;

    let refused = db_copy(&source.url(), &target.url());
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(text(&refused).contains("not empty"), "{}", text(&refused));
    assert_eq!(checksums(&target.url()).await, before);

    let (pg_url, _pg) = fresh_postgres().await;
    assert_copied(&db_copy(&source.url(), &pg_url));
    let again = db_copy(&source.url(), &pg_url);
    assert_eq!(again.status.code(), Some(1), "{}", text(&again));
    assert!(text(&again).contains("not empty"), "{}", text(&again));
    assert!(!text(&again).contains(&password_of(&pg_url)));
}

/// A wrong password gives one error naming the server and the database, never the password tried.
#[test]
fn a_wrong_password_is_named_as_a_failed_connection_without_the_password() {
    let server = leadgate_postgres::testing::server_url();
    let mut url = url::Url::parse(&server).unwrap();
    url.set_password(Some("not-the-password-8c1f")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let output = db_copy(url.as_str(), &sqlite_url(dir.path()));
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    let all = text(&output);
    assert!(!all.contains("not-the-password-8c1f"), "{all}");
    assert!(
        all.contains(&url.port().unwrap_or(5432).to_string()),
        "{all}"
    );
    let right = password_of(&server);
    assert!(right.is_empty() || !all.contains(&right), "{all}");
}

/// A source that does not exist (a mistyped path) is an error naming it, never an empty database copied and
/// "verified"; nothing is made at either end.
#[test]
fn a_source_file_that_does_not_exist_is_refused_and_nothing_is_made() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("typo").join("leadgate.db");
    let output = db_copy(
        &format!("sqlite://{}", missing.display()),
        &sqlite_url(dir.path()),
    );
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(
        text(&output).contains(&missing.display().to_string()),
        "{}",
        text(&output)
    );
    assert!(!missing.exists() && !missing.parent().unwrap().exists());
    assert!(!dir.path().join("leadgate.db").exists(), "no target made");
}

/// A PostgreSQL source is only read: one that is not leadgate's database at this version (a mistyped database
/// name, an older or a newer leadgate's) is refused with a reason, and nothing is written to it, nor copied.
#[tokio::test]
async fn a_postgresql_source_that_is_not_this_versions_leadgate_database_is_refused_untouched() {
    use sqlx::Connection as _;
    let (url, _pg) = fresh_postgres().await;
    let mut db = sqlx::PgConnection::connect(&url).await.unwrap();
    let newest: i64 = sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations")
        .fetch_one(&mut db)
        .await
        .unwrap();
    for (change, reason) in [
        (
            format!("DELETE FROM _sqlx_migrations WHERE version = {newest}"),
            "run `leadgate migrate` on it first",
        ),
        (
            format!(
                "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
                 VALUES ({}, 'from the future', true, '\\x00', 0)",
                newest + 1000
            ),
            "newer leadgate",
        ),
        (
            "DROP TABLE _sqlx_migrations".to_owned(),
            "holds no leadgate database",
        ),
    ] {
        sqlx::raw_sql(sqlx::AssertSqlSafe(change.clone()))
            .execute(&mut db)
            .await
            .unwrap();
        const TABLES: &str = "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'";
        let before: i64 = sqlx::query_scalar(TABLES).fetch_one(&mut db).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let output = db_copy(&url, &sqlite_url(dir.path()));
        assert_eq!(output.status.code(), Some(2), "{change}: {}", text(&output));
        assert!(text(&output).contains(reason), "{change}: {}", text(&output));
        assert!(!text(&output).contains(&password_of(&url)));
        let after: i64 = sqlx::query_scalar(TABLES).fetch_one(&mut db).await.unwrap();
        assert_eq!(after, before, "{change}: not migrated");
        let reapplied: bool = sqlx::query_scalar(
            "SELECT to_regclass('_sqlx_migrations') IS NOT NULL
                AND EXISTS (SELECT FROM _sqlx_migrations WHERE version = $1)",
        )
        .bind(newest)
        .fetch_one(&mut db)
        .await
        .unwrap_or(false);
        assert!(!reapplied, "{change}: the source was migrated");
        assert!(
            !dir.path().join("leadgate.db").exists(),
            "{change}: no target made"
        );
    }
}
