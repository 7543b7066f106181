//! The mailbox password typed in the collector form (reqwest with a cookie jar against the real server and
//! the test Dovecot): the collector logs in with it, no page or API answer shows it, the database holds only
//! its ciphertext, and moving the collector to another host without typing it again deletes it.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
mod ui_support;

use std::path::Path;

use common::TestApp;
use common::TestDatabase;
use common::dovecot::{dovecot, unique_user};
use ui_support::*;

const ADMIN_PASSWORD: &str = "admin-password-for-tests";

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/mail")
            .join(format!("{name}.eml")),
    )
    .unwrap()
}

/// Every `table.column` of the database that holds this text.
async fn tables_holding(app: &TestApp, needle: &str) -> Vec<String> {
    let database = TestDatabase::open(&app.database_url()).await.unwrap();
    let found = database.columns_holding(needle).await.unwrap();
    database.close().await;
    found
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn a_mailbox_password_typed_in_the_ui_collects_stays_secret_and_is_dropped_when_the_host_changes()
 {
    let dc = dovecot();
    let user = unique_user("typed-password");
    let password = dc.var("DOVECOT_PASSWORD").to_owned();
    dc.deliver(&user, &fixture("seed_sample"));
    let app = TestApp::spawn_with(|s| s.schedule.mail_collector.enabled = false).await;
    set_admin_password(&app, ADMIN_PASSWORD).await;
    let c = signed_in(&app, "admin", ADMIN_PASSWORD).await;

    // Created in the form with the password typed, no variable named.
    let port = dc.var("DOVECOT_IMAP_PORT").to_owned();
    let csrf = session_csrf(&app, &c).await;
    let mut form = vec![
        ("csrf", csrf.clone()),
        ("name", "typed".to_owned()),
        ("protocol", "imap".to_owned()),
        ("host", "127.0.0.1".to_owned()),
        ("port", port.clone()),
        ("tls", "none".to_owned()),
        ("username", user.clone()),
        ("password_env", String::new()),
        ("password", password.clone()),
        ("folder", "INBOX".to_owned()),
        ("keyword", "ORDER".to_owned()),
        ("calendar", "1".to_owned()),
        ("default_charset", "windows-1251".to_owned()),
        ("after_import", "keep".to_owned()),
    ];
    let r = c
        .post(format!("{}/admin/collectors", app.base))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    let storage = storage(&app).await;
    let collector = storage.collectors(true).await.unwrap().remove(0);
    assert_eq!(collector.password_env, None);

    // It collects from the test Dovecot with that password.
    let run = app.run_collector_now("typed").await;
    assert_eq!(run["error"], serde_json::Value::Null, "{run}");
    assert_eq!(run["counts"]["imported"], 1, "{run}");

    // Never shown back, never in an API answer, never in the database as text.
    let (status, page) = get(&app, &c, &format!("/admin/collectors/{}", collector.id)).await;
    assert_eq!(status, 200);
    assert!(!page.contains(&password), "the form shows the password");
    assert!(page.contains("Пароль сохранён (зашифрован)"), "{page}");
    assert!(
        page.contains(r#"<input type="password" name="password" id="mailbox-password""#),
        "{page}"
    );
    let api = app.get("/api/v1/collectors").await.to_string();
    assert!(
        !api.contains(&password),
        "the API shows the password: {api}"
    );
    let sealed = storage
        .collector_password(collector.id)
        .await
        .unwrap()
        .expect("a stored password");
    assert!(!contains(&sealed.sealed.ciphertext, &password));
    assert!(
        tables_holding(&app, &user)
            .await
            .contains(&"collectors.username".to_owned()),
        "the scan reads text values"
    );
    assert_eq!(
        tables_holding(&app, &password).await,
        Vec::<String>::new(),
        "the database holds the password in plain text"
    );

    // A failed submit does not echo a typed password either.
    let mut bad = form.clone();
    bad.retain(|(k, _)| *k != "name");
    for (k, v) in &mut bad {
        if *k == "port" {
            *v = "not a port".to_owned();
        }
    }
    let r = c
        .post(format!("{}/admin/collectors/{}", app.base, collector.id))
        .form(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(!r.text().await.unwrap().contains(&password));

    // Moving the collector to another host without typing the password again deletes it.
    form.retain(|(k, _)| *k != "name" && *k != "password");
    for (k, v) in &mut form {
        if *k == "host" {
            *v = "localhost".to_owned();
        }
    }
    let r = c
        .post(format!("{}/admin/collectors/{}", app.base, collector.id))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    assert_eq!(
        storage.collector(collector.id).await.unwrap().unwrap().host,
        "localhost"
    );
    assert!(
        storage
            .collector_password(collector.id)
            .await
            .unwrap()
            .is_none(),
        "the password followed the collector to another host"
    );
    let run = app.run_collector_now("typed").await;
    assert!(
        run["error"]
            .as_str()
            .unwrap_or_default()
            .contains("password"),
        "{run}"
    );
}
