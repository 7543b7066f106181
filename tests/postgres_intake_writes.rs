//! How the PostgreSQL backend writes the intake's leads: the layout files of leads inserted together are
//! queued as each lead's own would be. Each test has a fresh database on the test server
//! (`LEADGATE_TEST_POSTGRES_URL`, see `scripts/postgres.sh`); the hand-written rows go through a connection
//! of the test's own.
#![allow(clippy::unwrap_used, missing_docs)]

use leadgate_postgres::testing::FreshPg;
use leadgate_storage::{Calendars, LayoutFileStore};
use sqlx::{Connection, PgConnection};

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
