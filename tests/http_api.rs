//! The HTTP channel and read API, from the outside: a real server on a port-0 listener, real SQLite.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use common::{SEED_SAMPLE, TestApp, cp1251};
use serde_json::{Value, json};

async fn assert_error(response: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status().as_u16(), status);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
    assert!(body["error"].get("details").is_some());
    body
}

/// Neither a lead nor a ledger record was written.
async fn assert_nothing_recorded(app: &TestApp) {
    assert_eq!(lead_count(app).await, 0);
    assert_eq!(
        app.get("/api/v1/messages").await["items"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
}

async fn lead_count(app: &TestApp) -> usize {
    app.get("/api/v1/leads?limit=500").await["items"]
        .as_array()
        .unwrap()
        .len()
}

async fn assert_seed_order(app: &TestApp, response: reqwest::Response) {
    assert_eq!(response.status().as_u16(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let created: Value = response.json().await.unwrap();
    assert_eq!(location, format!("/api/v1/leads/{}", created["id"]));
    assert_eq!(created["kind"], "order");
    assert_eq!(created["calendar"]["name"], "Заявки с сайта");
    // The answer names the customer by its INN alone: a source's token is public.
    assert_eq!(created["counterparty"], json!({"inn": "7709745454"}));
    assert_eq!(created["warnings"], json!([]));

    let lead = app.get(&location).await;
    assert_eq!(
        lead["counterparty"]["name"], "ИНН 7709745454",
        "an organisation is named by its INN, not after the person who wrote"
    );
    assert_eq!(lead["subject"], "Заказ №123 от 01.06.2019 бла бла бла");
    assert_eq!(lead["occurred_at"], "2019-05-29T12:15:00Z");
    assert_eq!(lead["contact"]["phone_e164"], "+79256424290");
    assert_eq!(lead["contact"]["phone"], "+7 925 642 42-90");
    assert_eq!(lead["contact"]["email"], "adwcom@gmail.com");
    assert_eq!(lead["layout_files"].as_array().unwrap().len(), 2);
    assert_eq!(lead["source"]["channel"], "http");
    assert_eq!(lead["source"]["http_source"], "website");
    let lines = lead["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["nomenclature"], "Ролап 123 22 22");
    assert_eq!(lines[0]["machine_code"], "1");
    assert_eq!(lines[0]["resolution"], "360 dpi");
    assert_eq!(lines[0]["material_code"], "00-00000021");
    assert_eq!(lines[0]["extra_works"].as_array().unwrap().len(), 3);
    assert_eq!(lines[0]["extra_works"][0]["kind"], "Люверсы");
    assert_eq!(lines[0]["extra_works"][0]["description"], "шаг 30см");
    assert_eq!(lines[0]["is_service"], false);
    assert_eq!(lines[1]["is_service"], true);
    assert_eq!(lines.iter().filter(|l| l["is_service"] == false).count(), 1);

    let first = app.post(&format!("{location}/tech-cards")).await;
    assert_eq!(first.status().as_u16(), 200);
    let cards: Value = first.json().await.unwrap();
    assert_eq!(cards.as_array().unwrap().len(), 1);
    let card = &cards[0];
    assert_eq!(card["area_per_piece"], "4");
    assert_eq!(card["total_area"], "8");
    assert_eq!(card["perimeter"], "8");
    assert_eq!(card["line"]["nomenclature"], "Ролап 123 22 22");

    let again: Value = app
        .post(&format!("{location}/tech-cards"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again, cards, "forming tech cards twice changes nothing");
    let fetched = app.get(&format!("/api/v1/tech-cards/{}", card["id"])).await;
    assert_eq!(&fetched, card);
}

#[tokio::test]
async fn the_product_note_sample_in_windows_1251_becomes_an_order_with_one_tech_card() {
    let app = TestApp::spawn().await;
    let response = app
        .intake(
            cp1251(SEED_SAMPLE),
            "application/json; charset=windows-1251",
        )
        .await;
    assert_seed_order(&app, response).await;
}

#[tokio::test]
async fn the_product_note_sample_in_utf8_becomes_the_same_order() {
    let app = TestApp::spawn().await;
    let response = app.intake_json(SEED_SAMPLE).await;
    assert_seed_order(&app, response).await;
}

#[tokio::test]
async fn undeclared_windows_1251_is_still_read_correctly() {
    let app = TestApp::spawn().await;
    let response = app.intake(cp1251(SEED_SAMPLE), "application/json").await;
    assert_seed_order(&app, response).await;
}

/// UTF-8 with a letter cut in half (PHP's `substr` on UTF-8 text) and no charset declared: still UTF-8, the
/// broken bytes replaced and warned about, not the whole lead lost to Windows-1251 mojibake.
#[tokio::test]
async fn undeclared_utf8_with_a_broken_letter_is_filed_with_a_warning() {
    let app = TestApp::spawn().await;
    let mut body = r#"{"Тема": "Заказ", "КонтактноеЛицо": "Иван", "Описание": "Баннер 3"#
        .as_bytes()
        .to_vec();
    body.extend_from_slice(&"×2 с люверсами".as_bytes()[..8]);
    body.extend_from_slice(br#""}"#);
    let response = app.intake(body, "application/json").await;
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    let lead = app.get(&format!("/api/v1/leads/{}", created["id"])).await;
    assert_eq!(
        created["warnings"][0]["code"], "charset_replacement",
        "{created} {lead}"
    );
    assert_eq!(lead["subject"], "Заказ");
    assert_eq!(lead["contact"]["person"], "Иван");
    assert_eq!(lead["description"], "Баннер 3×2 с \u{FFFD}");
}

/// Windows-1251 declared as UTF-8 (a common PHP mistake): every Cyrillic key is unreadable, and the
/// refusal says the bytes are not valid in the declared charset, the likely cause, with the usual code.
#[tokio::test]
async fn windows_1251_declared_utf8_is_refused_with_the_charset_named() {
    let app = TestApp::spawn().await;
    let response = app
        .intake(
            cp1251(r#"{"Тема": "Заказ", "КонтактноеЛицо": "Иван"}"#),
            "application/json; charset=utf-8",
        )
        .await;
    let body = assert_error(response, 422, "no_known_field").await;
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("not all valid UTF-8") && message.contains("charset=windows-1251"),
        "{message}"
    );
    // Valid UTF-8 that fills in nothing is not blamed on its charset.
    let body = assert_error(app.intake_json("{}").await, 422, "no_known_field").await;
    assert!(
        !body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("charset"),
        "{body}"
    );
}

#[tokio::test]
async fn a_multipart_upload_of_the_mail_attachment_is_accepted() {
    let app = TestApp::spawn().await;
    let part = reqwest::multipart::Part::bytes(cp1251(SEED_SAMPLE))
        .file_name("order.json")
        .mime_str("text/plain; charset=windows-1251")
        .unwrap();
    let form = reqwest::multipart::Form::new()
        .text("comment", "ignored")
        .part("file", part);
    let response = app
        .client
        .post(format!("{}/api/v1/intake", app.base))
        .bearer_auth(&app.source_token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_seed_order(&app, response).await;
}

#[tokio::test]
async fn malformed_json_is_400_with_line_and_column_and_only_a_ledger_record() {
    let app = TestApp::spawn().await;
    let body = "{\n  \"Тема\": \"x\",\n  \"Телефон\": }";
    let error = assert_error(app.intake_json(body).await, 400, "not_json").await;
    assert_eq!(error["error"]["details"]["line"], 3);
    assert!(error["error"]["details"]["column"].as_u64().unwrap() > 0);
    assert_eq!(lead_count(&app).await, 0);
    let rejected = app.get("/api/v1/messages?outcome=rejected").await;
    let items = rejected["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["channel"], "http");
    assert_eq!(items[0]["http_source"], "website");
    assert!(items[0]["reason"].as_str().unwrap().contains("line 3"));
    let raw = app.raw(&items[0]["id"]).await;
    assert_eq!(
        raw.bytes().await.unwrap().as_ref(),
        body.as_bytes(),
        "the raw body is kept for reprocessing"
    );
}

#[tokio::test]
async fn payloads_that_break_the_format_are_422_with_their_reason() {
    let app = TestApp::spawn().await;
    assert_error(app.intake_json("[1, 2]").await, 422, "not_an_object").await;
    assert_error(
        app.intake_json(r#"{"Телефон": "+79161234567", "Товары": {"a": 1}}"#)
            .await,
        422,
        "goods_not_a_list",
    )
    .await;
    assert_error(
        app.intake_json(r#"{"Товары": [1]}"#).await,
        422,
        "line_not_an_object",
    )
    .await;
    assert_error(app.intake_json("{}").await, 422, "no_known_field").await;
    assert_eq!(lead_count(&app).await, 0);
    let rejected = app.get("/api/v1/messages?outcome=rejected").await;
    assert_eq!(rejected["items"].as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn a_missing_or_wrong_token_is_401_and_nothing_is_recorded() {
    let app = TestApp::spawn().await;
    let no_token = app
        .client
        .post(format!("{}/api/v1/intake", app.base))
        .header("content-type", "application/json")
        .body(SEED_SAMPLE)
        .send()
        .await
        .unwrap();
    assert_eq!(no_token.headers()["www-authenticate"], "Bearer");
    assert_error(no_token, 401, "unauthorized").await;
    let wrong = app
        .client
        .post(format!("{}/api/v1/intake", app.base))
        .bearer_auth("not-the-token")
        .header("content-type", "application/json")
        .body(SEED_SAMPLE)
        .send()
        .await
        .unwrap();
    assert_error(wrong, 401, "unauthorized").await;
    // The admin's token is not a source token either.
    let admin = app
        .client
        .post(format!("{}/api/v1/intake", app.base))
        .bearer_auth(&app.admin_token)
        .body(SEED_SAMPLE)
        .send()
        .await
        .unwrap();
    assert_error(admin, 401, "unauthorized").await;
    assert_nothing_recorded(&app).await;
}

#[tokio::test]
async fn an_oversized_body_is_413() {
    let app = TestApp::spawn_with(|s| s.limits.max_body_bytes = 4096).await;
    let big = format!(
        r#"{{"Телефон": "+79161234567", "Описание": "{}"}}"#,
        "x".repeat(5000)
    );
    let error = assert_error(app.intake_json(&big).await, 413, "too_large").await;
    assert_eq!(error["error"]["details"]["limit"], 4096);
    assert_eq!(lead_count(&app).await, 0);
    // Beyond four times the limit the body is not read at all.
    let huge = format!(r#"{{"Описание": "{}"}}"#, "x".repeat(4 * 4096));
    assert_error(app.intake_json(&huge).await, 413, "too_large").await;

    // Both are in the ledger; the first keeps its bytes, and files its lead once the limit is raised.
    let rejected = app.get("/api/v1/messages?outcome=rejected").await["items"].clone();
    let [unread, kept] = rejected.as_array().unwrap().as_slice() else {
        panic!("two records: {rejected}");
    };
    assert!(!unread["has_raw"].as_bool().unwrap(), "{unread}");
    assert!(
        unread["reason"].as_str().unwrap().contains("not read"),
        "{unread}"
    );
    assert_eq!(
        app.raw(&kept["id"]).await.bytes().await.unwrap().as_ref(),
        big.as_bytes()
    );
    let dir = app.stop().await;
    let app = TestApp::spawn_in(dir, |_| {}).await;
    let done: Value = app
        .post(&format!("/api/v1/messages/{}/reprocess", kept["id"]))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(done["outcome"], "imported", "{done}");
    assert_eq!(lead_count(&app).await, 1);
}

#[tokio::test]
async fn an_unsupported_media_type_is_415() {
    let app = TestApp::spawn().await;
    assert_error(
        app.intake("<xml/>", "application/xml").await,
        415,
        "unsupported_media_type",
    )
    .await;
    assert_error(
        app.intake("a=b", "application/x-www-form-urlencoded").await,
        415,
        "unsupported_media_type",
    )
    .await;
    assert_eq!(lead_count(&app).await, 0);
}

/// A compressed body is refused as such, not read as broken JSON; `identity` is no compression.
#[tokio::test]
async fn a_compressed_body_is_415_naming_the_content_encoding() {
    let app = TestApp::spawn().await;
    let post = |encoding: &'static str, body: Vec<u8>| {
        app.client
            .post(format!("{}/api/v1/intake", app.base))
            .bearer_auth(&app.source_token)
            .header("content-type", "application/json")
            .header("content-encoding", encoding)
            .body(body)
            .send()
    };
    // The first bytes of a gzip stream.
    let gzip = vec![0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03];
    let body = assert_error(
        post("gzip", gzip).await.unwrap(),
        415,
        "unsupported_media_type",
    )
    .await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("\"gzip\""),
        "{body}"
    );
    assert_eq!(lead_count(&app).await, 0);
    let plain = r#"{"Тема": "x", "Телефон": "+7 916 000-00-00"}"#.as_bytes().to_vec();
    assert_eq!(post("identity", plain).await.unwrap().status(), 201);
}

#[tokio::test]
async fn an_idempotency_key_replays_the_first_result_and_refuses_another_body() {
    let app = TestApp::spawn().await;
    let send = |body: &'static str| {
        app.client
            .post(format!("{}/api/v1/intake", app.base))
            .bearer_auth(&app.source_token)
            .header("content-type", "application/json")
            .header("idempotency-key", "order-123")
            .body(body)
            .send()
    };
    let first = send(SEED_SAMPLE).await.unwrap();
    assert_eq!(first.status().as_u16(), 201);
    let first: Value = first.json().await.unwrap();
    let replay = send(SEED_SAMPLE).await.unwrap();
    assert_eq!(replay.status().as_u16(), 200);
    let replay: Value = replay.json().await.unwrap();
    assert_eq!(replay, first);
    let other = r#"{"Телефон": "+79161234567"}"#;
    assert_error(send(other).await.unwrap(), 409, "idempotency_conflict").await;
    assert_eq!(lead_count(&app).await, 1);

    // The other body is not filed, and not lost: it is kept, and reprocessing files it as a lead of its own.
    let rejected = app.get("/api/v1/messages?outcome=rejected").await;
    let record = &rejected["items"][0];
    assert!(
        record["reason"]
            .as_str()
            .unwrap()
            .contains("Idempotency-Key"),
        "{rejected}"
    );
    assert_eq!(
        app.raw(&record["id"]).await.bytes().await.unwrap().as_ref(),
        other.as_bytes()
    );
    let done: Value = app
        .post(&format!("/api/v1/messages/{}/reprocess", record["id"]))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(done["outcome"], "imported", "{done}");
    assert_eq!(lead_count(&app).await, 2);
    assert_eq!(
        send(SEED_SAMPLE).await.unwrap().status().as_u16(),
        200,
        "the key still replays its first lead"
    );
}

#[tokio::test]
async fn validate_runs_the_checks_and_stores_nothing() {
    let app = TestApp::spawn().await;
    let ok = app
        .client
        .post(format!("{}/api/v1/intake/validate", app.base))
        .bearer_auth(&app.source_token)
        .header("content-type", "application/json")
        .body(r#"{"ИНН": "7709745455", "Телефон": "+7 925 642 42-90"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status().as_u16(), 200);
    let ok: Value = ok.json().await.unwrap();
    assert_eq!(ok["kind"], "contact");
    assert_eq!(ok["warnings"][0]["code"], "invalid_inn");
    let bad = app
        .client
        .post(format!("{}/api/v1/intake/validate", app.base))
        .bearer_auth(&app.source_token)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_error(bad, 422, "no_known_field").await;
    assert_nothing_recorded(&app).await;
}

#[tokio::test]
async fn an_invalid_inn_is_kept_with_a_warning_and_makes_no_counterparty() {
    let app = TestApp::spawn().await;
    let response = app
        .intake_json(r#"{"ИНН": "7709745455", "КонтактноеЛицо": "Иванов"}"#)
        .await;
    assert_eq!(response.status().as_u16(), 201);
    let created: Value = response.json().await.unwrap();
    assert_eq!(created["counterparty"], Value::Null);
    assert_eq!(created["warnings"][0]["code"], "invalid_inn");
    let lead = app.get(&format!("/api/v1/leads/{}", created["id"])).await;
    assert_eq!(lead["inn"], "7709745455");
    assert_eq!(lead["counterparty"], Value::Null);
    assert_eq!(
        app.get("/api/v1/counterparties").await["items"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
}

#[tokio::test]
async fn two_leads_with_the_same_inn_share_one_counterparty_with_both_contacts() {
    let app = TestApp::spawn().await;
    let a: Value = app
        .intake_json(
            r#"{"ИНН": "7709745454", "Телефон": "8 (916) 123-45-67", "КонтактноеЛицо": "Петров"}"#,
        )
        .await
        .json()
        .await
        .unwrap();
    let b: Value = app
        .intake_json(r#"{"ИНН": "77 0974 5454", "АдресЭлектроннойПочты": "b@shop.example"}"#)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(b["counterparty"], json!({"inn": "7709745454"}));
    let (a, b) = (
        app.get(&format!("/api/v1/leads/{}", a["id"])).await,
        app.get(&format!("/api/v1/leads/{}", b["id"])).await,
    );
    assert_eq!(a["counterparty"]["id"], b["counterparty"]["id"]);
    assert_eq!(
        b["counterparty"]["name"], "ИНН 7709745454",
        "an organisation is named by its INN until a manager names it"
    );
    let found = app.get("/api/v1/counterparties?inn=7709745454").await;
    let items = found["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["inn_kind"], "organisation");
    assert_eq!(items[0]["phones"], json!(["+79161234567"]));
    assert_eq!(items[0]["emails"], json!(["b@shop.example"]));
}

/// A customer's contacts hold each phone and address once, and only ones that can be dialled or written to:
/// an address in other letter case is the same address, and what could not be read stays on its lead.
#[tokio::test]
async fn a_customers_contacts_hold_each_address_once_and_nothing_unreadable() {
    let app = TestApp::spawn().await;
    for body in [
        r#"{"ИНН": "5912040352", "Телефон": "8 (916) 123-45-67", "АдресЭлектроннойПочты": "p1@ex.ru"}"#,
        r#"{"ИНН": "5912040352", "Телефон": "+7 916 123 45 67", "АдресЭлектроннойПочты": "P1@EX.RU"}"#,
        r#"{"ИНН": "5912040352", "Телефон": "abc 123", "АдресЭлектроннойПочты": "not-an-email"}"#,
    ] {
        assert_eq!(app.intake_json(body).await.status(), 201, "{body}");
    }
    let found = app.get("/api/v1/counterparties?inn=5912040352").await;
    let party = &found["items"][0];
    assert_eq!(party["phones"], json!(["+79161234567"]), "{party}");
    assert_eq!(party["emails"], json!(["p1@ex.ru"]), "{party}");
}

#[tokio::test]
async fn a_counterparty_without_a_contact_person_is_named_by_its_inn() {
    let app = TestApp::spawn().await;
    let created: Value = app
        .intake_json(r#"{"ИНН": "500100732259"}"#)
        .await
        .json()
        .await
        .unwrap();
    let lead = app.get(&format!("/api/v1/leads/{}", created["id"])).await;
    assert_eq!(lead["counterparty"]["name"], "ИНН 500100732259");
    let found = app.get("/api/v1/counterparties?inn=500100732259").await;
    assert_eq!(found["items"][0]["inn_kind"], "individual");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_posts_with_the_same_new_inn_make_fifty_leads_and_one_counterparty() {
    let app = TestApp::spawn().await;
    let posts = (0..50).map(|i| {
        let body = format!(
            r#"{{"ИНН": "7707083893", "Телефон": "+7 916 000-00-{:02}", "Тема": "race {i}"}}"#,
            i
        );
        let request = app
            .client
            .post(format!("{}/api/v1/intake", app.base))
            .bearer_auth(&app.source_token)
            .header("content-type", "application/json")
            .body(body);
        async move { request.send().await.unwrap().status().as_u16() }
    });
    let statuses = futures::future::join_all(posts).await;
    assert!(statuses.iter().all(|s| *s == 201), "{statuses:?}");
    assert_eq!(lead_count(&app).await, 50);
    let parties = app.get("/api/v1/counterparties?inn=7707083893").await;
    assert_eq!(parties["items"].as_array().unwrap().len(), 1);
    assert_eq!(parties["items"][0]["phones"].as_array().unwrap().len(), 50);
}

#[tokio::test]
async fn hostile_strings_are_stored_and_returned_verbatim_but_nul() {
    let app = TestApp::spawn().await;
    let payload = json!({
        "Тема": "<script>alert(1)</script>",
        "КонтактноеЛицо": "Robert'); DROP TABLE leads; --",
        "Описание": "\" OR 1=1 -- \u{0} \\ %_",
        "Телефон": "+79161234567"
    });
    let created: Value = app
        .intake_json(&payload.to_string())
        .await
        .json()
        .await
        .unwrap();
    let lead = app.get(&format!("/api/v1/leads/{}", created["id"])).await;
    assert_eq!(lead["subject"], payload["Тема"]);
    assert_eq!(lead["contact"]["person"], payload["КонтактноеЛицо"]);
    // Verbatim but for the NUL character, which becomes U+FFFD on every backend (PostgreSQL cannot keep it).
    assert_eq!(lead["description"], "\" OR 1=1 -- \u{FFFD} \\ %_");
    let found = app.get("/api/v1/leads?search=%25_").await;
    assert_eq!(
        found["items"].as_array().unwrap().len(),
        0,
        "LIKE wildcards in a search are literal"
    );
    let found = app.get("/api/v1/leads?search=drop%20table").await;
    assert_eq!(found["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn the_lead_list_filters_pages_and_patches() {
    let app = TestApp::spawn().await;
    for i in 0..5 {
        let body = format!(r#"{{"Тема": "Звонок {i}", "Телефон": "+7916123456{i}"}}"#);
        assert_eq!(app.intake_json(&body).await.status().as_u16(), 201);
    }
    assert_eq!(app.intake_json(SEED_SAMPLE).await.status().as_u16(), 201);
    let orders = app.get("/api/v1/leads?kind=order").await;
    assert_eq!(orders["items"].as_array().unwrap().len(), 1);
    let contacts = app
        .get("/api/v1/leads?kind=contact&calendar=Заявки%20с%20сайта")
        .await;
    assert_eq!(contacts["items"].as_array().unwrap().len(), 5);
    let found = app.get("/api/v1/leads?search=79161234563").await;
    assert_eq!(found["items"][0]["subject"], "Звонок 3");
    let old = app.get("/api/v1/leads?to=2020-01-01T00:00:00Z").await;
    assert_eq!(
        old["items"].as_array().unwrap().len(),
        1,
        "the sample's Дата is 2019"
    );

    let page1 = app.get("/api/v1/leads?limit=4").await;
    assert_eq!(page1["items"].as_array().unwrap().len(), 4);
    let cursor = page1["next"].as_str().unwrap();
    let page2 = app
        .get(&format!("/api/v1/leads?limit=4&cursor={cursor}"))
        .await;
    assert_eq!(page2["items"].as_array().unwrap().len(), 2);
    assert_eq!(page2["next"], Value::Null);
    let bad = app
        .client
        .get(format!("{}/api/v1/leads?limit=501", app.base))
        .bearer_auth(&app.admin_token)
        .send()
        .await;
    assert_error(bad.unwrap(), 400, "bad_request").await;
    // No calendar's name holds a NUL character.
    let nul = app
        .client
        .get(format!("{}/api/v1/leads?calendar=a%00", app.base))
        .bearer_auth(&app.admin_token)
        .send()
        .await;
    assert_error(nul.unwrap(), 400, "bad_request").await;

    let id = page1["items"][0]["id"].as_i64().unwrap();
    let patched: Value = app
        .client
        .patch(format!("{}/api/v1/leads/{id}", app.base))
        .bearer_auth(&app.admin_token)
        .json(&json!({"status": "in_progress", "assignee": "admin"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(patched["status"], "in_progress");
    assert_eq!(patched["assignee"], "admin");
    let in_progress = app.get("/api/v1/leads?status=in_progress").await;
    assert_eq!(in_progress["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn the_read_api_requires_a_user_token() {
    let app = TestApp::spawn().await;
    let anonymous = app
        .client
        .get(format!("{}/api/v1/leads", app.base))
        .send()
        .await
        .unwrap();
    assert_error(anonymous, 401, "unauthorized").await;
    let source = app
        .client
        .get(format!("{}/api/v1/leads", app.base))
        .bearer_auth(&app.source_token)
        .send()
        .await;
    assert_error(source.unwrap(), 401, "unauthorized").await;
}

#[tokio::test]
async fn health_readiness_metrics_and_openapi_are_published() {
    let app = TestApp::spawn().await;
    for path in ["/healthz", "/readyz"] {
        let r = app
            .client
            .get(format!("{}{path}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "{path}");
    }
    app.intake_json(r#"{"Телефон": "+79161234567"}"#).await;
    let metrics = app
        .client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("leadgate_intake_total"), "{metrics}");
    let openapi: Value = app
        .client
        .get(format!("{}/openapi.json", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let paths = openapi["paths"].as_object().unwrap();
    for (path, method) in [
        ("/api/v1/intake", "post"),
        ("/api/v1/intake/validate", "post"),
        ("/api/v1/leads", "get"),
        ("/api/v1/leads/{id}", "get"),
        ("/api/v1/leads/{id}", "patch"),
        ("/api/v1/leads/{id}/tech-cards", "post"),
        ("/api/v1/tech-cards/{id}", "get"),
        ("/api/v1/counterparties", "get"),
        ("/api/v1/messages", "get"),
        ("/api/v1/messages/{id}/raw", "get"),
        ("/api/v1/messages/{id}/reprocess", "post"),
        ("/api/v1/collectors", "get"),
        ("/api/v1/collectors/{name}/run", "post"),
        ("/api/v1/calendars", "get"),
        ("/api/v1/webhooks", "get"),
        ("/api/v1/webhooks", "post"),
        ("/api/v1/webhooks/{id}", "get"),
        ("/api/v1/webhooks/{id}", "delete"),
        ("/api/v1/webhooks/{id}/deliveries", "get"),
        (
            "/api/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver",
            "post",
        ),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} missing from openapi.json"
        );
    }
}

#[tokio::test]
async fn cors_allows_the_configured_origin_only() {
    let app = TestApp::spawn().await;
    let preflight = |origin: &'static str| {
        app.client
            .request(
                reqwest::Method::OPTIONS,
                format!("{}/api/v1/intake", app.base),
            )
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization,content-type",
            )
            .send()
    };
    let allowed = preflight("https://shop.example").await.unwrap();
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://shop.example"
    );
    let other = preflight("https://evil.example").await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
    let post = app
        .client
        .post(format!("{}/api/v1/intake", app.base))
        .bearer_auth(&app.source_token)
        .header("origin", "https://evil.example")
        .header("content-type", "application/json")
        .body(r#"{"Телефон": "+79161234567"}"#)
        .send()
        .await
        .unwrap();
    assert_error(post, 403, "forbidden").await;
}

#[tokio::test]
async fn leads_survive_a_restart_of_the_server() {
    let app = TestApp::spawn().await;
    let created: Value = app.intake_json(SEED_SAMPLE).await.json().await.unwrap();
    let dir = app.stop().await;
    let again = TestApp::spawn_in(dir, |_| {}).await;
    let lead = again.get(&format!("/api/v1/leads/{}", created["id"])).await;
    assert_eq!(lead["kind"], "order");
    assert_eq!(lead["lines"].as_array().unwrap().len(), 2);
}

/// Paths and methods no route takes are answered in the API's own way: 401 without a token (as every API
/// route answers, so an anonymous client cannot tell which paths exist), then a JSON 404 or 405; API answers
/// are never kept by a cache; a UI path no route has is the UI's page.
#[tokio::test]
async fn unknown_api_paths_and_methods_get_json_errors_and_no_answer_is_cached() {
    let app = TestApp::spawn().await;
    let url = |path: &str| format!("{}{path}", app.base);
    let anonymous = app.client.get(url("/api/v1/nosuch")).send().await.unwrap();
    assert_eq!(anonymous.headers()["cache-control"], "no-store");
    assert_error(anonymous, 401, "unauthorized").await;
    let unknown = app
        .client
        .get(url("/api/v1/nosuch"))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.headers()["cache-control"], "no-store");
    assert_error(unknown, 404, "not_found").await;
    let feed = app
        .client
        .get(url("/api/v1/calendars/1/events.ics?key=wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(feed.status().as_u16(), 401);
    assert_eq!(feed.headers()["cache-control"], "no-store");
    let wrong_method = app
        .client
        .put(url("/api/v1/leads"))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .unwrap();
    assert!(
        wrong_method.headers()["allow"]
            .to_str()
            .unwrap()
            .contains("GET")
    );
    assert_error(wrong_method, 405, "method_not_allowed").await;
    let leads = app
        .client
        .get(url("/api/v1/leads"))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(leads.status().as_u16(), 200);
    assert_eq!(leads.headers()["cache-control"], "no-store");
    let page = app.client.get(url("/nosuch")).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 404);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
}
