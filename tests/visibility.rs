//! Privacy between managers: a customer is as private as the leads that brought them. Two managers, each
//! with a personal calendar, and an administrator; the UI's counterparty pages and every read-API route show
//! each of them only what the calendars they may see hold.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
mod ui_support;

use common::TestApp;
use leadgate_domain::account::Role;
use serde_json::{Value, json};
use ui_support::*;

const ADMIN_PASSWORD: &str = "admin-password-for-tests";
const M1_PASSWORD: &str = "manager1-password";
const M2_PASSWORD: &str = "manager2-password";

// Individual entrepreneurs (12-digit INNs), so that each counterparty is named after its person.
/// Known from the common calendar and from manager2's personal one.
const INN_SHARED: &str = "770974545492";
/// Known only from manager2's personal calendar.
const INN_SECRET: &str = "500100732964";
/// Known only from manager1's personal calendar.
const INN_MINE: &str = "381000001100";

/// What manager2's personal calendar alone knows; none of it may reach manager1.
const SECRETS: [&str; 7] = [
    "Засекреченный Заказчик",
    INN_SECRET,
    "+79163456789",
    "hidden@secret.example",
    "+79162345678",
    "rival@secret.example",
    "Тайная сделка",
];

struct World {
    app: TestApp,
    cal_m2: i64,
    common_lead: i64,
    m1_lead: i64,
    m2_secret_lead: i64,
    m2_shared_lead: i64,
    shared_cp: i64,
    secret_cp: i64,
    m1_token: String,
    m2_token: String,
}

async fn post_with(app: &TestApp, token: &str, payload: Value) -> Value {
    app.post_lead_with(token, &payload).await
}

/// The common calendar (the website's), a personal calendar for each manager with a site of its own, four
/// leads, and an API token for each manager.
async fn world() -> World {
    let app = TestApp::spawn().await;
    set_admin_password(&app, ADMIN_PASSWORD).await;
    let m1 = add_user(&app, "manager1", Role::Manager, M1_PASSWORD).await;
    let m2 = add_user(&app, "manager2", Role::Manager, M2_PASSWORD).await;
    let s = storage(&app).await;
    let cal_m1 = s
        .create_calendar("Личный manager1", Some(m1), "#16a34a")
        .await
        .unwrap();
    let cal_m2 = s
        .create_calendar("Личный manager2", Some(m2), "#dc2626")
        .await
        .unwrap();
    let m1_site = leadgate::tokens::generate();
    s.create_http_source("m1-site", cal_m1, &leadgate::tokens::hash(&m1_site))
        .await
        .unwrap();
    let m2_site = leadgate::tokens::generate();
    s.create_http_source("m2-site", cal_m2, &leadgate::tokens::hash(&m2_site))
        .await
        .unwrap();

    let common = post_with(
        &app,
        &app.source_token,
        json!({"ИНН": INN_SHARED, "КонтактноеЛицо": "Общий Клиент", "Телефон": "+7 916 123-45-67",
               "АдресЭлектроннойПочты": "common@shop.example", "Тема": "Общий заказ"}),
    )
    .await;
    let m2_shared = post_with(
        &app,
        &m2_site,
        json!({"ИНН": INN_SHARED, "Телефон": "+7 916 234-56-78",
               "АдресЭлектроннойПочты": "rival@secret.example", "Тема": "Тайная сделка"}),
    )
    .await;
    let m2_secret = post_with(
        &app,
        &m2_site,
        json!({"ИНН": INN_SECRET, "КонтактноеЛицо": "Засекреченный Заказчик",
               "Телефон": "+7 916 345-67-89", "АдресЭлектроннойПочты": "hidden@secret.example",
               "Тема": "Секретный заказ",
               "Товары": [{"Номенклатура": "Баннер", "Ширина": 2, "Высота": 1, "Количество": 1,
                           "Цена": 100, "Сумма": 100}]}),
    )
    .await;
    let m1_lead = post_with(
        &app,
        &m1_site,
        json!({"ИНН": INN_MINE, "КонтактноеЛицо": "Мой Клиент", "Тема": "Мой заказ"}),
    )
    .await;
    assert_eq!(
        common["counterparty"]["id"], m2_shared["counterparty"]["id"],
        "one counterparty for the shared INN"
    );

    let m1_token = leadgate::tokens::generate();
    s.create_api_token(m1, "phone", &leadgate::tokens::hash(&m1_token))
        .await
        .unwrap();
    let m2_token = leadgate::tokens::generate();
    s.create_api_token(m2, "phone", &leadgate::tokens::hash(&m2_token))
        .await
        .unwrap();
    World {
        cal_m2,
        common_lead: common["id"].as_i64().unwrap(),
        m1_lead: m1_lead["id"].as_i64().unwrap(),
        m2_secret_lead: m2_secret["id"].as_i64().unwrap(),
        m2_shared_lead: m2_shared["id"].as_i64().unwrap(),
        shared_cp: common["counterparty"]["id"].as_i64().unwrap(),
        secret_cp: m2_secret["counterparty"]["id"].as_i64().unwrap(),
        m1_token,
        m2_token,
        app,
    }
}

