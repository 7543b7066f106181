//! HTTP intake through several `serve` processes on one PostgreSQL database: posts that race each other on two
//! instances still make exactly what one instance would.
//!
//! These run when the tests run against PostgreSQL (`LEADGATE_TEST_BACKEND=postgres`); with SQLite one process
//! holds the database (`http_api` races the posts there).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::TestDir;
use common::serve::{Instance, config};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_posts_with_one_new_inn_over_two_instances_make_fifty_leads_and_one_counterparty()
 {
    if !common::on_postgres() {
        eprintln!(
            "skipped: several instances share a PostgreSQL database only (LEADGATE_TEST_BACKEND=postgres)"
        );
        return;
    }
    let dir = TestDir::new_postgres().await;
    // The race is the point, not the speed: a pool opening its connections at once on a loaded machine (a
    // debug build's password hashing) may take longer than the default ten seconds.
    let config = config(&dir, "");
    let toml = std::fs::read_to_string(&config)
        .unwrap()
        .replace("[database]\n", "[database]\nacquire_timeout_secs = 120\n");
    std::fs::write(&config, toml).unwrap();
    let instances = [Instance::start(&config), Instance::start(&config)];
    let client = reqwest::Client::new();
    let posts = (0..50).map(|i| {
        let instance = &instances[i % 2];
        let body = format!(
            r#"{{"ИНН": "7709745454", "Телефон": "+7 925 000-00-{i:02}", "Тема": "Заказ {i}"}}"#
        );
        let client = client.clone();
        async move {
            let r = instance.post(&client, None, &body).await;
            (r.status().as_u16(), r.text().await.unwrap())
        }
    });
    let answers = futures::future::join_all(posts).await;
    assert!(
        answers.iter().all(|(s, _)| *s == 201),
        "{answers:?}\n{}\n{}",
        instances[0].log(),
        instances[1].log()
    );

    for instance in &instances {
        let leads = instance.get(&client, "/api/v1/leads?limit=500").await;
        assert_eq!(leads["items"].as_array().unwrap().len(), 50, "{leads}");
        let parties = instance
            .get(&client, "/api/v1/counterparties?inn=7709745454")
            .await;
        let parties = parties["items"].as_array().unwrap();
        assert_eq!(parties.len(), 1, "one counterparty: {parties:?}");
        assert_eq!(parties[0]["phones"].as_array().unwrap().len(), 50);
        let all = instance.get(&client, "/api/v1/counterparties").await;
        assert_eq!(all["items"].as_array().unwrap().len(), 1, "{all}");
        // Every lead is linked to it.
        for lead in leads["items"].as_array().unwrap() {
            assert_eq!(lead["counterparty"]["id"], parties[0]["id"], "{lead}");
        }
    }
}
