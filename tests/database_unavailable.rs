//! A PostgreSQL database that cannot be reached, at start or while serving: `serve` keeps running, `/readyz`
//! and the intake answer 503 with `Retry-After` (never a 201 without a commit), the UI shows its error page,
//! and everything resumes by itself once the database is back. The database is cut off for real: leadgate
//! reaches the test PostgreSQL through a TCP proxy on loopback that the test cuts and restores (the server
//! itself, which other tests share, keeps running).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
mod ui_support;

use std::time::{Duration, Instant};

use common::proxy::{Proxy, target_of};
use common::{TestApp, TestDir};
use ui_support::{get, set_admin_password, signed_in};

const ADMIN_PASSWORD: &str = "admin-password-for-tests";

/// Polls `url` until it answers `status`, failing after a minute (leadgate waits at most ten seconds
/// between its tries to reach the database).
async fn until_status(client: &reqwest::Client, url: &str, status: u16) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = client.get(url).send().await
            && r.status().as_u16() == status
        {
            return;
        }
        assert!(Instant::now() < deadline, "{url} never answered {status}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Asserts a 503 that says when to try again.
fn assert_unavailable(r: &reqwest::Response, what: &str) {
    assert_eq!(r.status().as_u16(), 503, "{what}");
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry > 0, "{what}: Retry-After {retry}");
}

/// Posts a contact lead with this subject.
async fn post_lead(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    subject: &str,
) -> reqwest::Response {
    client
        .post(format!("{base}/api/v1/intake"))
        .bearer_auth(token)
        .json(&serde_json::json!({
            "Тема": subject,
            "КонтактноеЛицо": "Иванова Мария Петровна",
            "Телефон": "+79161234567",
        }))
        .send()
        .await
        .unwrap()
}