fn assert_no_secret(what: &str, text: &str) {
    for secret in SECRETS {
        assert!(!text.contains(secret), "{what} shows {secret:?}: {text}");
    }
}

async fn api(w: &World, token: &str, path: &str) -> (u16, Value) {
    let r = w
        .app
        .client
        .get(format!("{}{path}", w.app.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

fn ids(page: &Value) -> Vec<i64> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn a_manager_lists_and_finds_only_customers_of_leads_they_may_see() {
    let w = world().await;
    let m1 = signed_in(&w.app, "manager1", M1_PASSWORD).await;
    let (status, list) = get(&w.app, &m1, "/counterparties").await;
    assert_eq!(status, 200);
    assert!(list.contains("Общий Клиент") && list.contains("Мой Клиент"));
    assert_no_secret("manager1's counterparty list", &list);
    for q in [INN_SECRET, "5001", "Засекреченный", "засекр"] {
        let (status, found) =
            get(&w.app, &m1, &format!("/counterparties?q={}", urlencode(q))).await;
        assert_eq!(status, 200);
        // The search box shows the query itself back.
        let without_query = found.replace(&format!("value=\"{q}\""), "");
        assert_no_secret(&format!("manager1's search for {q:?}"), &without_query);
        assert!(found.contains("Ничего не найдено"), "{q}");
    }

    let m2 = signed_in(&w.app, "manager2", M2_PASSWORD).await;
    let (_, found) = get(&w.app, &m2, "/counterparties?q=5001").await;
    assert!(found.contains("Засекреченный Заказчик"));
    assert!(!found.contains("Мой Клиент"));
    let admin = signed_in(&w.app, "admin", ADMIN_PASSWORD).await;
    let (_, all) = get(&w.app, &admin, "/counterparties").await;
    for name in ["Общий Клиент", "Мой Клиент", "Засекреченный Заказчик"]
    {
        assert!(all.contains(name), "the administrator sees {name}");
    }
}

#[tokio::test]
async fn a_customer_known_only_from_another_managers_personal_calendar_is_not_found() {
    let w = world().await;
    let m1 = signed_in(&w.app, "manager1", M1_PASSWORD).await;
    let (status, page) = get(&w.app, &m1, &format!("/counterparties/{}", w.secret_cp)).await;
    assert_eq!(status, 404, "as if it did not exist");
    assert_no_secret("the refused page", &page);
    let (missing, _) = get(&w.app, &m1, "/counterparties/999999").await;
    assert_eq!(missing, 404);

    let m2 = signed_in(&w.app, "manager2", M2_PASSWORD).await;
    let (status, page) = get(&w.app, &m2, &format!("/counterparties/{}", w.secret_cp)).await;
    assert_eq!(status, 200);
    assert!(page.contains("Засекреченный Заказчик") && page.contains("+79163456789"));
    let admin = signed_in(&w.app, "admin", ADMIN_PASSWORD).await;
    let (status, _) = get(&w.app, &admin, &format!("/counterparties/{}", w.secret_cp)).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_shared_customers_page_shows_a_manager_only_contacts_and_leads_they_may_see() {
    let w = world().await;
    let path = format!("/counterparties/{}", w.shared_cp);
    let m1 = signed_in(&w.app, "manager1", M1_PASSWORD).await;
    let (status, page) = get(&w.app, &m1, &path).await;
    assert_eq!(status, 200);
    assert!(page.contains("+79161234567") && page.contains("common@shop.example"));
    assert!(page.contains(&format!("/leads/{}\"", w.common_lead)));
    assert!(!page.contains(&format!("/leads/{}\"", w.m2_shared_lead)));
    assert_no_secret("manager1's page of the shared customer", &page);

    let admin = signed_in(&w.app, "admin", ADMIN_PASSWORD).await;
    let (_, page) = get(&w.app, &admin, &path).await;
    for contact in [
        "+79161234567",
        "+79162345678",
        "common@shop.example",
        "rival@secret.example",
    ] {
        assert!(page.contains(contact), "the administrator sees {contact}");
    }
}

#[tokio::test]
async fn a_managers_token_lists_and_opens_only_leads_of_calendars_they_may_see() {
    let w = world().await;
    let (status, page) = api(&w, &w.m1_token, "/api/v1/leads").await;
    assert_eq!(status, 200);
    let seen = ids(&page);
    assert!(seen.contains(&w.common_lead) && seen.contains(&w.m1_lead));
    assert!(!seen.contains(&w.m2_secret_lead) && !seen.contains(&w.m2_shared_lead));
    assert_no_secret("manager1's lead list", &page.to_string());
    for path in [
        format!("/api/v1/leads?search={}", urlencode("Секретный")),
        format!("/api/v1/leads?calendar={}", w.cal_m2),
        format!("/api/v1/leads?calendar={}", urlencode("Личный manager2")),
    ] {
        let (status, page) = api(&w, &w.m1_token, &path).await;
        assert_eq!(status, 200);
        assert_eq!(ids(&page), Vec::<i64>::new(), "{path}");
    }

    let (status, body) = api(
        &w,
        &w.m1_token,
        &format!("/api/v1/leads/{}", w.m2_secret_lead),
    )
    .await;
    assert_eq!(status, 404, "not 403: the id is not confirmed");
    let (_, missing) = api(&w, &w.m1_token, "/api/v1/leads/999999").await;
    assert_eq!(body, missing, "a hidden lead answers like a missing one");
    let r = w
        .app
        .client
        .patch(format!("{}/api/v1/leads/{}", w.app.base, w.m2_secret_lead))
        .bearer_auth(&w.m1_token)
        .json(&json!({"status": "done", "assignee": "manager1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let lead = w
        .app
        .get(&format!("/api/v1/leads/{}", w.m2_secret_lead))
        .await;
    assert_eq!(lead["status"], "new", "the refused patch changed nothing");
    assert_eq!(lead["assignee"], Value::Null);

    let (status, _) = api(&w, &w.m1_token, &format!("/api/v1/leads/{}", w.common_lead)).await;
    assert_eq!(status, 200);
    let (status, _) = api(
        &w,
        &w.m2_token,
        &format!("/api/v1/leads/{}", w.m2_secret_lead),
    )
    .await;
    assert_eq!(status, 200, "the owner sees it");
    let all = ids(&w.app.get("/api/v1/leads").await);
    assert_eq!(all.len(), 4, "the administrator sees every lead");
}

#[tokio::test]
async fn a_managers_token_reaches_no_tech_card_of_another_managers_lead() {
    let w = world().await;
    let form = |token: &str| {
        w.app
            .client
            .post(format!(
                "{}/api/v1/leads/{}/tech-cards",
                w.app.base, w.m2_secret_lead
            ))
            .bearer_auth(token.to_owned())
            .send()
    };
    let r = form(&w.m1_token).await.unwrap();
    assert_eq!(r.status(), 404);
    let r = form(&w.m2_token).await.unwrap();
    assert_eq!(r.status(), 200);
    let cards: Value = r.json().await.unwrap();
    let card = cards[0]["id"].as_i64().unwrap();

    let path = format!("/api/v1/tech-cards/{card}");
    let (status, body) = api(&w, &w.m1_token, &path).await;
    assert_eq!(status, 404);
    assert_no_secret("the refused tech card", &body.to_string());
    let (status, _) = api(&w, &w.m2_token, &path).await;
    assert_eq!(status, 200);
    let (status, _) = api(&w, &w.app.admin_token, &path).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_managers_token_lists_only_counterparties_and_contacts_of_visible_leads() {
    let w = world().await;
    let (status, page) = api(&w, &w.m1_token, "/api/v1/counterparties").await;
    assert_eq!(status, 200);
    let found = ids(&page);
    assert!(found.contains(&w.shared_cp) && !found.contains(&w.secret_cp));
    assert_no_secret("manager1's counterparties", &page.to_string());
    let (_, by_inn) = api(
        &w,
        &w.m1_token,
        &format!("/api/v1/counterparties?inn={INN_SECRET}"),
    )
    .await;
    assert_eq!(ids(&by_inn), Vec::<i64>::new());
    let (_, shared) = api(
        &w,
        &w.m1_token,
        &format!("/api/v1/counterparties?inn={INN_SHARED}"),
    )
    .await;
    assert_eq!(shared["items"][0]["phones"], json!(["+79161234567"]));
    assert_eq!(shared["items"][0]["emails"], json!(["common@shop.example"]));

    let (_, theirs) = api(
        &w,
        &w.m2_token,
        &format!("/api/v1/counterparties?inn={INN_SHARED}"),
    )
    .await;
    assert_eq!(
        theirs["items"][0]["phones"],
        json!(["+79161234567", "+79162345678"])
    );
    let all = w.app.get("/api/v1/counterparties").await;
    assert_eq!(
        ids(&all).len(),
        3,
        "the administrator sees every counterparty"
    );
}

#[tokio::test]
async fn a_managers_token_lists_only_the_calendars_they_may_see() {
    let w = world().await;
    let (status, calendars) = api(&w, &w.m1_token, "/api/v1/calendars").await;
    assert_eq!(status, 200);
    let names: Vec<&str> = calendars
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"Личный manager1"), "{names:?}");
    assert!(!names.contains(&"Личный manager2"), "{names:?}");
    let all = w.app.get("/api/v1/calendars").await;
    assert_eq!(all.as_array().unwrap().len(), names.len() + 1);
}

fn urlencode(s: &str) -> String {
    serde_urlencoded::to_string([("v", s)]).unwrap()[2..].to_owned()
}
