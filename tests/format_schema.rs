//! The JSON Schema of the payload format (`docs/format-v0.1.schema.json`) against leadgate's own parser: the
//! schema accepts what leadgate accepts and rejects what leadgate rejects for the document's shape, for the
//! original sample, every fixture, hand-picked cases and generated documents; and a running leadgate serves
//! it at its public URL.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::collections::BTreeMap;

use common::{SEED_SAMPLE, TestApp};
use leadgate_domain::payload::{MAX_LINES, Payload, PayloadError};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

const SCHEMA_FILE: &str = include_str!("../docs/format-v0.1.schema.json");
const SCHEMA_URL: &str = "/api/v1/format/v0.1.schema.json";

fn schema() -> Value {
    serde_json::from_str(SCHEMA_FILE).unwrap()
}

/// The schema, compiled once for every test of this binary.
fn validator() -> &'static jsonschema::Validator {
    static VALIDATOR: std::sync::LazyLock<jsonschema::Validator> =
        std::sync::LazyLock::new(|| jsonschema::draft202012::new(&schema()).unwrap());
    &VALIDATOR
}

/// leadgate's verdict on a payload's text.
fn leadgate(text: &str) -> Result<Payload, PayloadError> {
    Payload::from_json(text, chrono_tz::Europe::Moscow)
}

/// The errors about the document's shape, which a JSON Schema can express (not the JSON syntax, nesting depth
/// or value count).
fn is_shape_error(e: &PayloadError) -> bool {
    matches!(
        e,
        PayloadError::NotAnObject
            | PayloadError::GoodsNotAList
            | PayloadError::LineNotAnObject { .. }
            | PayloadError::NoKnownField
            | PayloadError::TooManyLines { .. }
    )
}

/// Asserts that the schema and leadgate agree on `document`, and returns whether leadgate accepted it.
fn assert_agree(validator: &jsonschema::Validator, document: &Value, what: &str) -> bool {
    let verdict = leadgate(&document.to_string());
    let valid = validator.is_valid(document);
    match &verdict {
        Ok(_) => assert!(
            valid,
            "{what}: leadgate accepts it, the schema does not: {:?}\n{document}",
            validator.validate(document).err().map(|e| e.to_string())
        ),
        Err(e) if is_shape_error(e) => {
            assert!(
                !valid,
                "{what}: leadgate rejects it ({}), the schema accepts it\n{document}",
                e.code()
            )
        }
        Err(e) => panic!("{what}: an error no schema can express: {e}"),
    }
    verdict.is_ok()
}

#[test]
fn the_schema_is_a_valid_draft_2020_12_schema() {
    let schema = schema();
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    jsonschema::meta::validate(&schema).unwrap();
}

#[test]
fn the_format_guide_shows_the_original_sample_and_the_schema_url() {
    let guide = include_str!("../docs/format-v0.1.md");
    assert!(guide.contains(&format!("```json\n{SEED_SAMPLE}\n```")));
    assert!(guide.contains(SCHEMA_URL));
}

#[test]
fn the_original_sample_is_valid_and_accepted() {
    let sample: Value = serde_json::from_str(SEED_SAMPLE).unwrap();
    let validator = validator();
    assert!(validator.is_valid(&sample));
    assert!(assert_agree(validator, &sample, "seed_sample.json"));
}

