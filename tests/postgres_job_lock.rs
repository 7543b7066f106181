//! The mail job's lock on PostgreSQL when its holder dies: a process holding it is killed with SIGKILL (no
//! destructor runs, nothing unlocks), and another instance can take the lock as soon as the server has ended
//! the dead process's session. And when the server ends the holder's session while the holder lives on (a
//! restart or a fail-over ends every session): the lock says it is lost, and the run it guarded stops.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::TestApp;
use common::backend::{end_lock_session_of, end_lock_sessions};
use leadgate::config::CollectorConfig;
use leadgate_domain::collector::{Protocol, TlsMode};
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

/// A lock whose session the server ends while it is held says so within seconds, and another instance can
/// take it then; while the session lives, the lock is not lost.
#[tokio::test]
async fn a_job_lock_whose_session_the_server_ends_says_it_is_lost() {
    let db = FreshPg::new().await;
    let lock = db.try_lock_job("collect").await.unwrap().unwrap();
    assert!(
        tokio::time::timeout(Duration::from_secs(5), lock.lost())
            .await
            .is_err(),
        "a lock whose session lives is not lost"
    );
    let mut conn = PgConnection::connect(db.url()).await.unwrap();
    assert_eq!(end_lock_sessions(&mut conn).await, 1);
    tokio::time::timeout(Duration::from_secs(60), lock.lost())
        .await
        .expect("the lock says it is lost");
    assert!(
        db.try_lock_job("collect").await.unwrap().is_some(),
        "another instance takes the lock"
    );
    drop(lock);
    conn.close().await.unwrap();
}

/// A served app with one collector, "silent", whose IMAP server accepts connections and never answers: its
/// runs wait far longer than a test does, until something stops them. Only "run now" reaches it.
async fn app_with_a_silent_collector() -> (TestApp, tokio::task::JoinHandle<()>, tempfile::TempDir)
{
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let mut connections = Vec::new();
        while let Ok((connection, _)) = silent.accept().await {
            connections.push(connection);
        }
    });
    let secrets = tempfile::tempdir().unwrap();
    let password = secrets.path().join("password");
    std::fs::write(&password, "secret\n").unwrap();
    let app = TestApp::spawn_with(move |s| {
        s.schedule.mail_collector.enabled = false;
        s.limits.mail_timeout_secs = 600;
        // No IMAP IDLE connection of its own.
        s.collectors = vec![CollectorConfig {
            tls: TlsMode::None,
            push: false,
            password_file: Some(password),
            ..CollectorConfig::new("silent", Protocol::Imap, "127.0.0.1", port, "orders")
        }];
    })
    .await;
    (app, server, secrets)
}

/// The run stopped because a lock it ran under was lost, and says so.
fn assert_stopped_for_its_lock(run: &serde_json::Value) {
    assert!(
        run["error"]
            .as_str()
            .is_some_and(|e| e.contains("job lock was lost")),
        "{run}"
    );
}

/// "Run now" of the silent collector: the 202's body.
async fn run_now(app: &TestApp) -> serde_json::Value {
    let started = app.post("/api/v1/collectors/silent/run").await;
    assert_eq!(started.status().as_u16(), 202);
    started.json().await.unwrap()
}

/// A collector's run whose job locks the server drops while it runs stops and records why, rather than go on
/// beside a run of the same collector that another instance may now start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_whose_job_lock_the_server_drops_stops_and_says_why() {
    if !common::postgres_only("the job lock is a database session's on PostgreSQL only") {
        return;
    }
    let (app, _server, _secrets) = app_with_a_silent_collector().await;
    let started = run_now(&app).await;

    // The server ends every session holding an advisory lock, again and again until the run has finished: the
    // run's locks (the job's and its collector's) are taken a moment after the 202, and the serving instance
    // takes one of its own for the IMAP IDLE connections whenever it gets to it.
    let url = app.database_url();
    let ending = tokio::spawn(async move {
        let mut conn = PgConnection::connect(&url).await.unwrap();
        loop {
            end_lock_sessions(&mut conn).await;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    assert_stopped_for_its_lock(&app.finished_run("silent", &started).await);
    ending.abort();
}

/// Losing the whole job's lock stops the run as losing its collector's does: another instance may take the
/// job's lock and start the job at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_stops_when_only_the_jobs_lock_is_lost() {
    if !common::postgres_only("the job lock is a database session's on PostgreSQL only") {
        return;
    }
    let (app, _server, _secrets) = app_with_a_silent_collector().await;
    let started = run_now(&app).await;
    let mut conn = PgConnection::connect(&app.database_url()).await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !end_lock_session_of(&mut conn, "job:mail_collector").await {
        assert!(
            std::time::Instant::now() < deadline,
            "the run never took the job's lock"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_stopped_for_its_lock(&app.finished_run("silent", &started).await);
    conn.close().await.unwrap();
}

/// A "run now" that finds the collector run by another process (here the test holds the collector's lock, as
/// a process whose job lock was lost still does) is not dropped in silence: its run is recorded, with why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_now_of_a_collector_another_process_runs_is_recorded_with_why() {
    if !common::postgres_only("the job lock is a database session's on PostgreSQL only") {
        return;
    }
    let (app, _server, _secrets) = app_with_a_silent_collector().await;
    let list = app.get("/api/v1/collectors").await;
    let id = list[0]["id"].as_i64().unwrap();
    let other = PgStorage::connect(&app.database_url()).await.unwrap();
    let _held = other
        .try_lock_job(&format!("collector_{id}"))
        .await
        .unwrap()
        .expect("the collector's lock is free");
    let started = run_now(&app).await;
    let run = app.finished_run("silent", &started).await;
    assert_eq!(
        run["error"], "another leadgate process is running this collector",
        "{run}"
    );
}
