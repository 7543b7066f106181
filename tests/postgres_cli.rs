//! leadgate on PostgreSQL from the command line (`database.url = "postgres://…"`): every command opens it,
//! the password may come from the URL, an environment variable or a file and is never printed, and a wrong
//! password or database is one clear error naming host, port and database. Against the test PostgreSQL
//! server (`scripts/postgres.sh`), on loopback only.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::process::Output;

use common::TestDir;

const SEED_SAMPLE: &str = include_str!("fixtures/seed_sample.json");

fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The URL's password, decoded, and the URL without it.
fn split_password(url: &str) -> (String, String) {
    let mut url = url::Url::parse(url).unwrap();
    let password = percent_encoding::percent_decode_str(url.password().unwrap())
        .decode_utf8()
        .unwrap()
        .into_owned();
    url.set_password(None).unwrap();
    (password, url.into())
}

fn leadgate(dir: &TestDir) -> assert_cmd::Command {
    let mut cmd = common::cli::leadgate();
    cmd.current_dir(dir.path()).env("RUST_LOG", "debug");
    cmd
}

#[tokio::test]
async fn every_command_works_with_the_password_in_a_file_and_never_prints_it() {
    let dir = TestDir::new_postgres().await;
    let (password, bare_url) = split_password(&dir.database_url());
    let password_file = dir.path().join("db.password");
    std::fs::write(&password_file, format!("{password}\n")).unwrap();
    let config = dir.path().join("leadgate.toml");
    std::fs::write(
        &config,
        format!(
            "[database]\nurl = {bare_url:?}\npassword_file = {:?}\ndata_dir = {:?}\n",
            password_file.display().to_string(),
            dir.path().join("files").display().to_string(),
        ),
    )
    .unwrap();
    let payload = dir.path().join("lead.json");
    std::fs::write(&payload, SEED_SAMPLE).unwrap();
    let run = |args: &[&str], stdin: Option<&str>| {
        let mut cmd = leadgate(&dir);
        cmd.arg("--config").arg(&config).args(args);
        if let Some(stdin) = stdin {
            cmd.write_stdin(stdin.to_owned());
        }
        let output = cmd.output().unwrap();
        let (out, err) = text(&output);
        assert!(output.status.success(), "leadgate {args:?} failed: {err}");
        assert!(
            !out.contains(&password) && !err.contains(&password),
            "leadgate {args:?} printed the database password"
        );
        out
    };
    assert!(run(&["migrate"], None).contains("migrations applied"));
    let check = run(&["config", "check"], None);
    assert!(
        check.contains(&format!(
            "database.password = \"<redacted>\"  # file {}: ok",
            password_file.display()
        )),
        "{check}"
    );
    assert!(
        run(
            &["users", "add", "manager1", "--role", "manager"],
            Some("manager-password\n")
        )
        .contains("user manager1 created (manager)")
    );
    // The first start's secrets and the generated key go to database.data_dir.
    assert!(
        dir.path()
            .join("files")
            .join(leadgate::cli::FIRST_START_FILE)
            .exists()
    );
    let imported = run(&["import", payload.to_str().unwrap()], None);
    assert!(imported.contains("imported"), "{imported}");
    let list = run(&["leads", "list", "--json"], None);
    let leads: serde_json::Value = serde_json::from_str(&list).unwrap();
    assert_eq!(leads.as_array().map(Vec::len), Some(1), "{list}");

    // The same database through the URL with its password, and through an environment variable.
    let again = leadgate(&dir)
        .args(["leads", "list", "--json"])
        .envs(dir.cli_env())
        .output()
        .unwrap();
    assert!(again.status.success(), "{}", text(&again).1);
    let from_env = leadgate(&dir)
        .args(["leads", "list", "--json"])
        .env("LEADGATE__DATABASE__URL", &bare_url)
        .env("LEADGATE__DATABASE__PASSWORD_ENV", "SHOP_DB_PASSWORD")
        .env("LEADGATE__DATABASE__DATA_DIR", dir.path())
        .env("SHOP_DB_PASSWORD", &password)
        .output()
        .unwrap();
    assert!(from_env.status.success(), "{}", text(&from_env).1);
    assert_eq!(text(&from_env).0, text(&again).0);
}