#[test]
fn every_fixture_is_judged_alike_by_the_schema_and_leadgate() {
    let validator = validator();
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    let mut documents = vec![("seed_sample.json".to_owned(), SEED_SAMPLE.to_owned())];
    let mut mail: Vec<_> = std::fs::read_dir(format!("{fixtures}/mail"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    mail.sort();
    for path in mail {
        let raw = std::fs::read(&path).unwrap();
        if let Ok(found) = leadgate_mail::extract::find_payload(&raw, encoding_rs::WINDOWS_1251) {
            documents.push((path.display().to_string(), found.text));
        }
    }
    let (mut accepted, mut rejected) = (Vec::new(), Vec::new());
    for (name, text) in &documents {
        // Text that is not JSON is outside any schema (leadgate answers 400 with line and column).
        let Ok(document) = serde_json::from_str::<Value>(text) else {
            assert!(matches!(leadgate(text), Err(PayloadError::NotJson { .. })));
            continue;
        };
        if assert_agree(validator, &document, name) {
            accepted.push(name.as_str());
        } else {
            rejected.push(name.as_str());
        }
    }
    // The fixtures cover both sides: every site-made order, and the attachment that is a JSON array.
    assert!(accepted.len() >= 14, "accepted: {accepted:?}");
    assert!(
        rejected.iter().any(|n| n.ends_with("json_array.eml")),
        "rejected: {rejected:?}"
    );
}

#[test]
fn documents_leadgate_rejects_for_their_shape_the_schema_rejects() {
    let validator = validator();
    let line = json!({"Номенклатура": "Баннер", "Количество": 1});
    let too_many: Vec<Value> = (0..=MAX_LINES).map(|_| line.clone()).collect();
    let cases = [
        (json!([1, 2]), "not_an_object"),
        (json!("ORDER"), "not_an_object"),
        (json!(null), "not_an_object"),
        (json!({}), "no_known_field"),
        (json!({"Тема": null, "Описание": "   "}), "no_known_field"),
        (json!({"Товары": [], "ФайлыМакета": []}), "no_known_field"),
        (json!({"ИНН": {}}), "no_known_field"),
        (json!({"ФайлыМакета": [""]}), "no_known_field"),
        (
            json!({"Тема": [[" "]], "Телефон": [null, []]}),
            "no_known_field",
        ),
        (json!({"Цвет": "красный", "Ширина": 2}), "no_known_field"),
        (json!({"Тема": "x", "Товары": "баннер"}), "goods_not_a_list"),
        (
            json!({"Тема": "x", "Товары": {"Номенклатура": "x"}}),
            "goods_not_a_list",
        ),
        (json!({" Товары ": 5}), "goods_not_a_list"),
        (json!({"Товары": [line, 7]}), "line_not_an_object"),
        (json!({"Тема": "x", "Товары": [null]}), "line_not_an_object"),
        (json!({"Товары": too_many}), "too_many_lines"),
    ];
    for (document, code) in cases {
        let error = leadgate(&document.to_string()).unwrap_err();
        assert_eq!(error.code(), code, "{document}");
        let short: String = document.to_string().chars().take(80).collect();
        assert!(!validator.is_valid(&document), "{code}: {short}");
    }
}

#[test]
fn lenient_documents_leadgate_accepts_are_valid() {
    let validator = validator();
    let cases = [
        json!({"Тема": "Перезвоните"}),
        json!({" Тема ": "ключ с пробелами"}),
        json!({"Телефон": 89161234567_u64}),
        json!({"ФайлыМакета": "https://shop.example/maket.pdf"}),
        json!({"ФайлыМакета": ["ftp://shop.example/a.pdf", {"Файл": 5}]}),
        json!({"Тема": {"вложенный": "объект"}}),
        json!({"ИНН": "1234567890", "Дата": "вчера", "Товары": null, "Тема": "x"}),
        json!({"Товары": [{}]}),
        json!({"ФайлыМакета": ["", {}]}),
        json!({"Тема": [[" "], "x"]}),
        json!({"Товары": [{"Ширина": "1 000,50", "Высота": "abc", "Услуга": "да", "Количество": [1]}]}),
        json!({"Товары": [{"ДополнительныеРаботы": "люверсы"}], "Лишнее": true}),
        json!({"Описание": false}),
    ];
    for document in cases {
        assert!(
            assert_agree(validator, &document, "lenient case"),
            "{document}"
        );
    }
}

/// A JSON value for a generated document: leaves that matter to the rules (null, blank and filled text,
/// numbers, booleans) and small lists and objects of them.
fn any_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-5i64..5).prop_map(|n| json!(n)),
        prop::sample::select(vec!["", " ", "\u{a0}", "x", "1 000,50", "да", "29.05.2019"])
            .prop_map(|s| json!(s)),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::btree_map(
                prop::sample::select(vec!["Номенклатура", "Ширина", "Файл", "x"]),
                inner,
                0..3
            )
            .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())),
        ]
    })
}

/// An order line, or anything else in its place.
fn any_line() -> impl Strategy<Value = Value> {
    let keys = vec![
        "Номенклатура",
        "СтанокКод",
        "Разрешеине",
        "Ширина",
        "Количество",
        "Цена",
        "Сумма",
        "Услуга",
        "ДополнительныеРаботы",
        "Цвет",
    ];
    prop_oneof![
        3 => prop::collection::btree_map(prop::sample::select(keys), any_value(), 0..4)
            .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())),
        1 => any_value(),
    ]
}

/// A top-level document: known and unknown keys, some padded with spaces, each name at most once (a repeated
/// key is outside the schema: the later one wins in leadgate).
fn any_document() -> impl Strategy<Value = Value> {
    let names = vec![
        "Тема",
        "Дата",
        "Описание",
        "ИНН",
        "Телефон",
        "АдресЭлектроннойПочты",
        "КонтактноеЛицо",
        "ФайлыМакета",
        "Товары",
        "Цвет",
        "Разрешение",
    ];
    let entry = (
        prop::sample::select(names),
        any::<bool>(),
        prop_oneof![
            any_value(),
            prop::collection::vec(any_line(), 0..3).prop_map(Value::Array),
        ],
    );
    prop::collection::vec(entry, 0..5).prop_map(|entries| {
        let mut by_name: BTreeMap<&str, (String, Value)> = BTreeMap::new();
        for (name, padded, value) in entries {
            let key = if padded {
                format!(" {name}\u{a0}")
            } else {
                name.to_owned()
            };
            by_name.insert(name, (key, value));
        }
        Value::Object(by_name.into_values().collect::<Map<String, Value>>())
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn generated_documents_are_judged_alike(document in any_document()) {
        assert_agree(validator(), &document, "generated");
    }
}

#[tokio::test]
async fn leadgate_serves_the_schema_at_its_public_url() {
    let app = TestApp::spawn().await;
    // No token: a site's developer fetches it before holding one.
    let response = app
        .client
        .get(format!("{}{SCHEMA_URL}", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/schema+json"
    );
    let served = response.text().await.unwrap();
    assert_eq!(served, SCHEMA_FILE);
    let served: Value = serde_json::from_str(&served).unwrap();
    let validator = jsonschema::draft202012::new(&served).unwrap();
    assert!(validator.is_valid(&serde_json::from_str(SEED_SAMPLE).unwrap()));

    // The API's own description lists it, as a public route.
    let openapi: Value = app
        .client
        .get(format!("{}/openapi.json", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let get = &openapi["paths"][SCHEMA_URL]["get"];
    assert!(
        get["responses"]["200"]["content"]["application/schema+json"].is_object(),
        "{get}"
    );
    assert_eq!(get["security"], json!([{}]), "{get}");
}
