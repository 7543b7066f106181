//! Support for the web UI tests: users made through the real storage and password code, a signed-in HTTP
//! client (reqwest with a cookie jar), a rejected message put into the ledger, and headless Chromium driven
//! through chromedriver (WebDriver) on a free loopback port.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use fantoccini::{Client, ClientBuilder, Locator};
use leadgate_domain::account::Role;
use leadgate_storage::{
    Disposition, LedgerEntry, SourceRef, Storage, StoredRaw, Submission, SubmitOutcome,
};

use super::common::TestApp;

/// Opens the app's database beside it (SQLite's WAL lets the running server and this pool share it), as the
/// app holds it: behind the storage traits.
pub async fn storage(app: &TestApp) -> Arc<dyn Storage> {
    app.storage().await
}

/// Creates a user with a password, as the administration page would.
pub async fn add_user(app: &TestApp, login: &str, role: Role, password: &str) -> i64 {
    let hash = leadgate::password::hash(password.to_owned()).await.unwrap();
    storage(app)
        .await
        .create_user(login, login, role, Some(&hash))
        .await
        .unwrap()
}

/// Sets the password of the existing user `admin` (provisioned at first start).
pub async fn set_admin_password(app: &TestApp, password: &str) {
    let s = storage(app).await;
    let admin = s.user_credentials("admin").await.unwrap().unwrap();
    let hash = leadgate::password::hash(password.to_owned()).await.unwrap();
    s.update_user(admin.id, None, Some(&hash)).await.unwrap();
}

/// Records a rejected message with these raw bytes, as a collector would; returns its ledger id.
pub async fn reject_message(app: &TestApp, raw: &[u8], reason: &str) -> i64 {
    reject_as(app, raw, "message/rfc822", reason).await
}

/// Records a rejected message with this content type.
pub async fn reject_as(app: &TestApp, raw: &[u8], content_type: &str, reason: &str) -> i64 {
    let s = storage(app).await;
    let outcome = s
        .submit_batch(&[Submission {
            ledger: LedgerEntry {
                source: SourceRef::File,
                ledger_key: Some(format!("test:{}", leadgate::tokens::generate())),
                mailbox_key: None,
                message_id: Some("<hostile@shop.example>".into()),
                external_number: Some("13".into()),
                received_at: Utc::now(),
                raw: StoredRaw::new(raw.to_vec()),
                content_type: content_type.into(),
                content_hash: None,
            },
            disposition: Disposition::Rejected {
                reason: reason.into(),
            },
            idempotency: None,
        }])
        .await
        .unwrap();
    match outcome.as_slice() {
        [SubmitOutcome::Rejected { message_id }] => *message_id,
        other => panic!("not rejected: {other:?}"),
    }
}

/// A mail whose HTML part tries to run script and to change the page title.
pub const HOSTILE_RAW: &str = "From: robot@shop.example\r\nSubject: ORDER: 13\r\nMessage-ID: <hostile@shop.example>\r\n\
Content-Type: text/html; charset=utf-8\r\n\r\n\
<html><head><title>pwned</title><script>document.title='pwned';window.__pwned=1;</script></head>\
<body><img src=x onerror=\"window.__pwned=2\"><b>Заказ</b> {\"Тема\": broken</body></html>\r\n";

/// A browser-like HTTP client with its own cookie jar that does not follow redirects.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The value of the first `name="csrf"` hidden field in a page.
pub fn csrf_in(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    html[at..].split('"').next().unwrap().to_owned()
}

