//! A payload filled in only partly becomes a lead: without contact details and goods it is a contact lead
//! warned of that, and only a payload that fills in no field of the format at all is rejected.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::TestApp;
use serde_json::Value;

async fn accepted(app: &TestApp, json: &str) -> Value {
    let r = app.intake_json(json).await;
    assert_eq!(r.status(), 201, "{json}");
    r.json().await.unwrap()
}

async fn refused(app: &TestApp, json: &str) -> (u16, String) {
    let r = app.intake_json(json).await;
    let status = r.status().as_u16();
    let body: Value = r.json().await.unwrap();
    (status, body["error"]["code"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn a_payload_with_only_a_subject_and_a_description_becomes_a_contact_lead_warned_of_no_contact_details()
 {
    let app = TestApp::spawn().await;
    let lead = accepted(
        &app,
        r#"{"Тема": "Нужен баннер", "Описание": "3 на 6 метров, пришлите расчёт"}"#,
    )
    .await;
    assert_eq!(lead["kind"], "contact");
    assert_eq!(lead["warnings"][0]["code"], "no_contact_details");
    let stored = app.get(&format!("/api/v1/leads/{}", lead["id"])).await;
    assert_eq!(stored["subject"], "Нужен баннер");
    assert_eq!(stored["description"], "3 на 6 метров, пришлите расчёт");
    assert_eq!(stored["warnings"][0]["code"], "no_contact_details");
}

#[tokio::test]
async fn a_payload_with_only_layout_files_becomes_a_contact_lead_that_keeps_them() {
    let app = TestApp::spawn().await;
    let lead = accepted(
        &app,
        r#"{"ФайлыМакета": [{"Файл": "https://shop.example/upload/maket.pdf"}]}"#,
    )
    .await;
    assert_eq!(lead["kind"], "contact");
    assert_eq!(lead["warnings"][0]["code"], "no_contact_details");
    let stored = app.get(&format!("/api/v1/leads/{}", lead["id"])).await;
    assert_eq!(
        stored["layout_files"][0],
        "https://shop.example/upload/maket.pdf"
    );
}

#[tokio::test]
async fn an_empty_object_a_non_object_or_only_unknown_keys_are_still_rejected() {
    let app = TestApp::spawn().await;
    assert_eq!(refused(&app, "{}").await, (422, "no_known_field".into()));
    assert_eq!(
        refused(&app, r#"{"Имя": "Иван", "Тема": "  ", "Телефон": null}"#).await,
        (422, "no_known_field".into())
    );
    assert_eq!(
        refused(&app, r#"[{"Тема": "Заказ"}]"#).await,
        (422, "not_an_object".into())
    );
    let leads = app.get("/api/v1/leads").await;
    assert_eq!(leads["items"], serde_json::json!([]));
    let rejected = app.get("/api/v1/messages?outcome=rejected").await;
    assert_eq!(rejected["items"].as_array().unwrap().len(), 3);
}
