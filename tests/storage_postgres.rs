//! What the PostgreSQL backend promises beyond the contract suite: several instances writing to one database
//! at once record a message once, answer an idempotency key with one lead and create one counterparty per
//! INN; a wrong address or password gives one error naming where, never the password. Each test has a fresh
//! database on the test server (`LEADGATE_TEST_POSTGRES_URL`, see `scripts/postgres.sh`).
#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::HashSet;
use std::sync::Arc;

use chrono::Utc;
use leadgate_domain::payload::Payload;
use leadgate_postgres::PgStorage;
use leadgate_postgres::testing::{FreshPg, server_url};
use leadgate_storage::{
    Calendars, IdempotencyClaim, Leads, Ledger, LedgerEntry, PageRequest, SourceRef, StorageError,
    StoredRaw, Submission, SubmitOutcome, content_hash,
};

/// Instances writing at once (each its own pool, as separate `leadgate serve` processes have).
const INSTANCES: usize = 2;

async fn instances(db: &FreshPg) -> Vec<Arc<PgStorage>> {
    let mut all = vec![Arc::new(db.storage().clone())];
    for _ in 1..INSTANCES {
        all.push(Arc::new(PgStorage::connect(db.url()).await.unwrap()));
    }
    all
}

fn lead(source: i64, calendar: i64, key: Option<&str>, body: &str) -> Submission {
    let payload = Payload::from_json(body, chrono_tz::UTC).unwrap();
    let raw = body.as_bytes().to_vec();
    Submission::lead(
        LedgerEntry {
            source: if key.is_some() {
                SourceRef::File
            } else {
                SourceRef::Http { id: source }
            },
            ledger_key: key.map(str::to_owned),
            mailbox_key: None,
            message_id: key.map(str::to_owned),
            external_number: None,
            received_at: Utc::now(),
            content_hash: key.map(|_| content_hash(&raw)),
            raw: StoredRaw::new(raw),
            content_type: "application/json".to_owned(),
        },
        payload,
        calendar,
    )
}

/// Runs `make(i)` on instance `i % INSTANCES` for every `i` at once; returns the outcomes in order.
async fn all_at_once(
    instances: &[Arc<PgStorage>],
    n: usize,
    make: impl Fn(usize) -> Vec<Submission>,
) -> Vec<Vec<SubmitOutcome>> {
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let storage = instances[i % instances.len()].clone();
            let batch = make(i);
            tokio::spawn(async move { storage.submit_batch(&batch).await })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap().unwrap());
    }
    outcomes
}

/// 50 leads with one new INN posted at once through two instances: 50 leads, one counterparty, and every
/// lead linked to it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_leads_with_one_new_inn_make_one_counterparty() {
    let db = FreshPg::new().await;
    let calendar = db.upsert_calendar("Заказы", None).await.unwrap();
    let source = db.create_http_source("site", calendar, "h").await.unwrap();
    let instances = instances(&db).await;
    let outcomes = all_at_once(&instances, 50, |i| {
        vec![lead(
            source,
            calendar,
            None,
            &format!(
                r#"{{"Тема": "Заказ {i}", "ИНН": "7709745454", "Телефон": "+7 925 000 00 {i:02}"}}"#
            ),
        )]
    })
    .await;
    let mut parties = HashSet::new();
    for outcome in outcomes.into_iter().flatten() {
        let SubmitOutcome::Imported { counterparty, .. } = outcome else {
            panic!("imported expected: {outcome:?}");
        };
        parties.insert(counterparty.unwrap().id);
    }
    assert_eq!(parties.len(), 1, "one counterparty: {parties:?}");
    let listed = db
        .counterparties(
            Some("7709745454"),
            None,
            PageRequest {
                limit: 10,
                cursor: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 1);
    assert_eq!(listed.items[0].phones.len(), 50, "every lead's phone, once");
    let leads = db
        .leads_of_counterparty(listed.items[0].id, 100)
        .await
        .unwrap();
    assert_eq!(leads.len(), 50);
}

