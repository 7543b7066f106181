//! `leadgate db backup FILE`: a consistent copy of the live SQLite database, taken while `serve` goes on
//! taking leads.
#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::Value;

mod common;
use common::{SEED_SAMPLE, TestApp};

/// Every item of a read-API list, following its cursors.
async fn all(app: &TestApp, path: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let sep = if path.contains('?') { '&' } else { '?' };
        let page = match &cursor {
            Some(c) => app.get(&format!("{path}{sep}limit=500&cursor={c}")).await,
            None => app.get(&format!("{path}{sep}limit=500")).await,
        };
        items.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return items,
        }
    }
}

/// Leads posted by four clients, backed up by the command while they post: the backup is a sound database,
/// holds every lead acknowledged before the backup started, exactly as the live database serves it, and
/// every lead in it comes with its ledger record.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_taken_during_intake_holds_every_lead_acknowledged_before_it() {
    let app = Arc::new(TestApp::spawn().await);
    let stop = Arc::new(AtomicBool::new(false));
    let acked: Arc<Mutex<Vec<i64>>> = Arc::default();
    let mut writers = Vec::new();
    for _ in 0..4 {
        let (app, stop, acked) = (app.clone(), stop.clone(), acked.clone());
        writers.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let response = app.intake_json(SEED_SAMPLE).await;
                assert_eq!(response.status().as_u16(), 201);
                let lead: Value = response.json().await.unwrap();
                acked.lock().unwrap().push(lead["id"].as_i64().unwrap());
            }
        }));
    }
    while acked.lock().unwrap().len() < 40 {
        tokio::task::yield_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }

    let before: Vec<i64> = acked.lock().unwrap().clone();
    let backup_dir = tempfile::tempdir().unwrap();
    let backup = backup_dir.path().join("leadgate-backup.db");
    let url = format!("sqlite://{}", app.db_path().display());
    let output = {
        let backup = backup.clone();
        tokio::task::spawn_blocking(move || {
            common::cli::leadgate_process()
                .env("LEADGATE__DATABASE__URL", url)
                .env("RUST_LOG", "warn")
                .args(["db", "backup"])
                .arg(&backup)
                .output()
                .unwrap()
        })
        .await
        .unwrap()
    };
    let during = acked.lock().unwrap().len();
    stop.store(true, Ordering::Relaxed);
    for writer in writers {
        writer.await.unwrap();
    }
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("leadgate-backup.db"),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    assert!(
        during > before.len(),
        "the intake went on acknowledging leads while the backup ran"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&backup).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the backup is readable by its owner only");
    }

    // A sound database: SQLite's own checks find nothing.
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}?mode=ro", backup.display()))
        .await
        .unwrap();
    let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(integrity, "ok");
    let broken_references: Vec<(String,)> =
        sqlx::query_as("SELECT \"table\" FROM pragma_foreign_key_check")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert!(broken_references.is_empty(), "{broken_references:?}");
    pool.close().await;

    // Served by leadgate: every lead acknowledged before the backup, as the live database has it, each
    // with its ledger record; nothing that was never acknowledged.
    let restored_dir = tempfile::tempdir().unwrap();
    std::fs::copy(&backup, restored_dir.path().join("leadgate.db")).unwrap();
    let restored = TestApp::spawn_in(restored_dir, |_| {}).await;
    for id in &before {
        let path = format!("/api/v1/leads/{id}");
        assert_eq!(restored.get(&path).await, app.get(&path).await, "lead {id}");
    }
    let all_acked: std::collections::HashSet<i64> = acked.lock().unwrap().iter().copied().collect();
    let leads = all(&restored, "/api/v1/leads").await;
    assert!(leads.len() >= before.len());
    for lead in &leads {
        assert!(all_acked.contains(&lead["id"].as_i64().unwrap()), "{lead}");
    }
    let imported = all(&restored, "/api/v1/messages?outcome=imported").await;
    let mut ledger_leads: Vec<i64> = imported
        .iter()
        .map(|m| m["lead_id"].as_i64().unwrap())
        .collect();
    let mut lead_ids: Vec<i64> = leads.iter().map(|l| l["id"].as_i64().unwrap()).collect();
    ledger_leads.sort_unstable();
    lead_ids.sort_unstable();
    assert_eq!(ledger_leads, lead_ids, "every lead has its ledger record");
    restored.stop().await;
}

/// An existing file is never overwritten; a missing directory is named; a database that does not exist is
/// not made to be backed up; a PostgreSQL database is backed up with pg_dump.
#[test]
fn a_backup_never_overwrites_a_file_and_points_postgresql_to_pg_dump() {
    let dir = tempfile::tempdir().unwrap();
    let existing = dir.path().join("precious.db");
    std::fs::write(&existing, "keep me").unwrap();
    let output = common::cli::leadgate()
        .current_dir(dir.path())
        .env("RUST_LOG", "warn")
        .args(["db", "backup", "out.db"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("does not exist"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!dir.path().join("data").exists() && !dir.path().join("out.db").exists());

    let migrated = common::cli::leadgate()
        .current_dir(dir.path())
        .env("RUST_LOG", "warn")
        .arg("migrate")
        .output()
        .unwrap();
    assert_eq!(migrated.status.code(), Some(0));
    let output = common::cli::leadgate()
        .current_dir(dir.path())
        .env("RUST_LOG", "warn")
        .args(["db", "backup"])
        .arg(&existing)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("exists"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(std::fs::read_to_string(&existing).unwrap(), "keep me");

    let output = common::cli::leadgate()
        .current_dir(dir.path())
        .env("RUST_LOG", "warn")
        .args(["db", "backup", "missing/out.db"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("the directory") && stderr.contains("missing does not exist"),
        "{stderr}"
    );
    assert!(!stderr.contains("database error"), "{stderr}");

    let output = common::cli::leadgate()
        .current_dir(dir.path())
        .env("RUST_LOG", "warn")
        .env(
            "LEADGATE__DATABASE__URL",
            "postgres://leadgate:hunter2@127.0.0.1:1/shop",
        )
        .args(["db", "backup", "out.db"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("pg_dump"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
    assert!(!dir.path().join("out.db").exists());
}
