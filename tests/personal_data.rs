//! Erasing a person's data on request (152-ФЗ) through the UI, the API and the command line: everything held
//! about a phone, an e-mail or an INN is found however it was written, erased or anonymised in one step,
//! and recorded in an audit that does not hold the data; other customers' data stays as it was.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
mod ui_support;

use common::{SEED_SAMPLE, TestApp};
use leadgate_domain::account::Role;
use leadgate_domain::ledger::Outcome;
use leadgate_storage::PageRequest;
use serde_json::{Value, json};
use ui_support::*;

const ADMIN_PASSWORD: &str = "admin-password-for-tests";

/// Another customer: other person, phone, e-mail and INN.
const OTHER: &str = r#"{"Тема": "Визитки", "Описание": "Визитки 100 шт", "ИНН": "7707083893",
 "Телефон": "8 (916) 123-45-67", "АдресЭлектроннойПочты": "maria@example.ru", "КонтактноеЛицо": "Иванова Мария"}"#;

/// A payload the site broke (not JSON), holding the person's phone written another way, and the e-mail.
const BROKEN_WITH_PHONE: &str = r#"{"Тема": "Перезвоните", "Телефон": "8 (925) 642-42-90", "АдресЭлектроннойПочты": "AdwCom@gmail.com" "#;

async fn post_lead(app: &TestApp, json: &str) -> i64 {
    let r = app.intake_json(json).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    r.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
}

/// The ledger record of a lead.
async fn message_of(app: &TestApp, lead: i64) -> i64 {
    storage(app)
        .await
        .message_of_lead(lead)
        .await
        .unwrap()
        .expect("the lead has its ledger record")
}

/// Two customers' leads, and a rejected message for each; returns (person's lead, other lead, person's
/// rejected message, other rejected message).
async fn two_customers(app: &TestApp) -> (i64, i64, i64, i64) {
    let person = post_lead(app, SEED_SAMPLE).await;
    let other = post_lead(app, OTHER).await;
    let rejected = reject_as(
        app,
        BROKEN_WITH_PHONE.as_bytes(),
        "application/json",
        "not JSON",
    )
    .await;
    let other_rejected = reject_as(
        app,
        r#"{"Телефон": "8 (916) 123-45-67" "#.as_bytes(),
        "application/json",
        "not JSON",
    )
    .await;
    (person, other, rejected, other_rejected)
}

/// Asserts that the other customer's lead, raw body, counterparty and rejected message are as they were.
async fn other_customer_is_untouched(app: &TestApp, other: i64, other_rejected: i64) {
    let lead = app.get(&format!("/api/v1/leads/{other}")).await;
    assert_eq!(lead["contact"]["person"], "Иванова Мария");
    assert_eq!(lead["contact"]["phone_e164"], "+79161234567");
    assert_eq!(lead["contact"]["email"], "maria@example.ru");
    assert_eq!(lead["inn"], "7707083893");
    assert_eq!(lead["description"], "Визитки 100 шт");
    assert_eq!(lead["counterparty"]["inn"], "7707083893");
    let raw = app.raw(&json!(message_of(app, other).await)).await;
    assert_eq!(raw.status(), 200);
    assert_eq!(app.raw(&json!(other_rejected)).await.status(), 200);
    let parties = app.get("/api/v1/counterparties?inn=7707083893").await;
    assert_eq!(parties["items"][0]["phones"], json!(["+79161234567"]));
    assert_eq!(parties["items"][0]["emails"], json!(["maria@example.ru"]));
}

/// Asserts that the person's lead keeps only what is not personal, and its original is gone.
async fn lead_is_anonymised(app: &TestApp, lead: i64, message: i64) {
    let view = app.get(&format!("/api/v1/leads/{lead}")).await;
    for field in ["person", "phone", "phone_e164", "email"] {
        assert_eq!(view["contact"][field], Value::Null, "{field}: {view}");
    }
    assert_eq!(view["inn"], Value::Null);
    assert_eq!(view["description"], Value::Null);
    assert_eq!(view["subject"], Value::Null);
    assert_eq!(view["layout_files"], json!([]));
    assert_eq!(view["counterparty"], Value::Null);
    // Kept for the statistics: kind, goods and amounts.
    assert_eq!(view["kind"], "order");
    assert_eq!(view["lines"].as_array().unwrap().len(), 2);
    assert_eq!(view["lines"][0]["amount"], "1000");
    assert_eq!(
        app.raw(&json!(message)).await.status(),
        404,
        "the original message is deleted"
    );
    let found = app
        .get("/api/v1/leads?search=%D0%BF%D1%80%D0%B8%D0%BB%D0%B5%D0%BF%D1%81%D0%BA%D0%B8%D0%B9")
        .await;
    assert_eq!(found["items"], json!([]), "the name is not searchable");
}

