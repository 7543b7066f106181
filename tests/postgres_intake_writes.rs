//! How the PostgreSQL backend writes a batch of the intake: one statement per table whatever the batch's
//! size (what group commit is for), and the layout files of leads inserted together queued as each lead's
//! own would be. Each test has a fresh database on the test server (`LEADGATE_TEST_POSTGRES_URL`, see
//! `scripts/postgres.sh`); the counting and the hand-written rows go through a connection of the test's own.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use leadgate::intake::{Intake, IntakeSettings};
use leadgate_domain::payload::Payload;
use leadgate_postgres::PgStorage;
use leadgate_postgres::testing::FreshPg;
use leadgate_storage::{
    Calendars, Disposition, LayoutFileStore, LeadDraft, Ledger, Storage, Submission, SubmitOutcome,
};
use sqlx::{Connection, PgConnection};

/// An order from the site with two lines (three extra works on the first, the second a service) and two
/// layout files, from a source that forms tech cards on arrival.
const ORDER: &str = r#"{
    "Тема": "Заказ №123",
    "ИНН": "7709745454",
    "Телефон": "+7 925 642 42-90",
    "АдресЭлектроннойПочты": "adwcom@gmail.com",
    "КонтактноеЛицо": "Прилепский Алексей Анатольевич",
    "ФайлыМакета": [{"Файл": "https://shop.example/a.jpg"}, {"Файл": "https://shop.example/b.pdf"}],
    "Товары": [
        {"Номенклатура": "Ролап", "Ширина": 2, "Высота": 2, "Количество": 2, "Цена": 500, "Сумма": 1000,
         "ДополнительныеРаботы": [
             {"ВидРаботы": "Люверсы", "Количество": 2, "Описание": "шаг 30см"},
             {"ВидРаботы": "Проклейка", "Количество": 2},
             {"ВидРаботы": "Карманы", "Количество": 2}
         ]},
        {"Номенклатура": "Доставка", "Услуга": true, "Количество": 1, "Цена": 500, "Сумма": 500}
    ]
}"#;

fn order(source: i64, calendar: i64) -> Submission {
    submission(source, calendar, ORDER)
}

/// A submission of `json` from the HTTP source `source`.
fn submission(source: i64, calendar: i64, json: &str) -> Submission {
    Submission {
        ledger: common::backend::http_ledger_entry(source, json),
        disposition: Disposition::Lead(Box::new(LeadDraft {
            payload: Payload::from_json(json, chrono_tz::UTC).unwrap(),
            calendar_id: calendar,
            auto_tech_cards: true,
            extra_warnings: Vec::new(),
        })),
        idempotency: None,
    }
}

/// The tables a batch of orders writes to.
const WRITTEN: [&str; 8] = [
    "leads",
    "order_lines",
    "extra_works",
    "messages",
    "message_raw_parts",
    "layout_files",
    "tech_cards",
    "lead_events",
];

/// Counts the INSERT statements on each of [`WRITTEN`] from now on (a statement-level trigger each).
async fn count_inserts(conn: &mut PgConnection) {
    sqlx::raw_sql(
        "CREATE TABLE insert_statements (tbl TEXT NOT NULL);
         CREATE FUNCTION count_insert() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
             INSERT INTO insert_statements VALUES (TG_TABLE_NAME);
             RETURN NULL;
         END $$;",
    )
    .execute(&mut *conn)
    .await
    .unwrap();
    for table in WRITTEN {
        // The table names are this test's own constants.
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "CREATE TRIGGER count_insert AFTER INSERT ON {table} FOR EACH STATEMENT EXECUTE FUNCTION count_insert()"
        )))
        .execute(&mut *conn)
        .await
        .unwrap();
    }
}

/// A batch of 300 orders (more rows than one multi-row VALUES of the widest table may bind): every table gets
/// one INSERT statement, the 600 layout files are queued by one, and the 300 tech cards and their history
/// entries are written by one each.
#[tokio::test]
async fn a_batch_of_three_hundred_orders_is_written_with_one_statement_per_table() {
    let db = FreshPg::new().await;
    let calendar = db.upsert_calendar("Заказы", None).await.unwrap();
    let source = db.create_http_source("site", calendar, "h").await.unwrap();
    let mut conn = PgConnection::connect(db.url()).await.unwrap();
    count_inserts(&mut conn).await;

    let batch: Vec<Submission> = (0..300).map(|_| order(source, calendar)).collect();
    let outcomes = db.submit_batch(&batch).await.unwrap();
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, SubmitOutcome::Imported { .. })),
        "{outcomes:?}"
    );

    let mut counted = Vec::new();
    for table in WRITTEN {
        let statements: i64 =
            sqlx::query_scalar("SELECT count(*) FROM insert_statements WHERE tbl = $1")
                .bind(table)
                .fetch_one(&mut conn)
                .await
                .unwrap();
        // The table names are this test's own constants.
        let rows: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
                .fetch_one(&mut conn)
                .await
                .unwrap();
        counted.push((table, statements, rows));
    }
    assert_eq!(
        counted,
        vec![
            ("leads", 1, 300),
            ("order_lines", 1, 600),
            ("extra_works", 1, 900),
            ("messages", 1, 300),
            ("message_raw_parts", 1, 300),
            ("layout_files", 1, 600),
            ("tech_cards", 1, 300),
            ("lead_events", 1, 300),
        ],
        "(table, INSERT statements, rows)"
    );
    conn.close().await.unwrap();
}

