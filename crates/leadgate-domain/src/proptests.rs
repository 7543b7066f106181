//! Property tests across the domain: whatever a website or an attacker sends, reading it never panics.
//!
//! The unit tests next to each module pin the documented behaviour; these throw arbitrary text and arbitrary
//! JSON, shaped like the v0.1 format and not, at the public entry points.

#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use serde_json::{Map, Value};

use super::inn::Inn;
use super::lead::LeadKind;
use super::payload::{MAX_LINES, Payload, PayloadError};
use super::phone::to_e164;

/// The keys of the format at every level, plus a few near misses, so generated objects hit real fields.
const KEYS: &[&str] = &[
    "Тема",
    "Дата",
    "Описание",
    "ИНН",
    "Телефон",
    "АдресЭлектроннойПочты",
    "КонтактноеЛицо",
    "ФайлыМакета",
    "Файл",
    "Товары",
    "Номенклатура",
    "СтанокКод",
    "Разрешение",
    "Разрешеине",
    "Материал",
    "МатериалКод",
    "Ширина",
    "Высота",
    "Количество",
    "Цена",
    "Сумма",
    "Услуга",
    "ДополнительныеРаботы",
    "ВидРаботы",
    " Тема ",
    "тема",
    "",
    "x",
];

fn any_key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(KEYS).prop_map(str::to_owned),
        1 => ".{0,8}",
    ]
}

/// Leaf values, biased towards the strings sites really send.
fn any_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
        "[0-9 ,.\u{a0}-]{0,12}".prop_map(Value::from),
        "(да|нет|ДА|yes|no|1|0|true|false)".prop_map(Value::from),
        "[0-9]{1,2}\\.[0-9]{1,2}\\.[0-9]{4}( [0-9]{1,2}:[0-9]{2}(:[0-9]{2})?)?"
            .prop_map(Value::from),
        "\\+?[0-9 ()-]{5,16}".prop_map(Value::from),
        "(https?|ftp)://[a-z]{1,5}\\.ru/[a-z]{0,5}".prop_map(Value::from),
        Just(Value::from("7709745454")),
        Just(Value::from("7709745455")),
    ]
}

fn any_json() -> impl Strategy<Value = Value> {
    any_leaf().prop_recursive(5, 64, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((any_key(), inner), 0..8)
                .prop_map(|entries| Value::Object(entries.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Objects shaped like payloads: a top-level object whose `Товары` is usually a list of line-like objects.
fn payload_like() -> impl Strategy<Value = Value> {
    let line = proptest::collection::vec((any_key(), any_json()), 0..10)
        .prop_map(|entries| Value::Object(entries.into_iter().collect()));
    (
        proptest::collection::vec((any_key(), any_json()), 0..10),
        proptest::option::of(proptest::collection::vec(line, 0..4)),
    )
        .prop_map(|(entries, lines)| {
            let mut object: Map<String, Value> = entries.into_iter().collect();
            if let Some(lines) = lines {
                object.insert("Товары".into(), Value::Array(lines));
            }
            Value::Object(object)
        })
}

fn check(text: &str) -> Result<(), TestCaseError> {
    for tz in [chrono_tz::Europe::Moscow, chrono_tz::America::New_York] {
        match Payload::from_json(text, tz) {
            Ok(p) => {
                prop_assert_eq!(p.kind() == LeadKind::Order, !p.lines.is_empty());
                prop_assert!(p.lines.len() <= MAX_LINES);
                for (i, line) in p.lines.iter().enumerate() {
                    prop_assert_eq!(line.position as usize, i + 1);
                    let _ = line.figures();
                }
                // Serialising a read payload always works.
                serde_json::to_string(&p).unwrap();
            }
            Err(e) => {
                prop_assert!(!e.code().is_empty());
                prop_assert!(!e.to_string().is_empty());
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_text_never_panics(s in ".*") {
        check(&s)?;
        let _ = Inn::parse(&s);
        let _ = to_e164(&s);
    }

    #[test]
    fn arbitrary_json_never_panics(value in any_json()) {
        check(&value.to_string())?;
    }

    #[test]
    fn payload_shaped_json_never_panics(value in payload_like()) {
        check(&value.to_string())?;
        check(&serde_json::to_string_pretty(&value).unwrap())?;
    }

    #[test]
    fn a_payload_with_a_contact_person_is_never_rejected_for_its_values(
        value in payload_like(),
        person in "[А-Яа-я]{1,10}",
    ) {
        let mut value = value;
        if let Some(object) = value.as_object_mut() {
            object.retain(|k, _| k.trim() != "КонтактноеЛицо");
            object.insert("КонтактноеЛицо".into(), Value::from(person.clone()));
        }
        match Payload::from_json(&value.to_string(), chrono_tz::Europe::Moscow) {
            Ok(p) => prop_assert_eq!(p.contact.person.as_deref(), Some(person.as_str())),
            // Only the shape of the goods may reject it.
            Err(e) => prop_assert!(
                matches!(e, PayloadError::GoodsNotAList | PayloadError::LineNotAnObject { .. }),
                "unexpected rejection {:?}", e
            ),
        }
    }

    #[test]
    fn truncated_json_never_panics(value in payload_like(), cut in any::<prop::sample::Index>()) {
        let text = value.to_string();
        let chars: Vec<char> = text.chars().collect();
        let truncated: String = chars.iter().take(cut.index(chars.len() + 1)).collect();
        check(&truncated)?;
    }
}