/// Asserts that no audit column holds the phone, the e-mail, the INN or the name.
async fn audit_holds_no_personal_data(app: &TestApp) {
    let s = storage(app).await;
    let records = s.personal_data_erasures(100).await.unwrap();
    assert!(!records.is_empty());
    for record in records {
        let text = format!("{record:?}");
        for secret in ["9256424290", "adwcom", "7709745454", "Прилепский"] {
            assert!(!text.contains(secret), "{secret} in the audit: {text}");
        }
    }
}

#[tokio::test]
async fn an_administrator_finds_a_phone_in_the_ui_previews_and_erases_everything_held_about_it() {
    let app = TestApp::spawn().await;
    set_admin_password(&app, ADMIN_PASSWORD).await;
    let (person, other, rejected, other_rejected) = two_customers(&app).await;
    let person_message = message_of(&app, person).await;
    let c = signed_in(&app, "admin", ADMIN_PASSWORD).await;

    // The search finds the phone written another way than the site sent it.
    let csrf = session_csrf(&app, &c).await;
    let (status, page) = get(&app, &c, "/admin/personal-data").await;
    assert_eq!(status, 200);
    assert!(page.contains("id=\"find-person\""));
    let r = c
        .post(format!("{}/admin/personal-data", app.base))
        .form(&[
            ("csrf", csrf.as_str()),
            ("kind", "phone"),
            ("value", "8 (925) 642-42-90"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let preview = r.text().await.unwrap();
    assert!(
        preview.contains(&format!("data-lead=\"{person}\"")),
        "{preview}"
    );
    assert!(!preview.contains(&format!("data-lead=\"{other}\"")));
    assert!(preview.contains("Прилепский Алексей Анатольевич"));
    assert!(preview.contains("action=\"/admin/personal-data/erase\""));

    // A manager can neither search nor erase.
    add_user(&app, "manager1", Role::Manager, "manager-password").await;
    let m = signed_in(&app, "manager1", "manager-password").await;
    let (status, _) = get(&app, &m, "/admin/personal-data").await;
    assert_eq!(status, 403);
    let manager_csrf = session_csrf(&app, &m).await;
    let r = m
        .post(format!("{}/admin/personal-data", app.base))
        .form(&[
            ("csrf", manager_csrf.as_str()),
            ("kind", "phone"),
            ("value", "89256424290"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = m
        .post(format!("{}/admin/personal-data/erase", app.base))
        .form(&[
            ("csrf", manager_csrf.as_str()),
            ("kind", "phone"),
            ("value", "89256424290"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    // Without the session's token nothing is erased.
    let form = [("kind", "phone"), ("value", "+7 925 642 42 90")];
    let r = c
        .post(format!("{}/admin/personal-data/erase", app.base))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(
        app.get(&format!("/api/v1/leads/{person}")).await["contact"]["person"],
        "Прилепский Алексей Анатольевич"
    );

    let r = c
        .post(format!("{}/admin/personal-data/erase", app.base))
        .form(&[
            ("csrf", csrf.as_str()),
            ("kind", "phone"),
            ("value", "+7 925 642 42 90"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert!(page.contains("Данные удалены"), "{page}");
    for shown in ["+7 925 642 42 90", "+79256424290"] {
        assert!(
            !page.contains(shown),
            "the page does not show the value back"
        );
    }

    lead_is_anonymised(&app, person, person_message).await;
    let (status, _) = get(&app, &c, &format!("/leads/{person}")).await;
    assert_eq!(status, 200, "the anonymised lead still opens");
    let (status, _) = get(&app, &c, &format!("/leads/{person}/original")).await;
    assert_eq!(
        status, 404,
        "the lead page's download of the original is gone"
    );
    // The rejected message that mentioned the phone lost its raw bytes and left the quarantine.
    assert_eq!(app.raw(&json!(rejected)).await.status(), 404);
    let s = storage(&app).await;
    let record = s.message(rejected).await.unwrap().unwrap();
    assert_eq!(record.outcome, Outcome::Discarded);
    assert!(!record.has_raw);
    // The organisation stays, no longer named after the person, without the person's phone and e-mail.
    let party = app.get("/api/v1/counterparties?inn=7709745454").await;
    assert_eq!(party["items"][0]["name"], "ИНН 7709745454");
    assert_eq!(party["items"][0]["phones"], json!([]));
    assert_eq!(party["items"][0]["emails"], json!([]));
    let by_name = s
        .search_counterparties(
            "Прилепский",
            None,
            PageRequest {
                limit: 10,
                cursor: None,
            },
        )
        .await
        .unwrap();
    assert!(by_name.items.is_empty(), "the name left the search index");

    other_customer_is_untouched(&app, other, other_rejected).await;

    let audit = s.personal_data_erasures(10).await.unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].actor, "admin");
    assert_eq!(audit[0].channel, "ui");
    assert_eq!(audit[0].query_kind, "phone");
    assert_eq!(audit[0].lead_ids, vec![person]);
    assert_eq!(audit[0].message_ids, vec![person_message, rejected]);
    audit_holds_no_personal_data(&app).await;
    let (_, page) = get(&app, &c, "/admin/personal-data").await;
    assert!(page.contains("id=\"erasures\""));
}

#[tokio::test]
async fn the_api_finds_and_erases_an_email_in_any_case_for_the_admin_token_only() {
    let app = TestApp::spawn().await;
    let (person, other, rejected, other_rejected) = two_customers(&app).await;
    let person_message = message_of(&app, person).await;
    let s = storage(&app).await;
    let manager = s
        .create_user("manager1", "manager1", Role::Manager, None)
        .await
        .unwrap();
    s.create_api_token(manager, "t", &leadgate::tokens::hash("manager-token"))
        .await
        .unwrap();

    let url = format!("{}/api/v1/personal-data?email=ADWCOM%40Gmail.com", app.base);
    let r = app.client.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = app
        .client
        .get(&url)
        .bearer_auth("manager-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = app
        .client
        .post(format!("{}/api/v1/personal-data/erase", app.base))
        .bearer_auth("manager-token")
        .json(&json!({"email": "adwcom@gmail.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    let openapi = app.get("/openapi.json").await;
    assert!(openapi["paths"]["/api/v1/personal-data"]["get"].is_object());
    assert!(openapi["paths"]["/api/v1/personal-data/erase"]["post"].is_object());

    let found = app
        .get("/api/v1/personal-data?email=ADWCOM%40Gmail.com")
        .await;
    assert_eq!(found["leads"][0]["id"], person, "{found}");
    assert_eq!(found["leads"].as_array().unwrap().len(), 1);
    assert_eq!(found["message_ids"], json!([person_message, rejected]));
    let r = app
        .client
        .get(format!(
            "{}/api/v1/personal-data?email=a@b.ru&inn=7709745454",
            app.base
        ))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "exactly one of phone, email and inn");
    // The erasure reads its body as every JSON route of the API does.
    for (content_type, body, status, code) in [
        (
            "text/plain",
            r#"{"email": "a@b.ru"}"#,
            415,
            "unsupported_media_type",
        ),
        ("application/json", r#"{"inn": 123}"#, 422, "invalid_body"),
    ] {
        let r = app
            .client
            .post(format!("{}/api/v1/personal-data/erase", app.base))
            .bearer_auth(&app.admin_token)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), status, "{body}");
        let error: Value = r.json().await.unwrap();
        assert_eq!(error["error"]["code"], code, "{error}");
    }

    let r = app
        .client
        .post(format!("{}/api/v1/personal-data/erase", app.base))
        .bearer_auth(&app.admin_token)
        .json(&json!({"email": "AdwCom@GMAIL.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let record: Value = r.json().await.unwrap();
    assert_eq!(record["channel"], "api");
    assert_eq!(record["query_kind"], "email");
    assert_eq!(record["lead_ids"], json!([person]));
    assert_eq!(record["message_ids"], json!([person_message, rejected]));
    assert!(!record.to_string().contains("adwcom"));

    lead_is_anonymised(&app, person, person_message).await;
    assert_eq!(app.raw(&json!(rejected)).await.status(), 404);
    other_customer_is_untouched(&app, other, other_rejected).await;
    audit_holds_no_personal_data(&app).await;
    // Nothing is left to find.
    let again = app
        .get("/api/v1/personal-data?email=adwcom@gmail.com")
        .await;
    assert_eq!(again["leads"], json!([]));
    assert_eq!(again["message_ids"], json!([]));
}

/// Erased by phone, the person's e-mail that came with it leaves the customer's contacts too, though the lead
/// kept it as sent (with capitals) and the customer keeps it in lower case; the timeline stops linking the
/// original.
#[tokio::test]
async fn an_erasure_by_phone_takes_the_email_that_came_with_it_off_the_customer() {
    let app = TestApp::spawn().await;
    let lead = post_lead(
        &app,
        r#"{"Тема": "Визитки", "Телефон": "+7 926 555 44 33", "АдресЭлектроннойПочты": "Second.Person@Example.RU", "ИНН": "7709745454"}"#,
    )
    .await;
    let original_link = || async {
        let timeline = app.get(&format!("/api/v1/leads/{lead}/timeline")).await;
        timeline["items"][0]["raw_url"].clone()
    };
    assert!(original_link().await.is_string());
    let contacts = || async {
        let page = app.get("/api/v1/counterparties?inn=7709745454").await;
        page["items"][0].clone()
    };
    let before = contacts().await;
    assert_eq!(
        before["emails"],
        json!(["second.person@example.ru"]),
        "{before}"
    );
    let erased = app
        .client
        .post(format!("{}/api/v1/personal-data/erase", app.base))
        .bearer_auth(&app.admin_token)
        .json(&json!({"phone": "+79265554433"}))
        .send()
        .await
        .unwrap();
    assert_eq!(erased.status(), 200, "{}", erased.text().await.unwrap());
    let after = contacts().await;
    assert_eq!(after["emails"], json!([]), "{after}");
    assert_eq!(after["phones"], json!([]), "{after}");
    // The original is gone, and the timeline no longer links it.
    assert_eq!(original_link().await, Value::Null);
}

#[tokio::test]
async fn personal_data_erase_on_the_command_line_erases_an_inn_with_its_counterparty() {
    let app = TestApp::spawn().await;
    let (person, other, _, other_rejected) = two_customers(&app).await;
    let person_message = message_of(&app, person).await;
    let command = |args: &[&str]| {
        let mut command = common::cli::leadgate_process();
        command.args(args).envs(app.test_dir().cli_env());
        command
    };
    let cli = async |args: &[&str]| {
        let out = common::cli::output(command(args)).await;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };

    let found = cli(&["personal-data", "find", "--inn", "7709 745 454"]).await;
    assert!(found.contains(&format!("lead {person:>8}")), "{found}");
    assert!(!found.contains(&format!("lead {other:>8}")), "{found}");
    assert!(found.contains("counterparty"), "{found}");
    let refused = common::cli::output(command(&["personal-data", "erase", "--inn", "77097"])).await;
    assert!(!refused.status.success());

    let erased = cli(&["personal-data", "erase", "--inn", "7709745454", "--json"]).await;
    let record: Value = serde_json::from_str(&erased).unwrap();
    assert_eq!(record["channel"], "cli");
    assert_eq!(record["actor"], "command line");
    assert_eq!(record["lead_ids"], json!([person]));
    assert_eq!(record["counterparty_ids"].as_array().unwrap().len(), 1);

    lead_is_anonymised(&app, person, person_message).await;
    let parties = app.get("/api/v1/counterparties?inn=7709745454").await;
    assert_eq!(parties["items"], json!([]), "the counterparty is deleted");
    let s = storage(&app).await;
    let by_inn = s
        .search_counterparties(
            "7709745454",
            None,
            PageRequest {
                limit: 10,
                cursor: None,
            },
        )
        .await
        .unwrap();
    assert!(by_inn.items.is_empty(), "the INN left the search index");
    other_customer_is_untouched(&app, other, other_rejected).await;
    audit_holds_no_personal_data(&app).await;
}
