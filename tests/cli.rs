//! The `leadgate` binary from the command line: exit codes and output.
#![allow(clippy::unwrap_used, missing_docs)]

use std::path::Path;
use std::process::Output;

use assert_cmd::Command;

mod common;

const SEED_SAMPLE: &str = include_str!("fixtures/seed_sample.json");

/// The binary in `dir`, from an environment without `LEADGATE_*` variables.
fn leadgate(dir: &Path) -> Command {
    let mut cmd = common::cli::leadgate();
    cmd.current_dir(dir).env("RUST_LOG", "warn");
    cmd
}

/// Asserts the exit status, showing what the command wrote to stderr when it differs.
fn assert_exit(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn write_cp1251(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, encoding_rs::WINDOWS_1251.encode(text).0).unwrap();
    path
}

#[test]
fn check_reports_the_parsed_order_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_cp1251(dir.path(), "order.json", SEED_SAMPLE);
    let output = leadgate(dir.path())
        .arg("check")
        .arg(&file)
        .output()
        .unwrap();
    assert_exit(&output, 0);
    let report: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(report["valid"], true);
    assert_eq!(report["kind"], "order");
    assert_eq!(
        report["lead"]["lines"][0]["nomenclature"],
        "Ролап 123 22 22"
    );
    assert_eq!(report["lead"]["contact"]["phone_e164"], "+79256424290");
    assert!(!dir.path().join("data").exists(), "check stores nothing");
}

#[test]
fn check_reports_a_rejection_with_its_position_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.json");
    std::fs::write(&file, "{\n\"Тема\": }").unwrap();
    let output = leadgate(dir.path())
        .arg("check")
        .arg(&file)
        .output()
        .unwrap();
    assert_exit(&output, 1);
    let report: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(report["valid"], false);
    assert_eq!(report["error"]["code"], "not_json");
    assert!(
        report["error"]["message"]
            .as_str()
            .unwrap()
            .contains("line 2"),
        "{report}"
    );
}

#[test]
fn check_shows_warnings_for_an_invalid_inn() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("lead.json");
    std::fs::write(&file, r#"{"ИНН": "1234567890", "Телефон": "+79161234567"}"#).unwrap();
    let output = leadgate(dir.path())
        .arg("check")
        .arg(&file)
        .output()
        .unwrap();
    assert_exit(&output, 0);
    let report: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(report["warnings"][0]["code"], "invalid_inn");
}

