//! How the PostgreSQL backend writes a batch of the intake: one statement per table whatever the batch's
//! size (what group commit is for), and the layout files of leads inserted together queued as each lead's
//! own would be. Each test has a fresh database on the test server (`LEADGATE_TEST_POSTGRES_URL`, see
//! `scripts/postgres.sh`); the counting and the hand-written rows go through a connection of the test's own.
#![allow(clippy::unwrap_used, missing_docs)]

use chrono::Utc;
use leadgate_domain::payload::Payload;
use leadgate_postgres::testing::FreshPg;
use leadgate_storage::{
    Calendars, Disposition, LayoutFileStore, LeadDraft, Ledger, LedgerEntry, SourceRef, StoredRaw,
    Submission, SubmitOutcome,
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
    Submission {
        ledger: LedgerEntry {
            source: SourceRef::Http { id: source },
            ledger_key: None,
            mailbox_key: None,
            message_id: None,
            external_number: None,
            received_at: Utc::now(),
            content_hash: None,
            raw: StoredRaw::new(ORDER.as_bytes().to_vec()),
            content_type: "application/json".to_owned(),
        },
        disposition: Disposition::Lead(Box::new(LeadDraft {
            payload: Payload::from_json(ORDER, chrono_tz::UTC).unwrap(),
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
