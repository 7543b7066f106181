//! The site developers' examples under `docs/examples/`, each run as it is against a live leadgate: PHPMailer's
//! ORDER mail delivered into the test Dovecot and collected, PHP with curl and Python's urllib posting to the
//! HTTP intake, and the browser form submitted in headless Chromium from a page on another origin. Each test
//! asserts the lead that arrived, field by field. A missing tool fails the test with what to install
//! (`scripts/test` installs them).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
mod ui_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::TestApp;
use common::dovecot::{dovecot, unique_user};
use fantoccini::Locator;
use leadgate::config::CollectorConfig;
use serde_json::Value;
use ui_support::Browser;

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("docs/examples")
        .join(name)
}

/// Runs a command off the test's runtime (which serves leadgate meanwhile), failing with a clear message when
/// the tool itself is missing.
/// The lead's `Дата` is the moment the example sent it: an example that writes the site server's local time
/// without its offset (a server in UTC) would put the lead hours away in the shop's calendar.
fn dated_when_sent(lead: &serde_json::Value) {
    let at = |key: &str| {
        chrono::DateTime::parse_from_rfc3339(lead[key].as_str().unwrap_or_default())
            .unwrap_or_else(|e| panic!("{key}: {e}: {lead}"))
    };
    let off = (at("received_at") - at("occurred_at")).num_seconds().abs();
    assert!(off < 300, "occurred_at is {off} s from received_at: {lead}");
}

async fn run(program: &str, args: &[&str], env: &[(&str, &str)], install: &str) -> Output {
    let mut command = Command::new(program);
    command.args(args);
    for (key, value) in env {
        command.env(key, value);
    }
    let (program, install) = (program.to_owned(), install.to_owned());
    tokio::task::spawn_blocking(move || {
        command.output().unwrap_or_else(|e| {
            panic!("cannot run {program} ({e}): install {install} (scripts/test installs it)")
        })
    })
    .await
    .unwrap()
}