#[test]
fn import_files_leads_into_the_embedded_database_once() {
    let dir = tempfile::tempdir().unwrap();
    let good = write_cp1251(dir.path(), "order.json", SEED_SAMPLE);
    let output = leadgate(dir.path())
        .arg("import")
        .arg(&good)
        .output()
        .unwrap();
    assert_exit(&output, 0);
    assert!(
        stdout(&output).contains("imported as lead 1"),
        "{}",
        stdout(&output)
    );
    assert!(
        dir.path().join("data/leadgate.db").exists(),
        "the embedded default database is ./data/leadgate.db"
    );

    let again = leadgate(dir.path())
        .arg("import")
        .arg(&good)
        .output()
        .unwrap();
    assert!(
        stdout(&again).contains("already imported as lead 1"),
        "{}",
        stdout(&again)
    );

    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "[]").unwrap();
    let output = leadgate(dir.path())
        .arg("import")
        .arg(&bad)
        .output()
        .unwrap();
    assert_exit(&output, 1);
    assert!(stdout(&output).contains("rejected"), "{}", stdout(&output));
    // Again, with a file that cannot be read between good ones: the rejected file is not reported imported,
    // and every file is tried.
    let second = write_cp1251(
        dir.path(),
        "second.json",
        &SEED_SAMPLE.replace("Прилепский", "Прилепская"),
    );
    let output = leadgate(dir.path())
        .arg("import")
        .args([&bad, &dir.path().join("missing.json"), &good, &second])
        .output()
        .unwrap();
    assert_exit(&output, 1);
    let out = stdout(&output);
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        out.contains("bad.json: already in the ledger without a lead"),
        "{out}"
    );
    assert!(err.contains("missing.json"), "{err}");
    assert!(
        out.contains("order.json: already imported as lead 1"),
        "{out}"
    );
    assert!(out.contains("second.json: imported as lead 2"), "{out}");

    let list = leadgate(dir.path())
        .args(["leads", "list", "--json"])
        .output()
        .unwrap();
    let leads: serde_json::Value = serde_json::from_str(&stdout(&list)).unwrap();
    assert_eq!(leads.as_array().unwrap().len(), 2);
    assert_eq!(leads[0]["source"]["channel"], "file");
    let table = leadgate(dir.path())
        .args(["leads", "list"])
        .output()
        .unwrap();
    assert!(stdout(&table).contains("Прилепский"), "{}", stdout(&table));
    let show = leadgate(dir.path())
        .args(["leads", "show", "1"])
        .output()
        .unwrap();
    assert!(
        stdout(&show).contains("Ролап 123 22 22"),
        "{}",
        stdout(&show)
    );
    let missing = leadgate(dir.path())
        .args(["leads", "show", "99"])
        .output()
        .unwrap();
    assert_exit(&missing, 1);
    // A filter that cannot match is an error that says why, not an empty list.
    for (args, says) in [
        (&["leads", "list", "--limit", "0"][..], "1..=500"),
        (&["leads", "list", "--status", "lost"][..], "in_progress"),
        (
            &["leads", "list", "--calendar", "Нет такого"][..],
            "no calendar",
        ),
    ] {
        let output = leadgate(dir.path()).args(args).output().unwrap();
        assert_exit(&output, 2);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

/// A website's text with terminal control sequences (colours, a window title, a bell, a carriage return that
/// overwrites the line) is printed by the CLI with those characters escaped, never sent to the terminal.
#[test]
fn the_cli_prints_a_websites_control_characters_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hostile.json");
    std::fs::write(
        &file,
        r#"{"Тема": "esc \u001b[31mRED\u001b[0m \u001b]0;pwned\u0007 bell",
            "КонтактноеЛицо": "a\rOVERWRITE", "Телефон": "+79160707070"}"#,
    )
    .unwrap();
    assert_exit(
        &leadgate(dir.path())
            .arg("import")
            .arg(&file)
            .output()
            .unwrap(),
        0,
    );
    for args in [&["leads", "list"][..], &["leads", "show", "1"][..]] {
        let output = leadgate(dir.path()).args(args).output().unwrap();
        assert_exit(&output, 0);
        let out = stdout(&output);
        assert!(
            !output
                .stdout
                .iter()
                .any(|b| matches!(b, 0x1b | 0x07 | b'\r')),
            "{args:?}: {out:?}"
        );
        assert!(out.contains("esc \\u{1b}[31mRED"), "{args:?}: {out}");
    }
}

/// A database a newer leadgate wrote (it holds a migration this version does not know) is refused by every
/// command with a sentence that says so, not the driver's "previously applied but is missing".
#[tokio::test]
async fn a_database_written_by_a_newer_leadgate_is_refused_in_plain_words() {
    let dir = tempfile::tempdir().unwrap();
    assert_exit(&leadgate(dir.path()).arg("migrate").output().unwrap(), 0);
    let db = dir.path().join("data/leadgate.db");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES (9999, 'from the future', 1, x'00', 0)",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    for args in [&["migrate"][..], &["leads", "list"][..]] {
        let output = leadgate(dir.path()).args(args).output().unwrap();
        assert_exit(&output, 2);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("written by a newer leadgate") && stderr.contains("9999"),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn make_eml_writes_a_site_style_order_mail_that_leadgate_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("order.json");
    std::fs::write(&file, SEED_SAMPLE).unwrap();
    let output = leadgate(dir.path())
        .arg("make-eml")
        .arg(&file)
        .output()
        .unwrap();
    assert_exit(&output, 0);
    let eml = output.stdout;
    let headers = leadgate_mail::extract::headers(&eml);
    assert_eq!(
        headers.subject.as_deref(),
        Some("ORDER: 123"),
        "the number comes from Тема"
    );
    let found = leadgate_mail::extract::find_payload(&eml, encoding_rs::WINDOWS_1251).unwrap();
    assert!(found.is_json_object());
    assert_eq!(found.encoding, encoding_rs::WINDOWS_1251);
    assert_eq!(found.text, SEED_SAMPLE);

    let numbered = leadgate(dir.path())
        .arg("make-eml")
        .arg(&file)
        .args(["--number", "77"])
        .output()
        .unwrap();
    let headers = leadgate_mail::extract::headers(&numbered.stdout);
    assert_eq!(headers.subject.as_deref(), Some("ORDER: 77"));
}

