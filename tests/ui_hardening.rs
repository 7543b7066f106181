//! Input that must not hurt leadgate or leak a secret: the collector form cannot send a server's password
//! elsewhere, and links are made only from plausible values.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
mod ui_support;

use common::TestApp;
use leadgate::mail::tls::TlsMode;
use leadgate::storage::{AfterImport, CollectorRecord, Protocol, Storage};
use serde_json::{Value, json};
use ui_support::*;

const ADMIN_PASSWORD: &str = "admin-password-for-tests";
const RESERVED: &str = "LEADGATE_COLLECTOR_SITE_ORDERS_PASSWORD";

async fn app_with_admin() -> TestApp {
    let app = TestApp::spawn().await;
    set_admin_password(&app, ADMIN_PASSWORD).await;
    app
}

async fn post_form(
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

async fn post_lead(app: &TestApp, payload: Value) -> Value {
    let r = app.intake_json(&payload.to_string()).await;
    assert_eq!(r.status(), 201);
    r.json().await.unwrap()
}

/// A collector as the configuration file provisions it: its password in a file of the server.
async fn provisioned_collector(app: &TestApp) -> CollectorRecord {
    let secret = app.dir().join("mail.password");
    std::fs::write(&secret, "the-mailbox-password\n").unwrap();
    let s = storage(app).await;
    let id = s
        .upsert_collector(&CollectorRecord {
            id: 0,
            name: "site-orders".into(),
            protocol: Protocol::Imap,
            host: "127.0.0.1".into(),
            port: 993,
            tls: TlsMode::Implicit,
            ca_file: None,
            insecure_skip_verify: false,
            username: "orders@example.ru".into(),
            password_env: None,
            password_file: Some(secret),
            folder: "INBOX".into(),
            keyword: "ORDER".into(),
            calendar_id: 1,
            default_charset: "windows-1251".into(),
            after_import: AfterImport::Keep,
            move_to: None,
            failed_folder: None,
            delete_after_days: None,
            auto_tech_cards: false,
            deleted: false,
        })
        .await
        .unwrap();
    s.collector(id).await.unwrap().unwrap()
}

/// The edit form's fields for a stored collector, with `changes` applied.
fn edit_form<'a>(
    csrf: &'a str,
    c: &'a CollectorRecord,
    port: &'a str,
    changes: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let mut form = vec![
        ("csrf", csrf),
        ("protocol", "imap"),
        ("host", c.host.as_str()),
        ("port", port),
        ("tls", "implicit"),
        ("username", c.username.as_str()),
        ("password_env", ""),
        ("folder", "INBOX"),
        ("keyword", "ORDER"),
        ("calendar", "1"),
        ("default_charset", "windows-1251"),
        ("after_import", "keep"),
    ];
    for (key, value) in changes {
        form.iter_mut().find(|(k, _)| k == key).unwrap().1 = value;
    }
    form
}

#[tokio::test]
async fn moving_a_collector_to_another_address_drops_its_password_unless_named_again() {
    let app = app_with_admin().await;
    let before = provisioned_collector(&app).await;
    let c = signed_in(&app, "admin", ADMIN_PASSWORD).await;
    let csrf = session_csrf(&app, &c).await;
    let path = format!("/admin/collectors/{}", before.id);

    let (status, page) = get(&app, &c, &path).await;
    assert_eq!(status, 200);
    assert!(page.contains("name=\"password_env\" value=\"\""), "{page}");
    assert!(
        page.contains(RESERVED),
        "the form names the reserved variable"
    );

    for change in [
        ("host", "mail.attacker.example"),
        ("port", "994"),
        ("tls", "starttls"),
        ("username", "someone-else@example.ru"),
    ] {
        let form = edit_form(&csrf, &before, "993", &[change]);
        let r = post_form(&app, &c, &path, &form).await;
        assert_eq!(r.status(), 400, "{change:?}");
        assert!(r.text().await.unwrap().contains(RESERVED), "{change:?}");
        let stored = storage(&app)
            .await
            .collector(before.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.host, "127.0.0.1", "{change:?}");
        assert_eq!(stored.username, before.username, "{change:?}");
        assert_eq!(stored.password_file, before.password_file, "{change:?}");
    }

    // Another keyword keeps the address, and so the password file.
    let form = edit_form(&csrf, &before, "993", &[("keyword", "ЗАКАЗ")]);
    assert_eq!(post_form(&app, &c, &path, &form).await.status(), 303);
    let stored = storage(&app)
        .await
        .collector(before.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.keyword, "ЗАКАЗ");
    assert_eq!(stored.password_file, before.password_file);

    // Naming the reserved variable again moves it, without the file.
    let form = edit_form(
        &csrf,
        &before,
        "993",
        &[("host", "mail.example.ru"), ("password_env", RESERVED)],
    );
    assert_eq!(post_form(&app, &c, &path, &form).await.status(), 303);
    let stored = storage(&app)
        .await
        .collector(before.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.host, "mail.example.ru");
    assert_eq!(stored.password_env.as_deref(), Some(RESERVED));
    assert_eq!(stored.password_file, None);
}