fn stdout_of(output: &Output, what: &str) -> String {
    assert!(
        output.status.success(),
        "{what} failed: {}\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// php with the extensions an example needs, or a clear failure.
async fn require_php(extensions: &[&str]) {
    let modules = stdout_of(
        &run("php", &["-m"], &[], "php-cli").await,
        "php -m (is php-cli installed?)",
    );
    for extension in extensions {
        assert!(
            modules.lines().any(|m| m.eq_ignore_ascii_case(extension)),
            "php has no {extension} extension: install php-{extension} (scripts/test installs it)"
        );
    }
}

/// The lead id an example printed in its "принято: лид N" line.
fn printed_lead_id(stdout: &str) -> i64 {
    let rest = stdout
        .split("принято: лид ")
        .nth(1)
        .unwrap_or_else(|| panic!("no accepted lead in the output: {stdout}"));
    rest.split_whitespace().next().unwrap().parse().unwrap()
}

async fn lead(app: &TestApp, id: i64) -> Value {
    app.get(&format!("/api/v1/leads/{id}")).await
}

async fn only_lead(app: &TestApp) -> Value {
    let list = app.get("/api/v1/leads?limit=10").await;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{list}");
    lead(app, items[0]["id"].as_i64().unwrap()).await
}

#[tokio::test]
async fn the_phpmailer_example_mail_is_collected_as_an_order() {
    require_php(&["iconv"]).await;
    let phpmailer =
        std::env::var("PHPMAILER_DIR").unwrap_or_else(|_| "/usr/share/php/libphp-phpmailer".into());
    assert!(
        Path::new(&phpmailer).join("src/PHPMailer.php").exists(),
        "PHPMailer is not in {phpmailer}: install libphp-phpmailer (scripts/test installs it)"
    );
    // The example builds the message with PHPMailer and prints the bytes it would hand to SMTP.
    let script = example("mail-phpmailer.php");
    let output = run(
        "php",
        &[script.to_str().unwrap(), "--print"],
        &[("LEADGATE_MAILBOX", "orders@print.example")],
        "php-cli",
    )
    .await;
    let mime = stdout_of(&output, "mail-phpmailer.php --print");
    assert!(
        mime.contains("\nSubject: ORDER: 1042\r\n") || mime.contains("\nSubject: ORDER: 1042\n")
    );
    assert!(mime.contains("application/json; charset=windows-1251"));
    // The attachment really is Windows-1251 text (not UTF-8, not \u escapes).
    let found = leadgate_mail::extract::find_payload(mime.as_bytes(), encoding_rs::UTF_8).unwrap();
    assert_eq!(found.encoding, encoding_rs::WINDOWS_1251);
    assert!(!found.had_errors);
    assert!(
        found
            .text
            .contains("\"КонтактноеЛицо\": \"Соколова Марина\"")
    );

    let dc = dovecot();
    let user = unique_user("example-phpmailer");
    dc.deliver(&user, mime.as_bytes());
    let secrets = tempfile::tempdir().unwrap();
    let password = secrets.path().join("password");
    std::fs::write(&password, dc.var("DOVECOT_PASSWORD")).unwrap();
    let collector: CollectorConfig = toml::from_str(&format!(
        "name = \"site-orders\"\nprotocol = \"imap\"\nhost = \"localhost\"\nport = {}\ntls = \"none\"\n\
         username = \"{user}\"\npassword_file = \"{}\"\n",
        dc.port("DOVECOT_IMAP_PORT"),
        password.display()
    ))
    .unwrap();
    let app = TestApp::spawn_with(move |s| {
        s.schedule.mail_collector.enabled = false;
        s.collectors = vec![collector];
    })
    .await;
    let run = app.run_collector_now("site-orders").await;
    assert_eq!(run["counts"]["imported"], 1, "{run}");

    let lead = only_lead(&app).await;
    assert_eq!(lead["kind"], "order");
    assert_eq!(lead["subject"], "Заказ №1042 с калькулятора баннеров");
    assert_eq!(lead["source"]["channel"], "mail");
    assert_eq!(lead["source"]["collector"], "site-orders");
    assert_eq!(lead["source"]["external_number"], "1042");
    assert_eq!(lead["contact"]["person"], "Соколова Марина");
    assert_eq!(lead["contact"]["phone_e164"], "+79161234567");
    assert_eq!(lead["contact"]["email"], "zakaz@klient.example");
    assert_eq!(lead["inn"], "7707083893");
    assert_eq!(lead["counterparty"]["inn"], "7707083893");
    dated_when_sent(&lead);
    assert_eq!(
        lead["layout_files"],
        serde_json::json!(["https://shop.example/upload/banner-1042.pdf"])
    );
    let lines = lead["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 2, "{lead}");
    assert_eq!(lines[0]["nomenclature"], "Баннер 3x1 м");
    assert_eq!(lines[0]["material"], "Баннер литой 440 г/м2");
    assert_eq!(lines[0]["machine_code"], "1");
    assert_eq!(lines[0]["price"], "1250.5");
    assert_eq!(lines[0]["extra_works"][0]["kind"], "Люверсы");
    assert_eq!(lines[1]["nomenclature"], "Доставка");
    assert_eq!(lines[1]["is_service"], true);
    assert_eq!(lead["warnings"], serde_json::json!([]), "{lead}");
}

#[tokio::test]
async fn the_php_curl_example_posts_a_contact_lead() {
    require_php(&["curl"]).await;
    let app = TestApp::spawn().await;
    let script = example("http-curl.php");
    let output = run(
        "php",
        &[script.to_str().unwrap()],
        &[
            ("LEADGATE_URL", &app.base),
            ("LEADGATE_TOKEN", &app.source_token),
        ],
        "php-cli and php-curl",
    )
    .await;
    let stdout = stdout_of(&output, "http-curl.php");
    assert!(
        stdout.contains("(contact) в календаре «Заявки с сайта»"),
        "{stdout}"
    );
    let lead = lead(&app, printed_lead_id(&stdout)).await;
    assert_eq!(lead["kind"], "contact");
    assert_eq!(lead["source"]["channel"], "http");
    assert_eq!(lead["source"]["http_source"], "website");
    assert_eq!(lead["subject"], "Обратный звонок: визитки");
    assert_eq!(
        lead["description"],
        "Визитки 500 шт., двусторонние, к пятнице"
    );
    assert_eq!(lead["contact"]["person"], "Олег Петров");
    assert_eq!(lead["contact"]["phone_e164"], "+79167654321");
    dated_when_sent(&lead);
    assert_eq!(lead["warnings"], serde_json::json!([]), "{lead}");

    // A wrong token: the example says why and exits non-zero.
    let output = run(
        "php",
        &[script.to_str().unwrap()],
        &[("LEADGATE_URL", &app.base), ("LEADGATE_TOKEN", "wrong")],
        "php-cli and php-curl",
    )
    .await;
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("leadgate ответил 401"));
}

#[tokio::test]
async fn the_python_example_posts_an_order() {
    let app = TestApp::spawn().await;
    let script = example("http_urllib.py");
    let output = run(
        "python3",
        &[script.to_str().unwrap()],
        &[
            ("LEADGATE_URL", &app.base),
            ("LEADGATE_TOKEN", &app.source_token),
        ],
        "python3",
    )
    .await;
    let stdout = stdout_of(&output, "http_urllib.py");
    assert!(
        stdout.contains("(order) в календаре «Заявки с сайта»"),
        "{stdout}"
    );
    let lead = lead(&app, printed_lead_id(&stdout)).await;
    assert_eq!(lead["kind"], "order");
    assert_eq!(lead["subject"], "Заказ №7781 из интернет-магазина");
    assert_eq!(lead["inn"], "500100732259");
    assert_eq!(lead["counterparty"]["inn"], "500100732259");
    dated_when_sent(&lead);
    assert_eq!(lead["contact"]["person"], "ИП Кузнецов Андрей");
    assert_eq!(lead["contact"]["phone_e164"], "+79251112233");
    assert_eq!(lead["contact"]["email"], "ip.kuznetsov@klient.example");
    let line = &lead["lines"][0];
    assert_eq!(line["nomenclature"], "Наклейки 10×10 см");
    assert_eq!(line["width"], "0.1");
    assert_eq!(line["quantity"], "300");
    assert_eq!(line["price"], "12.50");
    assert_eq!(line["amount"], "3750");
    assert_eq!(lead["warnings"], serde_json::json!([]), "{lead}");
}

/// Serves the example page and its script on `listener` (an origin of their own), the page's form pointed
/// at leadgate's `base` URL with the source's `token`, as a shop's developer fills them in.
fn serve_shop_page(listener: tokio::net::TcpListener, leadgate: &str, token: &str) {
    let html = std::fs::read_to_string(example("form.html")).unwrap();
    assert!(html.contains("data-leadgate-url=\"https://leads.shop.example\""));
    assert!(html.contains("data-leadgate-token=\"ТОКЕН_ИСТОЧНИКА\""));
    let html = html
        .replace("https://leads.shop.example", leadgate)
        .replace("ТОКЕН_ИСТОЧНИКА", token);
    let script = std::fs::read_to_string(example("leadgate-form.js")).unwrap();
    let html_type = [(axum::http::header::CONTENT_TYPE, "text/html; charset=utf-8")];
    let js_type = [(axum::http::header::CONTENT_TYPE, "text/javascript")];
    let site = axum::Router::new()
        .route(
            "/order.html",
            axum::routing::get(move || async move { (html_type, html) }),
        )
        .route(
            "/leadgate-form.js",
            axum::routing::get(move || async move { (js_type, script) }),
        );
    tokio::spawn(async move { axum::serve(listener, site).await });
}

#[tokio::test]
async fn the_browser_form_example_files_a_lead_from_another_origin() {
    // The page's origin must be known before leadgate starts: it goes into the source's cors_origins.
    let page = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let page_origin = format!("http://{}", page.local_addr().unwrap());
    let origin = page_origin.clone();
    let app = TestApp::spawn_with(move |s| {
        s.http_sources[0].cors_origins = vec![origin];
    })
    .await;
    serve_shop_page(page, &app.base, &app.source_token);

    let browser = Browser::start().await;
    browser
        .client
        .goto(&format!("{page_origin}/order.html"))
        .await
        .unwrap();
    browser.type_into("#name", "Анна Смирнова").await;
    browser.type_into("#phone", "+7 903 555-66-77").await;
    browser.type_into("#email", "anna@klient.example").await;
    browser
        .type_into("#comment", "Листовки А5, 1000 шт. <b>срочно</b>")
        .await;
    browser.click("#send").await;
    browser.wait_for("#lead-result[data-lead-id]").await;
    let result = browser
        .client
        .find(Locator::Css("#lead-result"))
        .await
        .unwrap();
    let id: i64 = result
        .attr("data-lead-id")
        .await
        .unwrap()
        .unwrap()
        .parse()
        .unwrap();
    let text = result.text().await.unwrap();
    assert_eq!(
        text,
        format!("Спасибо! Заявка №{id} принята, мы перезвоним.")
    );
    browser.stop().await;

    let lead = lead(&app, id).await;
    assert_eq!(lead["kind"], "contact");
    assert_eq!(lead["source"]["http_source"], "website");
    assert_eq!(lead["subject"], "Обратный звонок с сайта");
    assert_eq!(lead["contact"]["person"], "Анна Смирнова");
    assert_eq!(lead["contact"]["phone_e164"], "+79035556677");
    assert_eq!(lead["contact"]["email"], "anna@klient.example");
    assert_eq!(lead["description"], "Листовки А5, 1000 шт. <b>срочно</b>");
    dated_when_sent(&lead);
    assert_eq!(lead["warnings"], serde_json::json!([]), "{lead}");
}

#[test]
fn the_integration_guide_shows_every_example_as_it_is() {
    let guide = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/site-integration.md"),
    )
    .unwrap();
    for name in [
        "mail-phpmailer.php",
        "http-curl.php",
        "form.html",
        "leadgate-form.js",
        "http_urllib.py",
    ] {
        let code = std::fs::read_to_string(example(name)).unwrap();
        assert!(
            guide.contains(&format!("\n{code}```\n")),
            "docs/site-integration.md does not show docs/examples/{name} as it is"
        );
        assert!(
            guide.contains(&format!("(examples/{name})")),
            "{name} is not linked"
        );
    }
}

/// The README's curl command, as written (with the token and address of a test server), files the sample.
#[tokio::test]
async fn the_readme_curl_example_files_the_sample_order() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let command = readme
        .split("```sh\ncurl ")
        .nth(1)
        .and_then(|rest| rest.split("\n```").next())
        .expect("a curl example in the README");
    let command = format!("curl {command}")
        .replace("\\\n", " ")
        .replace("<website token>", "website-token-for-tests");
    let app = TestApp::spawn().await;
    let command = command.replace("http://127.0.0.1:8080", &app.base);
    let args: Vec<String> = command
        .split_whitespace()
        .map(str::to_owned)
        .collect::<Vec<_>>();
    // Quoted header values hold spaces: rejoin "…" runs into one argument each.
    let mut argv: Vec<String> = Vec::new();
    let mut open: Option<String> = None;
    for word in args {
        match open.take() {
            Some(mut partial) => {
                partial.push(' ');
                partial.push_str(&word);
                if partial.ends_with('"') {
                    argv.push(partial.trim_matches('"').to_owned());
                } else {
                    open = Some(partial);
                }
            }
            None if word.starts_with('"') && !(word.len() > 1 && word.ends_with('"')) => {
                open = Some(word)
            }
            None => argv.push(word.trim_matches('"').to_owned()),
        }
    }
    assert_eq!(argv[0], "curl");
    let mut curl = std::process::Command::new("curl");
    curl.current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(&argv[1..])
        .args(["--silent", "--show-error", "--write-out", "\n%{http_code}"]);
    let output = tokio::task::spawn_blocking(move || curl.output())
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("cannot run curl ({e}): install curl"));
    let stdout = stdout_of(&output, "the README's curl example");
    assert!(stdout.ends_with("\n201"), "{stdout}");
    let created: Value = serde_json::from_str(stdout.rsplit_once('\n').unwrap().0).unwrap();
    let lead = lead(&app, created["id"].as_i64().unwrap()).await;
    assert_eq!(lead["subject"], "Заказ №123 от 01.06.2019 бла бла бла");
    assert_eq!(lead["kind"], "order");
}

