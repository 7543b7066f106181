//! Test support: the real application on a port-0 listener with a fresh database: SQLite, or PostgreSQL when
//! `LEADGATE_TEST_BACKEND=postgres` (see [`backend`]).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, missing_docs)]

pub mod backend;
pub mod cli;
pub mod dovecot;
pub mod forward;
pub mod postfix;
pub mod proxy;
pub mod serve;

use std::path::PathBuf;

#[allow(unused_imports)]
pub use backend::{TestDatabase, TestDir, WriteLock, on_postgres, postgres_only};
use leadgate::config::{HttpSourceConfig, Settings};
use leadgate::startup::Application;
use tokio::sync::oneshot;

pub const SEED_SAMPLE: &str = include_str!("../fixtures/seed_sample.json");

/// A running leadgate with its tokens.
pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub admin_token: String,
    pub source_token: String,
    dir: Option<TestDir>,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

/// The tests' settings for the directory and database of `test_dir`: its database, the administrator's
/// token and the source "website" in files there.
pub fn settings_in(test_dir: &TestDir) -> Settings {
    let dir = test_dir.path();
    let mut settings = Settings::default();
    // Tests reach loopback only: the seed sample's layout file is on a public site, so the downloader is off
    // unless a test switches it on (with its own server on loopback).
    settings.layout_files.enabled = false;
    settings.database.url = test_dir.database_url();
    if test_dir.is_postgres() {
        settings.database.data_dir = Some(dir.to_owned());
    }
    let admin = dir.join("admin.token");
    std::fs::write(&admin, "admin-token-for-tests\n").unwrap();
    settings.server.admin_token_file = Some(admin);
    let source = dir.join("website.token");
    std::fs::write(&source, "website-token-for-tests").unwrap();
    settings.http_sources = vec![HttpSourceConfig {
        name: "website".into(),
        calendar: None,
        token_env: None,
        token_file: Some(source),
        cors_origins: vec!["https://shop.example".into()],
        auto_tech_cards: false,
        ..HttpSourceConfig::default()
    }];
    settings
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(customise: impl FnOnce(&mut Settings)) -> Self {
        Self::spawn_in(tempfile::tempdir().unwrap(), customise).await
    }

    /// Starts leadgate on the database of `dir` (a restart when it already holds one).
    pub async fn spawn_in(dir: impl Into<TestDir>, customise: impl FnOnce(&mut Settings)) -> Self {
        let mut dir = dir.into();
        dir.ensure_database().await;
        let mut settings = settings_in(&dir);
        customise(&mut settings);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Application::build(settings, listener).await.unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let handle = tokio::spawn(app.run_until(async move {
            let _ = rx.await;
        }));
        TestApp {
            base: format!("http://{addr}"),
            client: reqwest::Client::new(),
            admin_token: "admin-token-for-tests".into(),
            source_token: "website-token-for-tests".into(),
            dir: Some(dir),
            shutdown: Some(tx),
            handle: Some(handle),
        }
    }

    pub fn dir(&self) -> &std::path::Path {
        self.dir
            .as_ref()
            .expect("the directory lives as long as the app")
            .path()
    }

    /// The SQLite database file (for the tests about SQLite itself).
    pub fn db_path(&self) -> PathBuf {
        assert!(
            !on_postgres(),
            "a test about the SQLite file runs on SQLite only"
        );
        self.dir().join("leadgate.db")
    }

    /// The database's URL (with its password on PostgreSQL: keep it out of assertions' messages).
    pub fn database_url(&self) -> String {
        self.test_dir().database_url()
    }

    /// The test's directory and database.
    pub fn test_dir(&self) -> &TestDir {
        self.dir
            .as_ref()
            .expect("the directory lives as long as the app")
    }

    /// What no storage trait offers, on this app's database.
    pub async fn database(&self) -> TestDatabase {
        TestDatabase::open(&self.database_url()).await.unwrap()
    }

    /// A second handle on this app's database, behind the storage traits.
    pub async fn storage(&self) -> std::sync::Arc<dyn leadgate_storage::Storage> {
        backend::storage_at(&self.database_url()).await
    }

    /// POSTs a body to the intake with the website's token.
    pub async fn intake(
        &self,
        body: impl Into<reqwest::Body>,
        content_type: &str,
    ) -> reqwest::Response {
        self.client
            .post(format!("{}/api/v1/intake", self.base))
            .bearer_auth(&self.source_token)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn intake_json(&self, json: &str) -> reqwest::Response {
        self.intake(json.to_owned(), "application/json").await
    }

    /// Downloads a ledger record's raw bytes as the administrator (`GET /api/v1/messages/{id}/raw`).
    pub async fn raw(&self, id: &serde_json::Value) -> reqwest::Response {
        self.client
            .get(format!("{}/api/v1/messages/{id}/raw", self.base))
            .bearer_auth(&self.admin_token)
            .send()
            .await
            .unwrap()
    }

    /// Posts a JSON `body` to the intake with a source's `token`, expects 201, and returns the answer.
    pub async fn post_created(&self, token: &str, body: &str) -> serde_json::Value {
        let response = self
            .client
            .post(format!("{}/api/v1/intake", self.base))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "{body}");
        response.json().await.unwrap()
    }

    /// Posts `payload` to the intake with a source's `token`, expects 201, and returns the new lead as the
    /// administrator reads it (the intake's answer names its customer by INN alone).
    pub async fn post_lead_with(
        &self,
        token: &str,
        payload: &serde_json::Value,
    ) -> serde_json::Value {
        let created = self.post_created(token, &payload.to_string()).await;
        let lead = self.get(&format!("/api/v1/leads/{}", created["id"])).await;
        assert_eq!(created["counterparty"]["inn"], lead["counterparty"]["inn"]);
        lead
    }

    /// GETs a read-API path as the administrator and returns the JSON.
    pub async fn get(&self, path: &str) -> serde_json::Value {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.admin_token)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "GET {path}: {}",
            response.status()
        );
        response.json().await.unwrap()
    }

    /// "Run now" over the API: asserts the 202 and its answer, then polls `GET /api/v1/collectors` until
    /// that run has finished and returns its `last_run` (`counts`, `error`, …).
    #[allow(dead_code)]
    pub async fn run_collector_now(&self, name: &str) -> serde_json::Value {
        let response = self.post(&format!("/api/v1/collectors/{name}/run")).await;
        assert_eq!(response.status().as_u16(), 202);
        assert_eq!(response.headers()["location"], "/api/v1/collectors");
        let started: serde_json::Value = response.json().await.unwrap();
        assert_eq!(started["collector"], name);
        self.finished_run(name, &started).await
    }

    /// Polls `GET /api/v1/collectors` until the run that `started` (a 202's body) announced has finished,
    /// and returns its `last_run`.
    #[allow(dead_code)]
    pub async fn finished_run(&self, name: &str, started: &serde_json::Value) -> serde_json::Value {
        let time = |v: &serde_json::Value| {
            chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap())
                .unwrap()
                .with_timezone(&chrono::Utc)
        };
        let accepted_at = time(&started["accepted_at"]);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        loop {
            let list = self.get("/api/v1/collectors").await;
            let run = list
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["name"] == name)
                .map(|c| c["last_run"].clone())
                .unwrap_or(serde_json::Value::Null);
            if run["started_at"].is_string()
                && time(&run["started_at"]) >= accepted_at
                && run["finished_at"].is_string()
            {
                return run;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the run of {name} never finished: {list}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    pub async fn post(&self, path: &str) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.admin_token)
            .send()
            .await
            .unwrap()
    }

    /// Stops the server gracefully, waits for it, and hands back its directory (database included).
    pub async fn stop(mut self) -> TestDir {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(handle) = self.handle.take() {
            handle.await.unwrap().unwrap();
        }
        self.dir.take().expect("stopped once")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// The payload in Windows-1251, as sites built for the 1C integration send it.
pub fn cp1251(text: &str) -> Vec<u8> {
    let (bytes, _, unmappable) = encoding_rs::WINDOWS_1251.encode(text);
    assert!(!unmappable);
    bytes.into_owned()
}

/// Files a contact lead through `services`' intake as an imported file would be (ledger key `key`); its id.
pub async fn submit_file_lead(services: &leadgate::startup::Services, key: &str) -> i64 {
    let text = serde_json::json!({"Тема": format!("Звонок {key}"), "Телефон": "+7 916 123-45-67"})
        .to_string();
    let payload =
        leadgate_domain::payload::Payload::from_json(&text, chrono_tz::Europe::Moscow).unwrap();
    let calendar_id = services.storage.calendars().await.unwrap()[0].id;
    let outcome = services
        .intake
        .submit(leadgate_storage::Submission::lead(
            leadgate_storage::LedgerEntry {
                source: leadgate_storage::SourceRef::File,
                ledger_key: Some(key.into()),
                mailbox_key: None,
                message_id: None,
                external_number: None,
                received_at: chrono::Utc::now(),
                raw: leadgate_storage::StoredRaw::new(text.into_bytes()),
                content_type: "application/json".into(),
                content_hash: None,
            },
            payload,
            calendar_id,
        ))
        .await
        .unwrap();
    match outcome {
        leadgate_storage::SubmitOutcome::Imported { lead_id, .. } => lead_id,
        other => panic!("not imported: {other:?}"),
    }
}