#[test]
fn migrate_creates_the_database_and_a_config_file_is_honoured() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("leadgate.toml");
    std::fs::write(&config, "[database]\nurl = \"sqlite://custom/place.db\"\n").unwrap();
    let migrate = || {
        let mut cmd = leadgate(dir.path());
        cmd.arg("--config")
            .arg(&config)
            .arg("migrate")
            .env("RUST_LOG", "info");
        cmd
    };
    let output = migrate().output().unwrap();
    assert_exit(&output, 0);
    assert!(dir.path().join("custom/place.db").exists());
    // The log names the migrations it applies (an upgrade that rewrites every lead takes a while), and an
    // up-to-date database applies none.
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(log.contains("applying database migrations"), "{log}");
    assert!(log.contains("0024 lead search ignores separators"), "{log}");
    assert!(log.contains("database migrations applied"), "{log}");
    let again = migrate().output().unwrap();
    assert_exit(&again, 0);
    let log = String::from_utf8_lossy(&again.stderr);
    assert!(!log.contains("migrations appl"), "{log}");
    let overridden = leadgate(dir.path())
        .arg("--config")
        .arg(&config)
        .arg("migrate")
        .env("LEADGATE__DATABASE__URL", "sqlite://from-env.db")
        .output()
        .unwrap();
    assert_exit(&overridden, 0);
    assert!(
        dir.path().join("from-env.db").exists(),
        "environment variables override the file"
    );
}

#[test]
fn a_missing_secret_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("leadgate.toml");
    std::fs::write(
        &config,
        "[[http_sources]]\nname = \"site\"\ntoken_env = \"LEADGATE_TEST_UNSET_TOKEN\"\n",
    )
    .unwrap();
    let output = leadgate(dir.path())
        .arg("--config")
        .arg(&config)
        .arg("import")
        .arg("x.json")
        .env_remove("LEADGATE_TEST_UNSET_TOKEN")
        .output()
        .unwrap();
    assert_exit(&output, 2);
    assert!(String::from_utf8_lossy(&output.stderr).contains("LEADGATE_TEST_UNSET_TOKEN"));
}

#[test]
fn serve_writes_first_start_tokens_once_to_a_private_file_and_they_work() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    // A one-shot command on the fresh database (as cron might run first) makes no secrets nobody would see:
    // the first `serve` still makes and shows them.
    let file = write_cp1251(dir.path(), "order.json", SEED_SAMPLE);
    let output = leadgate(dir.path())
        .arg("import")
        .arg(&file)
        .output()
        .unwrap();
    assert_exit(&output, 0);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        !stdout.contains("token") && !stdout.contains("password"),
        "import shows no first-start secrets: {stdout}"
    );
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let spawn = || {
        common::cli::leadgate_process()
            .arg("serve")
            .current_dir(dir.path())
            .env("LEADGATE__SERVER__LISTEN", format!("127.0.0.1:{port}"))
            // Tests reach loopback only; the imported sample's layout file is on a public site.
            .env("LEADGATE__LAYOUT_FILES__ENABLED", "false")
            .env("RUST_LOG", "info")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut child = spawn();
    // Stdout is not a terminal here, so the secrets go to a file only this user may read; stdout names it.
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let path = line
        .split(" are in ")
        .nth(1)
        .and_then(|rest| rest.split(" (readable").next())
        .unwrap_or_else(|| panic!("stdout names the secrets file: {line}"));
    assert_eq!(
        Path::new(path),
        dir.path().join("data").join("first-start-secrets.txt")
    );
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(Path::new(path)), 0o600, "the secrets file is private");
        assert_eq!(mode(&dir.path().join("data")), 0o700, "the data directory");
        assert_eq!(
            mode(&dir.path().join("data/leadgate.db")),
            0o600,
            "the database"
        );
    }
    let lines: Vec<String> = std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert!(
        !line.contains("lg_"),
        "no token is printed to a stdout that is not a terminal: {line}"
    );
    let token = |label: &str| {
        lines
            .iter()
            .find(|l| l.contains(label))
            .and_then(|l| l.split_whitespace().last())
            .unwrap()
            .to_owned()
    };
    let (admin, source) = (token("admin API token"), token("\"website\" token"));
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let client = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        // The tokens are printed after the listener is bound, so the server answers now.
        let created = client
            .post(format!("{base}/api/v1/intake"))
            .bearer_auth(&source)
            .header("content-type", "application/json")
            .body(SEED_SAMPLE)
            .send()
            .await
            .unwrap();
        assert_eq!(created.status().as_u16(), 201);
        let leads = client
            .get(format!("{base}/api/v1/leads"))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        assert_eq!(leads.status().as_u16(), 200);
    });
    let pid = child.id();
    std::process::Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "SIGTERM shuts down gracefully");
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(
        !stderr.contains(&admin) && !stderr.contains(&source),
        "tokens never reach the log"
    );

    // The second start comes up on the same database: it answers, keeps the tokens and the lead of the first,
    // and prints no tokens. Its "listening" log line says the listener is bound.
    let mut child = spawn();
    let mut log = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while log.read_line(&mut line).unwrap() > 0 && !line.contains("leadgate listening") {
        line.clear();
    }
    assert!(
        line.contains("leadgate listening"),
        "the second start never listened: {:?}",
        child.try_wait()
    );
    rt.block_on(async {
        let client = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        for (path, body) in [("/healthz", "ok"), ("/readyz", "ready")] {
            let answer = client.get(format!("{base}{path}")).send().await.unwrap();
            assert_eq!(answer.status().as_u16(), 200, "{path}");
            assert_eq!(answer.text().await.unwrap(), body, "{path}");
        }
        let leads: serde_json::Value = client
            .get(format!("{base}/api/v1/leads"))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            leads["items"][0]["contact"]["person"], "Прилепский Алексей Анатольевич",
            "the first start's token and leads are kept: {leads}"
        );
    });
    std::process::Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(
        child.wait().unwrap().success(),
        "SIGTERM shuts down gracefully"
    );
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut rest).unwrap();
    assert!(!rest.contains("token"), "{rest}");
}

