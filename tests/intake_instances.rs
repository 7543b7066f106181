//! Several `serve` processes on one PostgreSQL database: instances started at once on an empty database make one
//! first start, and posts that race each other on two instances still make exactly what one instance would.
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
    if !common::postgres_only("several instances share a PostgreSQL database only") {
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

/// Two instances started at once on an empty database, as a deployment of several replicas starts (each on its
/// own machine, so each with its own data directory): only one makes the first start's administrator, and the
/// secrets it leaves are the stored ones; the other shows none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_started_at_once_on_an_empty_database_make_one_first_start_whose_secrets_work() {
    if !common::postgres_only("several instances share a PostgreSQL database only") {
        return;
    }
    let dir = TestDir::new_postgres().await;
    let names = ["a", "b"];
    let configs = names.map(|name| {
        let config = dir.path().join(format!("{name}.toml"));
        std::fs::write(
            &config,
            format!(
                "[server]\nlisten = \"127.0.0.1:0\"\n\n\
                 [database]\nurl = {url:?}\ndata_dir = {data:?}\nacquire_timeout_secs = 120\n\n\
                 [layout_files]\nenabled = false\n",
                url = dir.database_url(),
                data = dir.path().join(name).display().to_string(),
            ),
        )
        .unwrap();
        config
    });
    let instances: Vec<Instance> = std::thread::scope(|s| {
        let starting: Vec<_> = configs
            .iter()
            .map(|config| s.spawn(move || Instance::start(config)))
            .collect();
        starting.into_iter().map(|i| i.join().unwrap()).collect()
    });
    let secrets: Vec<String> = names
        .iter()
        .filter_map(|name| {
            std::fs::read_to_string(dir.path().join(name).join(leadgate::cli::FIRST_START_FILE))
                .ok()
        })
        .collect();
    assert_eq!(secrets.len(), 1, "one first start");
    let secret = |label: &str| {
        secrets[0]
            .lines()
            .find(|l| l.contains(label))
            .and_then(|l| l.split_whitespace().last())
            .unwrap_or_else(|| panic!("{label} is among the secrets"))
            .to_owned()
    };
    let (admin, source) = (secret("admin API token"), secret("\"website\" token"));
    let password = secret("password:");

    let client = reqwest::Client::new();
    for instance in &instances {
        let r = instance
            .post(
                &client,
                Some(&source),
                r#"{"Тема": "Первая заявка", "Телефон": "+79250000001"}"#,
            )
            .await;
        assert_eq!(r.status(), 201, "{}", instance.log());
        let r = client
            .get(format!("{}/api/v1/leads", instance.base))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let storage = common::backend::storage_at(&dir.database_url()).await;
    let stored = storage.user_credentials("admin").await.unwrap().unwrap();
    assert!(
        leadgate::password::verify(password, stored.password_hash)
            .await
            .unwrap(),
        "the shown password is the administrator's"
    );
}
