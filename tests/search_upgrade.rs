//! A database an earlier leadgate wrote keeps its leads findable after the upgrade that made the lead search
//! leave out spaces, hyphens, dots and brackets: the migration folds the search texts stored before and
//! rebuilds the search index from them (with the leads' calendars, which SQLite's index carries since). On the
//! backend the suite runs against.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use common::TestDir;
use common::backend::{TestDatabase, storage_at};
use leadgate_domain::payload::Payload;
use leadgate_storage::{LeadFilter, PageRequest, Storage, Submission, SubmitOutcome};

/// The ids of the leads a search for `fragment` lists, in `calendars` when given (a manager's view).
async fn found(storage: &dyn Storage, fragment: &str, calendars: Option<&[i64]>) -> Vec<i64> {
    let filter = LeadFilter {
        search: Some(fragment.into()),
        ..LeadFilter::default()
    };
    let page = PageRequest {
        limit: 10,
        cursor: None,
    };
    let leads = storage.leads(&filter, calendars, page).await.unwrap();
    leads.items.iter().map(|l| l.id).collect()
}

#[tokio::test]
async fn leads_stored_before_the_search_left_out_separators_are_found_after_the_upgrade() {
    let dir = TestDir::new().await;
    let url = dir.database_url();
    let storage = storage_at(&url).await;
    let calendar = storage.upsert_calendar("orders", None).await.unwrap();
    let source = storage
        .create_http_source("site", calendar, "hash-site")
        .await
        .unwrap();
    let body = r#"{"Тема": "Заказ 50-60-70", "Телефон": "+7 (916) 123-45-67"}"#;
    let payload = Payload::from_json(body, chrono_tz::UTC).unwrap();
    let ledger = common::backend::http_ledger_entry(source, body);
    let outcome = storage
        .submit_batch(&[Submission::lead(ledger, payload, calendar)])
        .await
        .unwrap();
    let [SubmitOutcome::Imported { lead_id, .. }] = outcome[..] else {
        panic!("not imported: {outcome:?}");
    };
    // The text as the version before stored it: lower-cased, its separators kept.
    let db = TestDatabase::open(&url).await.unwrap();
    db.unfold_search_text(lead_id, "заказ 50-60-70\n+7 (916) 123-45-67\n+79161234567")
        .await
        .unwrap();
    assert_eq!(
        db.columns_holding("506070").await.unwrap(),
        Vec::<String>::new(),
        "the unfolded text does not hold the subject's digits together"
    );
    db.close().await;
    drop(storage);

    let upgraded = storage_at(&url).await;
    // `506070` holds trigrams (`506`, `060`, `607`) that only the folded text has: the index was rebuilt from it.
    for fragment in [
        "506070",
        "50 60 70",
        "916 123 45 67",
        "(916) 123-45",
        "Заказ",
    ] {
        for calendars in [None, Some(&[calendar][..])] {
            assert_eq!(
                found(&*upgraded, fragment, calendars).await,
                vec![lead_id],
                "{fragment} in {calendars:?}"
            );
        }
    }
}