#[test]
fn import_and_check_read_saved_eml_files() {
    let dir = tempfile::tempdir().unwrap();
    let eml = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mail/seed_sample.eml");
    let check = leadgate(dir.path())
        .arg("check")
        .arg(&eml)
        .output()
        .unwrap();
    assert_eq!(check.status.code(), Some(0), "{}", stdout(&check));
    let report: serde_json::Value = serde_json::from_str(&stdout(&check)).unwrap();
    assert_eq!(report["mail"]["external_number"], "123");
    assert_eq!(report["lead"]["lines"][0]["resolution"], "360 dpi");

    let output = leadgate(dir.path())
        .arg("import")
        .arg(&eml)
        .output()
        .unwrap();
    assert_exit(&output, 0);
    assert!(
        stdout(&output).contains("imported as lead 1"),
        "{}",
        stdout(&output)
    );
    let again = leadgate(dir.path())
        .arg("import")
        .arg(&eml)
        .output()
        .unwrap();
    assert!(
        stdout(&again).contains("already imported"),
        "the Message-ID makes it one lead: {}",
        stdout(&again)
    );
    let show = leadgate(dir.path())
        .args(["leads", "show", "1", "--json"])
        .output()
        .unwrap();
    let lead: serde_json::Value = serde_json::from_str(&stdout(&show)).unwrap();
    assert_eq!(lead["source"]["external_number"], "123");
    assert_eq!(lead["contact"]["person"], "Прилепский Алексей Анатольевич");

    let broken = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mail/broken_json.eml");
    let output = leadgate(dir.path())
        .arg("import")
        .arg(&broken)
        .output()
        .unwrap();
    assert_exit(&output, 1);
    assert!(stdout(&output).contains("rejected"), "{}", stdout(&output));
}

/// A configuration whose collector has a misspelt key on line 9.
const MISSPELT: &str = "[server]\nlisten = \"127.0.0.1:0\"\n\n[[collectors]]\nname = \"site-orders\"\n\
protocol = \"imap\"\nhost = \"127.0.0.1\"\nport = 993\nafter_imprt = \"keep\"\nusername = \"orders\"\n";

#[test]
fn an_unknown_key_stops_every_command_with_the_key_and_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("leadgate.toml");
    std::fs::write(&config, MISSPELT).unwrap();
    for args in [
        &["serve"][..],
        &["collect"],
        &["migrate"],
        &["import", "x.json"],
        &["tokens", "list"],
        &["config", "check"],
    ] {
        let output = leadgate(dir.path())
            .arg("--config")
            .arg(&config)
            .args(args)
            .output()
            .unwrap();
        assert_exit(&output, 2);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("unknown field `after_imprt`") && stderr.contains("line 9"),
            "{args:?}: {stderr}"
        );
    }
    assert!(
        !dir.path().join("data").exists(),
        "no command opened the database"
    );
}

