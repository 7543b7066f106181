//! Comments and follow-ups in headless Chromium: a manager writes a comment (shown as text, with its line
//! breaks, author and time) and plans a follow-up from the lead page; the follow-up is in the manager's
//! calendar week view (and not in a colleague's), an overdue one marks the inbox row, and an administrator
//! plans one for a manager and the manager marks it done.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
mod ui_support;

use chrono::{Duration, Utc};
use common::TestApp;
use fantoccini::Locator;
use leadgate_domain::account::Role;
use leadgate_storage::NewFollowUp;
use serde_json::Value;
use ui_support::*;

async fn post_lead(app: &TestApp, subject: &str) -> i64 {
    let r = app
        .intake_json(&serde_json::json!({"Тема": subject, "КонтактноеЛицо": "Иван"}).to_string())
        .await;
    assert_eq!(r.status(), 201);
    r.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
}

async fn text_of(b: &Browser, css: &str) -> String {
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
async fn a_comment_with_markup_is_shown_as_text_with_its_author_and_line_breaks() {
    let app = TestApp::spawn().await;
    add_user(&app, "manager1", Role::Manager, "manager-password").await;
    let lead = post_lead(&app, "Баннер на фасад").await;
    let b = Browser::start().await;
    b.sign_in(&app, "manager1", "manager-password").await;
    b.client
        .goto(&format!("{}/leads/{lead}", app.base))
        .await
        .unwrap();
    b.wait_for("#no-comments").await;
    let hostile = "<script>window.__pwned=1</script><b>жирный</b>";
    b.type_into("#comment-body", hostile).await;
    b.type_into("#comment-body", "\nвторая строка").await;
    b.click("#add-comment").await;
    b.wait_for("li.comment").await;
    let body = text_of(&b, "li.comment .comment-body").await;
    assert_eq!(body, format!("{hostile}\nвторая строка"));
    assert_eq!(text_of(&b, "li.comment .comment-author").await, "manager1");
    assert!(!text_of(&b, "li.comment .comment-when").await.is_empty());
    assert_eq!(js(&b, "return window.__pwned === undefined").await, true);
    // Nothing in the comment became an element; its line break survives on screen (the text above was
    // read as rendered, where collapsed white space would have made it a space).
    assert_eq!(
        js(
            &b,
            "return document.querySelectorAll('li.comment .comment-body *').length"
        )
        .await,
        0
    );
    b.screenshot("lead-comments").await;
    b.stop().await;
}

#[tokio::test]
async fn a_follow_up_planned_on_the_lead_page_is_in_the_managers_week_view_only() {
    let app = TestApp::spawn().await;
    add_user(&app, "manager1", Role::Manager, "manager-password").await;
    add_user(&app, "manager2", Role::Manager, "manager2-password").await;
    let lead = post_lead(&app, "Вывеска для кафе").await;
    let b = Browser::start().await;
    b.sign_in(&app, "manager1", "manager-password").await;
    b.client
        .goto(&format!("{}/leads/{lead}", app.base))
        .await
        .unwrap();
    b.wait_for("#follow-up-form").await;
    // Tomorrow at 11:00 in the shop's zone (the form's default date is tomorrow).
    let date = js(&b, "return document.getElementById('follow-up-date').value").await;
    let date = date.as_str().unwrap().to_owned();
    js(
        &b,
        "document.getElementById('follow-up-time').value = '11:00'; return null",
    )
    .await;
    b.type_into("#follow-up-note", "Уточнить размеры").await;
    b.click("#plan-follow-up").await;
    b.wait_for("li.follow-up").await;
    let planned = text_of(&b, "li.follow-up").await;
    assert!(planned.contains("11:00"), "{planned}");
    assert!(planned.contains("Уточнить размеры"), "{planned}");
    assert!(
        b.client
            .find(Locator::Css("li.follow-up .complete-follow-up"))
            .await
            .is_ok()
    );

    b.client
        .goto(&format!("{}/calendar?view=week&date={date}", app.base))
        .await
        .unwrap();
    let css = format!(".day[data-date=\"{date}\"] a.follow-up-event");
    b.wait_for(&css).await;
    let entry = text_of(&b, &css).await;
    assert!(entry.contains("11:00"), "{entry}");
    assert!(entry.contains("Вывеска для кафе"), "{entry}");
    assert!(entry.contains("Уточнить размеры"), "{entry}");
    // Distinct from the lead's own entry, and linked to the follow-up on the lead page.
    let href = b
        .client
        .find(Locator::Css(&css))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    assert!(
        href.contains(&format!("/leads/{lead}#follow-up-")),
        "{href}"
    );
    b.screenshot("calendar-follow-up").await;
    b.stop().await;

    let c2 = signed_in(&app, "manager2", "manager2-password").await;
    let (status, html) = get(&app, &c2, &format!("/calendar?view=week&date={date}")).await;
    assert_eq!(status, 200);
    assert!(
        !html.contains("follow-up-event"),
        "not in a colleague's calendar"
    );
}

#[tokio::test]
async fn an_administrator_plans_a_follow_up_for_a_manager_who_marks_it_done_and_the_overdue_mark_goes()
 {
    let app = TestApp::spawn().await;
    set_admin_password(&app, "admin-password").await;
    let m1 = add_user(&app, "manager1", Role::Manager, "manager-password").await;
    let lead = post_lead(&app, "Печать каталога").await;
    let b = Browser::start().await;
    b.sign_in(&app, "admin", "admin-password").await;
    b.client
        .goto(&format!("{}/leads/{lead}", app.base))
        .await
        .unwrap();
    b.wait_for("#follow-up-owner").await;
    b.client
        .find(Locator::Css("#follow-up-owner"))
        .await
        .unwrap()
        .select_by_value("manager1")
        .await
        .unwrap();
    b.click("#plan-follow-up").await;
    b.wait_for("li.follow-up").await;
    assert!(text_of(&b, "li.follow-up").await.contains("manager1"));
    b.stop().await;
    let s = storage(&app).await;
    let planned = s.follow_ups_of_lead(lead).await.unwrap();
    assert_eq!(planned.len(), 1);
    assert_eq!(planned[0].owner_id, m1);
    assert_eq!(planned[0].created_by_login, "admin");

    // One an hour overdue: the manager's inbox marks the lead.
    let admin = s.user_credentials("admin").await.unwrap().unwrap().id;
    s.plan_follow_up(&NewFollowUp {
        lead_id: lead,
        owner_id: m1,
        due_at: Utc::now() - Duration::hours(1),
        note: "Просрочено".into(),
        created_by: admin,
        at: Utc::now(),
    })
    .await
    .unwrap()
    .unwrap();
    let b = Browser::start().await;
    b.sign_in(&app, "manager1", "manager-password").await;
    let row = format!("tr[data-lead-id=\"{lead}\"]");
    b.wait_for(&format!("{row} .overdue-mark")).await;
    b.click("#filter-overdue").await;
    b.click("#filters button[type=submit]").await;
    b.wait_for(&format!("{row} .overdue-mark")).await;
    b.screenshot("inbox-overdue-follow-up").await;
    b.click(&format!("{row} .overdue-mark")).await;
    b.wait_for("li.follow-up.overdue").await;
    b.click("li.follow-up.overdue .complete-follow-up").await;
    b.wait_for("li.follow-up.done").await;
    let overdue_left = js(
        &b,
        "return document.querySelectorAll('li.follow-up.overdue').length",
    )
    .await;
    assert_eq!(overdue_left, 0);
    b.client.goto(&format!("{}/inbox", app.base)).await.unwrap();
    b.wait_for(&row).await;
    assert!(
        b.client
            .find(Locator::Css(&format!("{row} .overdue-mark")))
            .await
            .is_err(),
        "the mark is gone once the follow-up is done"
    );
    b.stop().await;
}

#[tokio::test]
async fn an_inbox_row_updated_live_keeps_its_overdue_mark() {
    let app = TestApp::spawn().await;
    let m1 = add_user(&app, "manager1", Role::Manager, "manager-password").await;
    let lead = post_lead(&app, "Перезвонить о макете").await;
    storage(&app)
        .await
        .plan_follow_up(&NewFollowUp {
            lead_id: lead,
            owner_id: m1,
            due_at: Utc::now() - Duration::hours(1),
            note: "Просрочено".into(),
            created_by: m1,
            at: Utc::now(),
        })
        .await
        .unwrap()
        .unwrap();
    let b = Browser::start().await;
    b.sign_in(&app, "manager1", "manager-password").await;
    let row = format!("tr[data-lead-id=\"{lead}\"]");
    b.wait_for(&format!("{row} .overdue-mark")).await;
    b.wait_for("#live[data-state=\"open\"]").await;
    js(&b, "window.__same_page = true; return null").await;

    // Taken into work over the API: the open page replaces the row with the one the live stream sends.
    let r = app
        .client
        .patch(format!("{}/api/v1/leads/{lead}", app.base))
        .bearer_auth(&app.admin_token)
        .json(&serde_json::json!({"status": "in_progress"}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    b.wait_for(&format!("{row}.live-arrived .status-in_progress"))
        .await;
    assert_eq!(
        js(&b, "return window.__same_page === true").await,
        true,
        "the row was replaced in place, not by a reload"
    );
    assert!(
        b.client
            .find(Locator::Css(&format!(
                "{row}.has-overdue-follow-up .overdue-mark"
            )))
            .await
            .is_ok(),
        "the live row keeps the overdue mark"
    );
    b.screenshot("inbox-live-overdue-follow-up").await;
    b.stop().await;
}