/// A receiver example serving on loopback; killed when dropped. Its output goes to `log`.
struct Served {
    child: std::process::Child,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn serve_example(program: &str, args: &[&str], secret: &str, install: &str) -> Served {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("receiver.log");
    let out = std::fs::File::create(&log).unwrap();
    let child = Command::new(program)
        .args(args)
        .env("LEADGATE_WEBHOOK_SECRET", secret)
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run {program} ({e}): install {install} (scripts/test installs it)")
        });
    Served {
        child,
        log,
        _dir: dir,
    }
}

/// A webhook to `port` on loopback is created in a live leadgate, the receiver example started with its
/// secret, and a lead posted: leadgate's log shows it delivered, the receiver printed the event, and a
/// request with a forged signature is refused by the receiver.
async fn a_receiver_example_accepts_signed_leads_only(
    port: u16,
    start: impl FnOnce(&str) -> Served,
) {
    let app = TestApp::spawn_with(|s| {
        s.webhooks.allow_private_addresses = true;
        s.webhooks.retry_after_secs = 0;
        s.webhooks.max_retry_wait_secs = 1;
    })
    .await;
    let calendars = app.get("/api/v1/calendars").await;
    let calendar = calendars
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "Заявки с сайта")
        .unwrap()["id"]
        .clone();
    let url = format!("http://127.0.0.1:{port}/leadgate-webhook");
    let created: Value = app
        .client
        .post(format!("{}/api/v1/webhooks", app.base))
        .bearer_auth(&app.admin_token)
        .json(&serde_json::json!({"calendar_id": calendar, "url": url}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let secret = created["secret"].as_str().unwrap().to_owned();
    let webhook = created["id"].as_i64().unwrap();
    let served = start(&secret);

    let response = app.intake_json(common::SEED_SAMPLE).await;
    assert_eq!(response.status().as_u16(), 201);
    let lead_id = response.json::<Value>().await.unwrap()["id"]
        .as_i64()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let delivery = loop {
        let log = app
            .get(&format!("/api/v1/webhooks/{webhook}/deliveries"))
            .await;
        if log["items"][0]["status"] == "delivered" {
            break log["items"][0].clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never delivered: {log}\nreceiver: {}",
            std::fs::read_to_string(&served.log).unwrap_or_default()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(delivery["last_status"], 200);

    // A forged signature, and a valid one made with another secret, are refused.
    let body = br#"{"id":1,"type":"lead.created","lead":{"id":1}}"#;
    let now = chrono::Utc::now().timestamp();
    for signature in [
        format!("t={now},v1={}", "0".repeat(64)),
        leadgate::webhooks::sign::header_value("whsec_another", now, body),
        leadgate::webhooks::sign::header_value(&secret, now - 3600, body),
    ] {
        let forged = app
            .client
            .post(&url)
            .header("content-type", "application/json")
            .header("leadgate-signature", &signature)
            .body(body.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status().as_u16(), 400, "{signature}");
    }
    // And the one leadgate signs is accepted.
    let signed = app
        .client
        .post(&url)
        .header("content-type", "application/json")
        .header(
            "leadgate-signature",
            leadgate::webhooks::sign::header_value(&secret, now, body),
        )
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status().as_u16(), 200);

    let printed = std::fs::read_to_string(&served.log).unwrap();
    let line = format!(
        "получено: событие {} lead.created, лид {lead_id}, ",
        delivery["event_id"]
    );
    assert!(printed.contains(&line), "{line:?} not in {printed}");
    drop(served);
}

#[tokio::test]
async fn the_php_webhook_receiver_accepts_signed_leads_only() {
    require_php(&["hash"]).await;
    let port = free_port();
    let script = example("webhook-receiver.php");
    a_receiver_example_accepts_signed_leads_only(port, |secret| {
        serve_example(
            "php",
            &["-S", &format!("127.0.0.1:{port}"), script.to_str().unwrap()],
            secret,
            "php-cli",
        )
    })
    .await;
}

#[tokio::test]
async fn the_python_webhook_receiver_accepts_signed_leads_only() {
    let port = free_port();
    let script = example("webhook_receiver.py");
    a_receiver_example_accepts_signed_leads_only(port, |secret| {
        serve_example(
            "python3",
            &[script.to_str().unwrap(), "127.0.0.1", &port.to_string()],
            secret,
            "python3",
        )
    })
    .await;
}
