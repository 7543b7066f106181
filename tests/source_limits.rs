//! A public form's token cannot flood the shop: each HTTP source has rate limits per client address and in
//! total (429 with Retry-After), counts a trusted proxy's forwarded address, and records a payload that fills
//! its honeypot field as spam while answering it like an accepted lead. Clients bind to 127.0.0.x.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::net::IpAddr;

use common::TestApp;
use leadgate::config::{HttpSourceConfig, Settings};
use serde_json::Value;

const LEAD: &str = r#"{"Тема": "Заявка с формы", "Телефон": "+7 916 123-45-67"}"#;

/// Adds the source "other" (token "other-token-for-tests") next to "website".
fn with_other_source(s: &mut Settings) {
    let dir = leadgate::startup::data_dir(s);
    let token = dir.join("other.token");
    std::fs::write(&token, "other-token-for-tests").unwrap();
    s.http_sources.push(HttpSourceConfig {
        name: "other".into(),
        token_file: Some(token),
        ..HttpSourceConfig::default()
    });
}

fn client_from(last_octet: u8) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::from([127, 0, 0, last_octet]))
        .build()
        .unwrap()
}

async fn post(
    app: &TestApp,
    client: &reqwest::Client,
    token: &str,
    body: &str,
    forwarded_for: Option<&str>,
) -> reqwest::Response {
    let mut request = client
        .post(format!("{}/api/v1/intake", app.base))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(address) = forwarded_for {
        request = request.header("x-forwarded-for", address);
    }
    request.send().await.unwrap()
}

async fn ledger(app: &TestApp) -> Vec<Value> {
    app.get("/api/v1/messages?limit=500").await["items"]
        .as_array()
        .unwrap()
        .clone()
}

async fn assert_limited(response: reqwest::Response) {
    assert_eq!(response.status().as_u16(), 429);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too_many_requests", "{body}");
}

#[tokio::test]
async fn a_flood_from_many_addresses_is_held_to_the_sources_limits_and_other_sources_go_on() {
    let app = TestApp::spawn_with(|s| {
        s.http_sources[0].rate_limit_per_client = Some(3);
        s.http_sources[0].rate_limit_total = Some(10);
        with_other_source(s);
    })
    .await;
    let token = app.source_token.clone();

    let first = client_from(2);
    for _ in 0..3 {
        let response = post(&app, &first, &token, LEAD, None).await;
        assert_eq!(response.status().as_u16(), 201);
    }
    assert_limited(post(&app, &first, &token, LEAD, None).await).await;

    let mut accepted = 0;
    for octet in 3..=20 {
        let response = post(&app, &client_from(octet), &token, LEAD, None).await;
        if response.status().as_u16() == 201 {
            accepted += 1;
        } else {
            assert_limited(response).await;
        }
    }
    assert_eq!(accepted, 7, "ten a minute in total, three of them taken");

    let other = post(&app, &first, "other-token-for-tests", LEAD, None).await;
    assert_eq!(
        other.status().as_u16(),
        201,
        "another source is not held back"
    );

    let ledger = ledger(&app).await;
    let from = |name: &str| {
        ledger
            .iter()
            .filter(|m| m["http_source"] == name)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        from("website").len(),
        10,
        "refused requests leave no record"
    );
    assert!(from("website").iter().all(|m| m["outcome"] == "imported"));
    assert_eq!(from("other").len(), 1);
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_address_is_limited_and_others_cannot_spoof_it() {
    let app = TestApp::spawn_with(|s| {
        s.server.trusted_proxies = vec![IpAddr::from([127, 0, 0, 1])];
        s.http_sources[0].rate_limit_per_client = Some(2);
        s.http_sources[0].rate_limit_total = Some(0);
    })
    .await;
    let token = app.source_token.clone();
    let proxy = client_from(1);
    for _ in 0..2 {
        let response = post(&app, &proxy, &token, LEAD, Some("203.0.113.7")).await;
        assert_eq!(response.status().as_u16(), 201);
    }
    assert_limited(post(&app, &proxy, &token, LEAD, Some("203.0.113.7")).await).await;
    let next_visitor = post(&app, &proxy, &token, LEAD, Some("203.0.113.8")).await;
    assert_eq!(next_visitor.status().as_u16(), 201);

    let direct = client_from(9);
    for forged in ["198.51.100.1", "198.51.100.2"] {
        let response = post(&app, &direct, &token, LEAD, Some(forged)).await;
        assert_eq!(response.status().as_u16(), 201);
    }
    let forged = post(&app, &direct, &token, LEAD, Some("198.51.100.3")).await;
    assert_limited(forged).await;
}

#[tokio::test]
async fn a_payload_that_fills_the_honeypot_is_recorded_as_spam_and_answered_like_a_lead() {
    let app = TestApp::spawn_with(|s| {
        s.http_sources[0].honeypot_field = Some("website_url".into());
    })
    .await;
    let token = app.source_token.clone();
    let client = reqwest::Client::new();

    let human = r#"{"Тема": "Заявка с формы", "Телефон": "+7 916 123-45-67", "website_url": ""}"#;
    let lead = post(&app, &client, &token, human, None).await;
    assert_eq!(lead.status().as_u16(), 201);
    let lead_headers: Vec<String> = lead.headers().keys().map(|k| k.to_string()).collect();
    let lead: Value = lead.json().await.unwrap();

    let bot = r#"{"Тема": "Заявка с формы", "Телефон": "+7 916 123-45-67", "website_url": "http://spam.example"}"#;
    let spam = post(&app, &client, &token, bot, None).await;
    assert_eq!(spam.status().as_u16(), 201);
    let spam_headers: Vec<String> = spam.headers().keys().map(|k| k.to_string()).collect();
    assert!(
        spam.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/api/v1/leads/")
    );
    let spam: Value = spam.json().await.unwrap();
    assert_eq!(spam_headers.len(), lead_headers.len(), "{spam_headers:?}");
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&spam), keys(&lead), "{spam}");
    assert_eq!(spam["kind"], lead["kind"]);
    assert_eq!(spam["calendar"], lead["calendar"]);

    // Spaces around the key do not hide it, as they do not hide any key of the format.
    let spaced = r#"{"Тема": "Заявка", "Телефон": "+7 916 123-45-67", " website_url ": "http://spam.example"}"#;
    assert_eq!(
        post(&app, &client, &token, spaced, None)
            .await
            .status()
            .as_u16(),
        201
    );

    let leads = app.get("/api/v1/leads?limit=500").await;
    assert_eq!(leads["items"].as_array().unwrap().len(), 1, "{leads}");
    let skipped = app.get("/api/v1/messages?outcome=skipped").await;
    let skipped = skipped["items"].as_array().unwrap();
    assert_eq!(skipped.len(), 2, "{skipped:?}");
    assert!(
        skipped[0]["reason"].as_str().unwrap().starts_with("spam:"),
        "{skipped:?}"
    );
}
