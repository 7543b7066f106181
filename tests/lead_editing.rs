//! A manager's changes to a lead through the API and the lead page's forms: correcting its fields (the
//! original message never changes, and reprocessing never overwrites the correction), order lines that turn
//! a contact lead into an order and leave a formed card stale, a tech card's status, and second submissions.
//! Two managers with personal calendars: neither reaches the other's leads, and every form needs its token.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
mod ui_support;

use common::TestApp;
use leadgate_domain::account::Role;
use leadgate_domain::lead::LeadEventKind;
use leadgate_storage::LeadEvent;
use serde_json::{Value, json};
use ui_support::*;

const M1_PASSWORD: &str = "manager1-password";
const M2_PASSWORD: &str = "manager2-password";

struct World {
    app: TestApp,
    m1_token: String,
    m2_token: String,
    /// A site posting into manager2's personal calendar.
    m2_site: String,
}

async fn world() -> World {
    let app = TestApp::spawn().await;
    let m1 = add_user(&app, "manager1", Role::Manager, M1_PASSWORD).await;
    let m2 = add_user(&app, "manager2", Role::Manager, M2_PASSWORD).await;
    let s = storage(&app).await;
    let cal_m2 = s
        .create_calendar("Личный manager2", Some(m2), "#dc2626")
        .await
        .unwrap();
    let m2_site = leadgate::tokens::generate();
    s.create_http_source("m2-site", cal_m2, &leadgate::tokens::hash(&m2_site))
        .await
        .unwrap();
    let m1_token = leadgate::tokens::generate();
    s.create_api_token(m1, "test", &leadgate::tokens::hash(&m1_token))
        .await
        .unwrap();
    let m2_token = leadgate::tokens::generate();
    s.create_api_token(m2, "test", &leadgate::tokens::hash(&m2_token))
        .await
        .unwrap();
    World {
        app,
        m1_token,
        m2_token,
        m2_site,
    }
}

/// Posts a payload with a source token; returns the lead id.
async fn post_as(app: &TestApp, token: &str, body: &str) -> i64 {
    app.post_created(token, body).await["id"].as_i64().unwrap()
}

async fn post_lead(app: &TestApp, payload: Value) -> i64 {
    post_as(app, &app.source_token, &payload.to_string()).await
}

