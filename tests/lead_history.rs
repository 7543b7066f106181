//! A lead's timeline, assignment and moving over the read API: every operation leaves its entry in the
//! timeline, with who and when; a manager's token reaches only leads and calendars the manager may see; a
//! calendar's round-robin shares fifty leads posted at once evenly.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
mod ui_support;

use std::collections::HashMap;

use common::TestApp;
use leadgate_domain::account::Role;
use leadgate_domain::lead::AssignmentRule;
use serde_json::{Value, json};
use ui_support::*;

struct World {
    app: TestApp,
    common: i64,
    common_name: String,
    cal_m1: i64,
    cal_m2: i64,
    m1: i64,
    m2: i64,
    m1_token: String,
    m2_site: String,
}

async fn world() -> World {
    let app = TestApp::spawn().await;
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
    let m1_token = leadgate::tokens::generate();
    s.create_api_token(m1, "phone", &leadgate::tokens::hash(&m1_token))
        .await
        .unwrap();
    let first = post_lead(
        &app,
        &app.source_token,
        json!({"Тема": "Проба", "Телефон": "+7 916 000-00-01"}),
    )
    .await;
    let first = app.get(&format!("/api/v1/leads/{first}")).await;
    let common = first["calendar"]["id"].as_i64().unwrap();
    let common_name = first["calendar"]["name"].as_str().unwrap().to_owned();
    World {
        app,
        common,
        common_name,
        cal_m1,
        cal_m2,
        m1,
        m2,
        m1_token,
        m2_site,
    }
}

async fn post_lead(app: &TestApp, token: &str, payload: Value) -> i64 {
    app.post_created(token, &payload.to_string()).await["id"]
        .as_i64()
        .unwrap()
}