fn new_collector<'a>(
    csrf: &'a str,
    name: &'a str,
    host: &'a str,
    tls: &'a str,
    env: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf", csrf),
        ("name", name),
        ("protocol", "imap"),
        ("host", host),
        ("port", "143"),
        ("tls", tls),
        ("username", "orders@example.ru"),
        ("password_env", env),
        ("folder", "INBOX"),
        ("keyword", "ORDER"),
        ("calendar", "1"),
        ("default_charset", "windows-1251"),
        ("after_import", "keep"),
    ]
}

async fn collector_names(app: &TestApp) -> Vec<String> {
    storage(app)
        .await
        .collectors(true)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect()
}

#[tokio::test]
async fn the_collector_form_names_no_variable_but_the_one_reserved_for_the_collector() {
    let app = app_with_admin().await;
    let c = signed_in(&app, "admin", ADMIN_PASSWORD).await;
    let csrf = session_csrf(&app, &c).await;
    for env in [
        "LEADGATE_NEW_PASSWORD",
        "LEADGATE_ADMIN_TOKEN",
        "LEADGATE_SITE_ORDERS_PASSWORD",
        "LEADGATE_COLLECTOR_OTHER_PASSWORD",
        "HOME",
    ] {
        let form = new_collector(&csrf, "site-orders", "mail.example.ru", "implicit", env);
        let r = post_form(&app, &c, "/admin/collectors", &form).await;
        assert_eq!(r.status(), 400, "{env}");
        assert!(r.text().await.unwrap().contains(RESERVED), "{env}");
    }
    assert!(collector_names(&app).await.is_empty());

    let form = new_collector(
        &csrf,
        "site-orders",
        "mail.example.ru",
        "implicit",
        RESERVED,
    );
    assert_eq!(
        post_form(&app, &c, "/admin/collectors", &form)
            .await
            .status(),
        303
    );
    // `site.orders` would share site-orders' variable, and so its password.
    let form = new_collector(
        &csrf,
        "site.orders",
        "mail.example.ru",
        "implicit",
        RESERVED,
    );
    let r = post_form(&app, &c, "/admin/collectors", &form).await;
    assert_eq!(r.status(), 400);
    assert_eq!(collector_names(&app).await, ["site-orders"]);
}

#[tokio::test]
async fn plain_text_mail_from_the_form_is_refused_for_any_host_but_this_machine() {
    let app = app_with_admin().await;
    let c = signed_in(&app, "admin", ADMIN_PASSWORD).await;
    let csrf = session_csrf(&app, &c).await;
    // Only saved, never connected to.
    for host in ["10.0.0.5", "mail.example.ru", "192.168.1.10"] {
        let form = new_collector(&csrf, "site-orders", host, "none", RESERVED);
        let r = post_form(&app, &c, "/admin/collectors", &form).await;
        assert_eq!(r.status(), 400, "{host}");
        assert!(r.text().await.unwrap().contains("localhost"), "{host}");
    }
    assert!(collector_names(&app).await.is_empty());
    for (name, host) in [("loopback-v4", "127.0.0.1"), ("loopback-name", "localhost")] {
        let env = format!(
            "LEADGATE_COLLECTOR_{}_PASSWORD",
            name.to_uppercase().replace('-', "_")
        );
        let form = new_collector(&csrf, name, host, "none", &env);
        let r = post_form(&app, &c, "/admin/collectors", &form).await;
        assert_eq!(r.status(), 303, "{host}");
    }
}

#[tokio::test]
async fn phone_and_mail_links_on_a_counterparty_page_carry_only_plausible_values() {
    let app = app_with_admin().await;
    let good = post_lead(
        &app,
        json!({"ИНН": "7709745454", "КонтактноеЛицо": "Покупатель", "Телефон": "8 (916) 123-45-67",
               "АдресЭлектроннойПочты": "good@shop.example"}),
    )
    .await;
    post_lead(
        &app,
        json!({"ИНН": "7709745454", "Телефон": "позвоните мне",
               "АдресЭлектроннойПочты": "buyer@shop.example?bcc=spy@evil.example"}),
    )
    .await;
    let c = signed_in(&app, "admin", ADMIN_PASSWORD).await;
    let (status, page) = get(
        &app,
        &c,
        &format!("/counterparties/{}", good["counterparty"]["id"]),
    )
    .await;
    assert_eq!(status, 200);
    assert!(page.contains("href=\"tel:+79161234567\""), "{page}");
    assert!(page.contains("href=\"mailto:good@shop.example\""), "{page}");
    assert!(page.contains("позвоните мне") && page.contains("spy@evil.example"));
    assert!(!page.contains("tel:позвоните"), "{page}");
    assert!(!page.contains("mailto:buyer"), "{page}");
}