/// Sends JSON with a bearer token; returns the status and the JSON answer (`null` when there is none).
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
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn lead_json(app: &TestApp, token: &str, id: i64) -> Value {
    let (status, lead) = call(
        app,
        token,
        reqwest::Method::GET,
        &format!("/api/v1/leads/{id}"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    lead
}

/// The lead's timeline entries of one kind.
async fn entries(app: &TestApp, lead: i64, kind: LeadEventKind) -> Vec<LeadEvent> {
    storage(app)
        .await
        .lead_history(lead)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == kind)
        .collect()
}

/// The raw bytes of the ledger record a lead was made from.
async fn raw_of_lead(app: &TestApp, lead: i64) -> Vec<u8> {
    let message = storage(app)
        .await
        .message_of_lead(lead)
        .await
        .unwrap()
        .unwrap();
    let r = app.raw(&json!(message)).await;
    assert_eq!(r.status(), 200);
    r.bytes().await.unwrap().to_vec()
}

#[tokio::test]
async fn a_manager_corrects_a_lead_and_the_original_request_stays_as_it_was_received() {
    let w = world().await;
    let app = &w.app;
    let body =
        json!({"Тема": "Баннер 3х2", "Описание": "Нужен к пятнице", "КонтактноеЛицо": "Прилепский",
                      "Телефон": "8 (916) 123-45-6", "АдресЭлектроннойПочты": "alexey@solvent",
                      "ИНН": "7709745455"})
        .to_string();
    let id = post_as(app, &app.source_token, &body).await;
    let before = lead_json(app, &w.m1_token, id).await;
    assert!(
        before["counterparty"].is_null(),
        "an invalid INN links nothing"
    );

    let (status, answer) = call(
        app,
        &w.m1_token,
        reqwest::Method::PATCH,
        &format!("/api/v1/leads/{id}/details"),
        Some(
            json!({"subject": "Баннер 3×2 м", "phone": "+7 916 123-45-67",
                    "email": "alexey@solvent.example", "inn": "7709745454"}),
        ),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let mut changed: Vec<&str> = answer["changed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    changed.sort_unstable();
    assert_eq!(changed, ["email", "inn", "phone", "subject"]);
    let lead = &answer["lead"];
    assert_eq!(lead["subject"], "Баннер 3×2 м");
    assert_eq!(
        lead["description"], "Нужен к пятнице",
        "an absent field stays"
    );
    assert_eq!(lead["contact"]["phone"], "+7 916 123-45-67");
    assert_eq!(lead["contact"]["phone_e164"], "+79161234567");
    assert_eq!(lead["inn"], "7709745454");
    assert_eq!(
        lead["counterparty"]["inn"], "7709745454",
        "the valid INN finds or creates its counterparty"
    );
    let codes: Vec<&str> = lead["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["code"].as_str().unwrap())
        .collect();
    for gone in ["invalid_phone", "invalid_email", "invalid_inn"] {
        assert!(!codes.contains(&gone), "{gone} is re-checked: {codes:?}");
    }
    let counterparty = storage(app)
        .await
        .counterparties(
            Some("7709745454"),
            None,
            leadgate_storage::PageRequest {
                limit: 5,
                cursor: None,
            },
        )
        .await
        .unwrap();
    assert!(
        counterparty.items[0]
            .phones
            .contains(&"+79161234567".to_owned()),
        "the corrected phone is the counterparty's contact, as the intake would add it"
    );

    // The timeline keeps the old values, and who changed them.
    let edits = entries(app, id, LeadEventKind::Edited).await;
    assert_eq!(edits.len(), 1);
    assert_eq!(edits[0].actor.as_deref(), Some("manager1"));
    let phone = edits[0]
        .changes()
        .into_iter()
        .find(|c| c.field == "phone")
        .unwrap();
    assert_eq!(phone.old.as_deref(), Some("8 (916) 123-45-6"));
    assert_eq!(phone.new.as_deref(), Some("+7 916 123-45-67"));

    // A phone that is not a number is kept as typed, with the intake's warning.
    let (status, answer) = call(
        app,
        &w.m1_token,
        reqwest::Method::PATCH,
        &format!("/api/v1/leads/{id}/details"),
        Some(json!({"phone": "позвонить вечером"})),
    )
    .await;
    assert_eq!(status, 200);
    assert!(answer["lead"]["contact"]["phone_e164"].is_null());
    assert!(
        answer["lead"]["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["code"] == "invalid_phone")
    );

    // The request as received, byte for byte: the original payload is never rewritten.
    assert_eq!(raw_of_lead(app, id).await, body.as_bytes());
}

#[tokio::test]
async fn a_reprocessed_message_does_not_overwrite_a_managers_correction() {
    let w = world().await;
    let app = &w.app;
    let payload = json!({"Тема": "Визитки", "Телефон": "+7 925 642-42-90"}).to_string();
    let message = reject_as(
        app,
        payload.as_bytes(),
        "application/json; charset=utf-8",
        "the parser was broken that day",
    )
    .await;
    let reprocess = |app: &TestApp| {
        app.client
            .post(format!("{}/api/v1/messages/{message}/reprocess", app.base))
            .bearer_auth(&app.admin_token)
            .send()
    };
    let first: Value = reprocess(app).await.unwrap().json().await.unwrap();
    let id = first["lead_id"].as_i64().unwrap();
    let (status, _) = call(
        app,
        &app.admin_token,
        reqwest::Method::PATCH,
        &format!("/api/v1/leads/{id}/details"),
        Some(json!({"subject": "Визитки, 500 шт.", "phone": "+7 925 642-42-91"})),
    )
    .await;
    assert_eq!(status, 200);

    let again = reprocess(app).await.unwrap();
    assert_eq!(again.status(), 409, "the message has its lead already");
    let lead = lead_json(app, &app.admin_token, id).await;
    assert_eq!(lead["subject"], "Визитки, 500 шт.");
    assert_eq!(lead["contact"]["phone_e164"], "+79256424291");
    assert_eq!(raw_of_lead(app, id).await, payload.as_bytes());
}

#[tokio::test]
async fn order_lines_turn_a_contact_lead_into_an_order_and_a_formed_card_goes_stale_when_its_line_changes()
 {
    let w = world().await;
    let app = &w.app;
    let id = post_lead(
        app,
        json!({"Тема": "Перезвоните", "Телефон": "+79161234567"}),
    )
    .await;
    assert_eq!(lead_json(app, &w.m1_token, id).await["kind"], "contact");

    // A line that fills in nothing is refused: it would make the contact lead an order of nothing.
    for empty in [json!({}), json!({"Номенклатура": " ", "Услуга": false})] {
        let (status, refused) = call(
            app,
            &w.m1_token,
            reqwest::Method::POST,
            &format!("/api/v1/leads/{id}/lines"),
            Some(empty),
        )
        .await;
        assert_eq!(status, 422, "{refused}");
        assert_eq!(refused["error"]["code"], "empty_line");
    }
    assert_eq!(lead_json(app, &w.m1_token, id).await["kind"], "contact");

    // The payload's own spelling: decimal commas, "да", and a Сумма that is not Цена × Количество.
    let (status, added) = call(
        app,
        &w.m1_token,
        reqwest::Method::POST,
        &format!("/api/v1/leads/{id}/lines"),
        Some(
            json!({"Номенклатура": "Баннер", "Ширина": "3,0", "Высота": "2", "Количество": "2",
                    "Цена": "1500,00", "Сумма": "9000"}),
        ),
    )
    .await;
    assert_eq!(status, 201, "{added}");
    assert_eq!(added["position"], 1);
    assert_eq!(added["warnings"][0]["code"], "amount_mismatch");
    assert_eq!(added["warnings"][0]["field"], "Товары[1].Сумма");
    let lead = &added["lead"];
    assert_eq!(lead["kind"], "order");
    assert_eq!(
        lead["lines"][0]["width"], "3.0",
        "kept as the intake keeps it"
    );
    assert_eq!(lead["lines"][0]["price"], "1500.00");
    let (status, _) = call(
        app,
        &w.m1_token,
        reqwest::Method::POST,
        &format!("/api/v1/leads/{id}/lines"),
        Some(json!({"Номенклатура": "Доставка", "Сумма": "500", "Услуга": "да"})),
    )
    .await;
    assert_eq!(status, 201);

    let (status, cards) = call(
        app,
        &w.m1_token,
        reqwest::Method::POST,
        &format!("/api/v1/leads/{id}/tech-cards"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        cards.as_array().unwrap().len(),
        1,
        "a service line gets no card"
    );
    let card = cards[0]["id"].as_i64().unwrap();
    assert_eq!(cards[0]["total_area"], "12");
    assert_eq!(cards[0]["stale"], false);

    // The line changes: the card keeps what it was formed from, marked stale.
    let (status, edited) = call(
        app,
        &w.m1_token,
        reqwest::Method::PUT,
        &format!("/api/v1/leads/{id}/lines/1"),
        Some(
            json!({"Номенклатура": "Баннер", "Ширина": "4", "Высота": "2", "Количество": "2",
                    "Цена": "1500", "Сумма": "3000"}),
        ),
    )
    .await;
    assert_eq!(status, 200, "{edited}");
    assert_eq!(edited["stale_cards"], json!([card]));
    assert!(
        edited["lead"]["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|w| w["code"] != "amount_mismatch"),
        "the corrected line's warning is gone"
    );
    assert_eq!(edited["lead"]["lines"][0]["width"], "4");
    let (_, stale) = call(
        app,
        &w.m1_token,
        reqwest::Method::GET,
        &format!("/api/v1/tech-cards/{card}"),
        None,
    )
    .await;
    assert_eq!(stale["stale"], true);
    assert_eq!(stale["line"]["width"], "3.0", "never silently rewritten");
    assert_eq!(stale["total_area"], "12");

    // Forming again gives the new line a card of its own.
    let (_, cards) = call(
        app,
        &w.m1_token,
        reqwest::Method::POST,
        &format!("/api/v1/leads/{id}/tech-cards"),
        None,
    )
    .await;
    let fresh: Vec<&Value> = cards
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["stale"] == false)
        .collect();
    assert_eq!(fresh.len(), 1);
    assert_eq!(fresh[0]["total_area"], "16");
    assert_eq!(fresh[0]["number"], format!("{id}-1/2"));

    // Removing every line makes it a contact lead again; the cards stay, stale.
    for position in [2, 1] {
        let (status, _) = call(
            app,
            &w.m1_token,
            reqwest::Method::DELETE,
            &format!("/api/v1/leads/{id}/lines/{position}"),
            None,
        )
        .await;
        assert_eq!(status, 200);
    }
    let lead = lead_json(app, &w.m1_token, id).await;
    assert_eq!(lead["kind"], "contact");
    assert_eq!(lead["lines"], json!([]));
    let cards = storage(app).await.tech_cards_of_lead(id).await.unwrap();
    assert_eq!(cards.len(), 2);
    assert!(cards.iter().all(|c| c.stale));
    let (status, _) = call(
        app,
        &w.m1_token,
        reqwest::Method::DELETE,
        &format!("/api/v1/leads/{id}/lines/1"),
        None,
    )
    .await;
    assert_eq!(status, 404, "no line there any more");
    let changes = entries(app, id, LeadEventKind::LinesChanged).await;
    assert_eq!(changes.len(), 5, "two added, one changed, two removed");
    let edit = changes[2].changes();
    assert_eq!(edit[0].field, "line 1");
    assert_eq!(edit[0].old.as_deref(), Some("Баннер, 3 × 2 м, 2 шт., 9000"));
    assert_eq!(edit[0].new.as_deref(), Some("Баннер, 4 × 2 м, 2 шт., 3000"));
    assert_eq!(
        changes[2].notes(),
        vec![("stale_tech_cards".to_owned(), format!("{id}-1"))]
    );
}

#[tokio::test]
async fn a_tech_card_moves_from_new_to_in_production_to_done_one_step_at_a_time() {
    let w = world().await;
    let app = &w.app;
    let id = post_lead(
        app,
        json!({"Товары": [{"Номенклатура": "Баннер", "Ширина": 1, "Высота": 1, "Количество": 1}]}),
    )
    .await;
    let (_, cards) = call(
        app,
        &w.m1_token,
        reqwest::Method::POST,
        &format!("/api/v1/leads/{id}/tech-cards"),
        None,
    )
    .await;
    let card = cards[0]["id"].as_i64().unwrap();
    assert_eq!(cards[0]["status"], "new");
    let path = format!("/api/v1/tech-cards/{card}/status");
    let set = |status: &'static str| {
        call(
            app,
            &w.m1_token,
            reqwest::Method::POST,
            &path,
            Some(json!({ "status": status })),
        )
    };
    assert_eq!(set("done").await.0, 409, "no step is skipped");
    let (status, moved) = set("in_production").await;
    assert_eq!(status, 200);
    assert_eq!(moved["status"], "in_production");
    assert_eq!(set("in_production").await.0, 409, "not twice");
    assert_eq!(set("done").await.1["status"], "done");
    assert_eq!(set("done").await.0, 409);
    assert_eq!(set("finished").await.0, 422);
    let moves = entries(app, id, LeadEventKind::TechCardStatusChanged).await;
    let moves: Vec<(Option<String>, Option<String>)> = moves
        .iter()
        .map(|e| (e.changes()[0].old.clone(), e.changes()[0].new.clone()))
        .collect();
    assert_eq!(
        moves,
        [
            (Some("new".into()), Some("in_production".into())),
            (Some("in_production".into()), Some("done".into()))
        ]
    );

    // The lead page shows each card's status.
    let m1 = signed_in(app, "manager1", M1_PASSWORD).await;
    let (_, html) = get(app, &m1, &format!("/leads/{id}")).await;
    assert!(html.contains("card-done"), "{html}");
    assert!(html.contains("Готова"));
}

async fn hint_of(app: &TestApp, token: &str, id: i64) -> (u16, Value) {
    call(
        app,
        token,
        reqwest::Method::GET,
        &format!("/api/v1/leads/{id}/duplicate"),
        None,
    )
    .await
}

#[tokio::test]
async fn a_second_submission_within_a_day_is_hinted_and_leaves_the_inbox_once_marked() {
    let w = world().await;
    let app = &w.app;
    let first = post_lead(
        app,
        json!({"Тема": "Баннер 3х2", "Телефон": "+7 916 123-45-67", "КонтактноеЛицо": "Анна"}),
    )
    .await;
    let second = post_lead(
        app,
        json!({"Тема": "Баннер 3х2", "Телефон": "8 916 123 45 67", "КонтактноеЛицо": "Анна"}),
    )
    .await;
    // The same phone with another subject: no hint.
    let other = post_lead(
        app,
        json!({"Тема": "Визитки", "Телефон": "+7 916 123-45-67"}),
    )
    .await;
    let hint = |id: i64| hint_of(app, &w.m1_token, id);
    let (status, found) = hint(second).await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["of"], first);
    assert_eq!(found["matched"], json!(["phone", "subject"]));
    assert_eq!(hint(first).await.0, 404, "the first is the original");
    assert_eq!(
        hint(other).await.0,
        404,
        "a phone alone is not a second submission"
    );

    // The inbox marks it.
    let m1 = signed_in(app, "manager1", M1_PASSWORD).await;
    let (_, inbox) = get(app, &m1, "/inbox").await;
    assert!(
        inbox.contains(&format!("возможный дубль №{first}")),
        "{inbox}"
    );

    let (status, lead) = call(
        app,
        &w.m1_token,
        reqwest::Method::POST,
        &format!("/api/v1/leads/{second}/duplicate"),
        Some(json!({"of": first, "duplicate": true})),
    )
    .await;
    assert_eq!(status, 200, "{lead}");
    assert_eq!(lead["duplicate_of"], first);
    let (_, inbox) = get(app, &m1, "/inbox").await;
    assert!(
        !inbox.contains(&format!("data-lead-id=\"{second}\"")),
        "it left the inbox"
    );
    assert!(inbox.contains(&format!("data-lead-id=\"{first}\"")));
    assert_eq!(hint(second).await.0, 404, "answered");
    let marked = entries(app, second, LeadEventKind::DuplicateMarked).await;
    assert_eq!(marked.len(), 1);
    assert_eq!(marked[0].detail["duplicate_of"], first);

    // A third submission is hinted at the first (the marked one is no original), and can be dismissed.
    let third = post_lead(
        app,
        json!({"Тема": "Баннер 3х2", "АдресЭлектроннойПочты": "ANNA@shop.example", "Телефон": "+79161234567"}),
    )
    .await;
    assert_eq!(hint(third).await.1["of"], first);
    let (status, _) = call(
        app,
        &w.m1_token,
        reqwest::Method::POST,
        &format!("/api/v1/leads/{third}/duplicate"),
        Some(json!({"of": second, "duplicate": true})),
    )
    .await;
    assert_eq!(status, 404, "only the current hint can be answered");
    let (status, lead) = call(
        app,
        &w.m1_token,
        reqwest::Method::POST,
        &format!("/api/v1/leads/{third}/duplicate"),
        Some(json!({"of": first, "duplicate": false})),
    )
    .await;
    assert_eq!(status, 200);
    assert!(lead["duplicate_of"].is_null());
    assert_eq!(hint(third).await.0, 404, "dismissed");
    assert_eq!(
        entries(app, third, LeadEventKind::DuplicateDismissed)
            .await
            .len(),
        1
    );
    let (_, inbox) = get(app, &m1, "/inbox").await;
    assert!(inbox.contains(&format!("data-lead-id=\"{third}\"")));

    // A marking is undone on the lead's page ("Не дубль: вернуть во входящие"): the lead is back in the
    // inbox, with no hint, and the undo is in its timeline. Only the lead it was marked of can be named.
    let csrf = session_csrf(app, &m1).await;
    let (_, page) = get(app, &m1, &format!("/leads/{second}")).await;
    assert!(page.contains("id=\"undo-duplicate\""), "{page}");
    let wrong = post_form(
        app,
        &m1,
        &format!("/leads/{second}/duplicate"),
        &[
            ("csrf", &csrf),
            ("of", &third.to_string()),
            ("duplicate", "no"),
        ],
    )
    .await;
    assert_eq!(wrong.status(), 404);
    let undone = post_form(
        app,
        &m1,
        &format!("/leads/{second}/duplicate"),
        &[
            ("csrf", &csrf),
            ("of", &first.to_string()),
            ("duplicate", "no"),
        ],
    )
    .await;
    assert_eq!(undone.status(), 303);
    let lead = lead_json(app, &w.m1_token, second).await;
    assert!(lead["duplicate_of"].is_null(), "{lead}");
    let (_, inbox) = get(app, &m1, "/inbox").await;
    assert!(inbox.contains(&format!("data-lead-id=\"{second}\"")));
    assert_eq!(hint(second).await.0, 404, "not hinted again");
    assert_eq!(
        entries(app, second, LeadEventKind::DuplicateDismissed)
            .await
            .len(),
        1
    );
}

#[tokio::test]
async fn a_manager_cannot_change_a_lead_in_another_managers_personal_calendar() {
    let w = world().await;
    let app = &w.app;
    let secret = post_as(
        app,
        &w.m2_site,
        &json!({"Тема": "Тайная сделка", "Телефон": "+79163456789",
                "Товары": [{"Номенклатура": "Баннер", "Ширина": 1, "Высота": 1, "Количество": 1}]})
        .to_string(),
    )
    .await;
    let (_, cards) = call(
        app,
        &w.m2_token,
        reqwest::Method::POST,
        &format!("/api/v1/leads/{secret}/tech-cards"),
        None,
    )
    .await;
    let card = cards[0]["id"].as_i64().unwrap();
    let attempts = [
        (
            reqwest::Method::PATCH,
            format!("/api/v1/leads/{secret}/details"),
            Some(json!({"subject": "взлом"})),
        ),
        (
            reqwest::Method::POST,
            format!("/api/v1/leads/{secret}/lines"),
            Some(json!({"Номенклатура": "взлом"})),
        ),
        (
            reqwest::Method::PUT,
            format!("/api/v1/leads/{secret}/lines/1"),
            Some(json!({"Номенклатура": "взлом"})),
        ),
        (
            reqwest::Method::DELETE,
            format!("/api/v1/leads/{secret}/lines/1"),
            None,
        ),
        (
            reqwest::Method::POST,
            format!("/api/v1/tech-cards/{card}/status"),
            Some(json!({"status": "in_production"})),
        ),
        (
            reqwest::Method::GET,
            format!("/api/v1/leads/{secret}/duplicate"),
            None,
        ),
        (
            reqwest::Method::POST,
            format!("/api/v1/leads/{secret}/duplicate"),
            Some(json!({"of": 1, "duplicate": true})),
        ),
    ];
    for (method, path, body) in attempts {
        let (status, answer) = call(app, &w.m1_token, method.clone(), &path, body).await;
        assert_eq!(status, 404, "{method} {path}: {answer}");
    }

    // The lead page's forms, with a valid session token, are refused too.
    let m1 = signed_in(app, "manager1", M1_PASSWORD).await;
    let csrf = session_csrf(app, &m1).await;
    let forms: [(String, Vec<(&str, &str)>); 5] = [
        (
            format!("/leads/{secret}/edit"),
            vec![
                ("subject", "взлом"),
                ("description", ""),
                ("person", ""),
                ("phone", ""),
                ("email", ""),
                ("inn", ""),
            ],
        ),
        (
            format!("/leads/{secret}/lines"),
            vec![("nomenclature", "взлом")],
        ),
        (
            format!("/leads/{secret}/lines/1"),
            vec![("nomenclature", "взлом")],
        ),
        (format!("/leads/{secret}/lines/1/remove"), vec![]),
        (
            format!("/tech-cards/{card}/status"),
            vec![("status", "in_production")],
        ),
    ];
    for (path, mut form) in forms {
        form.push(("csrf", &csrf));
        let r = post_form(app, &m1, &path, &form).await;
        // As for a lead or card that does not exist.
        assert_eq!(r.status(), 404, "{path}");
    }
    let lead = lead_json(app, &w.m2_token, secret).await;
    assert_eq!(lead["subject"], "Тайная сделка");
    assert_eq!(lead["lines"].as_array().unwrap().len(), 1);
    assert_eq!(
        storage(app)
            .await
            .tech_card(card)
            .await
            .unwrap()
            .unwrap()
            .status,
        "new"
    );
}

#[tokio::test]
async fn the_lead_pages_forms_are_refused_without_the_csrf_token() {
    let w = world().await;
    let app = &w.app;
    let id = post_lead(
        app,
        json!({"Тема": "Баннер", "Товары": [{"Номенклатура": "Баннер", "Ширина": 1, "Высота": 1}]}),
    )
    .await;
    storage(app).await.form_tech_cards(id, None).await.unwrap();
    let card = storage(app).await.tech_cards_of_lead(id).await.unwrap()[0].id;
    let m1 = signed_in(app, "manager1", M1_PASSWORD).await;
    let forms: [(String, Vec<(&str, &str)>); 6] = [
        (
            format!("/leads/{id}/edit"),
            vec![
                ("subject", "подмена"),
                ("description", ""),
                ("person", ""),
                ("phone", ""),
                ("email", ""),
                ("inn", ""),
            ],
        ),
        (
            format!("/leads/{id}/lines"),
            vec![("nomenclature", "подмена")],
        ),
        (
            format!("/leads/{id}/lines/1"),
            vec![("nomenclature", "подмена")],
        ),
        (format!("/leads/{id}/lines/1/remove"), vec![]),
        (
            format!("/tech-cards/{card}/status"),
            vec![("status", "in_production")],
        ),
        (
            format!("/leads/{id}/duplicate"),
            vec![("of", "1"), ("duplicate", "yes")],
        ),
    ];
    for (path, form) in &forms {
        let r = post_form(app, &m1, path, form).await;
        assert_eq!(r.status(), 403, "{path} without a token");
        let mut wrong = form.clone();
        wrong.push(("csrf", "not-the-token"));
        let r = post_form(app, &m1, path, &wrong).await;
        assert_eq!(r.status(), 403, "{path} with a wrong token");
    }
    let lead = lead_json(app, &w.m1_token, id).await;
    assert_eq!(lead["subject"], "Баннер");
    assert_eq!(lead["lines"].as_array().unwrap().len(), 1);
    assert_eq!(
        storage(app)
            .await
            .tech_card(card)
            .await
            .unwrap()
            .unwrap()
            .status,
        "new"
    );

    // With the token, the same correction goes through.
    let csrf = session_csrf(app, &m1).await;
    let mut form = forms[0].1.clone();
    form.push(("csrf", &csrf));
    let r = post_form(app, &m1, &forms[0].0, &form).await;
    assert_eq!(r.status(), 303);
    assert_eq!(lead_json(app, &w.m1_token, id).await["subject"], "подмена");
}

/// The ids of the leads `GET /api/v1/leads` finds for `search` in `calendar`.
async fn found(app: &TestApp, search: &str, calendar: i64) -> Vec<i64> {
    let path = format!(
        "/api/v1/leads?calendar={calendar}&search={}",
        percent_encoding::utf8_percent_encode(search, percent_encoding::NON_ALPHANUMERIC)
    );
    let (status, page) = call(app, &app.admin_token, reqwest::Method::GET, &path, None).await;
    assert_eq!(status, 200, "{path}: {page}");
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_i64().unwrap())
        .collect()
}

/// A corrected lead is found by its new text and no longer by its old one, and a moved lead in its new calendar
/// only, however long its text: a subject of 300,000 characters (the intake takes that much) is corrected and
/// moved at once, its search keys written in time linear in its length on both backends.
#[tokio::test]
async fn a_corrected_or_moved_lead_is_found_by_its_new_text_in_its_new_calendar() {
    let w = world().await;
    let app = &w.app;
    let id = post_lead(
        app,
        json!({"Тема": "Прежняя тема", "Телефон": "+7 916 000-00-01"}),
    )
    .await;
    let first = lead_json(app, &app.admin_token, id).await["calendar"]["id"]
        .as_i64()
        .unwrap();
    let second = storage(app)
        .await
        .create_calendar("Второй", None, "#16a34a")
        .await
        .unwrap();
    assert_eq!(found(app, "прежняя", first).await, vec![id]);

    let subject = format!("{} заказ-уникум", "жs".repeat(150_000));
    let (status, answer) = call(
        app,
        &app.admin_token,
        reqwest::Method::PATCH,
        &format!("/api/v1/leads/{id}/details"),
        Some(json!({"subject": subject})),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(found(app, "заказ-уникум", first).await, vec![id]);
    assert!(found(app, "прежняя", first).await.is_empty());

    let (status, moved) = call(
        app,
        &app.admin_token,
        reqwest::Method::POST,
        &format!("/api/v1/leads/{id}/move"),
        Some(json!({"calendar_id": second})),
    )
    .await;
    assert_eq!(status, 200, "{moved}");
    assert_eq!(found(app, "заказ-уникум", second).await, vec![id]);
    assert!(found(app, "заказ-уникум", first).await.is_empty());
}

fn as_refs(form: &[(String, String)]) -> Vec<(&str, &str)> {
    form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// The value of the hidden input `name` in a page.
fn hidden(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page.find(&marker).unwrap_or_else(|| panic!("{name}")) + marker.len();
    let end = start + page[start..].find('"').unwrap();
    page[start..end].to_owned()
}

/// The correction form takes a description as long as its field allows (20,000 letters, Cyrillic, sent as
/// edited and as it was shown): the form is not refused as too large.
#[tokio::test]
async fn the_correction_form_saves_a_description_as_long_as_its_field_allows() {
    let w = world().await;
    let app = &w.app;
    let long = "Д".repeat(20_000);
    let id = post_lead(
        app,
        json!({"Тема": "Баннер", "Телефон": "+7 916 000-11-11", "Описание": long}),
    )
    .await;
    let m1 = signed_in(app, "manager1", M1_PASSWORD).await;
    let csrf = session_csrf(app, &m1).await;
    let (_, page) = get(app, &m1, &format!("/leads/{id}")).await;
    let mut form: Vec<(String, String)> = vec![
        ("csrf".into(), csrf),
        ("subject".into(), "Баннер".into()),
        ("description".into(), long.clone()),
        ("person".into(), String::new()),
        ("phone".into(), "+7 916 000-22-22".into()),
        ("email".into(), String::new()),
        ("inn".into(), String::new()),
    ];
    for f in ["subject", "description", "person", "phone", "email", "inn"] {
        form.push((format!("was_{f}"), hidden(&page, &format!("was_{f}"))));
    }
    let r = post_form(app, &m1, &format!("/leads/{id}/edit"), &as_refs(&form)).await;
    assert_eq!(r.status(), 303);
    let lead = lead_json(app, &w.m1_token, id).await;
    assert_eq!(lead["contact"]["phone_e164"], "+79160002222");
    assert_eq!(
        lead["description"].as_str().unwrap().chars().count(),
        20_000
    );
}

/// A correction form opened before a colleague's correction writes only what its manager changed, and one
/// that changes the very field the colleague changed is refused, naming the field: no correction is undone
/// unseen.
#[tokio::test]
async fn a_stale_correction_form_never_undoes_a_colleagues_change() {
    let w = world().await;
    let app = &w.app;
    let id = post_lead(
        app,
        json!({"Тема": "Баннер", "Телефон": "+7 916 000-11-11", "КонтактноеЛицо": "Анна"}),
    )
    .await;
    let m1 = signed_in(app, "manager1", M1_PASSWORD).await;
    let csrf = session_csrf(app, &m1).await;
    let (_, page) = get(app, &m1, &format!("/leads/{id}")).await;
    let shown: Vec<(String, String)> =
        ["subject", "description", "person", "phone", "email", "inn"]
            .iter()
            .map(|f| (format!("was_{f}"), hidden(&page, &format!("was_{f}"))))
            .collect();
    assert_eq!(shown[3].1, "+7 916 000-11-11");
    // manager2 corrects the phone meanwhile.
    let (status, _) = call(
        app,
        &w.m2_token,
        reqwest::Method::PATCH,
        &format!("/api/v1/leads/{id}/details"),
        Some(json!({"phone": "+7 916 999-88-77"})),
    )
    .await;
    assert_eq!(status, 200);
    let submit = |subject: &'static str, phone: &'static str| {
        let mut form: Vec<(String, String)> = vec![
            ("csrf".into(), csrf.clone()),
            ("subject".into(), subject.into()),
            ("description".into(), String::new()),
            ("person".into(), "Анна".into()),
            ("phone".into(), phone.into()),
            ("email".into(), String::new()),
            ("inn".into(), String::new()),
        ];
        form.extend(shown.iter().cloned());
        form
    };
    // manager1 changes the subject only, on the form opened before.
    let form = submit("Баннер 3×2", "+7 916 000-11-11");
    let r = post_form(app, &m1, &format!("/leads/{id}/edit"), &as_refs(&form)).await;
    assert_eq!(r.status(), 303);
    let lead = lead_json(app, &w.m1_token, id).await;
    assert_eq!(lead["subject"], "Баннер 3×2");
    assert_eq!(lead["contact"]["phone_e164"], "+79169998877", "{lead}");
    // The same stale form changing the phone too: refused, nothing written.
    let form = submit("Баннер <3×2> м", "+7 916 555-55-55");
    let r = post_form(app, &m1, &format!("/leads/{id}/edit"), &as_refs(&form)).await;
    assert_eq!(r.status(), 409);
    let page = r.text().await.unwrap();
    // The subject too was changed since (by the form itself, a moment ago): the first such field is named.
    assert!(page.contains("Поле «Тема» изменил кто-то другой"), "{page}");
    assert!(page.contains(&format!("href=\"/leads/{id}\"")), "{page}");
    // What the manager typed is shown back (escaped) to copy, the fields left as shown are not.
    assert!(page.contains("<dd>Баннер &#60;3×2&#62; м</dd>"), "{page}");
    assert!(page.contains("<dd>+7 916 555-55-55</dd>"), "{page}");
    assert!(!page.contains("<dt>Контактное лицо</dt>"), "{page}");
    let lead = lead_json(app, &w.m1_token, id).await;
    assert_eq!(lead["subject"], "Баннер 3×2");
    assert_eq!(lead["contact"]["phone_e164"], "+79169998877");
}

/// An order line's form opened before a colleague changed the line is refused, naming the line, instead of
/// writing back the values it was opened with; a form opened after the change saves.
#[tokio::test]
async fn a_stale_order_line_form_never_undoes_a_colleagues_change() {
    let w = world().await;
    let app = &w.app;
    let id = post_lead(
        app,
        json!({"Телефон": "+7 916 000-11-11", "Товары": [
            {"Номенклатура": "Визитки", "Количество": 100, "Цена": 2, "Сумма": 200}
        ]}),
    )
    .await;
    let m1 = signed_in(app, "manager1", M1_PASSWORD).await;
    let csrf = session_csrf(app, &m1).await;
    let form_of = |page: &str, quantity: &'static str, amount: &'static str| {
        vec![
            ("csrf".to_owned(), csrf.clone()),
            ("version".to_owned(), hidden(page, "version")),
            ("nomenclature".to_owned(), "Визитки".to_owned()),
            ("material".to_owned(), "Мелованная 300".to_owned()),
            ("quantity".to_owned(), quantity.to_owned()),
            ("price".to_owned(), "2".to_owned()),
            ("amount".to_owned(), amount.to_owned()),
        ]
    };
    let (_, opened_before) = get(app, &m1, &format!("/leads/{id}")).await;
    // A colleague doubles the quantity meanwhile.
    let (_, colleague) = get(app, &m1, &format!("/leads/{id}")).await;
    let form = form_of(&colleague, "200", "400");
    let r = post_form(app, &m1, &format!("/leads/{id}/lines/1"), &as_refs(&form)).await;
    assert_eq!(r.status(), 303);

    let form = form_of(&opened_before, "100", "200");
    let r = post_form(app, &m1, &format!("/leads/{id}/lines/1"), &as_refs(&form)).await;
    assert_eq!(r.status(), 409);
    let page = r.text().await.unwrap();
    assert!(page.contains("Строку 1 изменил кто-то другой"), "{page}");
    for typed in [
        "<dt>Материал</dt><dd>Мелованная 300</dd>",
        "<dt>Количество</dt><dd>100</dd>",
        "<dt>Сумма</dt><dd>200</dd>",
    ] {
        assert!(page.contains(typed), "{typed}: {page}");
    }
    let lead = lead_json(app, &w.m1_token, id).await;
    assert_eq!(lead["lines"][0]["quantity"], "200", "{lead}");

    let (_, fresh) = get(app, &m1, &format!("/leads/{id}")).await;
    let form = form_of(&fresh, "300", "600");
    let r = post_form(app, &m1, &format!("/leads/{id}/lines/1"), &as_refs(&form)).await;
    assert_eq!(r.status(), 303);
    let lead = lead_json(app, &w.m1_token, id).await;
    assert_eq!(lead["lines"][0]["quantity"], "300", "{lead}");
}
