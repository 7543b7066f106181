//! Layout files kept with their lead: the real server downloads a lead's `ФайлыМакета` from a small HTTP
//! server on loopback (allowed by the test configuration), keeps them in its database, and shows them on
//! the lead page and the printed tech card with a download link, or says why a file could not be fetched.
//! The refusal of loopback and private addresses is asserted with the default configuration, which never
//! connects anywhere.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
mod ui_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect};
use axum::routing::get as route_get;
use common::{SEED_SAMPLE, TestApp};
use leadgate::config::LayoutFileSettings;
use leadgate::layout_files::fetch::{FetchError, Fetcher};
use leadgate_storage::{LayoutFileState, LayoutFileView};
use serde_json::Value;
use ui_support::*;

const ADMIN_PASSWORD: &str = "admin-password-for-tests";

/// A 1×1 PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0A, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0D, 0x0A, 0x2D, 0xB4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE,
    0x42, 0x60, 0x82,
];
const PDF: &[u8] = b"%PDF-1.4\n% a layout\n%%EOF\n";

/// The site: every request is counted; `/flaky.pdf` answers 503 twice before it works.
#[derive(Clone, Default)]
struct Site {
    hits: Arc<AtomicUsize>,
    flaky: Arc<AtomicUsize>,
}

impl Site {
    fn count(&self) {
        self.hits.fetch_add(1, Ordering::SeqCst);
    }
}

async fn serve_site() -> (String, Site) {
    let site = Site::default();
    let app = Router::new()
        .route(
            "/upload/logo.png",
            route_get(|State(s): State<Site>| async move {
                s.count();
                ([(header::CONTENT_TYPE, "image/png")], PNG).into_response()
            }),
        )
        .route(
            "/upload/{name}",
            route_get(|State(s): State<Site>| async move {
                s.count();
                ([(header::CONTENT_TYPE, "application/pdf")], PDF).into_response()
            }),
        )
        .route(
            "/moved",
            route_get(|State(s): State<Site>| async move {
                s.count();
                Redirect::temporary("/upload/logo.png")
            }),
        )
        .route(
            "/loop",
            route_get(|State(s): State<Site>| async move {
                s.count();
                Redirect::temporary("/loop")
            }),
        )
        .route(
            "/upload/fake.png",
            route_get(|State(s): State<Site>| async move {
                s.count();
                (
                    [(header::CONTENT_TYPE, "image/png")],
                    "<script>alert(1)</script>",
                )
                    .into_response()
            }),
        )
        .route(
            "/upload/plain",
            route_get(|State(s): State<Site>| async move {
                s.count();
                ([(header::CONTENT_TYPE, "application/octet-stream")], PNG).into_response()
            }),
        )
        .route(
            "/big.bin",
            route_get(|State(s): State<Site>| async move {
                s.count();
                vec![b'x'; 10_000]
            }),
        )
        .route(
            "/flaky.pdf",
            route_get(|State(s): State<Site>| async move {
                s.count();
                if s.flaky.fetch_add(1, Ordering::SeqCst) < 2 {
                    StatusCode::SERVICE_UNAVAILABLE.into_response()
                } else {
                    ([(header::CONTENT_TYPE, "application/pdf")], PDF).into_response()
                }
            }),
        )
        .fallback(|State(s): State<Site>| async move {
            s.count();
            StatusCode::NOT_FOUND.into_response()
        })
        .with_state(site.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), site)
}

/// leadgate with downloads allowed to reach the loopback site, a small size limit and no wait before a
/// retry.
async fn app_for_loopback() -> TestApp {
    let app = TestApp::spawn_with(|s| {
        s.layout_files.enabled = true;
        s.layout_files.allow_private_addresses = true;
        s.layout_files.max_bytes = 5_000;
        s.layout_files.max_redirects = 3;
        s.layout_files.retry_after_secs = 0;
        s.layout_files.timeout_secs = 20;
    })
    .await;
    set_admin_password(&app, ADMIN_PASSWORD).await;
    app
}

