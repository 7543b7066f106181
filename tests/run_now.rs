//! "Run now" and "test connection" start their work and answer at once, so a request timeout never cuts a
//! run short: the API answers 202 and the collector list shows the run going on and then its result; the UI
//! sends the browser to the list, which shows the work in progress and then its outcome. The mail server is a
//! hand-written one on loopback that says nothing until the test lets it go.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
mod ui_support;

use std::time::Duration;

use common::TestApp;
use leadgate::config::{CollectorConfig, Settings};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use ui_support::*;

/// A mail server that accepts one connection and stays silent until `release` is sent; then it hangs up.
struct SilentServer {
    port: u16,
    accepted: oneshot::Receiver<()>,
    release: oneshot::Sender<()>,
}

async fn silent_server() -> SilentServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (accepted_tx, accepted) = oneshot::channel();
    let (release, released) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let (socket, _) = listener.accept().await.unwrap();
        let _ = accepted_tx.send(());
        let _ = released.await;
        drop(socket);
    });
    SilentServer {
        port,
        accepted,
        release,
    }
}

/// Settings with a five-second request timeout and the collector "slow" on the silent server.
fn slow_collector(s: &mut Settings, port: u16) {
    s.server.request_timeout_secs = 5;
    s.schedule.mail_collector.enabled = false;
    let dir = leadgate::startup::data_dir(s);
    let password = dir.join("mail.password");
    std::fs::write(&password, "secret").unwrap();
    let config: CollectorConfig = toml::from_str(&format!(
        "name = \"slow\"\nprotocol = \"imap\"\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\n\
         username = \"orders\"\npassword_file = {:?}\n",
        password.display().to_string()
    ))
    .unwrap();
    s.collectors.push(config);
}

async fn last_run(app: &TestApp) -> Value {
    let list = app.get("/api/v1/collectors").await;
    list.as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "slow")
        .unwrap()["last_run"]
        .clone()
}

/// Polls until `done` holds, failing after 30 seconds.
async fn until<F, Fut>(what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !done().await {
        assert!(std::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Reloads the collector list until it holds `marker`, as the page's own refresh would; fails after 30 s.
async fn list_when(app: &TestApp, admin: &reqwest::Client, marker: &str) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (_, page) = get(app, admin, "/admin/collectors").await;
        if page.contains(marker) {
            return page;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never {marker}: {page}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn run_now_over_the_api_answers_202_at_once_and_the_run_finishes_on_its_own() {
    let server = silent_server().await;
    let app = TestApp::spawn_with(|s| slow_collector(s, server.port)).await;

    let response = app.post("/api/v1/collectors/slow/run").await;
    assert_eq!(response.status().as_u16(), 202);
    assert_eq!(response.headers()["location"], "/api/v1/collectors");
    let started: Value = response.json().await.unwrap();
    assert_eq!(started["collector"], "slow");
    assert!(started["accepted_at"].is_string(), "{started}");

    server.accepted.await.unwrap();
    let run = last_run(&app).await;
    assert!(
        run["started_at"].is_string() && run["finished_at"].is_null(),
        "{run}"
    );
    let again = app.post("/api/v1/collectors/slow/run").await;
    assert_eq!(again.status().as_u16(), 409, "the run is still going");

    server.release.send(()).unwrap();
    until("the run is recorded as finished", || async {
        last_run(&app).await["finished_at"].is_string()
    })
    .await;
    let run = last_run(&app).await;
    assert!(
        run["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{run}"
    );
}

#[tokio::test]
async fn run_now_and_test_in_the_ui_show_the_work_going_on_and_then_its_outcome() {
    let server = silent_server().await;
    let app = TestApp::spawn_with(|s| slow_collector(s, server.port)).await;
    set_admin_password(&app, "admin-password-for-tests").await;
    let admin = signed_in(&app, "admin", "admin-password-for-tests").await;
    let csrf = session_csrf(&app, &admin).await;
    let id = app.get("/api/v1/collectors").await[0]["id"].to_string();

    let run = admin
        .post(format!("{}/admin/collectors/{id}/run", app.base))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(run.status().as_u16(), 303);
    assert_eq!(run.headers()["location"], "/admin/collectors");
    let (_, page) = get(&app, &admin, "/admin/collectors").await;
    assert!(page.contains("id=\"collector-progress\""), "{page}");
    assert!(
        page.contains("http-equiv=\"refresh\""),
        "the list reloads itself"
    );

    server.accepted.await.unwrap();
    server.release.send(()).unwrap();
    let outcome = list_when(&app, &admin, "id=\"collector-notice\"").await;
    assert!(outcome.contains("загружено 0"), "{outcome}");
    assert!(!outcome.contains("http-equiv=\"refresh\""));

    // Nothing listens here any more: the test fails, and says so on the list.
    let test = admin
        .post(format!("{}/admin/collectors/{id}/test", app.base))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(test.status().as_u16(), 303);
    list_when(
        &app,
        &admin,
        "class=\"alert\" role=\"status\" id=\"collector-notice\">slow:",
    )
    .await;
}
