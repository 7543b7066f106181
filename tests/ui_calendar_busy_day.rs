//! The month view of a day with more leads than a day counts: the cell lists its first leads and says there are
//! more than the cap's worth ("ещё 96+"), while a quiet day says exactly how many more it has.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
mod ui_support;

use common::TestApp;
use leadgate_domain::payload::Payload;
use leadgate_storage::{DaySlot, LedgerEntry, SourceRef, StoredRaw, Submission};
use ui_support::*;

const ADMIN_PASSWORD: &str = "admin-password-for-tests";

/// A lead dated `date` (`DD.MM.YYYY HH:MM:SS`, the shop's time) filed into the default calendar.
fn lead(calendar_id: i64, n: i64, date: &str) -> Submission {
    let json =
        format!(r#"{{"Тема": "Звонок {n}", "Дата": "{date}", "Телефон": "+7 916 000-00-00"}}"#);
    let payload = Payload::from_json(&json, chrono_tz::Europe::Moscow).unwrap();
    Submission::lead(
        LedgerEntry {
            source: SourceRef::File,
            ledger_key: Some(format!("busy:{n}")),
            mailbox_key: None,
            message_id: None,
            external_number: Some(n.to_string()),
            received_at: payload.occurred_at.unwrap(),
            raw: StoredRaw::new(json.clone().into_bytes()),
            content_type: "application/json".into(),
            content_hash: None,
        },
        payload,
        calendar_id,
    )
}

#[tokio::test]
async fn a_busy_day_in_the_month_view_shows_its_first_leads_and_more_past_the_cap() {
    let app = TestApp::spawn().await;
    set_admin_password(&app, ADMIN_PASSWORD).await;
    let s = storage(&app).await;
    let calendar = s.calendars().await.unwrap()[0].id;
    // One more than the cap on 10 May, six on 11 May.
    let mut batch: Vec<Submission> = (0..=DaySlot::COUNT_CAP)
        .map(|n| {
            lead(
                calendar,
                n,
                &format!("10.05.2019 {:02}:{:02}:00", 9 + n / 60, n % 60),
            )
        })
        .collect();
    for n in 0..6 {
        batch.push(lead(calendar, 1000 + n, &format!("11.05.2019 1{n}:00:00")));
    }
    s.submit_batch(&batch).await.unwrap();

    let c = signed_in(&app, "admin", ADMIN_PASSWORD).await;
    let (status, html) = get(&app, &c, "/calendar?view=month&date=2019-05-10").await;
    assert_eq!(status, 200);
    let shown = i64::from(leadgate::web::calendar::MONTH_PER_DAY);
    assert!(
        html.contains(&format!(
            "class=\"more\">ещё {}+</a>",
            DaySlot::COUNT_CAP - shown
        )),
        "{html}"
    );
    assert!(
        html.contains("Звонок 0<"),
        "the busy day's first lead is listed"
    );
    assert!(
        html.contains("class=\"more\">ещё 2</a>"),
        "a quiet day says exactly how many more"
    );
    assert!(html.contains("Звонок 1000<") && !html.contains("Звонок 1005<"));
}