/// The same message submitted by two instances at once, in batches with other messages: recorded once,
/// one lead; the other copies are duplicates naming it, and their batch neighbours are imported.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_message_submitted_by_several_instances_at_once_is_imported_once() {
    let db = FreshPg::new().await;
    let calendar = db.upsert_calendar("Заказы", None).await.unwrap();
    let source = db.create_http_source("site", calendar, "h").await.unwrap();
    let instances = instances(&db).await;
    let same = r#"{"Тема": "Заказ 1", "ИНН": "500100732259"}"#;
    let outcomes = all_at_once(&instances, 12, |i| {
        vec![
            lead(
                source,
                calendar,
                Some(&format!("own-{i}@shop")),
                &format!(r#"{{"Тема": "Своё {i}"}}"#),
            ),
            lead(source, calendar, Some("same@shop"), same),
        ]
    })
    .await;
    let mut leads_of_same = HashSet::new();
    let mut imported_same = 0;
    for batch in &outcomes {
        assert!(
            matches!(batch[0], SubmitOutcome::Imported { .. }),
            "a neighbour is imported: {batch:?}"
        );
        match &batch[1] {
            SubmitOutcome::Imported { lead_id, .. } => {
                imported_same += 1;
                leads_of_same.insert(*lead_id);
            }
            SubmitOutcome::Duplicate { lead_id } => {
                leads_of_same.insert(lead_id.unwrap());
            }
            other => panic!("imported or duplicate expected: {other:?}"),
        }
    }
    assert_eq!(imported_same, 1, "{outcomes:?}");
    assert_eq!(leads_of_same.len(), 1, "every copy names the one lead");
}

/// One Idempotency-Key posted through two instances at once: one lead, every other answer a replay of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_idempotency_key_posted_to_several_instances_makes_one_lead() {
    let db = FreshPg::new().await;
    let calendar = db.upsert_calendar("Заказы", None).await.unwrap();
    let source = db.create_http_source("site", calendar, "h").await.unwrap();
    let instances = instances(&db).await;
    let outcomes = all_at_once(&instances, 12, |_| {
        let mut s = lead(source, calendar, None, r#"{"Тема": "Заказ"}"#);
        s.idempotency = Some(IdempotencyClaim {
            http_source_id: source,
            key: "k-1".to_owned(),
            body_hash: "b".to_owned(),
        });
        vec![s]
    })
    .await;
    let mut leads = HashSet::new();
    let mut created = 0;
    for outcome in outcomes.into_iter().flatten() {
        match outcome {
            SubmitOutcome::Imported { lead_id, .. } => {
                created += 1;
                leads.insert(lead_id);
            }
            SubmitOutcome::IdempotentReplay { lead_id } => {
                leads.insert(lead_id);
            }
            other => panic!("imported or replay expected: {other:?}"),
        }
    }
    assert_eq!((created, leads.len()), (1, 1));
}

/// A wrong password: one error naming host, port and database, not the password; not `Unavailable` (trying
/// again will not help).
#[tokio::test]
async fn wrong_credentials_are_named_without_the_password() {
    let db = FreshPg::new().await;
    let mut url = url::Url::parse(db.url()).unwrap();
    url.set_password(Some("not-the-Pa55word")).unwrap();
    let err = PgStorage::connect(url.as_str()).await.unwrap_err();
    assert!(matches!(err, StorageError::Backend(_)), "{err:?}");
    let cause = std::error::Error::source(&err).unwrap().to_string();
    let target = db.target();
    assert!(
        cause.contains(&format!("{}:{}", target.host, target.port))
            && cause.contains(db.name())
            && cause.contains("password authentication failed"),
        "{cause}"
    );
    assert!(!format!("{err:?} {cause}").contains("not-the-Pa55word"));
    // The server's own URL works (the test role can sign in).
    assert!(!server_url().is_empty());
}