#[test]
fn an_override_in_the_old_form_is_refused_and_secret_variables_are_not_overrides() {
    let dir = tempfile::tempdir().unwrap();
    let output = leadgate(dir.path())
        .arg("migrate")
        .env("LEADGATE_DATABASE__URL", "sqlite://old-form.db")
        .output()
        .unwrap();
    assert_exit(&output, 2);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("LEADGATE_DATABASE__URL") && stderr.contains("LEADGATE__DATABASE__URL"),
        "{stderr}"
    );
    assert!(!dir.path().join("old-form.db").exists());

    // A secret's variable that looks like a key path is a secret, not an override.
    let output = leadgate(dir.path())
        .args(["config", "check"])
        .env("LEADGATE_SITE_ORDERS_PASSWORD", "hunter2")
        .env("LEADGATE_COLLECTOR__SHOP_PASSWORD", "hunter2")
        .output()
        .unwrap();
    assert_exit(&output, 0);
    assert!(!stdout(&output).contains("hunter2"));
}

#[test]
fn config_check_shows_each_value_with_its_origin_and_hides_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("leadgate.toml");
    std::fs::write(
        &config,
        "timezone = \"Asia/Yekaterinburg\"\n\n[database]\nurl = \"postgres://leadgate:hunter2@db/leadgate\"\n\n\
         [[http_sources]]\nname = \"site\"\ntoken_env = \"LEADGATE_SITE_TOKEN\"\n\
         cors_origins = [\"https://shop.example\"]\n",
    )
    .unwrap();
    let output = leadgate(dir.path())
        .arg("--config")
        .arg(&config)
        .args(["config", "check"])
        .env("LEADGATE__SERVER__LISTEN", "127.0.0.1:9999")
        .env("LEADGATE_SITE_TOKEN", "the-site-token-value")
        .output()
        .unwrap();
    assert_exit(&output, 0);
    let out = stdout(&output);
    for line in [
        "timezone = \"Asia/Yekaterinburg\"  # file, line 1",
        "database.url = \"postgres://leadgate:***@db/leadgate\"  # file, line 4",
        "server.listen = \"127.0.0.1:9999\"  # environment LEADGATE__SERVER__LISTEN",
        "server.request_timeout_secs = 30  # default",
        "http_sources[0].cors_origins = [\"https://shop.example\"]  # file, line 9",
        "http_sources[0].token (site) = \"<redacted>\"  # environment variable LEADGATE_SITE_TOKEN: ok",
    ] {
        assert!(
            out.lines().any(|l| l == line),
            "missing {line:?} in:\n{out}"
        );
    }
    assert!(
        !out.contains("hunter2") && !out.contains("the-site-token-value"),
        "{out}"
    );
    assert!(
        !dir.path().join("data").exists(),
        "config check opens no database"
    );
}

#[test]
fn config_check_exits_non_zero_on_a_missing_secret_or_a_bad_value() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("leadgate.toml");
    // leadgate with this test's configuration file.
    let with_config = |args: &[&str]| {
        let mut command = leadgate(dir.path());
        command.arg("--config").arg(&config).args(args);
        command
    };
    std::fs::write(
        &config,
        "[[http_sources]]\nname = \"site\"\ntoken_env = \"LEADGATE_TEST_UNSET_TOKEN\"\n\
         calendar = \"Нет такого\"\n",
    )
    .unwrap();
    let output = with_config(&["config", "check"]).output().unwrap();
    assert_exit(&output, 1);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("environment variable LEADGATE_TEST_UNSET_TOKEN")
            && stderr.contains("is not set"),
        "{stderr}"
    );
    assert!(stderr.contains("\"Нет такого\" is not defined"), "{stderr}");

    // Values that would make every collection fail, and a start fail.
    std::fs::write(
        &config,
        "[database]\nurl = \"mysql://shop\"\n\n[server]\nlisten = \"127.0.0.1:18080\"\nmetrics_listen = \"127.0.0.1:18080\"\n\n[limits]\nmax_message_bytes = 0\nmail_timeout_secs = 0\n\n[[collectors]]\nname = \"mail\"\n\
         protocol = \"imap\"\nhost = \"mail.example\"\nport = 993\nusername = \"orders\"\n\
         password_env = \"LEADGATE_TEST_MAIL_PASSWORD\"\nafter_import = \"move\"\nca_file = \"missing-ca.pem\"\n",
    )
    .unwrap();
    let output = with_config(&["config", "check"])
        .env("LEADGATE_TEST_MAIL_PASSWORD", "x")
        .output()
        .unwrap();
    assert_exit(&output, 1);
    let stderr = String::from_utf8_lossy(&output.stderr);
    for problem in [
        "limits.max_message_bytes: at least",
        "limits.mail_timeout_secs: at least 1",
        "collectors[0].move_to: required",
        "collectors[0].ca_file: missing-ca.pem is not a file",
        "server.metrics_listen: 127.0.0.1:18080 is server.listen's address",
        "unsupported database URL scheme in database.url",
    ] {
        assert!(stderr.contains(problem), "{problem}: {stderr}");
    }

    // Two sources given one token: a token names one source.
    std::fs::write(dir.path().join("token"), "one-token-for-both-sites").unwrap();
    std::fs::write(
        &config,
        "[[http_sources]]\nname = \"site\"\ntoken_file = \"token\"\n\n\
         [[http_sources]]\nname = \"shop\"\ntoken_file = \"token\"\n",
    )
    .unwrap();
    let shared = "http_sources[1]: source \"shop\" is given the token of source \"site\"";
    let output = with_config(&["config", "check"]).output().unwrap();
    assert_exit(&output, 1);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(shared), "{stderr}");
    let output = with_config(&["collect"]).output().unwrap();
    assert_exit(&output, 2);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(shared), "{stderr}");
    assert!(!stderr.contains("UNIQUE"), "{stderr}");

    std::fs::write(&config, "[server]\nlisten = \"not an address\"\n").unwrap();
    let output = with_config(&["config", "check"]).output().unwrap();
    assert_exit(&output, 2);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("line 2: server.listen: "), "{stderr}");

    // A wrong type in a list of tables names the entry and its key.
    std::fs::write(&config, "[[collectors]]\nname = \"mail\"\nport = \"993\"\n").unwrap();
    let output = with_config(&["config", "check"]).output().unwrap();
    assert_exit(&output, 2);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("line 3: collectors[0].port: "), "{stderr}");
}

