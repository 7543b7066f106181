//! In headless Chromium: a manager names a customer, adds its phone and links a lead without an INN to it
//! from the suggestion on the lead page; an administrator sets the mail collector job's schedule on the
//! settings page, where what the configuration file sets is read-only.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
mod ui_support;

use common::TestApp;
use fantoccini::Locator;
use leadgate::config::Settings;
use leadgate_domain::account::Role;
use serde_json::{Value, json};
use ui_support::*;

async fn post_lead(app: &TestApp, payload: Value) -> Value {
    app.post_lead_with(&app.source_token, &payload).await
}

async fn text(b: &Browser, css: &str) -> String {
    b.client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .text()
        .await
        .unwrap()
}

async fn attr(b: &Browser, css: &str, name: &str) -> Option<String> {
    b.client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .attr(name)
        .await
        .unwrap()
}

/// Replaces the text of an input.
async fn retype(b: &Browser, css: &str, value: &str) {
    let input = b.client.find(Locator::Css(css)).await.unwrap();
    input.clear().await.unwrap();
    input.send_keys(value).await.unwrap();
}

#[tokio::test]
async fn a_manager_names_a_customer_adds_its_phone_and_links_a_lead_without_an_inn_to_it() {
    let app = TestApp::spawn().await;
    add_user(&app, "manager1", Role::Manager, "manager-password").await;
    let first = post_lead(
        &app,
        json!({"ИНН": "7709745454", "КонтактноеЛицо": "Прилепский Алексей Анатольевич",
               "Телефон": "+7 925 642 42-90", "Тема": "Баннер 3×2"}),
    )
    .await;
    let cp = first["counterparty"]["id"].as_i64().unwrap();
    let b = Browser::start().await;
    b.sign_in(&app, "manager1", "manager-password").await;

    // The organisation is called by its INN, not after the person who wrote.
    b.client
        .goto(&format!("{}/counterparties/{cp}", app.base))
        .await
        .unwrap();
    b.wait_for("#rename").await;
    assert_eq!(text(&b, "#counterparty-name").await, "ИНН 7709745454");
    retype(&b, "#rename-name", "ООО «Солвент-Принт»").await;
    b.click("#rename-save").await;
    b.client
        .wait()
        .for_element(Locator::XPath(
            "//h1[@id='counterparty-name' and text()='ООО «Солвент-Принт»']",
        ))
        .await
        .unwrap();

    // A second phone, typed the way people say it.
    retype(&b, "#contact-value", "8 (916) 765-43-21").await;
    b.click("#add-contact-save").await;
    b.wait_for("li.contact.phone a[href=\"tel:+79167654321\"]")
        .await;
    b.screenshot("counterparty-edited").await;

    // A call-back form from the same customer's other phone, without an INN.
    let call = post_lead(
        &app,
        json!({"Телефон": "+7 916 765 43 21", "Тема": "Перезвоните мне"}),
    )
    .await;
    b.client
        .goto(&format!("{}/leads/{}", app.base, call["id"]))
        .await
        .unwrap();
    b.wait_for("#suggestions").await;
    assert_eq!(
        text(&b, "#suggestions .suggested-counterparty").await,
        "ООО «Солвент-Принт»"
    );
    assert!(
        text(&b, "#suggestions").await.contains("Баннер 3×2"),
        "the customer's other lead is shown"
    );
    b.screenshot("lead-suggestion").await;
    b.click("#suggestions button.link-counterparty").await;
    b.wait_for("#counterparty-link").await;
    assert_eq!(text(&b, "#counterparty-link").await, "ООО «Солвент-Принт»");
    assert!(b.client.find(Locator::Css("#suggestions")).await.is_err());

    let lead = app.get(&format!("/api/v1/leads/{}", call["id"])).await;
    assert_eq!(lead["counterparty"]["id"], cp);
    assert_eq!(lead["counterparty"]["name"], "ООО «Солвент-Принт»");
    b.stop().await;
}

#[tokio::test]
async fn an_administrator_sets_the_job_schedule_and_sees_the_file_managed_calendar_read_only() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("leadgate.toml");
    std::fs::write(&file, "default_calendar = \"Заявки с сайта\"\n").unwrap();
    let app = TestApp::spawn_with(move |s| {
        let loaded = Settings::load(Some(&file)).unwrap();
        s.default_calendar = loaded.default_calendar;
        s.from_file = loaded.from_file;
        s.schedule.mail_collector.enabled = false;
    })
    .await;
    set_admin_password(&app, "admin-password").await;
    let b = Browser::start().await;
    b.sign_in(&app, "admin", "admin-password").await;
    b.client
        .goto(&format!("{}/admin/users", app.base))
        .await
        .unwrap();
    b.click("nav.actions a[href=\"/admin/settings\"]").await;
    b.wait_for("#settings").await;

    // The file's calendar is shown, marked, and cannot be changed.
    assert_eq!(
        text(&b, "#default-calendar-origin").await,
        "задано в файле настроек"
    );
    assert!(attr(&b, "#default-calendar", "disabled").await.is_some());
    assert_eq!(
        text(&b, "#next-run").await,
        "не запланирован — задание выключено"
    );

    // A typo gets a sentence and keeps what was typed.
    retype(&b, "#cron", "каждые 10 минут").await;
    b.click("#enabled").await;
    b.click("#settings-save").await;
    b.wait_for("#settings-error").await;
    assert!(text(&b, "#settings-error").await.contains("не распознано"));
    assert_eq!(
        attr(&b, "#cron", "value").await.as_deref(),
        Some("каждые 10 минут")
    );

    retype(&b, "#cron", "0 */10 * * * *").await;
    if attr(&b, "#enabled", "checked").await.is_none() {
        b.click("#enabled").await;
    }
    b.click("#settings-save").await;
    b.wait_for("#settings-saved").await;
    assert_eq!(text(&b, "#cron-origin").await, "задано здесь");
    let next = text(&b, "#next-run").await;
    let next = chrono::NaiveDateTime::parse_from_str(&next, "%d.%m.%Y %H:%M:%S")
        .unwrap_or_else(|e| panic!("{next}: {e}"));
    assert_eq!(
        chrono::Timelike::minute(&next) % 10,
        0,
        "every ten minutes: {next}"
    );
    assert_eq!(chrono::Timelike::second(&next), 0);
    b.screenshot("settings").await;
    b.stop().await;
}
