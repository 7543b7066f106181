//! The inbox's CSV download over HTTP holds what the inbox shows for the same filter: only the leads with an
//! overdue follow-up when that filter is on, only one assignee's leads when filtered by assignee, and never a
//! lead marked a second submission of another (it has left the inbox).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
mod ui_support;

use chrono::{Duration, Utc};
use common::TestApp;
use leadgate_domain::account::Role;
use leadgate_storage::NewFollowUp;
use serde_json::{Value, json};
use ui_support::*;

const ADMIN_PASSWORD: &str = "admin-password";
const M1_PASSWORD: &str = "manager1-password";

async fn post_lead(app: &TestApp, payload: Value) -> i64 {
    let r = app.intake_json(&payload.to_string()).await;
    assert_eq!(r.status(), 201);
    r.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
}

/// The lead numbers of the inbox's CSV for this query, as `client` downloads it.
async fn csv_ids(app: &TestApp, client: &reqwest::Client, query: &str) -> Vec<i64> {
    let r = client
        .get(format!("{}/inbox.csv?{query}", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "/inbox.csv?{query}");
    let bytes = r.bytes().await.unwrap();
    assert!(bytes.starts_with("\u{feff}".as_bytes()));
    let rows: Vec<Vec<String>> = csv::ReaderBuilder::new()
        .delimiter(b';')
        .has_headers(false)
        .flexible(true)
        .from_reader(&bytes[3..])
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect();
    assert_eq!(rows[0][0], "Номер");
    rows[1..].iter().map(|r| r[0].parse().unwrap()).collect()
}

/// The lead ids of the inbox page's rows for this query.
async fn page_ids(app: &TestApp, client: &reqwest::Client, query: &str) -> Vec<i64> {
    let (status, html) = get(app, client, &format!("/inbox?{query}")).await;
    assert_eq!(status, 200);
    html.split("data-lead-id=\"")
        .skip(1)
        .map(|rest| rest[..rest.find('"').unwrap()].parse().unwrap())
        .collect()
}

#[tokio::test]
async fn the_inbox_csv_of_overdue_follow_ups_holds_only_the_leads_with_one() {
    let app = TestApp::spawn().await;
    set_admin_password(&app, ADMIN_PASSWORD).await;
    let m1 = add_user(&app, "manager1", Role::Manager, M1_PASSWORD).await;
    let overdue = post_lead(
        &app,
        json!({"Тема": "Перезвонить вчера", "Телефон": "+7 916 000-00-01"}),
    )
    .await;
    let ahead = post_lead(
        &app,
        json!({"Тема": "Перезвонить завтра", "Телефон": "+7 916 000-00-02"}),
    )
    .await;
    let done = post_lead(
        &app,
        json!({"Тема": "Уже перезвонили", "Телефон": "+7 916 000-00-03"}),
    )
    .await;
    let plain = post_lead(
        &app,
        json!({"Тема": "Без перезвона", "Телефон": "+7 916 000-00-04"}),
    )
    .await;
    let s = storage(&app).await;
    for (lead, due) in [
        (overdue, Utc::now() - Duration::hours(1)),
        (ahead, Utc::now() + Duration::hours(5)),
        (done, Utc::now() - Duration::hours(2)),
    ] {
        s.plan_follow_up(&NewFollowUp {
            lead_id: lead,
            owner_id: m1,
            due_at: due,
            note: "Перезвонить".into(),
            created_by: m1,
            at: Utc::now(),
        })
        .await
        .unwrap()
        .unwrap();
    }
    let called = s.follow_ups_of_lead(done).await.unwrap()[0].id;
    s.complete_follow_up(called, m1, Utc::now()).await.unwrap();

    for (login, password) in [("manager1", M1_PASSWORD), ("admin", ADMIN_PASSWORD)] {
        let client = signed_in(&app, login, password).await;
        let mut everything = csv_ids(&app, &client, "").await;
        everything.sort_unstable();
        assert_eq!(everything, vec![overdue, ahead, done, plain], "{login}");
        assert_eq!(
            csv_ids(&app, &client, "overdue=1").await,
            vec![overdue],
            "{login}: only the lead whose follow-up is overdue"
        );
        assert_eq!(
            csv_ids(&app, &client, "overdue=1").await,
            page_ids(&app, &client, "overdue=1").await,
            "{login}: the CSV holds what the inbox shows"
        );
    }
}

#[tokio::test]
async fn the_inbox_csv_by_assignee_holds_only_their_leads_and_no_lead_marked_a_duplicate() {
    let app = TestApp::spawn().await;
    set_admin_password(&app, ADMIN_PASSWORD).await;
    add_user(&app, "manager1", Role::Manager, M1_PASSWORD).await;
    let m2 = add_user(&app, "manager2", Role::Manager, "manager2-password").await;
    let mine = post_lead(
        &app,
        json!({"Тема": "Баннер", "Телефон": "+7 916 000-00-11"}),
    )
    .await;
    let theirs = post_lead(
        &app,
        json!({"Тема": "Вывеска", "Телефон": "+7 916 000-00-12"}),
    )
    .await;
    let nobodys = post_lead(
        &app,
        json!({"Тема": "Листовки", "Телефон": "+7 916 000-00-13"}),
    )
    .await;
    // The same request again: marked a duplicate of the first, it leaves the inbox.
    let again = post_lead(
        &app,
        json!({"Тема": "Листовки", "Телефон": "+7 916 000-00-13"}),
    )
    .await;
    for (lead, login) in [(mine, "manager1"), (theirs, "manager2")] {
        let r = app
            .client
            .post(format!("{}/api/v1/leads/{lead}/assign", app.base))
            .bearer_auth(&app.admin_token)
            .json(&json!({"assignee": login}))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.status());
    }
    let s = storage(&app).await;
    assert_eq!(
        s.duplicate_hints(&[again], None).await.unwrap(),
        vec![(again, nobodys)]
    );
    s.mark_duplicate(again, nobodys, m2).await.unwrap();

    let client = signed_in(&app, "manager1", M1_PASSWORD).await;
    let mut everything = csv_ids(&app, &client, "").await;
    everything.sort_unstable();
    assert_eq!(
        everything,
        vec![mine, theirs, nobodys],
        "the duplicate is not in the inbox's CSV"
    );
    for (query, want) in [
        ("who=me", vec![mine]),
        ("who=manager2", vec![theirs]),
        ("who=none", vec![nobodys]),
    ] {
        assert_eq!(csv_ids(&app, &client, query).await, want, "{query}");
        assert_eq!(
            csv_ids(&app, &client, query).await,
            page_ids(&app, &client, query).await,
            "{query}: the CSV holds what the inbox shows"
        );
    }
    let r = client
        .get(format!("{}/inbox.csv?who=nobody-such", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        400,
        "an unknown assignee is refused, as the inbox refuses it"
    );
}
