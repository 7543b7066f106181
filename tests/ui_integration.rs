//! The administrators' "site integration" page (`/admin/integration`): the instructions for a shop's website
//! with this leadgate's own address, its HTTP sources and mail collectors filled in, escaped and CSP-clean;
//! over plain HTTP (reqwest) and in headless Chromium from the admin navigation.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
mod ui_support;

use common::TestApp;
use fantoccini::Locator;
use leadgate_domain::account::Role;
use ui_support::*;

const ADMIN_PASSWORD: &str = "admin-password-for-tests";

async fn page_with_host(app: &TestApp, client: &reqwest::Client, host: &str) -> String {
    let r = client
        .get(format!("{}/admin/integration", app.base))
        .header("host", host)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let csp = r.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    let html = r.text().await.unwrap();
    // CSP-clean: every script is a file, no inline script or style, no inline event handler.
    for script in html.split("<script").skip(1) {
        assert!(
            script.trim_start().starts_with("src="),
            "inline script: {script}"
        );
    }
    assert!(!html.contains("<style"));
    assert!(!html.contains(" onclick="));
    html
}

#[tokio::test]
async fn the_page_fills_in_the_shops_address_sources_and_mailboxes_escaped() {
    let app = TestApp::spawn().await;
    set_admin_password(&app, ADMIN_PASSWORD).await;
    let storage = storage(&app).await;
    let calendar = storage
        .create_calendar("<i>Печать & Ко</i>", None, "#3366cc")
        .await
        .unwrap();
    storage
        .create_http_source("calculator", calendar, &leadgate::tokens::hash("t"))
        .await
        .unwrap();
    let c = signed_in(&app, "admin", ADMIN_PASSWORD).await;

    let html = page_with_host(&app, &c, "leads.print.example").await;
    // The shop's own address, from the Host the administrator used.
    assert!(html.contains("<code id=\"base-url\">http://leads.print.example</code>"));
    assert!(html.contains("POST http://leads.print.example/api/v1/intake"));
    assert!(html.contains(
        "<a id=\"schema-url\" href=\"http://leads.print.example/api/v1/format/v0.1.schema.json\">"
    ));
    // The examples carry it instead of the placeholder (the curl one reads it from LEADGATE_URL).
    assert!(html.contains("LEADGATE_URL=http://leads.print.example LEADGATE_TOKEN="));
    assert!(html.contains("data-leadgate-url=&#34;http://leads.print.example&#34;"));
    assert!(!html.contains("leads.shop.example"));
    for file in [
        "mail-phpmailer.php",
        "http-curl.php",
        "form.html",
        "leadgate-form.js",
        "http_urllib.py",
    ] {
        assert!(html.contains(&format!("data-example=\"{file}\"")), "{file}");
    }
    // Every HTTP source by name, with its calendar (escaped) and its CORS origins.
    assert!(html.contains("<tr data-source=\"website\">"));
    assert!(html.contains("<tr data-source=\"calculator\">"));
    assert!(html.contains("https://shop.example"));
    assert!(html.contains("&#60;i&#62;Печать &#38; Ко&#60;/i&#62;"));
    assert!(!html.contains("<i>Печать"));
    assert!(html.contains("нет — из браузера не отправить"));
    assert!(html.contains("&lt;токен calculator&gt;"));
    // The admin navigation links the page.
    assert!(html.contains("<a href=\"/admin/integration\" class=\"button\">Подключение сайта</a>"));

    // The schema link works: the same path on this server.
    let schema = app
        .client
        .get(format!("{}/api/v1/format/v0.1.schema.json", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(schema.status(), 200);

    // Over HTTPS (as a reverse proxy says) the links are https.
    let r = c
        .get(format!("{}/admin/integration", app.base))
        .header("host", "leads.print.example")
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("<code id=\"base-url\">https://leads.print.example</code>")
    );

    // A Host that is not a plain host name is not echoed: the listen address is shown instead.
    let html = page_with_host(&app, &c, "evil.example\"><script>alert(1)</script>").await;
    assert!(!html.contains("alert(1)"));
    assert!(!html.contains("evil.example"));
    let listen = app.base.trim_start_matches("http://");
    assert!(
        html.contains("<code id=\"base-url\">http://127.0.0.1:8080</code>")
            || html.contains(&format!("<code id=\"base-url\">http://{listen}</code>")),
        "{}",
        html.split("base-url")
            .nth(1)
            .unwrap_or("")
            .chars()
            .take(80)
            .collect::<String>()
    );
}

#[tokio::test]
async fn the_page_names_each_mail_collectors_mailbox_and_keyword() {
    let app = TestApp::spawn_with(|s| {
        s.schedule.mail_collector.enabled = false;
        s.collectors = vec![
            toml::from_str(
                "name = \"site-orders\"\nprotocol = \"imap\"\nhost = \"mail.print.example\"\nport = 993\n\
                 username = \"orders@print.example\"\npassword_env = \"UNUSED_IN_THIS_TEST\"\n\
                 keyword = \"ZAKAZ\"\n",
            )
            .unwrap(),
        ];
    })
    .await;
    set_admin_password(&app, ADMIN_PASSWORD).await;
    let c = signed_in(&app, "admin", ADMIN_PASSWORD).await;
    let html = page_with_host(&app, &c, "leads.print.example").await;
    assert!(html.contains("<tr data-collector=\"site-orders\">"));
    assert!(html.contains("orders@print.example (mail.print.example:993)"));
    assert!(html.contains("<code>ZAKAZ: &lt;номер заявки&gt;</code>"));
}

#[tokio::test]
async fn managers_cannot_open_the_page() {
    let app = TestApp::spawn().await;
    add_user(&app, "manager1", Role::Manager, "manager-password").await;
    let c = signed_in(&app, "manager1", "manager-password").await;
    let (status, _) = get(&app, &c, "/admin/integration").await;
    assert_eq!(status, 403);
    // Signed out: to the sign-in page.
    let r = client()
        .get(format!("{}/admin/integration", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
}

#[tokio::test]
async fn an_administrator_reaches_the_page_from_the_admin_navigation_in_chromium() {
    let app = TestApp::spawn().await;
    set_admin_password(&app, ADMIN_PASSWORD).await;
    let browser = Browser::start().await;
    browser.sign_in(&app, "admin", ADMIN_PASSWORD).await;
    browser
        .client
        .goto(&format!("{}/admin/sources", app.base))
        .await
        .unwrap();
    browser.click("a[href='/admin/integration']").await;
    browser.wait_for("#integration-summary").await;
    let base = browser
        .client
        .find(Locator::Css("#base-url"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(base, app.base);
    let curl = browser
        .client
        .find(Locator::Css("pre[data-example='http-curl.php']"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        curl.contains(&format!("LEADGATE_URL={} ", app.base)),
        "{curl}"
    );
    browser.screenshot("admin-integration").await;
    browser.stop().await;
}