#[tokio::test]
async fn a_wrong_password_or_database_is_one_clear_error_naming_host_port_and_database() {
    let dir = TestDir::new_postgres().await;
    let (password, bare_url) = split_password(&dir.database_url());
    let url = url::Url::parse(&bare_url).unwrap();
    let host = url.host_str().unwrap().to_owned();
    let port = url.port().unwrap_or(5432).to_string();
    let database = url.path().trim_start_matches('/').to_owned();
    let wrong = "not-the-password-7f3a";

    let mut with_wrong = url.clone();
    with_wrong.set_password(Some(wrong)).unwrap();
    let mut no_such = url::Url::parse(&dir.database_url()).unwrap();
    no_such.set_path("/leadgate_no_such_database");
    for (what, url, secret) in [
        ("a wrong password", with_wrong.to_string(), wrong),
        ("a missing database", no_such.to_string(), password.as_str()),
    ] {
        let output = leadgate(&dir)
            .arg("migrate")
            .env("LEADGATE__DATABASE__URL", &url)
            .env("LEADGATE__DATABASE__DATA_DIR", dir.path())
            .output()
            .unwrap();
        let (out, err) = text(&output);
        assert!(!output.status.success(), "{what}: {out}");
        let expected_database = url::Url::parse(&url).unwrap().path()[1..].to_owned();
        assert!(
            err.contains(&host) && err.contains(&port) && err.contains(&expected_database),
            "{what}: the error names host {host}, port {port} and database {expected_database}: {err}"
        );
        assert!(
            !err.contains(secret) && !out.contains(secret),
            "{what}: the password is printed: {err}"
        );
        assert_eq!(
            err.lines().filter(|l| l.starts_with("leadgate: ")).count(),
            1,
            "{what}: one error: {err}"
        );
    }
    // The same wrong password from an environment variable.
    let output = leadgate(&dir)
        .arg("migrate")
        .env("LEADGATE__DATABASE__URL", &bare_url)
        .env("LEADGATE__DATABASE__PASSWORD_ENV", "SHOP_DB_PASSWORD")
        .env("LEADGATE__DATABASE__DATA_DIR", dir.path())
        .env("SHOP_DB_PASSWORD", wrong)
        .output()
        .unwrap();
    let (_, err) = text(&output);
    assert!(!output.status.success());
    assert!(err.contains(&database) && !err.contains(wrong), "{err}");
}

#[tokio::test]
async fn a_password_in_the_url_and_in_a_variable_is_refused_and_config_check_redacts_the_url() {
    let dir = TestDir::new_postgres().await;
    let (password, _) = split_password(&dir.database_url());
    let output = leadgate(&dir)
        .arg("migrate")
        .envs(dir.cli_env())
        .env("LEADGATE__DATABASE__PASSWORD_ENV", "SHOP_DB_PASSWORD")
        .env("SHOP_DB_PASSWORD", "another")
        .output()
        .unwrap();
    let (_, err) = text(&output);
    assert!(!output.status.success());
    assert!(err.contains("give it in one place"), "{err}");
    assert!(!err.contains(&password));

    let check = leadgate(&dir)
        .args(["config", "check"])
        .envs(dir.cli_env())
        .output()
        .unwrap();
    let (out, err) = text(&check);
    assert!(check.status.success(), "{err}");
    assert!(out.contains(":***@"), "{out}");
    assert!(!out.contains(&password) && !err.contains(&password));

    // What every command refuses, `config check` reports.
    let password_file = dir.path().join("db.password");
    std::fs::write(&password_file, "another\n").unwrap();
    let check = leadgate(&dir)
        .args(["config", "check"])
        .envs(dir.cli_env())
        .env("LEADGATE__DATABASE__PASSWORD_FILE", &password_file)
        .output()
        .unwrap();
    let (out, err) = text(&check);
    assert_eq!(check.status.code(), Some(1), "{out}{err}");
    assert!(
        format!("{out}{err}").contains("give it in one place"),
        "{out}{err}"
    );
    assert!(!out.contains(&password) && !err.contains(&password));
}

