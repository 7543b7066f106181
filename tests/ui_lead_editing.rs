//! In headless Chromium: a manager corrects a lead's phone and INN, turns a call-back request into an order by
//! adding a line, forms its tech card and moves it through production, changes the line (the card goes
//! stale), and marks a second submission of the same request as a duplicate, which leaves the inbox.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
mod ui_support;

use common::TestApp;
use fantoccini::Locator;
use leadgate_domain::account::Role;
use serde_json::{Value, json};
use ui_support::*;

async fn post_lead(app: &TestApp, payload: Value) -> i64 {
    let r = app.intake_json(&payload.to_string()).await;
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

/// Replaces the text of an input.
async fn retype(b: &Browser, css: &str, value: &str) {
    let input = b
        .client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"));
    input.clear().await.unwrap();
    input.send_keys(value).await.unwrap();
}

async fn wait_for_text(b: &Browser, css: &str, want: &str) {
    let xpath = format!(
        "//*[contains(concat(' ', normalize-space(@id), ' '), ' {}') and normalize-space(.)='{want}']",
        css.trim_start_matches('#')
    );
    b.client
        .wait()
        .for_element(Locator::XPath(&xpath))
        .await
        .unwrap_or_else(|e| panic!("{css} = {want}: {e}"));
}

#[tokio::test]
async fn a_manager_corrects_a_lead_turns_it_into_an_order_moves_its_card_and_marks_a_second_submission()
 {
    let app = TestApp::spawn().await;
    add_user(&app, "manager1", Role::Manager, "manager-password").await;
    let lead = post_lead(
        &app,
        json!({"Тема": "Перезвоните по баннеру", "Телефон": "8 (916) 123-45-6",
               "КонтактноеЛицо": "Анна", "ИНН": "7709745455"}),
    )
    .await;
    let b = Browser::start().await;
    b.sign_in(&app, "manager1", "manager-password").await;
    b.client
        .goto(&format!("{}/leads/{lead}", app.base))
        .await
        .unwrap();
    b.wait_for("#edit-lead").await;

    // The typo in the phone and the INN's check digit, corrected.
    b.click("#edit-lead summary").await;
    retype(&b, "#edit-phone", "+7 916 123-45-67").await;
    retype(&b, "#edit-inn", "7709745454").await;
    b.click("#edit-save").await;
    b.wait_for("#counterparty-link").await;
    let href = b
        .client
        .find(Locator::Css("#phone-link"))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap();
    assert_eq!(href.as_deref(), Some("tel:+79161234567"));

    // A line, typed the way the sites send them: the call-back request becomes an order.
    retype(&b, "#new-line-nomenclature", "Баннер").await;
    retype(&b, "#new-line-width", "3,0").await;
    retype(&b, "#new-line-height", "2").await;
    retype(&b, "#new-line-quantity", "2").await;
    retype(&b, "#new-line-price", "1500").await;
    retype(&b, "#new-line-amount", "3000").await;
    b.click("#add-line-save").await;
    b.wait_for("#form-cards").await;
    assert!(text(&b, "table.lines").await.contains("Баннер"));
    b.screenshot("lead-edited-into-an-order").await;

    b.click("#form-cards").await;
    b.wait_for("li.tech-card .card-new").await;
    assert_eq!(text(&b, "li.tech-card .card-status").await, "Новая");

    // The card moves through production from its own page.
    b.click("a.tech-card-link").await;
    b.wait_for("#card-next-status").await;
    assert_eq!(text(&b, "#card-status").await, "Новая");
    b.click("#card-next-status").await;
    wait_for_text(&b, "#card-status", "В производстве").await;
    b.click("#card-next-status").await;
    wait_for_text(&b, "#card-status", "Готова").await;
    assert!(
        b.client
            .find(Locator::Css("#card-next-status"))
            .await
            .is_err(),
        "a card that is done moves no further"
    );
    b.screenshot("tech-card-done").await;

    // The line changes after its card was formed: the card is marked stale, not rewritten.
    b.client
        .goto(&format!("{}/leads/{lead}", app.base))
        .await
        .unwrap();
    b.wait_for("details.edit-line").await;
    b.click("details.edit-line summary").await;
    retype(&b, "details.edit-line .line-width", "4").await;
    retype(&b, "details.edit-line .line-amount", "4000").await;
    b.click("details.edit-line .save-line").await;
    b.wait_for("li.tech-card .card-stale").await;
    assert_eq!(text(&b, "li.tech-card .card-status").await, "Готова");
    b.click("a.tech-card-link").await;
    b.wait_for("#card-stale").await;
    assert_eq!(text(&b, "#width").await, "3");
    b.screenshot("tech-card-stale").await;

    // The same request sent again an hour later is hinted at the first; marked, it leaves the inbox.
    let again = post_lead(
        &app,
        json!({"Тема": "Перезвоните по баннеру", "Телефон": "+7 916 123 45 67", "КонтактноеЛицо": "Анна"}),
    )
    .await;
    b.client.goto(&format!("{}/inbox", app.base)).await.unwrap();
    b.wait_for(&format!("tr[data-lead-id=\"{again}\"] .possible-duplicate"))
        .await;
    b.client
        .goto(&format!("{}/leads/{again}", app.base))
        .await
        .unwrap();
    b.wait_for("#duplicate-hint").await;
    assert!(
        text(&b, "#duplicate-hint")
            .await
            .contains(&format!("№{lead}"))
    );
    b.screenshot("duplicate-hint").await;
    b.click("#mark-duplicate").await;
    b.wait_for("#duplicate-of").await;
    b.client.goto(&format!("{}/inbox", app.base)).await.unwrap();
    b.wait_for(&format!("tr[data-lead-id=\"{lead}\"]")).await;
    assert!(
        b.client
            .find(Locator::Css(&format!("tr[data-lead-id=\"{again}\"]")))
            .await
            .is_err(),
        "the duplicate left the inbox"
    );
    b.stop().await;
}
