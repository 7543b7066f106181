//! Signed outbound webhooks against a receiver on loopback (allowed by the test configuration): a receiver
//! that fails the first attempts gets the lead once, after the retries, with a valid signature; a lead
//! committed before leadgate stopped mid-delivery is delivered after the restart; a dead letter is
//! redelivered from the API; a status change is announced too. The refusal of loopback and private
//! addresses is asserted with the default configuration, which never connects to them.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
mod ui_support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use common::{SEED_SAMPLE, TestApp};
use leadgate::config::Settings;
use leadgate::webhooks::sign;
use serde_json::{Value, json};
use ui_support::{get, post_form, session_csrf, set_admin_password, signed_in};

/// How the receiver answers its n-th request (0-based).
#[derive(Clone, Copy)]
enum Behaviour {
    /// 500 for the first n requests, then 200.
    FailFirst(usize),
    /// Never answers the first request; 200 after.
    HangFirst,
    /// 500 with a message until `ok` is set.
    DownUntilFixed,
}

/// A request: its headers, body, and the status it was answered with (`None`: never answered).
type Seen = (HeaderMap, Bytes, Option<u16>);

#[derive(Clone)]
struct Receiver {
    behaviour: Behaviour,
    fixed: Arc<Mutex<bool>>,
    /// Every request.
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Receiver {
    fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn answered_ok(&self) -> usize {
        self.requests()
            .iter()
            .filter(|(_, _, status)| *status == Some(200))
            .count()
    }
}

async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> impl IntoResponse {
    let n = {
        let mut seen = r.seen.lock().unwrap();
        seen.push((headers, body, None));
        seen.len() - 1
    };
    let status = match r.behaviour {
        Behaviour::FailFirst(failures) if n < failures => StatusCode::INTERNAL_SERVER_ERROR,
        Behaviour::HangFirst if n == 0 => std::future::pending().await,
        Behaviour::DownUntilFixed if !*r.fixed.lock().unwrap() => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::OK,
    };
    r.seen.lock().unwrap()[n].2 = Some(status.as_u16());
    (status, "down for maintenance")
}

async fn receiver(behaviour: Behaviour) -> (String, Receiver) {
    let r = Receiver {
        behaviour,
        fixed: Arc::default(),
        seen: Arc::default(),
    };
    let app = Router::new()
        .route("/hooks/leadgate", post(receive))
        .with_state(r.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/hooks/leadgate"), r)
}

/// Webhooks may reach loopback; retries follow at once.
fn loopback(s: &mut Settings) {
    s.webhooks.allow_private_addresses = true;
    s.webhooks.retry_after_secs = 0;
    s.webhooks.timeout_secs = 2;
}

/// The id of the calendar the website's leads go to.
async fn default_calendar(app: &TestApp) -> i64 {
    let calendars = app.get("/api/v1/calendars").await;
    calendars
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "Заявки с сайта")
        .unwrap()["id"]
        .as_i64()
        .unwrap()
}

async fn create_webhook(app: &TestApp, calendar_id: i64, url: &str) -> reqwest::Response {
    app.client
        .post(format!("{}/api/v1/webhooks", app.base))
        .bearer_auth(&app.admin_token)
        .json(&json!({"calendar_id": calendar_id, "url": url}))
        .send()
        .await
        .unwrap()
}

/// Creates a webhook on the default calendar; returns its id and secret.
async fn webhook_to(app: &TestApp, url: &str) -> (i64, String) {
    let calendar = default_calendar(app).await;
    let response = create_webhook(app, calendar, url).await;
    assert_eq!(response.status().as_u16(), 201);
    let created: Value = response.json().await.unwrap();
    assert_eq!(created["url"], url);
    assert_eq!(created["calendar_id"], calendar);
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    (created["id"].as_i64().unwrap(), secret)
}

async fn post_lead(app: &TestApp) -> i64 {
    let response = app.intake_json(SEED_SAMPLE).await;
    assert_eq!(response.status().as_u16(), 201);
    let created: Value = response.json().await.unwrap();
    created["id"].as_i64().unwrap()
}

/// Polls the webhook's delivery log until its newest delivery is in `status`; returns it.
async fn delivery_in(app: &TestApp, webhook: i64, status: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let log = app
            .get(&format!("/api/v1/webhooks/{webhook}/deliveries"))
            .await;
        let newest = log["items"][0].clone();
        if newest["status"] == status {
            return newest;
        }
        assert!(
            Instant::now() < deadline,
            "the delivery never became {status}: {log}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers.get(name).unwrap().to_str().unwrap()
}

#[tokio::test]
async fn a_failing_receiver_gets_the_lead_once_after_the_retries_with_a_valid_signature() {
    let (url, receiver) = receiver(Behaviour::FailFirst(2)).await;
    let app = TestApp::spawn_with(loopback).await;
    let (webhook, secret) = webhook_to(&app, &url).await;
    let lead_id = post_lead(&app).await;

    let delivery = delivery_in(&app, webhook, "delivered").await;
    assert_eq!(delivery["attempts"], 3);
    assert_eq!(delivery["last_status"], 200);
    assert_eq!(delivery["lead_id"], lead_id);
    assert_eq!(delivery["event_type"], "lead.created");

    let requests = receiver.requests();
    assert_eq!(requests.len(), 3, "two failures and the delivery");
    assert_eq!(receiver.answered_ok(), 1, "delivered once");
    let (headers, body, _) = requests.last().unwrap();
    assert_eq!(header(headers, "content-type"), "application/json");
    assert_eq!(header(headers, "leadgate-event"), "lead.created");
    let signature = header(headers, "leadgate-signature");
    let now = chrono::Utc::now().timestamp();
    assert!(
        sign::verify(&secret, signature, body, now, 300),
        "{signature} must verify with the webhook's secret"
    );
    assert!(!sign::verify("whsec_other", signature, body, now, 300));

    let event: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(event["type"], "lead.created");
    assert_eq!(event["id"], delivery["event_id"]);
    assert_eq!(
        header(headers, "leadgate-event-id"),
        event["id"].to_string()
    );
    // The lead as the read API shows it.
    let lead = app.get(&format!("/api/v1/leads/{lead_id}")).await;
    assert_eq!(event["lead"], lead);
    // Every attempt carried the same event.
    for (_, body, _) in &requests {
        let attempt: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(attempt["id"], event["id"]);
    }
    let listed = app.get(&format!("/api/v1/webhooks/{webhook}")).await;
    assert_eq!(listed["pending"], 0);
    assert_eq!(listed["dead"], 0);
}

#[tokio::test]
async fn a_status_change_is_announced_with_the_changed_lead() {
    let (url, receiver) = receiver(Behaviour::FailFirst(0)).await;
    let app = TestApp::spawn_with(loopback).await;
    let (webhook, _) = webhook_to(&app, &url).await;
    let lead_id = post_lead(&app).await;
    delivery_in(&app, webhook, "delivered").await;
    let patched = app
        .client
        .patch(format!("{}/api/v1/leads/{lead_id}", app.base))
        .bearer_auth(&app.admin_token)
        .json(&json!({"status": "in_progress"}))
        .send()
        .await
        .unwrap();
    assert!(patched.status().is_success());
    let delivery = delivery_in(&app, webhook, "delivered").await;
    assert_eq!(delivery["event_type"], "lead.status_changed");
    let requests = receiver.requests();
    let event: Value = serde_json::from_slice(&requests.last().unwrap().1).unwrap();
    assert_eq!(event["type"], "lead.status_changed");
    assert_eq!(event["lead"]["id"], lead_id);
    assert_eq!(event["lead"]["status"], "in_progress");
    assert_eq!(requests.len(), 2);
}

#[tokio::test]
async fn a_lead_committed_before_leadgate_stopped_mid_delivery_is_delivered_after_the_restart() {
    let (url, receiver) = receiver(Behaviour::HangFirst).await;
    let app = TestApp::spawn_with(loopback).await;
    let (webhook, secret) = webhook_to(&app, &url).await;
    let lead_id = post_lead(&app).await;
    // The first attempt reaches the receiver, which never answers; leadgate stops meanwhile.
    let deadline = Instant::now() + Duration::from_secs(60);
    while receiver.requests().is_empty() {
        assert!(Instant::now() < deadline, "no attempt was made");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let dir = app.stop().await;
    assert_eq!(receiver.answered_ok(), 0);

    let again = TestApp::spawn_in(dir, loopback).await;
    let delivery = delivery_in(&again, webhook, "delivered").await;
    assert_eq!(delivery["lead_id"], lead_id);
    assert_eq!(delivery["attempts"], 2);
    let requests = receiver.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(receiver.answered_ok(), 1);
    let (headers, body, _) = &requests[1];
    assert!(sign::verify(
        &secret,
        header(headers, "leadgate-signature"),
        body,
        chrono::Utc::now().timestamp(),
        300
    ));
    let first: Value = serde_json::from_slice(&requests[0].1).unwrap();
    let second: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(first["id"], second["id"], "the same event");
}

#[tokio::test]
async fn a_dead_letter_is_redelivered_from_the_api() {
    let (url, receiver) = receiver(Behaviour::DownUntilFixed).await;
    let app = TestApp::spawn_with(|s| {
        loopback(s);
        // No retry window: the first failure is a dead letter.
        s.webhooks.max_age_secs = 0;
    })
    .await;
    let (webhook, _) = webhook_to(&app, &url).await;
    post_lead(&app).await;
    let dead = delivery_in(&app, webhook, "dead").await;
    assert_eq!(dead["attempts"], 1);
    assert_eq!(dead["last_status"], 503);
    assert_eq!(dead["last_answer"], "down for maintenance");
    assert_eq!(
        app.get(&format!("/api/v1/webhooks/{webhook}")).await["dead"],
        1
    );

    *receiver.fixed.lock().unwrap() = true;
    let redeliver = app
        .post(&format!(
            "/api/v1/webhooks/{webhook}/deliveries/{}/redeliver",
            dead["id"]
        ))
        .await;
    assert_eq!(redeliver.status().as_u16(), 202);
    let delivered = delivery_in(&app, webhook, "delivered").await;
    assert_eq!(delivered["id"], dead["id"]);
    assert_eq!(delivered["attempts"], 2);
    assert_eq!(delivered["last_status"], 200);
    assert_eq!(receiver.answered_ok(), 1);
    assert_eq!(
        app.get(&format!("/api/v1/webhooks/{webhook}")).await["dead"],
        0
    );

    // Another webhook's delivery id, or none, is not found.
    let other = app
        .post(&format!(
            "/api/v1/webhooks/{}/deliveries/{}/redeliver",
            webhook + 1,
            dead["id"]
        ))
        .await;
    assert_eq!(other.status().as_u16(), 404);
}

#[tokio::test]
async fn webhook_urls_on_loopback_or_private_addresses_are_refused_unless_allowed() {
    let app = TestApp::spawn().await;
    let calendar = default_calendar(&app).await;
    for url in [
        "http://127.0.0.1:9/hook",
        "http://localhost:9/hook",
        "http://10.0.0.1/hook",
        "http://[::1]:9/hook",
        "http://169.254.169.254/latest",
        "ftp://shop.example/hook",
        "https://user:password@shop.example/hook",
        "not a url",
    ] {
        let response = create_webhook(&app, calendar, url).await;
        assert_eq!(response.status().as_u16(), 422, "{url}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "webhook_url_refused", "{url}");
    }
    let unknown = create_webhook(&app, 9999, "https://93.184.216.34/hook").await;
    assert_eq!(unknown.status().as_u16(), 404);
    assert_eq!(app.get("/api/v1/webhooks").await, json!([]));

    // A webhook made while loopback was allowed is refused before any connection once it is not.
    let (url, receiver) = receiver(Behaviour::FailFirst(0)).await;
    let dir = app.stop().await;
    let allowed = TestApp::spawn_in(dir, |s| {
        loopback(s);
        s.webhooks.enabled = false;
    })
    .await;
    let (webhook, _) = webhook_to(&allowed, &url).await;
    let dir = allowed.stop().await;
    let strict = TestApp::spawn_in(dir, |_| {}).await;
    post_lead(&strict).await;
    let dead = delivery_in(&strict, webhook, "dead").await;
    assert_eq!(dead["attempts"], 1);
    assert!(dead["last_status"].is_null());
    assert!(
        dead["last_answer"].as_str().unwrap().contains("127.0.0.1"),
        "{dead}"
    );
    assert!(receiver.requests().is_empty(), "nothing was sent");
}

#[tokio::test]
async fn the_admin_pages_create_a_webhook_show_its_log_and_redeliver_with_csrf() {
    const PASSWORD: &str = "admin-password-for-tests";
    let (url, receiver) = receiver(Behaviour::DownUntilFixed).await;
    let app = TestApp::spawn_with(|s| {
        loopback(s);
        s.webhooks.max_age_secs = 0;
    })
    .await;
    set_admin_password(&app, PASSWORD).await;
    let c = signed_in(&app, "admin", PASSWORD).await;
    let csrf = session_csrf(&app, &c).await;
    let calendar = default_calendar(&app).await.to_string();

    let forged = post_form(
        &app,
        &c,
        "/admin/webhooks",
        &[("calendar", calendar.as_str()), ("url", url.as_str())],
    )
    .await;
    assert_eq!(forged.status().as_u16(), 403, "no CSRF token, no webhook");
    let refused = post_form(
        &app,
        &c,
        "/admin/webhooks",
        &[
            ("csrf", csrf.as_str()),
            ("calendar", calendar.as_str()),
            ("url", "ftp://shop.example/"),
        ],
    )
    .await;
    assert_eq!(refused.status().as_u16(), 400);
    assert!(refused.text().await.unwrap().contains("Адрес не подходит"));
    assert_eq!(app.get("/api/v1/webhooks").await, json!([]));

    let created = post_form(
        &app,
        &c,
        "/admin/webhooks",
        &[
            ("csrf", csrf.as_str()),
            ("calendar", calendar.as_str()),
            ("url", url.as_str()),
        ],
    )
    .await;
    assert_eq!(created.status().as_u16(), 200);
    let html = created.text().await.unwrap();
    let secret = html
        .split("id=\"new-secret\">")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .unwrap()
        .to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    let webhook = app.get("/api/v1/webhooks").await[0]["id"].as_i64().unwrap();
    // The secret is shown once: the list does not show it again.
    let (_, list) = get(&app, &c, "/admin/webhooks").await;
    assert!(!list.contains(&secret));
    assert!(list.contains(&url));

    post_lead(&app).await;
    let dead = delivery_in(&app, webhook, "dead").await;
    let log_path = format!("/admin/webhooks/{webhook}");
    let (status, log) = get(&app, &c, &log_path).await;
    assert_eq!(status, 200);
    assert!(log.contains("data-state=\"dead\""), "{log}");
    assert!(log.contains("не доставлено"));
    assert!(log.contains("<b>503</b> down for maintenance"), "{log}");
    assert!(log.contains("Отправить снова"));

    *receiver.fixed.lock().unwrap() = true;
    let redeliver_path = format!(
        "/admin/webhooks/{webhook}/deliveries/{}/redeliver",
        dead["id"]
    );
    let forged = post_form(&app, &c, &redeliver_path, &[]).await;
    assert_eq!(forged.status().as_u16(), 403);
    assert_eq!(delivery_in(&app, webhook, "dead").await["attempts"], 1);
    let redelivered = post_form(&app, &c, &redeliver_path, &[("csrf", csrf.as_str())]).await;
    assert_eq!(redelivered.status().as_u16(), 303);
    delivery_in(&app, webhook, "delivered").await;
    let (_, log) = get(&app, &c, &log_path).await;
    assert!(log.contains("data-state=\"delivered\""), "{log}");
    let requests = receiver.requests();
    let (headers, body, _) = requests.last().unwrap();
    assert!(sign::verify(
        &secret,
        header(headers, "leadgate-signature"),
        body,
        chrono::Utc::now().timestamp(),
        300
    ));
}
