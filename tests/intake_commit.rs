//! A lead queued for its commit is answered with its result, never with an error: a commit slower than the
//! request timeout still answers 201, and a client that goes away before the commit still gets its lead
//! committed, exactly once. The commit is slowed down for real: the test holds SQLite's write lock.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::time::Duration;

use common::{SEED_SAMPLE, TestApp};
use leadgate::storage::sqlite::testing::WriteLock;
use serde_json::Value;
use tokio::io::AsyncWriteExt;

/// Holds the database's write lock with a connection of the test's own until it is released.
async fn take_write_lock(app: &TestApp) -> WriteLock {
    WriteLock::take(&app.db_path()).await.unwrap()
}

/// The value of a metric without labels on `/metrics`, 0 when it is not there yet.
async fn metric(app: &TestApp, name: &str) -> f64 {
    let text = app
        .client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or(0.0)
}

/// Polls until `done` holds, failing after 20 seconds.
async fn until<F, Fut>(what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !done().await {
        assert!(std::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn leads(app: &TestApp) -> Vec<Value> {
    app.get("/api/v1/leads?limit=500").await["items"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn a_lead_whose_commit_outlasts_the_request_timeout_is_answered_201() {
    let app = TestApp::spawn_with(|s| s.server.request_timeout_secs = 1).await;
    let lock = take_write_lock(&app).await;
    let mut request = tokio::spawn({
        let request = app
            .client
            .post(format!("{}/api/v1/intake", app.base))
            .bearer_auth(&app.source_token)
            .header("content-type", "application/json")
            .body(SEED_SAMPLE);
        async move { request.send().await.unwrap() }
    });
    // Three times the request timeout: the old answer (408) would have come by now.
    let early = tokio::time::timeout(Duration::from_secs(3), &mut request).await;
    assert!(
        early.is_err(),
        "answered while its commit could not happen: {:?}",
        early.map(|r| r.unwrap().status())
    );
    lock.release().await.unwrap();
    let response = request.await.unwrap();
    assert_eq!(response.status().as_u16(), 201);
    let created: Value = response.json().await.unwrap();
    let lead = app.get(&format!("/api/v1/leads/{}", created["id"])).await;
    assert_eq!(lead["contact"]["email"], "adwcom@gmail.com");
    assert_eq!(leads(&app).await.len(), 1);
}

#[tokio::test]
async fn a_client_that_disconnects_before_the_commit_still_gets_its_lead_committed_once() {
    // Without group commit the handler commits itself, so dropping the request would drop its commit.
    let app = TestApp::spawn_with(|s| s.intake.group_commit = false).await;
    let lock = take_write_lock(&app).await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    let mut socket = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let request = format!(
        "POST /api/v1/intake HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{SEED_SAMPLE}",
        app.source_token,
        SEED_SAMPLE.len()
    );
    socket.write_all(request.as_bytes()).await.unwrap();
    until("the lead is queued for its commit", || async {
        metric(&app, "leadgate_intake_pending_commits").await >= 1.0
    })
    .await;
    let open = metric(&app, "leadgate_http_connections_open").await;
    drop(socket);
    until("the server sees the client gone", || async {
        metric(&app, "leadgate_http_connections_open").await < open
    })
    .await;
    lock.release().await.unwrap();
    until("the lead is committed", || async {
        metric(&app, "leadgate_intake_pending_commits").await == 0.0
    })
    .await;
    let leads = leads(&app).await;
    assert_eq!(leads.len(), 1, "{leads:?}");
    assert_eq!(leads[0]["contact"]["email"], "adwcom@gmail.com");
    let messages = app.get("/api/v1/messages").await;
    assert_eq!(messages["items"].as_array().unwrap().len(), 1, "{messages}");
    assert_eq!(messages["items"][0]["outcome"], "imported");
}

#[tokio::test]
async fn a_shutdown_waits_for_the_lead_in_flight_and_answers_it_201() {
    let app = TestApp::spawn().await;
    let lock = take_write_lock(&app).await;
    let request = tokio::spawn({
        let request = app
            .client
            .post(format!("{}/api/v1/intake", app.base))
            .bearer_auth(&app.source_token)
            .header("content-type", "application/json")
            .body(SEED_SAMPLE);
        async move { request.send().await.unwrap() }
    });
    until("the lead is queued for its commit", || async {
        metric(&app, "leadgate_intake_pending_commits").await >= 1.0
    })
    .await;
    let stopped = tokio::spawn(app.stop());
    lock.release().await.unwrap();
    let response = request.await.unwrap();
    assert_eq!(response.status().as_u16(), 201);
    let dir = stopped.await.unwrap();

    let app = TestApp::spawn_in(dir, |_| {}).await;
    assert_eq!(leads(&app).await.len(), 1, "the lead survived the shutdown");
}
