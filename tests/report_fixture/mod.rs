//! A print shop with three months of leads for the report tests: three calendars (the common one, and a
//! personal one for each of two managers), three channels (mail, the website over HTTP, a file import),
//! orders with known sums, campaign tags, first manager actions at known delays, rejected messages and
//! collector runs. The numbers every report must give are worked out beside each test.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use leadgate_domain::account::Role;
use leadgate_domain::collector::Protocol;
use leadgate_domain::payload::Payload;
use leadgate_storage::{
    CollectorRecord, Disposition, LedgerEntry, RunCounts, SourceRef, Storage, StoredRaw,
    Submission, SubmitOutcome,
};
use serde_json::{Value, json};

use super::common::TestApp;
use super::ui_support::{add_user, set_admin_password, storage};

pub const ADMIN_PASSWORD: &str = "admin-password-for-tests";
pub const M1_PASSWORD: &str = "manager1-password";
pub const M2_PASSWORD: &str = "manager2-password";

pub struct Shop {
    pub app: TestApp,
    pub storage: Arc<dyn Storage>,
    pub common: i64,
    pub personal_m1: i64,
    pub personal_m2: i64,
    pub collector: i64,
    pub website: i64,
    pub m1_token: String,
    pub m2_token: String,
    /// L1..L8 by index 0..7.
    pub leads: Vec<i64>,
}

