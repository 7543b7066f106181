//! `/metrics` can be put behind a token (`server.metrics_token_file`/`_env`) or on an address of its own
//! (`server.metrics_listen`). Loopback only.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use common::{SEED_SAMPLE, TestApp, settings_in};
use leadgate::startup::Application;

#[tokio::test]
async fn metrics_behind_a_token_refuse_a_missing_or_wrong_token() {
    let app = TestApp::spawn_with(|s| {
        let dir = leadgate::startup::data_dir(s);
        let file = dir.join("metrics.token");
        std::fs::write(&file, "scrape-token\n").unwrap();
        s.server.metrics_token_file = Some(file);
    })
    .await;
    assert_eq!(app.intake_json(SEED_SAMPLE).await.status().as_u16(), 201);
    let url = format!("{}/metrics", app.base);
    let anonymous = app.client.get(&url).send().await.unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
    let wrong = app
        .client
        .get(&url)
        .bearer_auth("scrape-token-guess")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status().as_u16(), 401);
    let scraper = app
        .client
        .get(&url)
        .bearer_auth("scrape-token")
        .send()
        .await
        .unwrap();
    assert_eq!(scraper.status().as_u16(), 200);
    let text = scraper.text().await.unwrap();
    assert!(text.contains("leadgate_intake_total"), "{text}");
}

#[tokio::test]
async fn metrics_on_their_own_address_are_not_served_with_the_api() {
    let dir = common::TestDir::new().await;
    let mut settings = settings_in(&dir);
    settings.server.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app = Application::build(settings, listener).await.unwrap();
    let api = format!("http://{}", app.local_addr().unwrap());
    let metrics = format!("http://{}", app.metrics_addr().unwrap().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::new();

    let on_api = client.get(format!("{api}/metrics")).send().await.unwrap();
    assert_eq!(on_api.status().as_u16(), 404);
    let on_own = client
        .get(format!("{metrics}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(on_own.status().as_u16(), 200);
    assert!(on_own.text().await.unwrap().contains("leadgate_"));
    let no_api_there = client
        .get(format!("{metrics}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(no_api_there.status().as_u16(), 404);

    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}
