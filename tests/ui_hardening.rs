//! Input that must not hurt leadgate or leak a secret: the collector form cannot send a server's password
//! elsewhere, odd dates and huge amounts are answered instead of panicking, links are made only from
//! plausible values, and a busy calendar's feed still carries its new leads.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
mod ui_support;

use chrono::{Duration, Utc};
use common::TestApp;
use leadgate_domain::collector::Protocol;
use leadgate_domain::payload::Payload;
use leadgate_storage::{CollectorRecord, LedgerEntry, SourceRef, StoredRaw, Submission};
use serde_json::{Value, json};
use ui_support::*;

const ADMIN_PASSWORD: &str = "admin-password-for-tests";
const RESERVED: &str = "LEADGATE_COLLECTOR_SITE_ORDERS_PASSWORD";

async fn app_with_admin() -> TestApp {
    let app = TestApp::spawn().await;
    set_admin_password(&app, ADMIN_PASSWORD).await;
    app
}

async fn post_lead(app: &TestApp, payload: Value) -> Value {
    app.post_lead_with(&app.source_token, &payload).await
}

/// A collector whose password is in a file of the server (as one the configuration file provisioned before
/// the file managed its records; made through storage, so it is not the file's and the UI may edit it).
async fn provisioned_collector(app: &TestApp) -> CollectorRecord {
    let secret = app.dir().join("mail.password");
    std::fs::write(&secret, "the-mailbox-password\n").unwrap();
    let s = storage(app).await;
    let id = s
        .upsert_collector(&CollectorRecord {
            password_file: Some(secret),
            calendar_id: 1,
            ..CollectorRecord::new(
                "site-orders",
                Protocol::Imap,
                "127.0.0.1",
                993,
                "orders@example.ru",
            )
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
async fn a_lead_whose_amounts_are_too_large_to_add_up_still_opens() {
    let app = app_with_admin().await;
    let huge = "70000000000000000000000000000";
    let created = post_lead(
        &app,
        json!({"Тема": "Огромный заказ", "Товары": [
            {"Номенклатура": "Баннер", "Сумма": huge},
            {"Номенклатура": "Баннер", "Сумма": huge}
        ]}),
    )
    .await;
    let c = signed_in(&app, "admin", ADMIN_PASSWORD).await;
    let (status, page) = get(&app, &c, &format!("/leads/{}", created["id"])).await;
    assert_eq!(status, 200);
    assert!(page.contains("Огромный заказ"));
    assert!(page.contains("слишком велика для подсчёта"), "{page}");
}

#[tokio::test]
async fn dates_beyond_four_digit_years_in_inbox_and_calendar_addresses_are_bad_requests() {
    let app = app_with_admin().await;
    let c = signed_in(&app, "admin", ADMIN_PASSWORD).await;
    for path in [
        "/inbox?to=%2B262142-12-31",
        "/inbox?from=-262143-01-01",
        "/inbox?from=%2B99999-01-01",
        "/calendar?date=%2B262142-12-31",
        "/calendar?view=month&date=%2B262142-12-31",
        "/calendar?date=-262143-01-01",
    ] {
        let (status, page) = get(&app, &c, path).await;
        assert_eq!(status, 400, "{path}");
        assert!(page.contains("Неверный запрос"), "{path}");
    }
    for path in [
        "/inbox?from=0001-01-01&to=9999-12-31",
        "/calendar?date=9999-12-31",
        "/calendar?view=month&date=9999-12-31",
        "/calendar?date=0001-01-01",
    ] {
        let (status, _) = get(&app, &c, path).await;
        assert_eq!(status, 200, "{path}");
    }
}

#[tokio::test]
async fn the_api_refuses_lead_periods_beyond_four_digit_years() {
    let app = TestApp::spawn().await;
    for query in [
        "from=%2B262142-12-31T00:00:00Z",
        "to=%2B262142-12-31T00:00:00Z",
        "from=-262143-01-01T00:00:00Z",
    ] {
        let r = app
            .client
            .get(format!("{}/api/v1/leads?{query}", app.base))
            .bearer_auth(&app.admin_token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{query}");
    }
    let ok = app
        .get("/api/v1/leads?from=2019-01-01T00:00:00Z&to=9999-12-31T00:00:00Z")
        .await;
    assert!(ok["items"].is_array());
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
    // What could not be read stays on its lead: it is not among the customer's contacts, linked or not.
    assert!(
        !page.contains("позвоните мне") && !page.contains("spy@evil.example"),
        "{page}"
    );
    assert!(!page.contains("tel:позвоните"), "{page}");
    assert!(!page.contains("mailto:buyer"), "{page}");
}

/// A phone leadgate could not read, written with an extension or as two numbers, is shown as sent with no
/// `tel:` link: joining its digits would dial a number nobody gave.
#[tokio::test]
async fn a_phone_with_an_extension_or_two_numbers_gets_no_link_that_dials_their_digits_joined() {
    let app = app_with_admin().await;
    let c = signed_in(&app, "admin", ADMIN_PASSWORD).await;
    for phone in [
        "+7 (916) 123-45-67 доб. 12",
        "+79161234567, 8 (495) 765-43-21",
    ] {
        let lead = post_lead(&app, json!({"Тема": "Звонок", "Телефон": phone})).await;
        let (status, page) = get(&app, &c, &format!("/leads/{}", lead["id"])).await;
        assert_eq!(status, 200);
        assert!(page.contains(phone), "{phone}: {page}");
        assert!(
            !page.contains("tel:+7916123456712") && !page.contains("tel:+7916123456784957654321"),
            "{phone}: {page}"
        );
        let (_, inbox) = get(&app, &c, "/inbox").await;
        assert!(!inbox.contains("tel:+79161234567"), "{phone}: {inbox}");
    }
}

/// A name with a right-to-left override (U+202E) would reverse what the page shows after it (the INN, the
/// phone): the override is not kept, from the intake or from a comment; the rest of the text is.
#[tokio::test]
async fn bidirectional_overrides_are_not_kept_in_a_leads_fields_or_comments() {
    let app = app_with_admin().await;
    let lead = post_lead(
        &app,
        json!({"КонтактноеЛицо": "Иван \u{202e}live\u{2066}", "Телефон": "+79164040404",
               "Тема": "Баннер \u{202d}2×1"}),
    )
    .await;
    let stored = app.get(&format!("/api/v1/leads/{}", lead["id"])).await;
    assert_eq!(stored["contact"]["person"], "Иван live", "{stored}");
    assert_eq!(stored["subject"], "Баннер 2×1", "{stored}");
    let c = signed_in(&app, "admin", ADMIN_PASSWORD).await;
    let csrf = session_csrf(&app, &c).await;
    let r = post_form(
        &app,
        &c,
        &format!("/leads/{}/comments", lead["id"]),
        &[
            ("csrf", csrf.as_str()),
            ("body", "Перезвонить \u{202e}завтра"),
        ],
    )
    .await;
    assert!(r.status().is_redirection(), "{}", r.status());
    let (_, page) = get(&app, &c, &format!("/leads/{}", lead["id"])).await;
    assert!(page.contains("Перезвонить завтра"), "{page}");
    for c in ['\u{202e}', '\u{202d}', '\u{2066}'] {
        assert!(!page.contains(c), "{c:?} on the page");
    }
}

/// A site's rejected body in Windows-1251, the format's own encoding, is shown in the quarantine as the intake
/// read it, not as replacement characters.
#[tokio::test]
async fn the_quarantine_shows_a_windows_1251_body_in_its_letters() {
    let app = app_with_admin().await;
    let body = encoding_rs::WINDOWS_1251
        .encode(r#"["Привет, это не объект"]"#)
        .0;
    let r = app.intake(body.into_owned(), "application/json").await;
    assert_eq!(r.status(), 422);
    let rejected = app.get("/api/v1/messages?outcome=rejected").await;
    let c = signed_in(&app, "admin", ADMIN_PASSWORD).await;
    let (status, page) = get(
        &app,
        &c,
        &format!("/quarantine/{}", rejected["items"][0]["id"]),
    )
    .await;
    assert_eq!(status, 200);
    assert!(page.contains("Привет, это не объект"), "{page}");
}

/// `count` leads dated `days_ago` days back in the default calendar, in one transaction, as an import would.
async fn old_leads(app: &TestApp, count: usize, days_ago: i64) {
    let date = (Utc::now() - Duration::days(days_ago)).format("%d.%m.%Y 10:00:00");
    let text =
        json!({"Тема": "Давний звонок", "Дата": date.to_string(), "Телефон": "+7 916 123-45-67"})
            .to_string();
    let payload = Payload::from_json(&text, chrono_tz::Europe::Moscow).unwrap();
    let batch: Vec<Submission> = (0..count)
        .map(|n| {
            Submission::lead(
                LedgerEntry {
                    source: SourceRef::File,
                    ledger_key: Some(format!("old-{n}")),
                    mailbox_key: None,
                    message_id: None,
                    external_number: None,
                    received_at: Utc::now(),
                    raw: StoredRaw::new(text.as_bytes().to_vec()),
                    content_type: "application/json".into(),
                    content_hash: None,
                },
                payload.clone(),
                1,
            )
        })
        .collect();
    storage(app).await.submit_batch(&batch).await.unwrap();
}

#[tokio::test]
async fn a_busy_calendars_feed_carries_its_new_and_future_leads() {
    let app = app_with_admin().await;
    let limit = leadgate::web::calendar::FEED_LIMIT as usize;
    // More leads of the last month than the feed carries: about 70 a day.
    old_leads(&app, limit + 100, 30).await;
    let today = post_lead(
        &app,
        json!({"Тема": "Звонок сегодня", "Телефон": "+7 916 123-45-67"}),
    )
    .await;
    let tomorrow = (Utc::now() + Duration::days(1)).format("%d.%m.%Y 10:00:00");
    let future = post_lead(
        &app,
        json!({"Тема": "Встреча завтра", "Дата": tomorrow.to_string(), "Телефон": "+7 916 123-45-67"}),
    )
    .await;

    let s = storage(&app).await;
    let admin = s.user_credentials("admin").await.unwrap().unwrap();
    let key = leadgate::tokens::generate();
    s.set_ics_secret(admin.id, &leadgate::tokens::hash(&key))
        .await
        .unwrap();
    let r = reqwest::get(format!(
        "{}/api/v1/calendars/1/events.ics?key={key}",
        app.base
    ))
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let ics = r.text().await.unwrap();
    assert_eq!(ics.matches("BEGIN:VEVENT").count(), limit);
    for lead in [&today, &future] {
        assert!(
            ics.contains(&format!("UID:lead-{}@leadgate\r\n", lead["id"])),
            "lead {} is in the feed",
            lead["id"]
        );
    }
}