/// An upgrade's log says which migrations it applies and then how long they took (one that rewrites every lead
/// takes minutes at a million), and a database already up to date says nothing. Each line is checked: log lines
/// that followed a query on PostgreSQL were dropped by the log's filter before.
#[tokio::test]
async fn migrate_logs_the_migrations_it_applies() {
    let dir = TestDir::new_postgres().await;
    // The database as the version before the search's folding left it: that migration not yet run.
    let db = common::TestDatabase::open(&dir.database_url())
        .await
        .unwrap();
    db.unfold_search_text(0, "").await.unwrap();
    db.close().await;
    let migrate = || {
        let mut cmd = common::cli::leadgate();
        cmd.current_dir(dir.path())
            .env("RUST_LOG", "info")
            .envs(dir.cli_env())
            .arg("migrate");
        cmd.output().unwrap()
    };
    let first = migrate();
    let (_, log) = text(&first);
    assert!(first.status.success(), "{log}");
    assert!(log.contains("applying database migrations"), "{log}");
    assert!(log.contains("0016 lead search ignores separators"), "{log}");
    assert!(log.contains("0017 lead search keys"), "{log}");
    assert!(log.contains("database migrations applied"), "{log}");
    let again = migrate();
    let (_, log) = text(&again);
    assert!(again.status.success(), "{log}");
    assert!(!log.contains("migrations appl"), "{log}");
}

/// TLS to PostgreSQL, as libpq's URL options ask for it: `sslmode=require` encrypts, `verify-full` checks the
/// server's certificate against `sslrootcert` and the host's name, and a certificate that does not fit is one
/// clear error; `serve` stops on it rather than waiting for a database that will never answer.
#[tokio::test]
async fn tls_to_postgresql_is_verified_as_the_url_asks() {
    let dir = TestDir::new_postgres().await;
    let url = url::Url::parse(&dir.database_url()).unwrap();
    let (ssl, cert) = {
        use sqlx::Connection as _;
        let mut db = sqlx::PgConnection::connect(url.as_str()).await.unwrap();
        let settings: (String, String) =
            sqlx::query_as("SELECT current_setting('ssl'), current_setting('ssl_cert_file')")
                .fetch_one(&mut db)
                .await
                .unwrap();
        settings
    };
    assert_eq!(
        ssl, "on",
        "the test server serves TLS (Debian's clusters do, with their snakeoil certificate for localhost)"
    );
    let with = |host: &str, options: &str| {
        let mut url = url.clone();
        url.set_host(Some(host)).unwrap();
        url.set_query(Some(options));
        url.to_string()
    };
    let leads_list = |url: String| {
        let mut cmd = leadgate(&dir);
        cmd.env("LEADGATE__DATABASE__URL", url)
            .env("LEADGATE__DATABASE__DATA_DIR", dir.path().join("files"))
            .args(["leads", "list"]);
        cmd.output().unwrap()
    };
    for options in [
        "sslmode=require".to_owned(),
        format!("sslmode=verify-full&sslrootcert={cert}"),
    ] {
        let out = leads_list(with("localhost", &options));
        assert!(out.status.success(), "{options}: {:?}", text(&out));
    }

    // The certificate is for "localhost", not for 127.0.0.1.
    let wrong_name = with(
        "127.0.0.1",
        &format!("sslmode=verify-full&sslrootcert={cert}"),
    );
    let out = leads_list(wrong_name.clone());
    assert_eq!(out.status.code(), Some(2), "{:?}", text(&out));
    let (_, stderr) = text(&out);
    assert!(
        stderr.contains("127.0.0.1") && stderr.contains("certificate"),
        "{stderr}"
    );
    let mut serve = leadgate(&dir);
    serve
        .env("LEADGATE__DATABASE__URL", wrong_name)
        .env("LEADGATE__DATABASE__DATA_DIR", dir.path().join("files"))
        .env("LEADGATE__SERVER__LISTEN", "127.0.0.1:0")
        .arg("serve")
        .timeout(std::time::Duration::from_secs(60));
    let out = serve.output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "serve stops on a certificate that does not verify: {:?}",
        text(&out)
    );
}
