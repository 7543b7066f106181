//! Reprocessing a rejected message is atomic: many calls at once, through the API and the UI's quarantine,
//! file one lead, and every call answers with that lead.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
mod ui_support;

use common::TestApp;
use serde_json::Value;
use ui_support::*;

const ADMIN_PASSWORD: &str = "admin-password-for-tests";

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/mail/{name}.eml"))
}

/// A site order imported by `leadgate import` while `limits.max_message_bytes` was too small: rejected with
/// its raw message kept. Returns the directory of the database and the ledger record's id.
async fn rejected_for_its_size() -> (common::TestDir, i64) {
    let dir = common::TestDir::new().await;
    let out = common::cli::leadgate()
        .arg("import")
        .arg(fixture("seed_sample"))
        .envs(dir.cli_env())
        .env("LEADGATE__LIMITS__MAX_MESSAGE_BYTES", "1000")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(stdout.contains("rejected"), "{stdout}");
    let id = stdout
        .split("ledger record ")
        .nth(1)
        .and_then(|rest| rest.trim_end().trim_end_matches(')').parse().ok())
        .unwrap_or_else(|| panic!("no ledger record in {stdout}"));
    (dir, id)
}

#[tokio::test]
async fn ten_reprocess_calls_at_once_from_the_api_and_the_ui_file_one_lead_and_all_answer_with_it()
{
    let (dir, message) = rejected_for_its_size().await;
    // The administrator raises the limit back to its default: the message is now a valid order.
    let app = TestApp::spawn_in(dir, |_| {}).await;
    set_admin_password(&app, ADMIN_PASSWORD).await;
    let ui = signed_in(&app, "admin", ADMIN_PASSWORD).await;
    let csrf = session_csrf(&app, &ui).await;

    let api_calls = (0..5).map(|_| {
        let app = &app;
        async move {
            let r = app
                .post(&format!("/api/v1/messages/{message}/reprocess"))
                .await;
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap())
        }
    });
    let ui_calls = (0..5).map(|_| {
        let (app, ui, csrf) = (&app, &ui, &csrf);
        async move {
            let r = ui
                .post(format!("{}/quarantine/{message}/reprocess", app.base))
                .form(&[("csrf", csrf.as_str())])
                .send()
                .await
                .unwrap();
            let location = r
                .headers()
                .get("location")
                .map(|l| l.to_str().unwrap().to_owned());
            (r.status().as_u16(), location)
        }
    });
    let (api, ui_answers) = tokio::join!(
        futures::future::join_all(api_calls),
        futures::future::join_all(ui_calls)
    );

    let leads = app.get("/api/v1/leads?limit=100").await;
    let items = leads["items"].as_array().unwrap();
    let ids: Vec<&Value> = items.iter().map(|l| &l["id"]).collect();
    assert_eq!(ids.len(), 1, "one message, one lead: {ids:?}");
    let lead_id = items[0]["id"].as_i64().unwrap();
    let ledger = storage(&app).await.message(message).await.unwrap().unwrap();
    assert_eq!(ledger.outcome, leadgate_domain::ledger::Outcome::Imported);
    assert_eq!(ledger.lead_id, Some(lead_id));

    // The API: the call that filed it says so, every other one says which lead it already is.
    let mut filed = 0;
    for (status, body) in &api {
        match status {
            200 => {
                assert_eq!(body["outcome"], "imported", "{body}");
                assert_eq!(body["lead_id"], lead_id, "{body}");
                filed += 1;
            }
            409 => {
                assert_eq!(body["error"]["code"], "already_imported", "{body}");
                assert_eq!(body["error"]["details"]["lead_id"], lead_id, "{body}");
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert!(filed <= 1, "{api:?}");
    // The UI: every click opens the one lead's page.
    for (status, location) in &ui_answers {
        assert_eq!(*status, 303);
        assert_eq!(
            location.as_deref(),
            Some(format!("/leads/{lead_id}").as_str())
        );
    }

    // Later calls answer the same.
    let again = app
        .post(&format!("/api/v1/messages/{message}/reprocess"))
        .await;
    assert_eq!(again.status(), 409);
    let body: Value = again.json().await.unwrap();
    assert_eq!(body["error"]["details"]["lead_id"], lead_id);
}