/// A relative `database.url` is read from the working directory: a command run where the shop's database is
/// not says that it makes a new, empty one, naming the file; and a database that cannot be opened is named.
#[test]
fn a_command_that_makes_a_new_database_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = std::path::absolute(dir.path().join("data/leadgate.db")).unwrap();
    let run = || {
        leadgate(dir.path())
            .args(["leads", "list"])
            .env("RUST_LOG", "warn")
            .output()
            .unwrap()
    };
    let first = run();
    assert_exit(&first, 0);
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert!(
        stderr.contains("a new, empty one is made") && stderr.contains(&file.display().to_string()),
        "{stderr}"
    );
    let again = run();
    assert_exit(&again, 0);
    assert!(
        !String::from_utf8_lossy(&again.stderr).contains("new, empty"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );

    let blocked = dir.path().join("a-file");
    std::fs::write(&blocked, "not a directory").unwrap();
    let output = leadgate(dir.path())
        .args(["leads", "list"])
        .env(
            "LEADGATE__DATABASE__URL",
            format!("sqlite://{}/x.db", blocked.display()),
        )
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert_exit(&output, 2);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "opening the SQLite database {}/x.db",
            blocked.display()
        )),
        "{stderr}"
    );
}

/// Output into a pipe whose reader has gone (`leadgate leads list | head -1` after the first line) ends the
/// command with one line on stderr and exit code 2, never a panic.
#[test]
fn a_closed_stdout_ends_a_command_without_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_cp1251(dir.path(), "order.json", SEED_SAMPLE);
    assert_exit(
        &leadgate(dir.path())
            .arg("import")
            .arg(&file)
            .output()
            .unwrap(),
        0,
    );
    for args in [
        vec!["check", "order.json"],
        vec!["leads", "list"],
        vec!["leads", "show", "1"],
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let output = common::cli::leadgate_process()
            .current_dir(dir.path())
            .env("RUST_LOG", "warn")
            .args(&args)
            .stdout(writer)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(stderr.contains("Broken pipe"), "{args:?}: {stderr}");
    }
}

/// `check` and `import` stop reading a file at four times the message limit (64 MiB at least): an endless one
/// (`/dev/zero`) is refused, not read into memory until the machine runs out.
#[test]
fn an_endless_file_is_refused_without_being_read_whole() {
    let dir = tempfile::tempdir().unwrap();
    for command in ["check", "import"] {
        let output = leadgate(dir.path())
            .env("LEADGATE__LIMITS__MAX_MESSAGE_BYTES", "65536")
            .args([command, "/dev/zero"])
            .timeout(std::time::Duration::from_secs(60))
            .output()
            .unwrap();
        assert_exit(&output, 1);
        assert!(
            String::from_utf8_lossy(&output.stderr).contains("more than 67108864 bytes"),
            "{command}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
