//! End-to-end tests of the web UI in headless Chromium through chromedriver (WebDriver): what a manager and
//! an administrator actually click. Screenshots of the inbox, the lead page and a tech card are saved under
//! `target/ui-artifacts/` for a human to look at.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
mod ui_support;

use common::{SEED_SAMPLE, TestApp};
use fantoccini::Locator;
use leadgate_domain::account::Role;
use serde_json::Value;
use ui_support::*;

async fn post_lead(app: &TestApp, json: &str) -> i64 {
    let r = app.intake_json(json).await;
    assert_eq!(r.status(), 201);
    r.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
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

async fn js(b: &Browser, script: &str) -> Value {
    b.client.execute(script, vec![]).await.unwrap()
}

#[tokio::test]
async fn a_manager_takes_a_posted_lead_into_work_and_prints_its_tech_card() {
    let app = TestApp::spawn().await;
    add_user(&app, "manager1", Role::Manager, "manager-password").await;
    let b = Browser::start().await;
    b.sign_in(&app, "manager1", "manager-password").await;

    // A lead posted through the API appears in the inbox, highlighted as new.
    let id = post_lead(&app, SEED_SAMPLE).await;
    b.client.goto(&format!("{}/inbox", app.base)).await.unwrap();
    let row = format!("tr.lead-row.is-new[data-lead-id=\"{id}\"]");
    b.wait_for(&row).await;
    assert_eq!(
        text(&b, &format!("{row} .lead-link")).await,
        "Заказ №123 от 01.06.2019 бла бла бла"
    );
    b.screenshot("inbox").await;

    // …and in the calendar, on its date.
    b.client
        .goto(&format!("{}/calendar?view=month&date=2019-05-01", app.base))
        .await
        .unwrap();
    let event = format!("a.event.is-new[data-lead-id=\"{id}\"]");
    assert!(text(&b, &event).await.starts_with("15:15 Заказ №123"));
    b.screenshot("calendar-month").await;

    // Open it from the calendar, take it into work, form the tech cards.
    b.click(&event).await;
    b.wait_for("#take").await;
    assert_eq!(
        text(&b, "#contact-person").await,
        "Прилепский Алексей Анатольевич"
    );
    let phone = b.client.find(Locator::Css("#phone-link")).await.unwrap();
    assert_eq!(
        phone.attr("href").await.unwrap().as_deref(),
        Some("tel:+79256424290")
    );
    let layout = b.client.find(Locator::Css("a.layout-link")).await.unwrap();
    assert_eq!(
        layout.attr("rel").await.unwrap().as_deref(),
        Some("noopener noreferrer")
    );
    b.click("#take").await;
    b.wait_for("#assignee").await;
    assert_eq!(text(&b, "#lead-status").await, "В работе");
    assert_eq!(text(&b, "#assignee").await, "manager1");
    b.click("#form-cards").await;
    let card = b
        .client
        .wait()
        .for_element(Locator::Css("a.tech-card-link"))
        .await
        .unwrap();
    js(&b, "window.scrollTo(0, 0); return null").await;
    b.screenshot("lead").await;

    // The printable card carries the sample's figures.
    card.click().await.unwrap();
    b.wait_for("#card-number").await;
    assert_eq!(text(&b, "#card-number").await, format!("{id}-1"));
    assert_eq!(text(&b, "#item").await, "Ролап 123 22 22");
    assert_eq!(text(&b, "#area-per-piece").await, "4");
    assert_eq!(text(&b, "#total-area").await, "8");
    assert_eq!(text(&b, "#perimeter").await, "8");
    // WebDriver reports the no-break space of the grouping as a plain space.
    assert_eq!(text(&b, "#amount").await, "1 000,00");
    assert!(text(&b, "table.extra-works").await.contains("Люверсы"));
    b.screenshot("tech-card").await;

    let lead = app.get(&format!("/api/v1/leads/{id}")).await;
    assert_eq!(lead["status"], "in_progress");
    assert_eq!(lead["assignee"], "manager1");
    b.stop().await;
}

#[tokio::test]
async fn a_script_in_a_quarantined_message_or_a_lead_is_shown_as_text_and_never_runs() {
    let app = TestApp::spawn().await;
    set_admin_password(&app, "admin-password-for-tests").await;
    let id = reject_message(&app, HOSTILE_RAW.as_bytes(), "no JSON attachment").await;
    let lead = post_lead(
        &app,
        r#"{"Тема": "<script>window.__pwned=3</script>", "КонтактноеЛицо": "<img src=x onerror=\"window.__pwned=4\">", "Телефон": "+7 916 123-45-67"}"#,
    )
    .await;
    let b = Browser::start().await;
    b.sign_in(&app, "admin", "admin-password-for-tests").await;

    b.client
        .goto(&format!("{}/quarantine", app.base))
        .await
        .unwrap();
    assert!(text(&b, "td.reason").await.contains("no JSON attachment"));
    b.click(&format!("tr[data-message-id=\"{id}\"] a.message-link"))
        .await;
    b.wait_for("#raw").await;
    let raw = text(&b, "#raw").await;
    assert!(
        raw.contains("<script>document.title='pwned';window.__pwned=1;</script>"),
        "{raw}"
    );
    assert_eq!(
        js(&b, "return document.querySelectorAll('#raw *').length").await,
        0
    );
    assert_eq!(
        b.client.title().await.unwrap(),
        format!("Сообщение {id} — leadgate")
    );
    assert_eq!(js(&b, "return typeof window.__pwned").await, "undefined");
    b.screenshot("quarantine-message").await;

    b.client
        .goto(&format!("{}/leads/{lead}", app.base))
        .await
        .unwrap();
    assert_eq!(
        text(&b, "#lead-title").await,
        "<script>window.__pwned=3</script>"
    );
    assert_eq!(
        text(&b, "#contact-person").await,
        "<img src=x onerror=\"window.__pwned=4\">"
    );
    assert_eq!(js(&b, "return typeof window.__pwned").await, "undefined");

    // Discarding takes it out of quarantine.
    b.client
        .goto(&format!("{}/quarantine/{id}", app.base))
        .await
        .unwrap();
    js(
        &b,
        "window.confirm = function () { return true; }; return null",
    )
    .await;
    b.click("#discard").await;
    b.wait_for("p.empty").await;
    let record = storage(&app).await.message(id).await.unwrap().unwrap();
    assert_eq!(record.outcome, leadgate_domain::ledger::Outcome::Discarded);
    b.stop().await;
}

#[tokio::test]
async fn a_manager_in_the_browser_is_refused_admin_pages_and_another_managers_calendar() {
    let app = TestApp::spawn().await;
    add_user(&app, "manager1", Role::Manager, "manager-password").await;
    let other = add_user(&app, "manager2", Role::Manager, "manager2-password").await;
    let theirs = storage(&app)
        .await
        .create_calendar("Личный календарь manager2", Some(other), "#dc2626")
        .await
        .unwrap();
    let b = Browser::start().await;
    b.sign_in(&app, "manager1", "manager-password").await;
    assert!(
        b.client
            .find(Locator::Css("a[href='/admin/users']"))
            .await
            .is_err()
    );
    for path in [
        "/admin/users".to_owned(),
        "/quarantine".into(),
        format!("/calendar?cal={theirs}"),
    ] {
        b.client.goto(&format!("{}{path}", app.base)).await.unwrap();
        assert_eq!(text(&b, "h1").await, "Доступ запрещён", "{path}");
    }
    b.client
        .goto(&format!("{}/calendar", app.base))
        .await
        .unwrap();
    let names = text(&b, "#cal-pick").await;
    assert!(!names.contains("manager2"), "{names}");
    b.stop().await;
}

#[tokio::test]
async fn an_administrator_adds_a_collector_for_the_test_dovecot_runs_it_and_sees_the_lead() {
    // The variable the UI reserves for a collector named site-orders.
    let password_env = "LEADGATE_COLLECTOR_SITE_ORDERS_PASSWORD";
    assert!(
        std::env::var(password_env).is_ok(),
        "{password_env} is not set: run the suite via scripts/test, which exports it"
    );
    let (_app, b) =
        collect_with_a_collector_made_in_the_browser("site-orders", "password_env", password_env)
            .await;
    b.stop().await;
}

/// The mailbox password typed into the collector form: the collector signs in and collects with it, and the
/// form never shows it back (neither in the field nor anywhere in the page).
#[tokio::test]
async fn a_mailbox_password_typed_in_the_collector_form_collects_and_is_never_shown_back() {
    let password = common::dovecot::dovecot()
        .var("DOVECOT_PASSWORD")
        .to_owned();
    let (app, b) =
        collect_with_a_collector_made_in_the_browser("typed-orders", "password", &password).await;
    b.client
        .goto(&format!("{}/admin/collectors", app.base))
        .await
        .unwrap();
    b.click("tr[data-collector='typed-orders'] a").await;
    b.wait_for("#collector-form").await;
    let field = b
        .client
        .find(Locator::Css("#mailbox-password"))
        .await
        .unwrap();
    assert_eq!(field.prop("value").await.unwrap().as_deref(), Some(""));
    assert!(
        text(&b, "#password-rule").await.contains("Пароль сохранён"),
        "the form says a password is stored"
    );
    let page = b.client.source().await.unwrap();
    assert!(
        !page.contains(&password),
        "the page never carries the password"
    );
    b.stop().await;
}

/// Signs in as an administrator, makes a collector `name` for a new mailbox of the test Dovecot holding the
/// seed order, with its password given by the form field `credential_field` = `credential`; tests the
/// connection, runs it now, and opens the imported lead from the inbox. Returns the server and the browser
/// on the lead.
async fn collect_with_a_collector_made_in_the_browser(
    name: &str,
    credential_field: &str,
    credential: &str,
) -> (TestApp, Browser) {
    let dc = common::dovecot::dovecot();
    let user = common::dovecot::unique_user("ui-collector");
    dc.deliver(
        &user,
        &std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/mail/seed_sample.eml"
        ))
        .unwrap(),
    );
    // "Run now" is what must import here. The schedule (every five minutes on the clock) would run the new
    // collector too, and a run due a moment after it would be the row's last run, with nothing new to load.
    let app = TestApp::spawn_with(|s| s.schedule.mail_collector.enabled = false).await;
    set_admin_password(&app, "admin-password-for-tests").await;
    let b = Browser::start().await;
    b.sign_in(&app, "admin", "admin-password-for-tests").await;

    b.client
        .goto(&format!("{}/admin/collectors", app.base))
        .await
        .unwrap();
    b.click("#new-collector").await;
    b.wait_for("#collector-form").await;
    let port = dc.var("DOVECOT_IMAP_PORT").to_owned();
    for (field, value) in [
        ("name", name),
        ("host", "localhost"),
        ("port", port.as_str()),
        ("username", user.as_str()),
        (credential_field, credential),
    ] {
        let input = b
            .client
            .find(Locator::Css(&format!("input[name='{field}']")))
            .await
            .unwrap();
        input.clear().await.unwrap();
        input.send_keys(value).await.unwrap();
    }
    b.click("select[name='tls'] option[value='none']").await;
    // Push (IMAP IDLE) is on for a new collector; here "run now" is what must import, so it is switched off.
    assert!(
        b.client
            .find(Locator::Css("#push"))
            .await
            .unwrap()
            .is_selected()
            .await
            .unwrap(),
        "push is on by default"
    );
    b.click("#push").await;
    b.click("#save-collector").await;
    let row = &format!("tr[data-collector='{name}']");
    b.wait_for(row).await;

    b.click(&format!("{row} button.test-connection")).await;
    b.wait_for("#collector-notice").await;
    assert!(
        text(&b, "#collector-notice")
            .await
            .contains("соединение и вход успешны")
    );

    // The run goes on in the background; the list shows it going on, then its counts.
    b.click(&format!("{row} button.run-now")).await;
    b.client
        .wait()
        .for_element(Locator::XPath(
            "//p[@id='collector-notice' and contains(., 'загружено')]",
        ))
        .await
        .unwrap();
    let notice = text(&b, "#collector-notice").await;
    assert!(notice.contains("загружено 1"), "{notice}");
    // The row shows the run's last record as the list read it; a list read a moment before the run's end was
    // committed shows it on the next read.
    let counts = format!(
        "//tr[@data-collector='{name}']//*[contains(@class, 'last-counts') and contains(., 'загружено 1')]"
    );
    let mut reads = 0;
    while b.client.find(Locator::XPath(&counts)).await.is_err() {
        reads += 1;
        assert!(reads < 30, "the list never showed the run's counts");
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        b.client
            .goto(&format!("{}/admin/collectors", app.base))
            .await
            .unwrap();
    }
    b.screenshot(&format!("collectors-{name}")).await;

    b.client.goto(&format!("{}/inbox", app.base)).await.unwrap();
    let lead = b
        .client
        .wait()
        .for_element(Locator::XPath(
            "//a[@class='lead-link' and starts-with(text(), 'Заказ №123')]",
        ))
        .await
        .unwrap();
    lead.click().await.unwrap();
    b.wait_for("#lead-title").await;
    let source = text(&b, "section.card:nth-of-type(2)").await;
    assert!(source.contains(&format!("Почта · {name}")), "{source}");
    (app, b)
}