async fn call(
    app: &TestApp,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = app
        .client
        .request(method, format!("{}{path}", app.base))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    let r = request.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn timeline(app: &TestApp, token: &str, lead: i64) -> Vec<Value> {
    let (status, body) = call(
        app,
        token,
        reqwest::Method::GET,
        &format!("/api/v1/leads/{lead}/timeline"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["items"].as_array().unwrap().clone()
}

fn kinds(entries: &[Value]) -> Vec<&str> {
    entries
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn every_api_operation_on_a_lead_leaves_its_entry_in_the_timeline_with_who_and_when() {
    let w = world().await;
    let app = &w.app;
    let lead = post_lead(
        app,
        &app.source_token,
        json!({"Тема": "Заказ баннера", "Телефон": "+7 916 123-45-67",
               "Товары": [{"Номенклатура": "Баннер", "Ширина": 2, "Высота": 1, "Количество": 1,
                           "Цена": 100, "Сумма": 100}]}),
    )
    .await;
    let token = &w.m1_token;
    let (status, _) = call(
        app,
        token,
        reqwest::Method::PATCH,
        &format!("/api/v1/leads/{lead}"),
        Some(json!({"status": "in_progress"})),
    )
    .await;
    assert_eq!(status, 200);
    let (status, assigned) = call(
        app,
        token,
        reqwest::Method::POST,
        &format!("/api/v1/leads/{lead}/assign"),
        Some(json!({"assignee": "manager2"})),
    )
    .await;
    assert_eq!(status, 200, "{assigned}");
    assert_eq!(assigned["assignee"], "manager2");
    let (status, _) = call(
        app,
        token,
        reqwest::Method::POST,
        &format!("/api/v1/leads/{lead}/tech-cards"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let (status, moved) = call(
        app,
        token,
        reqwest::Method::POST,
        &format!("/api/v1/leads/{lead}/move"),
        Some(json!({"calendar_id": w.cal_m1})),
    )
    .await;
    assert_eq!(status, 200, "{moved}");
    assert_eq!(moved["calendar"]["id"], w.cal_m1);

    let entries = timeline(app, token, lead).await;
    assert_eq!(
        kinds(&entries),
        [
            "received",
            "status_changed",
            "assigned",
            "tech_cards_formed",
            "moved",
            "assigned"
        ]
    );
    assert_eq!(entries[0]["actor"], Value::Null);
    assert_eq!(entries[0]["details"]["channel"], "http");
    assert_eq!(entries[0]["details"]["source"], "website");
    assert_eq!(
        entries[0]["raw_url"],
        Value::Null,
        "a manager's token gets no ledger link"
    );
    for e in &entries[1..] {
        assert_eq!(e["actor"], "manager1", "{e}");
        assert!(e["at"].as_str().is_some());
    }
    assert_eq!(
        entries[1]["changes"],
        json!([{"field": "status", "old": "new", "new": "in_progress"}])
    );
    assert_eq!(
        entries[2]["changes"],
        json!([{"field": "assignee", "old": null, "new": "manager2"}])
    );
    assert_eq!(entries[3]["details"]["cards"], format!("{lead}-1"));
    assert_eq!(
        entries[4]["changes"],
        json!([{"field": "calendar", "old": w.common_name, "new": "Личный manager1"}])
    );
    // manager2 may not see manager1's personal calendar: the move took the lead from them.
    assert_eq!(
        entries[5]["changes"],
        json!([{"field": "assignee", "old": "manager2", "new": null}])
    );

    // The administrator's token gets the link to the raw message in the ledger.
    let admin = timeline(app, &app.admin_token, lead).await;
    let raw = admin[0]["raw_url"]
        .as_str()
        .expect("a raw link for the administrator");
    let r = app
        .client
        .get(format!("{}{raw}", app.base))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("Заказ баннера"));

    // A body without the field is refused, not read as taking the lead away.
    let (status, _) = call(
        app,
        token,
        reqwest::Method::POST,
        &format!("/api/v1/leads/{lead}/assign"),
        Some(json!({"assignee": "manager1"})),
    )
    .await;
    assert_eq!(status, 200);
    let (status, refused) = call(
        app,
        token,
        reqwest::Method::POST,
        &format!("/api/v1/leads/{lead}/assign"),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["error"]["code"], "invalid_body");
    let (_, still) = call(
        app,
        token,
        reqwest::Method::GET,
        &format!("/api/v1/leads/{lead}"),
        None,
    )
    .await;
    assert_eq!(still["assignee"], "manager1");

    // Unassigning is an entry too, from someone to nobody.
    let (status, _) = call(
        app,
        token,
        reqwest::Method::POST,
        &format!("/api/v1/leads/{lead}/assign"),
        Some(json!({"assignee": null})),
    )
    .await;
    assert_eq!(status, 200);
    let entries = timeline(app, token, lead).await;
    assert_eq!(
        entries.last().unwrap()["changes"],
        json!([{"field": "assignee", "old": "manager1", "new": null}])
    );

    // The timeline is in /openapi.json with the new routes.
    let spec = app.get("/openapi.json").await;
    for path in [
        "/api/v1/leads/{id}/timeline",
        "/api/v1/leads/{id}/assign",
        "/api/v1/leads/{id}/move",
    ] {
        assert!(spec["paths"][path].is_object(), "{path} is documented");
    }
}

#[tokio::test]
async fn a_managers_token_cannot_assign_move_or_read_the_timeline_of_another_managers_lead() {
    let w = world().await;
    let app = &w.app;
    let secret = post_lead(app, &w.m2_site, json!({"Тема": "Тайная сделка"})).await;
    let common = post_lead(app, &app.source_token, json!({"Тема": "Общая"})).await;
    let token = &w.m1_token;
    for (method, path, body) in [
        (
            reqwest::Method::GET,
            format!("/api/v1/leads/{secret}/timeline"),
            None,
        ),
        (
            reqwest::Method::POST,
            format!("/api/v1/leads/{secret}/assign"),
            Some(json!({"assignee": "manager1"})),
        ),
        (
            reqwest::Method::POST,
            format!("/api/v1/leads/{secret}/move"),
            Some(json!({"calendar_id": w.common})),
        ),
    ] {
        let (status, body) = call(app, token, method, &path, body).await;
        assert_eq!(status, 404, "{path}: {body}");
    }
    // Into a calendar the manager may not see: as if it did not exist.
    let (status, _) = call(
        app,
        token,
        reqwest::Method::POST,
        &format!("/api/v1/leads/{common}/move"),
        Some(json!({"calendar_id": w.cal_m2})),
    )
    .await;
    assert_eq!(status, 404);
    // A lead of manager1's own calendar cannot be handed to manager2, who does not see it, neither by the
    // new route nor by PATCH.
    let (status, _) = call(
        app,
        token,
        reqwest::Method::POST,
        &format!("/api/v1/leads/{common}/move"),
        Some(json!({"calendar_id": w.cal_m1})),
    )
    .await;
    assert_eq!(status, 200);
    for (method, path, body) in [
        (
            reqwest::Method::POST,
            format!("/api/v1/leads/{common}/assign"),
            json!({"assignee": "manager2"}),
        ),
        (
            reqwest::Method::PATCH,
            format!("/api/v1/leads/{common}"),
            json!({"assignee": "manager2"}),
        ),
    ] {
        let (status, body) = call(app, token, method, &path, Some(body)).await;
        assert_eq!(status, 422, "{path}: {body}");
        assert_eq!(body["error"]["code"], "assignee_not_allowed", "{body}");
    }
    // The administrator assigns anything to anyone.
    let (status, body) = call(
        app,
        &app.admin_token,
        reqwest::Method::POST,
        &format!("/api/v1/leads/{common}/assign"),
        Some(json!({"assignee": "manager2"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let s = storage(app).await;
    let history = s.lead_history(common).await.unwrap();
    assert_eq!(
        history.len(),
        2,
        "the move and the administrator's assignment"
    );
    assert_eq!(history[1].actor.as_deref(), Some("admin"));
    // The lead of manager2's calendar has nothing in its history from manager1.
    assert!(s.lead_history(secret).await.unwrap().is_empty());
    let _ = (w.m1, w.m2);
}

#[tokio::test]
async fn fifty_leads_posted_at_once_are_shared_by_the_round_robin_within_one_of_each_other() {
    let w = world().await;
    let app = &w.app;
    let m3 = add_user(app, "manager3", Role::Manager, "manager3-password").await;
    let s = storage(app).await;
    s.set_assignment_rule(w.common, AssignmentRule::RoundRobin, &[w.m1, w.m2, m3])
        .await
        .unwrap();
    let posts = (0..50).map(|i| {
        post_lead(
            app,
            &app.source_token,
            json!({"Тема": format!("Заявка {i}"), "Телефон": format!("+7 916 100-00-{i:02}")}),
        )
    });
    let ids = futures::future::join_all(posts).await;
    let mut counts: HashMap<String, usize> = HashMap::new();
    for id in &ids {
        let lead = s.lead(*id).await.unwrap().unwrap();
        *counts
            .entry(lead.assignee.expect("every lead is assigned"))
            .or_default() += 1;
        let history = s.lead_history(*id).await.unwrap();
        assert_eq!(history.len(), 1, "one assignment each");
        assert_eq!(history[0].actor, None, "by leadgate");
    }
    assert_eq!(counts.values().sum::<usize>(), 50);
    assert_eq!(counts.len(), 3, "{counts:?}");
    let most = counts.values().max().unwrap();
    let fewest = counts.values().min().unwrap();
    assert!(most - fewest <= 1, "{counts:?}");
}