/// A local Moscow time (UTC+3, no daylight saving).
pub fn msk(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    chrono_tz::Europe::Moscow
        .with_ymd_and_hms(y, mo, d, h, mi, 0)
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

fn order(sums: &[&str], extra: Value) -> Value {
    let lines: Vec<Value> = sums
        .iter()
        .map(|s| json!({"Номенклатура": "Баннер", "Количество": 1, "Сумма": s}))
        .collect();
    let mut v = json!({"Телефон": "+7 916 123-45-67", "Товары": lines});
    merge(&mut v, extra);
    v
}

fn contact(extra: Value) -> Value {
    let mut v = json!({"Телефон": "+7 916 765-43-21", "КонтактноеЛицо": "Иван Петров"});
    merge(&mut v, extra);
    v
}

fn merge(v: &mut Value, extra: Value) {
    if let (Some(a), Value::Object(b)) = (v.as_object_mut(), extra) {
        a.extend(b);
    }
}

async fn submit(
    s: &dyn Storage,
    source: SourceRef,
    at: DateTime<Utc>,
    calendar: i64,
    payload: &Value,
) -> i64 {
    let text = payload.to_string();
    let parsed = Payload::from_json(&text, chrono_tz::Europe::Moscow).unwrap();
    assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
    let out = s
        .submit_batch(&[Submission::lead(
            LedgerEntry {
                source,
                ledger_key: Some(format!("fixture:{}", leadgate::tokens::generate())),
                mailbox_key: None,
                message_id: None,
                external_number: None,
                received_at: at,
                raw: StoredRaw::new(text.into_bytes()),
                content_type: "application/json".into(),
                content_hash: None,
            },
            parsed,
            calendar,
        )])
        .await
        .unwrap();
    match out.as_slice() {
        [SubmitOutcome::Imported { lead_id, .. }] => *lead_id,
        other => panic!("not imported: {other:?}"),
    }
}

async fn reject(s: &dyn Storage, source: SourceRef, at: DateTime<Utc>) {
    s.submit_batch(&[Submission {
        ledger: LedgerEntry {
            source,
            ledger_key: Some(format!("fixture:{}", leadgate::tokens::generate())),
            mailbox_key: None,
            message_id: None,
            external_number: None,
            received_at: at,
            raw: StoredRaw::new(b"not json".to_vec()),
            content_type: "application/json".into(),
            content_hash: None,
        },
        disposition: Disposition::Rejected {
            reason: "not JSON".into(),
        },
        idempotency: None,
    }])
    .await
    .unwrap();
}

/// Changes a lead through the API with `token`, as a manager's program would.
pub async fn patch(app: &TestApp, token: &str, lead: i64, body: Value) {
    let r = app
        .client
        .patch(format!("{}/api/v1/leads/{lead}", app.base))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}

pub async fn shop() -> Shop {
    let app = TestApp::spawn().await;
    set_admin_password(&app, ADMIN_PASSWORD).await;
    let m1 = add_user(&app, "m1", Role::Manager, M1_PASSWORD).await;
    let m2 = add_user(&app, "m2", Role::Manager, M2_PASSWORD).await;
    let s = storage(&app).await;
    let common = s
        .calendars()
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.owner.is_none())
        .unwrap()
        .id;
    let personal_m1 = s
        .create_calendar("Личный m1", Some(m1), "#16a34a")
        .await
        .unwrap();
    let personal_m2 = s
        .create_calendar("Личный m2", Some(m2), "#dc2626")
        .await
        .unwrap();
    let website = s
        .http_sources()
        .await
        .unwrap()
        .into_iter()
        .find(|h| h.source.name == "website")
        .unwrap()
        .source
        .id;
    let collector = s
        .upsert_collector(&CollectorRecord {
            calendar_id: common,
            ..CollectorRecord::new(
                "site-orders",
                Protocol::Imap,
                "127.0.0.1",
                993,
                "orders@example.ru",
            )
        })
        .await
        .unwrap();
    let m1_token = leadgate::tokens::generate();
    s.create_api_token(m1, "reports", &leadgate::tokens::hash(&m1_token))
        .await
        .unwrap();
    let m2_token = leadgate::tokens::generate();
    s.create_api_token(m2, "reports", &leadgate::tokens::hash(&m2_token))
        .await
        .unwrap();

    let mail = SourceRef::Collector { id: collector };
    let http = SourceRef::Http { id: website };
    let st = s.as_ref();
    let leads = vec![
        // L1
        submit(
            st,
            mail.clone(),
            msk(2026, 1, 10, 10, 0),
            common,
            &order(
                &["1000", "500.50"],
                json!({"Тема": "Баннеры", "utm_source": "yandex", "utm_medium": "cpc"}),
            ),
        )
        .await,
        // L2
        submit(
            st,
            http.clone(),
            msk(2026, 1, 20, 12, 0),
            common,
            &contact(json!({"utm_source": "yandex", "page_url": "https://shop.example/banners"})),
        )
        .await,
        // L3
        submit(
            st,
            SourceRef::File,
            msk(2026, 1, 25, 9, 0),
            common,
            &contact(json!({})),
        )
        .await,
        // L4
        submit(
            st,
            http.clone(),
            msk(2026, 2, 3, 15, 0),
            personal_m1,
            &order(&["2000"], json!({"utm_source": "vk"})),
        )
        .await,
        // L5
        submit(
            st,
            mail.clone(),
            msk(2026, 2, 14, 11, 0),
            common,
            &contact(json!({"utm_source": "vk"})),
        )
        .await,
        // L6: late on the last evening of February in Moscow (already 20:30 UTC).
        submit(
            st,
            http.clone(),
            msk(2026, 2, 28, 23, 30),
            personal_m2,
            &order(&["999.99"], json!({})),
        )
        .await,
        // L7: half past midnight on the 1st of March in Moscow (still the 28th of February in UTC).
        submit(
            st,
            mail.clone(),
            msk(2026, 3, 1, 0, 30),
            common,
            &order(&["100"], json!({})),
        )
        .await,
        // L8
        submit(
            st,
            http.clone(),
            msk(2026, 3, 15, 10, 0),
            common,
            &contact(json!({"utm_source": "google"})),
        )
        .await,
    ];
    reject(st, mail.clone(), msk(2026, 1, 11, 8, 0)).await;
    reject(st, mail.clone(), msk(2026, 1, 12, 8, 0)).await;
    reject(st, http.clone(), msk(2026, 3, 2, 8, 0)).await;

    // The managers' first actions, through the API (the one update path records them), then placed at known
    // delays after receipt.
    let admin = app.admin_token.clone();
    patch(
        &app,
        &m1_token,
        leads[0],
        json!({"status": "in_progress", "assignee": "m1"}),
    )
    .await;
    patch(
        &app,
        &m2_token,
        leads[1],
        json!({"status": "in_progress", "assignee": "m2"}),
    )
    .await;
    patch(&app, &m2_token, leads[1], json!({"status": "done"})).await;
    patch(&app, &admin, leads[2], json!({"status": "rejected"})).await;
    patch(
        &app,
        &m1_token,
        leads[3],
        json!({"status": "in_progress", "assignee": "m1"}),
    )
    .await;
    patch(&app, &m1_token, leads[3], json!({"status": "done"})).await;
    patch(
        &app,
        &m2_token,
        leads[5],
        json!({"status": "in_progress", "assignee": "m2"}),
    )
    .await;
    patch(
        &app,
        &m1_token,
        leads[6],
        json!({"status": "in_progress", "assignee": "m1"}),
    )
    .await;
    patch(&app, &m2_token, leads[7], json!({"assignee": "m2"})).await;
    patch(&app, &m2_token, leads[7], json!({"status": "done"})).await;
    let db = app.database().await;
    for (lead, minutes) in [
        (0, 10),
        (1, 30),
        (2, 120),
        (3, 5),
        (5, 90),
        (6, 20),
        (7, 60),
    ] {
        db.answered_after(leads[lead], Duration::minutes(minutes))
            .await
            .unwrap();
    }
    // Collector runs: two in January (one failed), one in February, one failed in March.
    for (at, error) in [
        (msk(2026, 1, 5, 9, 0), None),
        (msk(2026, 1, 6, 9, 0), Some("connection refused")),
        (msk(2026, 2, 6, 9, 0), None),
        (msk(2026, 3, 6, 9, 0), Some("authentication failed")),
    ] {
        let run = s.start_run(collector).await.unwrap();
        s.finish_run(run, &RunCounts::default(), error)
            .await
            .unwrap();
        db.run_started_at(run, at).await.unwrap();
    }
    db.close().await;
    Shop {
        app,
        storage: s,
        common,
        personal_m1,
        personal_m2,
        collector,
        website,
        m1_token,
        m2_token,
        leads,
    }
}

/// The first quarter of 2026 by month.
pub const QUARTER: &str = "from=2026-01-01&to=2026-03-31&group=month";
