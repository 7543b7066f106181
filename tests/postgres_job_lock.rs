//! The mail job's lock on PostgreSQL when its holder dies: a process holding it is killed with SIGKILL (no
//! destructor runs, nothing unlocks), and another instance can take the lock as soon as the server has ended
//! the dead process's session.
#![allow(clippy::unwrap_used, missing_docs)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use leadgate_postgres::PgStorage;
use leadgate_postgres::testing::FreshPg;
use leadgate_storage::Collectors;
use sqlx::{Connection, PgConnection};

/// Where the holder process connects; set only for it.
const HOLDER_URL: &str = "LEADGATE_TEST_JOB_LOCK_HOLDER_URL";

/// The holder process: takes the job's lock, says so, and waits to be killed. Run only by the test below
/// (it is ignored otherwise).
#[tokio::test]
#[ignore = "the holder process of a_job_lock_is_free_again_once_its_holder_is_killed"]
async fn job_lock_holder() {
    let url = std::env::var(HOLDER_URL).unwrap();
    let storage = PgStorage::connect(&url).await.unwrap();
    let lock = storage.try_lock_job("collect").await.unwrap();
    assert!(lock.is_some(), "the holder takes a free lock");
    println!("LOCKED");
    std::future::pending::<()>().await;
}

#[tokio::test]
async fn a_job_lock_is_free_again_once_its_holder_is_killed() {
    let db = FreshPg::new().await;
    let mut holder = Command::new(std::env::current_exe().unwrap())
        .args(["job_lock_holder", "--exact", "--ignored", "--nocapture"])
        .env(HOLDER_URL, db.url())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(holder.stdout.take().unwrap()).lines();
    let locked = lines.by_ref().map_while(Result::ok).any(|l| l == "LOCKED");
    assert!(locked, "the holder process reports its lock");

    assert!(
        db.try_lock_job("collect").await.unwrap().is_none(),
        "another instance cannot take the lock the holder holds"
    );
    // The holder's advisory lock as the server lists it: its 64-bit key is classid:objid.
    let mut conn = PgConnection::connect(db.url()).await.unwrap();
    let key: i64 = sqlx::query_scalar(
        "SELECT (classid::bigint << 32) | objid::bigint FROM pg_locks
         WHERE locktype = 'advisory' AND granted AND objsubid = 1
           AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();

    holder.kill().unwrap();
    holder.wait().unwrap();
    // Waits (no longer than the statement timeout, a guard against a hang) until the server has ended the
    // killed holder's session and granted the lock here; then gives it back.
    sqlx::query("SET statement_timeout = '60s'")
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(key)
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(key)
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();

    assert!(
        db.try_lock_job("collect").await.unwrap().is_some(),
        "the lock of a killed holder is free for the next run"
    );
}