async fn lead_ids(app: &TestApp) -> Vec<i64> {
    app.get("/api/v1/leads?limit=500").await["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_i64().unwrap())
        .collect()
}

/// `serve` on a fresh PostgreSQL database that it reaches through a proxy, forwarding.
async fn serving_through_a_proxy() -> (TestApp, Proxy) {
    let dir = TestDir::new_postgres().await;
    let proxy = Proxy::start(target_of(&dir.database_url()), true).await;
    let through = proxy.url_through(&dir.database_url());
    let app = TestApp::spawn_in(dir, |s| s.database.url = through).await;
    (app, proxy)
}

/// The connection is lost after the intake's COMMIT reached the server, before its answer came back: the
/// lead is stored, so it is acknowledged (201), not answered 503 for a retry that would file it twice.
#[tokio::test]
async fn a_lead_whose_commit_answer_was_lost_is_acknowledged_once() {
    let (app, proxy) = serving_through_a_proxy().await;
    let first = post_lead(&app.client, &app.base, &app.source_token, "Заказ 1").await;
    assert_eq!(first.status().as_u16(), 201);

    proxy.lose_next_commit_answer();
    let lost = post_lead(&app.client, &app.base, &app.source_token, "Заказ 2").await;
    assert_eq!(lost.status().as_u16(), 201, "{:?}", lost.text().await);
    let lost: serde_json::Value = lost.json().await.unwrap();
    let ids = lead_ids(&app).await;
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert!(
        ids.contains(&lost["id"].as_i64().unwrap()),
        "{ids:?} {lost}"
    );
}

#[tokio::test]
async fn a_database_lost_while_serving_gives_503s_and_an_error_page_then_everything_resumes() {
    let (app, proxy) = serving_through_a_proxy().await;
    set_admin_password(&app, ADMIN_PASSWORD).await;
    let ui = signed_in(&app, "admin", ADMIN_PASSWORD).await;
    let first = post_lead(&app.client, &app.base, &app.source_token, "Заказ 1").await;
    assert_eq!(first.status().as_u16(), 201);
    let first: serde_json::Value = first.json().await.unwrap();

    proxy.cut();
    let ready = app
        .client
        .get(format!("{}/readyz", app.base))
        .send()
        .await
        .unwrap();
    assert_unavailable(&ready, "/readyz");
    let lost = post_lead(&app.client, &app.base, &app.source_token, "Заказ 2").await;
    assert_unavailable(&lost, "the intake");
    let body: serde_json::Value = lost.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unavailable", "{body}");
    let read = app
        .client
        .get(format!("{}/api/v1/leads", app.base))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .unwrap();
    assert_unavailable(&read, "the read API");
    let (status, page) = get(&app, &ui, "/inbox").await;
    assert_eq!(status, 503);
    assert!(
        page.contains("<html") && page.contains("База данных сейчас не отвечает"),
        "{page}"
    );

    proxy.restore();
    until_status(&app.client, &format!("{}/readyz", app.base), 200).await;
    let second = post_lead(&app.client, &app.base, &app.source_token, "Заказ 3").await;
    assert_eq!(second.status().as_u16(), 201);
    let second: serde_json::Value = second.json().await.unwrap();
    let (status, _) = get(&app, &ui, "/inbox").await;
    assert_eq!(status, 200, "the session made before the cut still works");
    // Exactly the acknowledged leads: nothing answered 503 was stored.
    let mut ids = lead_ids(&app).await;
    ids.sort_unstable();
    let mut acknowledged = vec![
        first["id"].as_i64().unwrap(),
        second["id"].as_i64().unwrap(),
    ];
    acknowledged.sort_unstable();
    assert_eq!(ids, acknowledged);
}

#[tokio::test]
async fn serve_started_while_the_database_is_unreachable_answers_503_until_it_answers() {
    let dir = TestDir::new_postgres().await;
    let proxy = Proxy::start(target_of(&dir.database_url()), false).await;
    let password = url::Url::parse(&dir.database_url())
        .unwrap()
        .password()
        .unwrap()
        .to_owned();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let path = |name: &str| dir.path().join(name).display().to_string();
    std::fs::write(dir.path().join("admin.token"), "admin-token-for-tests\n").unwrap();
    std::fs::write(
        dir.path().join("website.token"),
        "website-token-for-tests\n",
    )
    .unwrap();
    let config = dir.path().join("leadgate.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\nadmin_token_file = {admin:?}\n\n\
             [database]\nurl = {url:?}\ndata_dir = {data:?}\n\n\
             [layout_files]\nenabled = false\n\n\
             [[http_sources]]\nname = \"website\"\ntoken_file = {token:?}\n",
            admin = path("admin.token"),
            url = proxy.url_through(&dir.database_url()),
            data = path("data"),
            token = path("website.token"),
        ),
    )
    .unwrap();
    let log = std::fs::File::create(dir.path().join("serve.log")).unwrap();
    let mut serve = common::cli::leadgate_process()
        .arg("--config")
        .arg(&config)
        .arg("serve")
        .env("RUST_LOG", "debug")
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();

    until_status(&client, &format!("{base}/healthz"), 200).await;
    let ready = client.get(format!("{base}/readyz")).send().await.unwrap();
    assert_unavailable(&ready, "/readyz");
    let refused = post_lead(&client, &base, "website-token-for-tests", "Заказ 1").await;
    assert_unavailable(&refused, "the intake");
    let page = client.get(format!("{base}/login")).send().await.unwrap();
    assert_unavailable(&page, "the UI");
    let page = page.text().await.unwrap();
    assert!(page.contains("База данных сейчас не отвечает"), "{page}");

    proxy.restore();
    until_status(&client, &format!("{base}/readyz"), 200).await;
    let accepted = post_lead(&client, &base, "website-token-for-tests", "Заказ 2").await;
    assert_eq!(accepted.status().as_u16(), 201);
    let leads: serde_json::Value = client
        .get(format!("{base}/api/v1/leads"))
        .bearer_auth("admin-token-for-tests")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(leads["items"].as_array().unwrap().len(), 1, "{leads}");

    serve.kill().unwrap();
    serve.wait().unwrap();
    let log = std::fs::read_to_string(dir.path().join("serve.log")).unwrap();
    assert!(
        log.contains("the database cannot be reached"),
        "the wait is logged: {log}"
    );
    assert!(
        !log.contains(&password),
        "the database password is in the log"
    );
}
