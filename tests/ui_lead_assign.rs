//! Assigning and moving leads in the web UI, and the lead page's timeline, in headless Chromium, as two
//! managers and an administrator: a manager hands a lead to a colleague from its page and several leads at
//! once from the inbox, filters the inbox by assignee, moves a lead to another calendar, and sees each of it
//! in the timeline; an administrator sets a calendar's round-robin. A manager cannot assign, move or see the
//! timeline of a lead in another manager's personal calendar, and no form works without its CSRF token.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
mod ui_support;

use common::TestApp;
use fantoccini::Locator;
use leadgate_domain::account::Role;
use leadgate_domain::lead::AssignmentRule;
use serde_json::{Value, json};
use ui_support::*;

const ADMIN_PASSWORD: &str = "admin-password-for-tests";

struct World {
    app: TestApp,
    cal_m1: i64,
    m2_lead: i64,
    m1: i64,
    m2: i64,
}

async fn post_lead(app: &TestApp, token: &str, payload: Value) -> i64 {
    app.post_created(token, &payload.to_string()).await["id"]
        .as_i64()
        .unwrap()
}

async fn world() -> World {
    let app = TestApp::spawn().await;
    set_admin_password(&app, ADMIN_PASSWORD).await;
    let m1 = add_user(&app, "manager1", Role::Manager, "manager1-password").await;
    let m2 = add_user(&app, "manager2", Role::Manager, "manager2-password").await;
    let s = storage(&app).await;
    let cal_m1 = s
        .create_calendar("Личный manager1", Some(m1), "#16a34a")
        .await
        .unwrap();
    let cal_m2 = s
        .create_calendar("Личный manager2", Some(m2), "#dc2626")
        .await
        .unwrap();
    let m2_site = leadgate::tokens::generate();
    s.create_http_source("m2-site", cal_m2, &leadgate::tokens::hash(&m2_site))
        .await
        .unwrap();
    let m2_lead = post_lead(&app, &m2_site, json!({"Тема": "Тайная сделка <b>x</b>"})).await;
    World {
        app,
        cal_m1,
        m2_lead,
        m1,
        m2,
    }
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

async fn count(b: &Browser, css: &str) -> usize {
    b.client.find_all(Locator::Css(css)).await.unwrap().len()
}

#[tokio::test]
async fn a_manager_assigns_and_moves_a_lead_from_its_page_and_sees_both_in_its_timeline() {
    let w = world().await;
    let app = &w.app;
    let lead = post_lead(
        app,
        &app.source_token,
        json!({"Тема": "Перезвонить", "Телефон": "+7 916 123-45-67"}),
    )
    .await;
    let b = Browser::start().await;
    b.sign_in(app, "manager1", "manager1-password").await;
    b.client
        .goto(&format!("{}/leads/{lead}", app.base))
        .await
        .unwrap();
    b.wait_for("#timeline li[data-kind='received']").await;
    // Who may get a lead of the common calendar: everyone; of manager2's personal one: nobody offered here.
    b.click("#assignee-select option[value='manager2']").await;
    b.click("#assign").await;
    b.wait_for("#timeline li[data-kind='assigned']").await;
    assert_eq!(text_of(&b, "#assignee").await, "manager2");
    let entry = text_of(&b, "#timeline li[data-kind='assigned']").await;
    assert!(entry.contains("manager1"), "who: {entry}");
    assert!(
        entry.contains("Ответственный: — → manager2"),
        "old and new: {entry}"
    );
    // Moving: only calendars manager1 sees are offered, never manager2's personal one.
    let options = b
        .client
        .find_all(Locator::Css("#move-calendar option"))
        .await
        .unwrap();
    let mut offered = Vec::new();
    for o in options {
        offered.push(o.text().await.unwrap());
    }
    assert_eq!(offered, ["Личный manager1"]);
    b.click(&format!("#move-calendar option[value='{}']", w.cal_m1))
        .await;
    b.click("#move").await;
    b.wait_for("#timeline li[data-kind='moved']").await;
    let moved = text_of(&b, "#timeline li[data-kind='moved']").await;
    assert!(moved.contains("→ Личный manager1"), "{moved}");
    // manager2 may not see manager1's personal calendar: the move took the lead from them, on the record.
    let mut assigned = Vec::new();
    for e in b
        .client
        .find_all(Locator::Css("#timeline li[data-kind='assigned']"))
        .await
        .unwrap()
    {
        assigned.push(e.text().await.unwrap());
    }
    assert_eq!(assigned.len(), 2, "{assigned:?}");
    assert!(
        assigned
            .iter()
            .any(|e| e.contains("Ответственный: manager2 → —")),
        "{assigned:?}"
    );
    let s = storage(app).await;
    assert_eq!(s.lead(lead).await.unwrap().unwrap().assignee, None);
    b.screenshot("lead-assign-timeline").await;
    // The received entry: channel and source, and no ledger link for a manager.
    let received = text_of(&b, "#timeline li[data-kind='received']").await;
    assert!(received.contains("website"), "{received}");
    assert_eq!(count(&b, "#timeline .raw-link").await, 0);
    b.stop().await;

    // The administrator's timeline links the raw message in the ledger.
    let admin = signed_in(app, "admin", ADMIN_PASSWORD).await;
    let (status, html) = get(app, &admin, &format!("/leads/{lead}")).await;
    assert_eq!(status, 200);
    assert!(html.contains("class=\"raw-link\""));
}

#[tokio::test]
async fn a_manager_assigns_several_leads_from_the_inbox_and_filters_it_by_assignee() {
    let w = world().await;
    let app = &w.app;
    let a = post_lead(app, &app.source_token, json!({"Тема": "Первая"})).await;
    let c = post_lead(app, &app.source_token, json!({"Тема": "Вторая"})).await;
    let untouched = post_lead(app, &app.source_token, json!({"Тема": "Третья"})).await;
    let b = Browser::start().await;
    b.sign_in(app, "manager1", "manager1-password").await;
    b.click(&format!("tr[data-lead-id='{a}'] input[name='lead']"))
        .await;
    b.click(&format!("tr[data-lead-id='{c}'] input[name='lead']"))
        .await;
    b.click("#bulk-assignee option[value='manager2']").await;
    b.click_to_load("#bulk-assign-submit").await;
    b.wait_for("#filters").await;
    let s = storage(app).await;
    for id in [a, c] {
        let lead = s.lead(id).await.unwrap().unwrap();
        assert_eq!(lead.assignee.as_deref(), Some("manager2"));
        let history = s.lead_history(id).await.unwrap();
        assert_eq!(history.len(), 1);
        assert_eq!(history[0].actor.as_deref(), Some("manager1"));
    }
    assert_eq!(s.lead(untouched).await.unwrap().unwrap().assignee, None);

    // Filters: by assignee, unassigned, and "assigned to me".
    b.click("#who-filter option[value='manager2']").await;
    b.click_to_load("#filters button[type='submit']").await;
    b.wait_for("#filters").await;
    // Read in one go: the live page may put a changed lead's row in place of the old one at any time, and a
    // row element held across that is stale.
    let shown = b
        .client
        .execute(
            "return [...document.querySelectorAll('tr.lead-row')].map(r => r.dataset.leadId)",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(shown, json!([c.to_string(), a.to_string()]));
    b.client
        .goto(&format!("{}/inbox?who=none", app.base))
        .await
        .unwrap();
    b.wait_for("#filters").await;
    assert_eq!(
        count(&b, &format!("tr[data-lead-id='{untouched}']")).await,
        1
    );
    assert_eq!(count(&b, &format!("tr[data-lead-id='{a}']")).await, 0);
    b.client
        .goto(&format!("{}/inbox?who=me", app.base))
        .await
        .unwrap();
    b.wait_for("#filters").await;
    assert_eq!(count(&b, "tr.lead-row").await, 0, "nothing is manager1's");
    b.screenshot("inbox-assignee-filter").await;
    b.stop().await;
}

#[tokio::test]
async fn an_administrator_sets_a_calendars_round_robin_and_new_leads_follow_it() {
    let w = world().await;
    let app = &w.app;
    let b = Browser::start().await;
    b.sign_in(app, "admin", ADMIN_PASSWORD).await;
    b.client
        .goto(&format!("{}/admin/calendars", app.base))
        .await
        .unwrap();
    b.wait_for(".assignment-form").await;
    // The common calendar's row (the website posts there): round-robin between the two managers.
    let s = storage(app).await;
    let probe = post_lead(app, &app.source_token, json!({"Тема": "Проба"})).await;
    let common = s.lead(probe).await.unwrap().unwrap().calendar.id;
    let form = format!("form[action='/admin/calendars/{common}/assignment']");
    b.click(&format!("{form} option[value='round_robin']"))
        .await;
    b.click(&format!("{form} input[value='{}']", w.m1)).await;
    b.click(&format!("{form} input[value='{}']", w.m2)).await;
    b.click(&format!("{form} button")).await;
    // The page the save leads to shows the rule chosen (a click sets no `selected` attribute): the form on
    // the old page is there at once, before the rule is committed.
    b.wait_for(&format!("{form} option[value='round_robin'][selected]"))
        .await;
    let rules = s.calendar_assignments().await.unwrap();
    let rule = rules.iter().find(|r| r.calendar_id == common).unwrap();
    assert_eq!(rule.rule, AssignmentRule::RoundRobin);
    assert_eq!(
        rule.members.iter().map(|m| m.user_id).collect::<Vec<_>>(),
        [w.m1, w.m2]
    );
    b.stop().await;
    let first = post_lead(app, &app.source_token, json!({"Тема": "Раз"})).await;
    let second = post_lead(app, &app.source_token, json!({"Тема": "Два"})).await;
    let mut given = vec![
        s.lead(first).await.unwrap().unwrap().assignee.unwrap(),
        s.lead(second).await.unwrap().unwrap().assignee.unwrap(),
    ];
    given.sort();
    assert_eq!(given, ["manager1", "manager2"]);
    // A personal calendar's round-robin takes only those who see it.
    let admin = signed_in(app, "admin", ADMIN_PASSWORD).await;
    let csrf = session_csrf(app, &admin).await;
    let r = post_form(
        app,
        &admin,
        &format!("/admin/calendars/{}/assignment", w.cal_m1),
        &[
            ("csrf", &csrf),
            ("rule", "round_robin"),
            ("member", &w.m2.to_string()),
        ],
    )
    .await;
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn another_managers_personal_lead_cannot_be_assigned_moved_or_seen_and_every_form_needs_its_csrf_token()
 {
    let w = world().await;
    let app = &w.app;
    let lead = post_lead(app, &app.source_token, json!({"Тема": "Общая"})).await;
    let m1 = signed_in(app, "manager1", "manager1-password").await;
    let csrf = session_csrf(app, &m1).await;
    let secret = w.m2_lead;
    let (status, html) = get(app, &m1, &format!("/leads/{secret}")).await;
    assert_eq!(status, 404);
    assert!(!html.contains("Тайная сделка"), "no timeline, no subject");
    let cal = w.cal_m1.to_string();
    for (path, form) in [
        (
            format!("/leads/{secret}/assign"),
            vec![("csrf", csrf.as_str()), ("assignee", "manager1")],
        ),
        (
            format!("/leads/{secret}/move"),
            vec![("csrf", csrf.as_str()), ("calendar", cal.as_str())],
        ),
        (
            "/inbox/assign".to_owned(),
            vec![
                ("csrf", csrf.as_str()),
                ("assignee", "manager1"),
                ("lead", &secret.to_string()),
            ],
        ),
    ] {
        let r = post_form(app, &m1, &path, &form).await;
        assert_eq!(r.status(), 404, "{path}");
    }
    let s = storage(app).await;
    assert!(s.lead_history(secret).await.unwrap().is_empty());
    assert_eq!(s.lead(secret).await.unwrap().unwrap().assignee, None);

    // Without the token nothing is done, on every form.
    let admin = signed_in(app, "admin", ADMIN_PASSWORD).await;
    for (client, path, form) in [
        (
            &m1,
            format!("/leads/{lead}/assign"),
            vec![("assignee", "manager2")],
        ),
        (
            &m1,
            format!("/leads/{lead}/move"),
            vec![("calendar", cal.as_str())],
        ),
        (
            &m1,
            "/inbox/assign".to_owned(),
            vec![("assignee", "manager2"), ("lead", &lead.to_string())],
        ),
        (
            &admin,
            format!("/admin/calendars/{}/assignment", w.cal_m1),
            vec![("rule", "owner")],
        ),
    ] {
        let r = post_form(app, client, &path, &form).await;
        assert_eq!(r.status(), 403, "{path} without a token");
    }
    assert!(s.lead_history(lead).await.unwrap().is_empty());
    let rules = s.calendar_assignments().await.unwrap();
    assert!(rules.iter().all(|r| r.rule == AssignmentRule::None));
    // With it, the same assignment works.
    let r = post_form(
        app,
        &m1,
        &format!("/leads/{lead}/assign"),
        &[("csrf", &csrf), ("assignee", "manager2")],
    )
    .await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        s.lead(lead).await.unwrap().unwrap().assignee.as_deref(),
        Some("manager2")
    );
}

#[tokio::test]
async fn a_moved_lead_is_announced_on_the_live_stream_and_leaves_the_pages_that_no_longer_show_it()
{
    let w = world().await;
    let app = &w.app;
    let lead = post_lead(app, &app.source_token, json!({"Тема": "Переезд"})).await;
    // manager2 sees the common calendar, not manager1's personal one.
    let m2 = signed_in(app, "manager2", "manager2-password").await;
    let (status, html) = get(app, &m2, "/inbox").await;
    assert_eq!(status, 200);
    let at = html.find("data-live-url=\"").unwrap() + 15;
    let url = html[at..].split('"').next().unwrap().replace("&amp;", "&");
    let mut stream = m2.get(format!("{}{url}", app.base)).send().await.unwrap();
    assert_eq!(stream.status(), 200);

    let m1 = signed_in(app, "manager1", "manager1-password").await;
    let csrf = session_csrf(app, &m1).await;
    let r = post_form(
        app,
        &m1,
        &format!("/leads/{lead}/move"),
        &[("csrf", &csrf), ("calendar", &w.cal_m1.to_string())],
    )
    .await;
    assert_eq!(r.status(), 303);

    let mut seen = String::new();
    let event = loop {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(60), stream.chunk())
            .await
            .expect("the move is announced")
            .unwrap()
            .expect("the stream stays open");
        seen.push_str(&String::from_utf8_lossy(&chunk));
        if let Some(line) = seen
            .lines()
            .find(|l| l.starts_with("data:") && l.contains("\"change\":\"moved\""))
        {
            break serde_json::from_str::<Value>(line.trim_start_matches("data:").trim()).unwrap();
        }
    };
    assert_eq!(event["id"], lead);
    assert_eq!(event["gone"], true, "manager2 no longer sees it: {event}");
    assert!(
        event.get("title").is_none(),
        "nothing of it is shown: {event}"
    );
}
