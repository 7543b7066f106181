//! The API answers as its own `/openapi.json` says: error bodies of the documented shape (with `details`
//! that may be null), JSON errors for malformed paths, queries and bodies, and 401 before anything else for a
//! request without a token. `scripts/api-contract` checks the whole document against a running server with
//! generated requests; these tests pin the cases it found.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use common::TestApp;
use serde_json::Value;

/// The response is the documented error body with `code`, and its content type is JSON.
async fn assert_json_error(response: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status().as_u16(), status);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(content_type, "application/json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(body["error"]["message"].is_string(), "{body}");
    assert!(body["error"].get("details").is_some(), "{body}");
    body
}

async fn openapi(app: &TestApp) -> Value {
    app.client
        .get(format!("{}/openapi.json", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The documented status codes of one operation.
fn documented(doc: &Value, path: &str, method: &str) -> Vec<String> {
    doc["paths"][path][method]["responses"]
        .as_object()
        .unwrap_or_else(|| panic!("{method} {path} is not documented"))
        .keys()
        .cloned()
        .collect()
}

#[tokio::test]
async fn the_documented_error_body_allows_the_null_details_most_errors_carry() {
    let app = TestApp::spawn().await;
    let doc = openapi(&app).await;
    let details = &doc["components"]["schemas"]["ErrorDetail"]["properties"]["details"];
    let types: Vec<&str> = match &details["type"] {
        Value::Array(types) => types.iter().filter_map(Value::as_str).collect(),
        Value::String(one) => vec![one.as_str()],
        _ => Vec::new(),
    };
    assert!(types.contains(&"null"), "details: {details}");
    assert!(types.contains(&"object"), "details: {details}");

    let unauthorised = app
        .client
        .get(format!("{}/api/v1/calendars", app.base))
        .send()
        .await
        .unwrap();
    let body = assert_json_error(unauthorised, 401, "unauthorized").await;
    assert_eq!(body["error"]["details"], Value::Null);
}

#[tokio::test]
async fn a_malformed_query_is_a_json_400_the_document_lists() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .get(format!("{}/api/v1/leads?kind=neither", app.base))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .unwrap();
    assert_json_error(response, 400, "bad_request").await;

    let response = app
        .client
        .get(format!("{}/api/v1/messages?outcome=lost", app.base))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .unwrap();
    assert_json_error(response, 400, "bad_request").await;
    let doc = openapi(&app).await;
    assert!(documented(&doc, "/api/v1/messages", "get").contains(&"400".to_owned()));
    assert!(documented(&doc, "/api/v1/counterparties", "get").contains(&"400".to_owned()));
}

#[tokio::test]
async fn an_id_that_is_not_a_number_is_a_json_400_the_document_lists() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .get(format!(
            "{}/api/v1/tech-cards/380031532939909005312",
            app.base
        ))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .unwrap();
    assert_json_error(response, 400, "bad_request").await;
    let doc = openapi(&app).await;
    for (path, method) in [
        ("/api/v1/leads/{id}", "get"),
        ("/api/v1/leads/{id}", "patch"),
        ("/api/v1/tech-cards/{id}", "get"),
        ("/api/v1/leads/{id}/tech-cards", "post"),
        ("/api/v1/messages/{id}/raw", "get"),
        ("/api/v1/messages/{id}/reprocess", "post"),
    ] {
        assert!(
            documented(&doc, path, method).contains(&"400".to_owned()),
            "{method} {path}"
        );
    }
}

#[tokio::test]
async fn a_lead_patch_that_is_not_json_or_of_the_wrong_shape_gets_the_json_error_body() {
    let app = TestApp::spawn().await;
    let url = format!("{}/api/v1/leads/1", app.base);
    let not_json = app
        .client
        .patch(&url)
        .bearer_auth(&app.admin_token)
        .header("content-type", "text/plain")
        .body("status=done")
        .send()
        .await
        .unwrap();
    assert_json_error(not_json, 415, "unsupported_media_type").await;

    let wrong_shape = app
        .client
        .patch(&url)
        .bearer_auth(&app.admin_token)
        .header("content-type", "application/json")
        .body(r#"{"status": "lost"}"#)
        .send()
        .await
        .unwrap();
    assert_json_error(wrong_shape, 422, "invalid_body").await;

    let broken = app
        .client
        .patch(&url)
        .bearer_auth(&app.admin_token)
        .header("content-type", "application/json")
        .body(r#"{"status": "#)
        .send()
        .await
        .unwrap();
    assert_json_error(broken, 400, "bad_request").await;

    let doc = openapi(&app).await;
    let codes = documented(&doc, "/api/v1/leads/{id}", "patch");
    for code in ["200", "400", "401", "404", "415", "422"] {
        assert!(
            codes.contains(&code.to_owned()),
            "PATCH lacks {code}: {codes:?}"
        );
    }
}

#[tokio::test]
async fn a_request_without_a_token_is_refused_before_its_query_or_body_is_read() {
    let app = TestApp::spawn().await;
    let malformed_query = app
        .client
        .get(format!("{}/api/v1/leads?status=lost&limit=0", app.base))
        .send()
        .await
        .unwrap();
    let body = assert_json_error(malformed_query, 401, "unauthorized").await;
    assert_eq!(body["error"]["details"], Value::Null);

    let malformed_body = app
        .client
        .patch(format!("{}/api/v1/leads/1", app.base))
        .header("content-type", "application/json")
        .body(r#"{"status": ""}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(malformed_body.headers()["www-authenticate"], "Bearer");
    assert_json_error(malformed_body, 401, "unauthorized").await;
}

#[tokio::test]
async fn the_raw_download_is_documented_as_octet_stream_and_admin_only() {
    let app = TestApp::spawn().await;
    let doc = openapi(&app).await;
    let raw = &doc["paths"]["/api/v1/messages/{id}/raw"]["get"]["responses"];
    assert!(
        raw["200"]["content"]
            .get("application/octet-stream")
            .is_some(),
        "{raw}"
    );
    assert!(
        raw["200"]["headers"].get("Content-Disposition").is_some(),
        "{raw}"
    );
    assert!(raw.get("403").is_some(), "{raw}");

    let created = app.intake_json(common::SEED_SAMPLE).await;
    assert_eq!(created.status().as_u16(), 201);
    let messages = app.get("/api/v1/messages").await;
    let response = app.raw(&messages["items"][0]["id"]).await;
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/octet-stream"
    );
    assert!(
        response.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"message-")
    );
}

#[tokio::test]
async fn the_intake_documents_its_created_answer_with_location_and_its_refusals() {
    let app = TestApp::spawn().await;
    let doc = openapi(&app).await;
    let intake = &doc["paths"]["/api/v1/intake"]["post"];
    assert!(
        intake["responses"]["201"]["headers"]
            .get("Location")
            .is_some()
    );
    assert!(
        intake["responses"]["200"]["headers"]
            .get("Location")
            .is_some()
    );
    for code in ["400", "401", "403", "409", "413", "415", "422"] {
        assert!(
            intake["responses"].get(code).is_some(),
            "intake lacks {code}"
        );
    }
    let content = &intake["requestBody"]["content"];
    assert!(
        content.get("application/json").is_some() && content.get("multipart/form-data").is_some()
    );

    let foreign_origin = app
        .client
        .post(format!("{}/api/v1/intake", app.base))
        .bearer_auth(&app.source_token)
        .header("origin", "https://elsewhere.example")
        .header("content-type", "application/json")
        .body(common::SEED_SAMPLE)
        .send()
        .await
        .unwrap();
    assert_json_error(foreign_origin, 403, "forbidden").await;
}

/// Every route that takes a body answers 413 to one over its limit, and says so in the document; a list's
/// `limit` is documented with the bounds it is checked against.
#[tokio::test]
async fn an_oversized_body_is_a_documented_413_on_every_route_that_takes_one() {
    let app = TestApp::spawn().await;
    let created: Value = app
        .intake_json(common::SEED_SAMPLE)
        .await
        .json()
        .await
        .unwrap();
    let id = created["id"].as_i64().unwrap();
    let doc = openapi(&app).await;
    let big = format!(r#"{{"assignee": "{}"}}"#, "x".repeat(3 << 20));
    let assign = app
        .client
        .post(format!("{}/api/v1/leads/{id}/assign", app.base))
        .bearer_auth(&app.admin_token)
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(assign.status().as_u16(), 413);
    let mut with_body = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            if operation.get("requestBody").is_some() {
                with_body += 1;
                assert!(
                    documented(&doc, path, method).contains(&"413".to_owned()),
                    "{method} {path}"
                );
            }
        }
    }
    assert!(with_body >= 10, "{with_body}");
    let limit = doc["paths"]["/api/v1/leads"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "limit")
        .unwrap()
        .clone();
    assert_eq!(
        (&limit["schema"]["minimum"], &limit["schema"]["maximum"]),
        (&Value::from(1), &Value::from(500)),
        "{limit}"
    );
}

/// The calendar feed, the one route under `/api/v1` that the UI serves, is in the document with what it
/// answers: its key instead of a token, iCalendar on success, and the JSON error body otherwise.
#[tokio::test]
async fn the_calendar_feed_is_documented_as_it_answers() {
    let app = TestApp::spawn().await;
    let doc = openapi(&app).await;
    let path = "/api/v1/calendars/{id}/events.ics";
    let mut statuses = documented(&doc, path, "get");
    statuses.sort();
    assert_eq!(statuses, ["200", "400", "401", "404"]);
    let operation = &doc["paths"][path]["get"];
    assert!(
        operation["responses"]["200"]["content"]["text/calendar"].is_object(),
        "{operation}"
    );
    assert_eq!(
        operation["security"],
        serde_json::json!([{}]),
        "{operation}"
    );
    assert!(
        operation["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "key" && p["in"] == "query"),
        "{operation}"
    );
    let get = |url: String| app.client.get(url).send();
    assert_json_error(
        get(format!(
            "{}/api/v1/calendars/1/events.ics?key=wrong",
            app.base
        ))
        .await
        .unwrap(),
        401,
        "unauthorized",
    )
    .await;
    assert_json_error(
        get(format!(
            "{}/api/v1/calendars/x/events.ics?key=wrong",
            app.base
        ))
        .await
        .unwrap(),
        400,
        "bad_request",
    )
    .await;
}