/// Leads inserted by one statement, as a `db copy` or a hand-made fix may insert them: each queues its own
/// http(s) layout files in order, and a lead whose value is not a JSON array of strings, or not JSON at all,
/// queues nothing and stops no other lead.
#[tokio::test]
async fn leads_inserted_together_queue_their_own_layout_files_even_beside_one_that_is_not_json() {
    let db = FreshPg::new().await;
    let calendar = db.upsert_calendar("Заказы", None).await.unwrap();
    let mut conn = PgConnection::connect(db.url()).await.unwrap();
    let ids: Vec<i64> = sqlx::query_scalar(
        "INSERT INTO leads (calendar_id, kind, received_at, starts_at, layout_files, channel, updated_at)
         SELECT $1, 'order', 0, 0, files, 'file', 0
         FROM UNNEST($2::text[]) WITH ORDINALITY AS f(files, n) ORDER BY n
         RETURNING id",
    )
    .bind(calendar)
    .bind(vec![
        r#"["https://shop.example/1.pdf", "ftp://shop.example/2.pdf", 7, "HTTP://shop.example/4.pdf"]"#,
        "not json at all",
        r#"{"Файл": "https://shop.example/object.pdf"}"#,
        r#"["http://shop.example/only.png"]"#,
    ])
    .fetch_all(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();

    let urls = |files: Vec<leadgate_storage::LayoutFileView>| {
        files
            .into_iter()
            .map(|f| (f.position, f.url))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        urls(db.layout_files_of_lead(ids[0]).await.unwrap()),
        vec![
            (0, "https://shop.example/1.pdf".to_owned()),
            (3, "HTTP://shop.example/4.pdf".to_owned()),
        ]
    );
    assert!(db.layout_files_of_lead(ids[1]).await.unwrap().is_empty());
    assert!(db.layout_files_of_lead(ids[2]).await.unwrap().is_empty());
    assert_eq!(
        urls(db.layout_files_of_lead(ids[3]).await.unwrap()),
        vec![(0, "http://shop.example/only.png".to_owned())]
    );
}

/// The intake on PostgreSQL writes two groups at once: a group waiting for a row lock (here the test holds the
/// row of the order's customer, whom its lead refers to) does not hold up the next group, which commits and is
/// answered meanwhile; the first commits once the lock is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_waiting_for_a_lock_does_not_hold_up_the_next_group() {
    let db = FreshPg::new().await;
    let calendar = db.upsert_calendar("Заказы", None).await.unwrap();
    let site = db.create_http_source("site", calendar, "h1").await.unwrap();
    let other_site = db
        .create_http_source("other", calendar, "h2")
        .await
        .unwrap();
    // The order's customer is known.
    db.submit_batch(&[order(site, calendar)]).await.unwrap();
    let storage: Arc<dyn Storage> = Arc::new(PgStorage::connect(db.url()).await.unwrap());
    let (intake, writer) = Intake::new(
        storage,
        IntakeSettings {
            timezone: chrono_tz::UTC,
            max_body_bytes: 1 << 20,
            group_commit: true,
            max_batch: 512,
        },
    );
    let intake = Arc::new(intake);

    let mut holder = PgConnection::connect(db.url()).await.unwrap();
    let mut lock = holder.begin().await.unwrap();
    sqlx::query("SELECT id FROM counterparties WHERE inn = '7709745454' FOR UPDATE")
        .fetch_one(&mut *lock)
        .await
        .unwrap();
    let waiting = tokio::spawn({
        let intake = intake.clone();
        async move { intake.submit(order(site, calendar)).await }
    });
    let mut watcher = PgConnection::connect(db.url()).await.unwrap();
    common::backend::until_a_write_waits(&mut watcher).await;

    let call_back = submission(
        other_site,
        calendar,
        r#"{"Тема": "Перезвоните", "Телефон": "+7 925 000-00-01"}"#,
    );
    let answered = tokio::time::timeout(Duration::from_secs(60), intake.submit(call_back)).await;
    assert!(
        matches!(answered, Ok(Ok(SubmitOutcome::Imported { .. }))),
        "the next group commits while the first waits: {answered:?}"
    );
    assert!(
        !waiting.is_finished(),
        "the first group still waits for the lock"
    );
    lock.rollback().await.unwrap();
    assert!(matches!(
        waiting.await.unwrap(),
        Ok(SubmitOutcome::Imported { .. })
    ));
    drop(intake);
    writer.unwrap().await.unwrap();
    let leads: i64 = sqlx::query_scalar("SELECT count(*) FROM leads")
        .fetch_one(&mut watcher)
        .await
        .unwrap();
    assert_eq!(leads, 3);
}
