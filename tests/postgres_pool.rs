//! The PostgreSQL connection pool as `[database]` sets it: `max_connections` and `acquire_timeout_secs` are
//! shown by `config check`, refused with SQLite, and honoured: with one connection, a query waits for the one
//! a blocked write holds, and gives up (503) after the acquire timeout.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::{TestApp, TestDir, WriteLock};
use sqlx::{Connection, PgConnection};

fn config_check(dir: &std::path::Path, toml: &str) -> std::process::Output {
    let config = dir.join("leadgate.toml");
    std::fs::write(&config, toml).unwrap();
    common::cli::leadgate()
        .current_dir(dir)
        .arg("--config")
        .arg(&config)
        .args(["config", "check"])
        .env("LEADGATE__DATABASE__ACQUIRE_TIMEOUT_SECS", "3")
        .output()
        .unwrap()
}

#[test]
fn config_check_shows_the_pool_settings_and_refuses_them_with_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let output = config_check(
        dir.path(),
        "[database]\nurl = \"postgres://leadgate@db.internal/leadgate\"\nmax_connections = 4\n",
    );
    let out = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{out}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for line in [
        "database.max_connections = 4  # file, line 3",
        "database.acquire_timeout_secs = 3  # environment LEADGATE__DATABASE__ACQUIRE_TIMEOUT_SECS",
    ] {
        assert!(
            out.lines().any(|l| l == line),
            "missing {line:?} in:\n{out}"
        );
    }

    let output = config_check(
        dir.path(),
        "[database]\nurl = \"sqlite://leadgate.db\"\nmax_connections = 4\n",
    );
    assert_eq!(output.status.code(), Some(1));
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        err.contains(
            "database.max_connections, database.acquire_timeout_secs: only for a PostgreSQL"
        ),
        "{err}"
    );

    let output = config_check(
        dir.path(),
        "[database]\nurl = \"postgres://leadgate@db.internal/leadgate\"\nmax_connections = 0\n",
    );
    assert_eq!(output.status.code(), Some(1));
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        err.contains("database.max_connections: at least 1"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_pool_of_one_a_read_waits_for_the_held_connection_and_gives_up_after_the_acquire_timeout()
 {
    if !common::postgres_only("the pool settings are PostgreSQL's") {
        return;
    }
    let dir = TestDir::new_postgres().await;
    let app = TestApp::spawn_in(dir, |s| {
        s.database.max_connections = 1;
        s.database.acquire_timeout_secs = 1;
    })
    .await;
    let url = app.database_url();
    let first = app.intake_json(r#"{"Тема": "Первый заказ"}"#).await;
    assert_eq!(first.status(), 201);

    // The intake's write waits behind the lock, holding the pool's one connection.
    let lock = WriteLock::take(&url).await.unwrap();
    let post = tokio::spawn({
        let client = app.client.clone();
        let request = client
            .post(format!("{}/api/v1/intake", app.base))
            .bearer_auth(&app.source_token)
            .header("content-type", "application/json")
            .body(r#"{"Тема": "Второй заказ"}"#);
        async move { request.send().await.unwrap().status().as_u16() }
    });
    let mut db = PgConnection::connect(&url).await.unwrap();
    common::backend::until_a_write_waits(&mut db).await;
    // A read needs a connection too (readers pass the lock): it waits for the held one, then gives up.
    let read = app
        .client
        .get(format!("{}/api/v1/leads", app.base))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status().as_u16(), 503);
    assert!(read.headers().contains_key("retry-after"));

    lock.release().await.unwrap();
    assert_eq!(post.await.unwrap(), 201, "the held write commits");
    let leads = app.get("/api/v1/leads").await;
    assert_eq!(leads["items"].as_array().unwrap().len(), 2, "{leads}");
    db.close().await.unwrap();
}