/// The seed sample with these layout file URLs.
fn order_with_files(urls: &[String]) -> String {
    let mut v: Value = serde_json::from_str(SEED_SAMPLE).unwrap();
    v["ФайлыМакета"] = urls
        .iter()
        .map(|u| serde_json::json!({"Файл": u}))
        .collect();
    v.to_string()
}

async fn post_lead(app: &TestApp, json: &str) -> i64 {
    let r = app.intake_json(json).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    r.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
}

/// Waits until the downloader has settled every file of the lead (stored, or failed for good).
async fn settled(app: &TestApp, lead: i64) -> Vec<LayoutFileView> {
    let storage = storage(app).await;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let files = storage.layout_files_of_lead(lead).await.unwrap();
        if !files.is_empty() && files.iter().all(|f| f.state != LayoutFileState::Pending) {
            return files;
        }
        assert!(
            Instant::now() < deadline,
            "the layout files were never settled: {files:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A file is an image when its bytes are one, whatever the site says: text sent as `image/png` gets no
/// thumbnail and is not called an image; a PNG sent as `application/octet-stream` gets its thumbnail.
#[tokio::test]
async fn a_file_is_an_image_by_its_bytes_not_by_the_sites_word() {
    let (site, _) = serve_site().await;
    let app = app_for_loopback().await;
    let urls = vec![
        format!("{site}/upload/fake.png"),
        format!("{site}/upload/plain"),
    ];
    let id = post_lead(&app, &order_with_files(&urls)).await;
    let files = settled(&app, id).await;
    assert_eq!(
        files[0].content_type.as_deref(),
        Some("application/octet-stream")
    );
    assert_eq!(files[1].content_type.as_deref(), Some("image/png"));
    let c = signed_in(&app, "admin", ADMIN_PASSWORD).await;
    let (_, html) = get(&app, &c, &format!("/leads/{id}")).await;
    let fake = format!("/leads/{id}/files/{}/preview", files[0].id);
    let real = format!("/leads/{id}/files/{}/preview", files[1].id);
    assert!(!html.contains(&fake), "{html}");
    assert!(html.contains(&format!("<img src=\"{real}\"")), "{html}");
}

#[tokio::test]
async fn layout_files_are_downloaded_kept_in_the_database_and_shown_with_a_download_link() {
    let (site, hits) = serve_site().await;
    let app = app_for_loopback().await;
    let urls = vec![
        format!("{site}/upload/logo.png"),
        format!("{site}/upload/%D0%BC%D0%B0%D0%BA%D0%B5%D1%82.pdf"),
        format!("{site}/upload/gone.pdf/missing"),
        format!("{site}/moved"),
        format!("{site}/loop"),
        format!("{site}/big.bin"),
    ];
    let id = post_lead(&app, &order_with_files(&urls)).await;
    let files = settled(&app, id).await;
    let state = |i: usize| (files[i].state, files[i].error.clone());
    assert_eq!(state(0), (LayoutFileState::Stored, None));
    assert_eq!(state(1), (LayoutFileState::Stored, None));
    assert_eq!(
        state(2),
        (LayoutFileState::Failed, Some("сайт ответил 404".to_owned()))
    );
    assert_eq!(
        state(3),
        (LayoutFileState::Stored, None),
        "a redirect is followed"
    );
    assert_eq!(
        state(4),
        (
            LayoutFileState::Failed,
            Some("слишком много перенаправлений (больше 3)".to_owned())
        )
    );
    assert_eq!(
        state(5),
        (
            LayoutFileState::Failed,
            Some("файл больше 5000 байт".to_owned())
        )
    );
    assert_eq!(files[1].file_name.as_deref(), Some("макет.pdf"));
    assert_eq!(files[1].content_type.as_deref(), Some("application/pdf"));
    assert_eq!(files[1].size, Some(PDF.len() as u64));
    assert!(hits.hits.load(Ordering::SeqCst) >= 6);

    // The bytes are in the database itself, so they travel with its backups and copies.
    let kept = storage(&app)
        .await
        .layout_file_content(id, files[0].id)
        .await
        .unwrap()
        .expect("the stored image");
    assert_eq!(kept.bytes, PNG);

    // The lead page: the image's thumbnail, the PDF's name, type and size, why the others failed, and
    // every original URL.
    let c = signed_in(&app, "admin", ADMIN_PASSWORD).await;
    let (status, html) = get(&app, &c, &format!("/leads/{id}")).await;
    assert_eq!(status, 200);
    let png = format!("/leads/{id}/files/{}", files[0].id);
    let pdf = format!("/leads/{id}/files/{}", files[1].id);
    assert!(
        html.contains(&format!("<img src=\"{png}/preview\"")),
        "{html}"
    );
    assert!(html.contains("макет.pdf"), "{html}");
    assert!(
        html.contains(&format!("application/pdf, {} Б", PDF.len())),
        "{html}"
    );
    assert!(html.contains(&format!("href=\"{pdf}\"")), "{html}");
    assert!(
        !html.contains(&format!("{pdf}/preview")),
        "a PDF has no thumbnail"
    );
    assert!(html.contains("не скачан: сайт ответил 404"), "{html}");
    assert!(html.contains("не скачан: файл больше 5000 байт"), "{html}");
    for url in &urls {
        assert!(
            html.contains(&format!("href=\"{url}\"")),
            "{url} is kept: {html}"
        );
    }

    // The download: an attachment with a safe name, never rendered.
    let r = c.get(format!("{}{pdf}", app.base)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/octet-stream");
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert_eq!(
        r.headers()["content-disposition"],
        "attachment; filename=\"_____.pdf\"; filename*=UTF-8''%D0%BC%D0%B0%D0%BA%D0%B5%D1%82%2Epdf"
    );
    assert_eq!(r.bytes().await.unwrap().as_ref(), PDF);
    let r = c
        .get(format!("{}{png}/preview", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/png");
    assert_eq!(r.bytes().await.unwrap().as_ref(), PNG);
    let r = c
        .get(format!("{}{pdf}/preview", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "only images are shown inline");

    // The printed tech card shows them too.
    let r = c
        .post(format!("{}/leads/{id}/tech-cards", app.base))
        .form(&[("csrf", session_csrf(&app, &c).await.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let card = storage(&app).await.tech_cards_of_lead(id).await.unwrap()[0].id;
    let (status, html) = get(&app, &c, &format!("/tech-cards/{card}")).await;
    assert_eq!(status, 200);
    assert!(
        html.contains(&format!("<img src=\"{png}/preview\"")),
        "{html}"
    );
    assert!(html.contains("макет.pdf"), "{html}");

    // Without a session nothing is served.
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}{pdf}", app.base))
        .send()
        .await
        .unwrap();
    assert_ne!(r.status(), 200);
}

#[tokio::test]
async fn a_site_that_is_down_is_tried_again_until_the_file_is_kept() {
    let (site, server) = serve_site().await;
    let app = app_for_loopback().await;
    let id = post_lead(&app, &order_with_files(&[format!("{site}/flaky.pdf")])).await;
    let files = settled(&app, id).await;
    assert_eq!(files[0].state, LayoutFileState::Stored);
    assert_eq!(files[0].attempts, 3, "two 503s, then the file");
    assert_eq!(server.flaky.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_site_down_for_good_is_given_up_after_the_configured_attempts() {
    let (site, server) = serve_site().await;
    let app = TestApp::spawn_with(|s| {
        s.layout_files.enabled = true;
        s.layout_files.allow_private_addresses = true;
        s.layout_files.retry_after_secs = 0;
        s.layout_files.max_attempts = 2;
    })
    .await;
    let id = post_lead(&app, &order_with_files(&[format!("{site}/flaky.pdf")])).await;
    let files = settled(&app, id).await;
    assert_eq!(files[0].state, LayoutFileState::Failed);
    assert_eq!(files[0].error.as_deref(), Some("сайт ответил 503"));
    assert_eq!(server.flaky.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn with_the_default_configuration_loopback_and_private_addresses_are_refused_before_connecting()
 {
    let (site, server) = serve_site().await;
    let port = site.rsplit(':').next().unwrap().to_owned();
    let defaults = LayoutFileSettings::default();
    assert!(!defaults.allow_private_addresses);
    let fetcher = Fetcher::new(&defaults).unwrap();
    for url in [
        format!("http://127.0.0.1:{port}/upload/logo.png"),
        format!("http://localhost:{port}/upload/logo.png"),
        format!("http://[::1]:{port}/upload/logo.png"),
        format!("http://[::ffff:127.0.0.1]:{port}/upload/logo.png"),
        "http://10.0.0.1/upload/logo.png".to_owned(),
        "http://169.254.169.254/latest/meta-data/".to_owned(),
    ] {
        let result = fetcher.fetch(&url).await;
        assert!(
            matches!(result, Err(FetchError::PrivateAddress(_))),
            "{url}: {result:?}"
        );
    }
    for url in ["ftp://shop.example/a.pdf", "file:///etc/passwd"] {
        let result = fetcher.fetch(url).await;
        assert!(
            matches!(result, Err(FetchError::BadUrl(_))),
            "{url}: {result:?}"
        );
    }
    assert_eq!(
        server.hits.load(Ordering::SeqCst),
        0,
        "nothing was connected to"
    );

    // The whole way, too: the page says why, the URL stays, and the site saw no request.
    let app = TestApp::spawn_with(|s| s.layout_files = LayoutFileSettings::default()).await;
    set_admin_password(&app, ADMIN_PASSWORD).await;
    let url = format!("http://127.0.0.1:{port}/upload/logo.png");
    let id = post_lead(&app, &order_with_files(std::slice::from_ref(&url))).await;
    let files = settled(&app, id).await;
    assert_eq!(files[0].state, LayoutFileState::Failed);
    let c = signed_in(&app, "admin", ADMIN_PASSWORD).await;
    let (_, html) = get(&app, &c, &format!("/leads/{id}")).await;
    assert!(
        html.contains("не скачан: адрес 127.0.0.1 не публичный"),
        "{html}"
    );
    assert!(html.contains(&format!("href=\"{url}\"")));
    assert_eq!(server.hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn erasing_a_persons_data_deletes_the_kept_layout_files() {
    let (site, _server) = serve_site().await;
    let app = app_for_loopback().await;
    let id = post_lead(
        &app,
        &order_with_files(&[format!("{site}/upload/logo.png")]),
    )
    .await;
    assert_eq!(settled(&app, id).await[0].state, LayoutFileState::Stored);
    let r = app
        .client
        .post(format!("{}/api/v1/personal-data/erase", app.base))
        .bearer_auth(&app.admin_token)
        .json(&serde_json::json!({"phone": "+7 925 642 42-90"}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let s = storage(&app).await;
    assert!(s.layout_files_of_lead(id).await.unwrap().is_empty());
}

#[tokio::test]
async fn in_chromium_the_lead_page_shows_the_kept_image_as_a_thumbnail() {
    let (site, _server) = serve_site().await;
    let app = app_for_loopback().await;
    let id = post_lead(
        &app,
        &order_with_files(&[
            format!("{site}/upload/logo.png"),
            format!("{site}/upload/gone.pdf/missing"),
        ]),
    )
    .await;
    settled(&app, id).await;
    let b = Browser::start().await;
    b.sign_in(&app, "admin", ADMIN_PASSWORD).await;
    b.client
        .goto(&format!("{}/leads/{id}", app.base))
        .await
        .unwrap();
    b.wait_for("img.thumb").await;
    // The image loaded under the UI's Content-Security-Policy (served by leadgate itself).
    let loaded = b
        .client
        .execute(
            "const i = document.querySelector('img.thumb'); \
             return i.complete && i.naturalWidth === 1 && i.naturalHeight === 1;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(loaded, Value::Bool(true), "the thumbnail did not load");
    let status = b
        .client
        .find(fantoccini::Locator::Css(".layout-status"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(status, "не скачан: сайт ответил 404");
    b.screenshot("lead-layout-files").await;
    b.stop().await;
}
