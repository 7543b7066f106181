//! A lead queued for its commit is answered with its result, never with an error: a commit slower than the
//! request timeout still answers 201, and a client that goes away before the commit still gets its lead
//! committed, exactly once; a group whose commit the database refuses is committed one lead at a time, so
//! only the refused lead's client gets an error. The commit is slowed down for real (the test holds SQLite's
//! write lock) and refused for real (a trigger).
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::time::Duration;

use common::{SEED_SAMPLE, TestApp};
use common::{TestDatabase, WriteLock};
use serde_json::Value;
use tokio::io::AsyncWriteExt;

/// Holds the database's write lock with a connection of the test's own until it is released.
async fn take_write_lock(app: &TestApp) -> WriteLock {
    WriteLock::take(&app.database_url()).await.unwrap()
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

/// Posts a contact lead with this subject in a task of its own; the task gives the answer's status and body.
fn post_lead(app: &TestApp, subject: &str) -> tokio::task::JoinHandle<(u16, Value)> {
    let body = serde_json::json!({
        "Тема": subject,
        "КонтактноеЛицо": "Иванова Мария Петровна",
        "Телефон": "+79161234567",
    });
    let request = app
        .client
        .post(format!("{}/api/v1/intake", app.base))
        .bearer_auth(&app.source_token)
        .json(&body);
    tokio::spawn(async move {
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    })
}

#[tokio::test]
async fn a_group_the_database_refuses_is_committed_one_lead_at_a_time_and_each_client_gets_its_answer()
 {
    let app = TestApp::spawn().await;
    // The database itself refuses one lead, as a full disk or a broken constraint would refuse a group.
    let db = TestDatabase::open(&app.database_url()).await.unwrap();
    db.refuse_leads_with_subject("Отказать").await.unwrap();
    db.close().await;
    let groups = metric(&app, "leadgate_intake_group_size_count").await;
    let grouped = metric(&app, "leadgate_intake_group_size_sum").await;

    // With the write lock held, a first lead makes a group of its own that waits for its commit ...
    let lock = take_write_lock(&app).await;
    let first = post_lead(&app, "Заказ 1");
    until("the first group is committing", || async {
        metric(&app, "leadgate_intake_group_size_count").await == groups + 1.0
    })
    .await;
    // ... and three more queue behind it, to be committed together next; the database refuses the middle one.
    let queued = ["Заказ 2", "Отказать", "Заказ 3"].map(|subject| post_lead(&app, subject));
    until("all four leads are with the writer", || async {
        metric(&app, "leadgate_intake_writer_submissions").await == 4.0
    })
    .await;
    lock.release().await.unwrap();

    let mut answers = vec![first.await.unwrap()];
    for answer in queued {
        answers.push(answer.await.unwrap());
    }
    assert_eq!(
        (
            metric(&app, "leadgate_intake_group_size_count").await - groups,
            metric(&app, "leadgate_intake_group_size_sum").await - grouped
        ),
        (2.0, 4.0),
        "two groups: the first lead alone, then the other three together"
    );
    let statuses: Vec<u16> = answers.iter().map(|(status, _)| *status).collect();
    assert_eq!(statuses, [201, 201, 500, 201], "{answers:?}");
    assert!(
        answers[2].1.get("id").is_none(),
        "the refused lead is not acknowledged: {}",
        answers[2].1
    );

    // Every 201 is a committed lead, and only those are stored.
    let mut subjects = Vec::new();
    for (_, created) in answers.iter().filter(|(status, _)| *status == 201) {
        let lead = app.get(&format!("/api/v1/leads/{}", created["id"])).await;
        subjects.push(lead["subject"].as_str().unwrap().to_owned());
    }
    assert_eq!(subjects, ["Заказ 1", "Заказ 2", "Заказ 3"]);
    let stored: Vec<Value> = leads(&app)
        .await
        .iter()
        .map(|l| l["subject"].clone())
        .collect();
    assert_eq!(stored.len(), 3, "{stored:?}");
    assert!(!stored.contains(&Value::from("Отказать")), "{stored:?}");
    let messages = app.get("/api/v1/messages").await;
    let outcomes: Vec<&Value> = messages["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| &m["outcome"])
        .collect();
    assert_eq!(outcomes, ["imported"; 3], "{messages}");
}