/// Signs in through the sign-in form; returns the response to the POST.
pub async fn sign_in(
    app: &TestApp,
    client: &reqwest::Client,
    login: &str,
    password: &str,
) -> reqwest::Response {
    let form = client
        .get(format!("{}/login", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    client
        .post(format!("{}/login", app.base))
        .form(&[
            ("login", login),
            ("password", password),
            ("csrf", &csrf_in(&form)),
            ("next", "/inbox"),
        ])
        .send()
        .await
        .unwrap()
}

/// A client signed in as this user (asserting the sign-in worked).
pub async fn signed_in(app: &TestApp, login: &str, password: &str) -> reqwest::Client {
    let c = client();
    let r = sign_in(app, &c, login, password).await;
    assert_eq!(r.status(), 303, "sign-in of {login} failed");
    c
}

/// GET a page with this client; returns status and body.
pub async fn get(app: &TestApp, client: &reqwest::Client, path: &str) -> (u16, String) {
    let r = client
        .get(format!("{}{path}", app.base))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// POSTs a form with this client; returns the response.
pub async fn post_form(
    app: &TestApp,
    client: &reqwest::Client,
    path: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    client
        .post(format!("{}{path}", app.base))
        .form(form)
        .send()
        .await
        .unwrap()
}

/// The CSRF token of the signed-in session (read from any page's sign-out form).
pub async fn session_csrf(app: &TestApp, client: &reqwest::Client) -> String {
    let (status, html) = get(app, client, "/account").await;
    assert_eq!(status, 200);
    csrf_in(&html)
}

/// Where test artefacts (screenshots) go: `target/ui-artifacts/` of the crate, not committed.
pub fn artifacts_dir() -> PathBuf {
    let base = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let dir = base.join("ui-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// chromedriver with one headless Chromium session. The driver is stopped when this is dropped.
pub struct Browser {
    pub client: Client,
    driver: Child,
    driver_url: String,
    _profile: tempfile::TempDir,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Browser {
    /// Starts chromedriver on a free port, waits for its `/status` to say ready, and opens a session of
    /// headless Chromium with the flags this machine needs (no sandbox as root, no background networking
    /// on a closed network) and a fresh profile.
    pub async fn start() -> Self {
        Self::start_with(None).await
    }

    /// As [`Browser::start`], with Chromium emulating a phone: a 390×844 CSS px viewport at device scale 3,
    /// touch events, a mobile user agent, and the page's `<meta name="viewport">` obeyed as on a phone.
    pub async fn start_phone() -> Self {
        Self::start_with(Some(serde_json::json!({
            "deviceMetrics": { "width": 390, "height": 844, "pixelRatio": 3.0, "touch": true, "mobile": true },
            "userAgent": "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) \
                          Chrome/126.0 Mobile Safari/537.36",
        })))
        .await
    }

    async fn start_with(mobile_emulation: Option<serde_json::Value>) -> Self {
        let driver_bin =
            std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
        let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        let port = free_port();
        // A process group of its own, so a failed test can stop chromedriver and the browser it started.
        let driver = Command::new(&driver_bin)
            .process_group(0)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {driver_bin} (scripts/test installs it): {e}")
            });
        let base = format!("http://127.0.0.1:{port}");
        let status = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = status
                .get(format!("{base}/status"))
                .send()
                .await
                .ok()
                .filter(|r| r.status().is_success());
            if let Some(r) = ready {
                let body: serde_json::Value = r.json().await.unwrap_or_default();
                if body["value"]["ready"].as_bool() == Some(true) {
                    break;
                }
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not become ready"
            );
            // Polling the driver's readiness endpoint, not sleeping for it: the pause only spaces the polls.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let profile = tempfile::tempdir().unwrap();
        let mut caps = serde_json::Map::new();
        let mut options = serde_json::json!({
                "binary": chromium,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--no-first-run", "--disable-dev-shm-usage", "--window-size=1366,900",
                    format!("--user-data-dir={}", profile.path().display()),
                ]
        });
        if let Some(emulation) = mobile_emulation {
            options["mobileEmulation"] = emulation;
        }
        caps.insert("goog:chromeOptions".into(), options);
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&base)
            .await
            .expect("a Chromium session");
        Browser {
            client,
            driver,
            driver_url: base,
            _profile: profile,
        }
    }

    /// Clicks the element `css` selects.
    pub async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .click()
            .await
            .unwrap();
    }

    /// Clicks the element `css` selects (a submit button or a link) and waits until the page it loads has
    /// replaced this one: an element both pages have would otherwise be found on this one, before it goes.
    pub async fn click_to_load(&self, css: &str) {
        self.client
            .execute("document.documentElement.dataset.leaving = 'yes'", vec![])
            .await
            .unwrap();
        self.click(css).await;
        self.wait_for("html:not([data-leaving])").await;
    }

    /// Waits until an element `css` selects is on the page.
    pub async fn wait_for(&self, css: &str) {
        self.client
            .wait()
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"));
    }

    /// Types `text` into the element `css` selects.
    pub async fn type_into(&self, css: &str, text: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .send_keys(text)
            .await
            .unwrap();
    }

    /// Signs in through the form and waits for the inbox.
    pub async fn sign_in(&self, app: &TestApp, login: &str, password: &str) {
        self.client
            .goto(&format!("{}/login", app.base))
            .await
            .unwrap();
        self.type_into("#login", login).await;
        self.type_into("#password", password).await;
        self.click("#sign-in").await;
        self.wait_for("table.leads, p.empty").await;
    }

    /// Saves a PNG screenshot of the page under `target/ui-artifacts/`.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.unwrap();
        let path = artifacts_dir().join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        path
    }

    /// Runs a Chrome DevTools Protocol command in this session (through chromedriver); returns its result.
    pub async fn cdp(&self, cmd: &str, params: serde_json::Value) -> serde_json::Value {
        let session = self.client.session_id().await.unwrap().unwrap();
        let r = reqwest::Client::new()
            .post(format!(
                "{}/session/{session}/goog/cdp/execute",
                self.driver_url
            ))
            .json(&serde_json::json!({ "cmd": cmd, "params": params }))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{cmd}: {}", r.status());
        r.json::<serde_json::Value>().await.unwrap()["value"].take()
    }

    /// Saves a PNG of the page beyond what the viewport shows (its top 4000 CSS px, at 1.5 device pixels
    /// to the CSS pixel on a phone, to keep it quick), under `target/ui-artifacts/`.
    pub async fn full_page_screenshot(&self, name: &str) -> PathBuf {
        use base64::Engine as _;
        let size = self
            .client
            .execute(
                "const d = document.documentElement; \
                 return [d.scrollWidth, Math.min(d.scrollHeight, 4000), Math.min(1, 1.5 / devicePixelRatio)]",
                vec![],
            )
            .await
            .unwrap();
        let shot = self
            .cdp(
                "Page.captureScreenshot",
                serde_json::json!({
                    "format": "png",
                    "captureBeyondViewport": true,
                    "clip": { "x": 0, "y": 0, "width": size[0], "height": size[1], "scale": size[2] },
                }),
            )
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap())
            .unwrap();
        let path = artifacts_dir().join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        path
    }

    /// Ends the session and the driver.
    pub async fn stop(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    /// After a panic the session cannot be closed politely: kill the driver's process group, which holds the
    /// browser it started.
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.driver.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
