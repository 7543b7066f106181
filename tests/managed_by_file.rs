//! One source of truth per record: calendars, HTTP sources and collectors declared in the configuration file
//! are the file's (marked and read-only in the UI, applied at every start, retired when removed from the
//! file); those made in the UI are the UI's, untouched by a restart, CORS origins included.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
mod ui_support;

use common::{SEED_SAMPLE, TestApp};
use leadgate::config::{CalendarConfig, CollectorConfig, HttpSourceConfig, Settings};
use leadgate_sqlite::testing::database_before_file_management;
use ui_support::*;

const ADMIN_PASSWORD: &str = "admin-password-for-tests";
const MARK: &str = "из файла настроек";

fn collector(name: &str, host: &str, calendar: Option<&str>) -> CollectorConfig {
    let calendar = calendar.map_or_else(String::new, |c| format!("calendar = {c:?}\n"));
    toml::from_str(&format!(
        "name = {name:?}\nprotocol = \"imap\"\nhost = {host:?}\nport = 993\nusername = \"orders\"\n\
         password_env = \"LEADGATE_TEST_UNUSED_PASSWORD\"\n{calendar}"
    ))
    .unwrap()
}

/// The file: the website source (from the test settings), a collector, a source and two calendars.
fn with_file_records(s: &mut Settings) {
    s.schedule.mail_collector.enabled = false;
    s.calendars = vec![
        CalendarConfig {
            name: "Пустой".into(),
            owner: None,
            ..CalendarConfig::default()
        },
        CalendarConfig {
            name: "С заявками".into(),
            owner: None,
            ..CalendarConfig::default()
        },
    ];
    s.collectors = vec![
        collector("file-box", "mail.example.ru", None),
        collector("old-box", "old.example.ru", None),
    ];
    let token = s.http_sources[0].token_file.clone().unwrap();
    s.http_sources.push(HttpSourceConfig {
        name: "promo".into(),
        calendar: Some("С заявками".into()),
        token_file: Some(token.with_file_name("promo.token")),
        ..HttpSourceConfig::default()
    });
}

async fn start(dir: impl Into<common::TestDir>, customise: impl FnOnce(&mut Settings)) -> TestApp {
    let dir = dir.into();
    let path = dir.path().join("promo.token");
    std::fs::write(path, "promo-token-for-tests").unwrap();
    let app = TestApp::spawn_in(dir, customise).await;
    set_admin_password(&app, ADMIN_PASSWORD).await;
    app
}

async fn intake(app: &TestApp, token: &str, origin: Option<&str>) -> u16 {
    let mut request = app
        .client
        .post(format!("{}/api/v1/intake", app.base))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(SEED_SAMPLE);
    if let Some(origin) = origin {
        request = request.header("origin", origin);
    }
    request.send().await.unwrap().status().as_u16()
}

/// The table row of a record on an admin page (`data-<kind>="<name>"`).
fn row<'a>(html: &'a str, kind: &str, name: &str) -> &'a str {
    let start = html
        .find(&format!("data-{kind}=\"{name}\""))
        .unwrap_or_else(|| panic!("no row for {name}: {html}"));
    let end = html[start..].find("</tr>").unwrap() + start;
    &html[start..end]
}

fn collector_form<'a>(csrf: &'a str, name: &'a str, keyword: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf", csrf),
        ("name", name),
        ("protocol", "imap"),
        ("host", "mail.example.ru"),
        ("port", "993"),
        ("tls", "implicit"),
        ("username", "orders@example.ru"),
        ("password_env", "LEADGATE_COLLECTOR_UI_BOX_PASSWORD"),
        ("folder", "INBOX"),
        ("keyword", keyword),
        ("calendar", "1"),
        ("default_charset", "windows-1251"),
        ("after_import", "keep"),
    ]
}

#[tokio::test]
async fn records_from_the_file_are_marked_and_read_only_in_the_ui() {
    let app = start(tempfile::tempdir().unwrap(), with_file_records).await;
    let c = signed_in(&app, "admin", ADMIN_PASSWORD).await;
    let csrf = session_csrf(&app, &c).await;
    let s = storage(&app).await;
    let file_box = s
        .collectors(true)
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.name == "file-box")
        .unwrap();

    // Collectors: marked, no deletion form, the page shows it without a form.
    let (_, list) = get(&app, &c, "/admin/collectors").await;
    let r = row(&list, "collector", "file-box");
    assert!(r.contains(MARK), "{r}");
    assert!(!r.contains("/delete"), "{r}");
    let path = format!("/admin/collectors/{}", file_box.id);
    let (status, page) = get(&app, &c, &path).await;
    assert_eq!(status, 200);
    assert!(page.contains("id=\"managed-by-file\""), "{page}");
    assert!(!page.contains(&format!("action=\"{path}\"")), "{page}");
    assert!(!page.contains("id=\"save-collector\""), "{page}");

    // Its POST handlers refuse, saying why, and change nothing.
    let r = post_form(&app, &c, &path, &collector_form(&csrf, "", "CHANGED")).await;
    assert_eq!(r.status(), 409);
    assert!(r.text().await.unwrap().contains("задан в файле настроек"));
    let r = post_form(&app, &c, &format!("{path}/delete"), &[("csrf", &csrf)]).await;
    assert_eq!(r.status(), 409);
    assert!(r.text().await.unwrap().contains("задан в файле настроек"));
    let after = s.collector(file_box.id).await.unwrap().unwrap();
    assert_eq!(after.keyword, "ORDER");
    assert!(!after.deleted);

    // HTTP sources: marked, no revoke or CORS form; both POSTs refuse and the token keeps working.
    let (_, sources) = get(&app, &c, "/admin/sources").await;
    let r = row(&sources, "source", "website");
    assert!(
        r.contains(MARK) && !r.contains("/revoke") && !r.contains("/cors"),
        "{r}"
    );
    assert!(r.contains("https://shop.example"), "{r}");
    let website = s
        .http_sources()
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.source.name == "website")
        .unwrap();
    for (action, form) in [
        ("revoke", vec![("csrf", csrf.as_str())]),
        (
            "cors",
            vec![
                ("csrf", csrf.as_str()),
                ("cors_origins", "https://evil.example"),
            ],
        ),
    ] {
        let r = post_form(
            &app,
            &c,
            &format!("/admin/sources/{}/{action}", website.source.id),
            &form,
        )
        .await;
        assert_eq!(r.status(), 409, "{action}");
        assert!(
            r.text().await.unwrap().contains("задан в файле настроек"),
            "{action}"
        );
    }
    assert_eq!(
        intake(&app, &app.source_token, Some("https://shop.example")).await,
        201
    );
    assert_eq!(
        intake(&app, &app.source_token, Some("https://evil.example")).await,
        403
    );

    // Calendars: the default calendar and the declared ones are marked.
    let (_, calendars) = get(&app, &c, "/admin/calendars").await;
    for name in ["Заявки с сайта", "Пустой", "С заявками"] {
        assert!(row(&calendars, "calendar", name).contains(MARK), "{name}");
    }
}

#[tokio::test]
async fn a_restart_applies_the_file_and_retires_what_it_no_longer_names() {
    let app = start(tempfile::tempdir().unwrap(), with_file_records).await;
    assert_eq!(intake(&app, "promo-token-for-tests", None).await, 201);
    let dir = app.stop().await;

    // The next file: file-box moved to another host; old-box, promo and both calendars removed.
    let app = start(dir, |s| {
        s.schedule.mail_collector.enabled = false;
        s.collectors = vec![collector("file-box", "mail2.example.ru", None)];
    })
    .await;
    let s = storage(&app).await;
    let collectors = s.collectors(true).await.unwrap();
    let by_name = |n: &str| collectors.iter().find(|c| c.name == n).unwrap();
    assert_eq!(
        by_name("file-box").host,
        "mail2.example.ru",
        "the file is applied"
    );
    assert!(!by_name("file-box").deleted);
    assert!(
        by_name("old-box").deleted,
        "a collector removed from the file is marked for deletion, its history kept"
    );
    assert_eq!(
        intake(&app, "promo-token-for-tests", None).await,
        401,
        "a source removed from the file has its token revoked"
    );
    assert!(
        s.http_sources()
            .await
            .unwrap()
            .iter()
            .any(|s| s.source.name == "promo" && !s.active),
        "and is kept with its requests"
    );
    let calendars = s.calendars().await.unwrap();
    assert!(
        !calendars.iter().any(|c| c.name == "Пустой"),
        "an unused calendar removed from the file is deleted"
    );
    let kept = calendars.iter().find(|c| c.name == "С заявками").unwrap();
    let managed = s.managed_by_file().await.unwrap();
    assert!(
        !managed.calendars.contains(&kept.id),
        "handed over to the UI"
    );
    let leads = app
        .get(&format!("/api/v1/leads?calendar={}", kept.id))
        .await;
    assert_eq!(leads["items"].as_array().unwrap().len(), 1, "{leads}");

    let c = signed_in(&app, "admin", ADMIN_PASSWORD).await;
    let (_, list) = get(&app, &c, "/admin/collectors").await;
    let r = row(&list, "collector", "old-box");
    assert!(r.contains(MARK) && r.contains("помечен на удаление"), "{r}");
}

/// A one-shot command run by hand or from cron with another configuration (here none) applies what it is given
/// and retires nothing: the running server's sites keep their tokens and its collectors stay.
#[tokio::test]
async fn a_one_shot_command_without_the_file_retires_nothing_of_the_running_server() {
    let app = start(tempfile::tempdir().unwrap(), with_file_records).await;
    assert_eq!(intake(&app, "promo-token-for-tests", None).await, 201);
    let elsewhere = tempfile::tempdir().unwrap();
    let payload = elsewhere.path().join("order.json");
    std::fs::write(&payload, SEED_SAMPLE).unwrap();
    for args in [
        vec!["import", payload.to_str().unwrap()],
        vec!["personal-data", "find", "--phone", "+79250000000"],
    ] {
        let mut command = common::cli::leadgate_process();
        command
            .current_dir(elsewhere.path())
            .args(&args)
            .envs(app.test_dir().cli_env());
        let out = common::cli::output(command).await;
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            intake(&app, "promo-token-for-tests", None).await,
            201,
            "{args:?}: the site's token still works"
        );
    }
    let collectors = storage(&app).await.collectors(true).await.unwrap();
    assert!(
        collectors
            .iter()
            .any(|c| c.name == "file-box" && !c.deleted),
        "the server's collector stays: {collectors:?}"
    );
}

/// A collector added to the file and applied by a one-shot `collect` before any restart is the file's from
/// that run on: the next run does not warn that a collector made in the web UI is now the file's. A collector
/// made in the UI that the one-shot's file names too stays the UI's: a restart of `serve`, whose file does not
/// name it, does not retire it.
#[tokio::test]
async fn a_collector_a_one_shot_command_applies_is_the_files() {
    let app = start(tempfile::tempdir().unwrap(), with_file_records).await;
    let c = signed_in(&app, "admin", ADMIN_PASSWORD).await;
    let csrf = session_csrf(&app, &c).await;
    let r = post_form(
        &app,
        &c,
        "/admin/collectors",
        &collector_form(&csrf, "ui-box", "ORDER"),
    )
    .await;
    assert_eq!(r.status(), 303);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("mail-password"), "secret").unwrap();
    let config = dir.path().join("leadgate.toml");
    // Nothing listens on port 1: each run fails at connecting, after the file is applied.
    std::fs::write(
        &config,
        format!(
            "{}\n[[collectors]]\nname = \"bulk\"\nprotocol = \"imap\"\nhost = \"127.0.0.1\"\nport = 1\n\
             tls = \"none\"\nusername = \"orders\"\npassword_file = \"mail-password\"\n\n\
             [[collectors]]\nname = \"ui-box\"\nprotocol = \"imap\"\nhost = \"127.0.0.1\"\nport = 1\n\
             tls = \"none\"\nusername = \"orders\"\npassword_file = \"mail-password\"\n",
            app.test_dir().database_toml()
        ),
    )
    .unwrap();
    for run in 0..2 {
        let mut command = common::cli::leadgate_process();
        command
            .current_dir(dir.path())
            .arg("--config")
            .arg(&config)
            .args(["collect", "--collector", "bulk"])
            .env("RUST_LOG", "warn")
            .envs(app.test_dir().cli_env());
        let out = common::cli::output(command).await;
        assert_eq!(out.status.code(), Some(1), "run {run}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !stderr.contains("configuration file collector=bulk"),
            "run {run}: {stderr}"
        );
    }
    let s = storage(&app).await;
    let collectors = s.collectors(true).await.unwrap();
    let id_of = |name: &str| collectors.iter().find(|c| c.name == name).unwrap().id;
    let managed = s.managed_by_file().await.unwrap().collectors;
    assert!(managed.contains(&id_of("bulk")));
    assert!(
        !managed.contains(&id_of("ui-box")),
        "the UI's collector stays the UI's"
    );

    let dir = app.stop().await;
    let app = start(dir, with_file_records).await;
    let after = storage(&app).await.collectors(true).await.unwrap();
    assert!(
        after.iter().any(|c| c.name == "ui-box" && !c.deleted),
        "a restart does not retire the UI's collector: {after:?}"
    );
}

#[tokio::test]
async fn records_made_in_the_ui_are_the_uis_and_survive_a_restart() {
    let app = start(tempfile::tempdir().unwrap(), with_file_records).await;
    let c = signed_in(&app, "admin", ADMIN_PASSWORD).await;
    let csrf = session_csrf(&app, &c).await;
    let r = post_form(
        &app,
        &c,
        "/admin/calendars",
        &[
            ("csrf", &csrf),
            ("name", "Из интерфейса"),
            ("colour", "#9333ea"),
        ],
    )
    .await;
    assert_eq!(r.status(), 303);
    let r = post_form(
        &app,
        &c,
        "/admin/sources",
        &[
            ("csrf", &csrf),
            ("name", "ui-site"),
            ("calendar", "1"),
            ("cors_origins", "https://ui.example"),
        ],
    )
    .await;
    assert_eq!(r.status(), 200);
    let r = post_form(
        &app,
        &c,
        "/admin/collectors",
        &collector_form(&csrf, "ui-box", "ORDER"),
    )
    .await;
    assert_eq!(r.status(), 303);
    let s = storage(&app).await;
    let ui_box = s
        .collectors(true)
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.name == "ui-box")
        .unwrap();
    let path = format!("/admin/collectors/{}", ui_box.id);
    let r = post_form(&app, &c, &path, &collector_form(&csrf, "", "ЗАКАЗ")).await;
    assert_eq!(r.status(), 303);
    let r = post_form(&app, &c, &format!("{path}/delete"), &[("csrf", &csrf)]).await;
    assert_eq!(r.status(), 303);
    let before = s.collector(ui_box.id).await.unwrap().unwrap();
    assert!(before.deleted && before.keyword == "ЗАКАЗ");
    let sources_before = s.http_sources().await.unwrap();
    let calendars_before = s.calendars().await.unwrap();
    drop(s);

    let app = start(app.stop().await, with_file_records).await;
    let s = storage(&app).await;
    let after = s.collector(ui_box.id).await.unwrap().unwrap();
    assert!(after.deleted, "the UI's deletion mark survives a restart");
    assert_eq!(after.keyword, "ЗАКАЗ", "the UI's edit survives a restart");
    assert_eq!(after.host, before.host);
    let sources_after = s.http_sources().await.unwrap();
    let ui_site = |list: &[leadgate_storage::HttpSourceView]| {
        let s = list.iter().find(|s| s.source.name == "ui-site").unwrap();
        (
            s.active,
            s.source.cors_origins.clone(),
            s.source.calendar_name.clone(),
        )
    };
    assert_eq!(ui_site(&sources_after), ui_site(&sources_before));
    assert_eq!(
        ui_site(&sources_after).1,
        vec!["https://ui.example".to_owned()]
    );
    let calendar = |list: &[leadgate_storage::CalendarView]| {
        let c = list.iter().find(|c| c.name == "Из интерфейса").unwrap();
        (c.id, c.color.clone(), c.owner.clone())
    };
    assert_eq!(
        calendar(&s.calendars().await.unwrap()),
        calendar(&calendars_before)
    );

    // Still the UI's: no mark, and the forms are there.
    let c = signed_in(&app, "admin", ADMIN_PASSWORD).await;
    let (_, list) = get(&app, &c, "/admin/collectors").await;
    let r = row(&list, "collector", "ui-box");
    assert!(!r.contains(MARK) && r.contains("/delete"), "{r}");
    let (_, sources) = get(&app, &c, "/admin/sources").await;
    let r = row(&sources, "source", "ui-site");
    assert!(
        !r.contains(MARK) && r.contains("/cors") && r.contains("/revoke"),
        "{r}"
    );
    let (_, calendars) = get(&app, &c, "/admin/calendars").await;
    assert!(!row(&calendars, "calendar", "Из интерфейса").contains(MARK));
}

async fn preflight(app: &TestApp, origin: &str) -> (u16, Option<String>) {
    let r = app
        .client
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/api/v1/intake", app.base),
        )
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type",
        )
        .send()
        .await
        .unwrap();
    let allowed = r
        .headers()
        .get("access-control-allow-origin")
        .map(|v| v.to_str().unwrap().to_owned());
    (r.status().as_u16(), allowed)
}

#[tokio::test]
async fn a_source_made_in_the_ui_takes_browser_posts_from_the_origins_set_there() {
    let app = start(tempfile::tempdir().unwrap(), |s| {
        s.schedule.mail_collector.enabled = false;
    })
    .await;
    let c = signed_in(&app, "admin", ADMIN_PASSWORD).await;
    let csrf = session_csrf(&app, &c).await;
    let r = post_form(
        &app,
        &c,
        "/admin/sources",
        &[
            ("csrf", &csrf),
            ("name", "promo-site"),
            ("calendar", "1"),
            ("cors_origins", "https://promo.example"),
        ],
    )
    .await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    let token = html
        .split("id=\"new-token\">")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .to_owned();

    let (status, allowed) = preflight(&app, "https://promo.example").await;
    assert_eq!(status, 200);
    assert_eq!(allowed.as_deref(), Some("https://promo.example"));
    assert_eq!(
        intake(&app, &token, Some("https://promo.example")).await,
        201
    );
    assert_eq!(preflight(&app, "https://other.example").await.1, None);
    assert_eq!(
        intake(&app, &token, Some("https://other.example")).await,
        403
    );

    // Changed in the UI, the new origins hold at once, for the preflight and the post.
    let id = storage(&app)
        .await
        .http_sources()
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.source.name == "promo-site")
        .unwrap()
        .source
        .id;
    let r = post_form(
        &app,
        &c,
        &format!("/admin/sources/{id}/cors"),
        &[("csrf", &csrf), ("cors_origins", "https://other.example")],
    )
    .await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        preflight(&app, "https://other.example").await.1.as_deref(),
        Some("https://other.example")
    );
    assert_eq!(
        intake(&app, &token, Some("https://other.example")).await,
        201
    );
    assert_eq!(
        intake(&app, &token, Some("https://promo.example")).await,
        403
    );

    // A malformed origin is refused with the reason, and nothing changes.
    let r = post_form(
        &app,
        &c,
        &format!("/admin/sources/{id}/cors"),
        &[("csrf", &csrf), ("cors_origins", "other.example/form")],
    )
    .await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("не адрес сайта"));
    let (_, sources) = get(&app, &c, "/admin/sources").await;
    assert!(row(&sources, "source", "promo-site").contains("https://other.example"));
}

#[tokio::test]
async fn upgrading_makes_the_files_records_its_own_and_retires_nothing() {
    // About upgrading a SQLite database made by an older leadgate (its migrations up to 0008): the
    // PostgreSQL schema never had that older form, so this runs on SQLite only.
    if common::on_postgres() {
        return;
    }
    // A database of the version before records became the file's: the file's collector and one made in the
    // UI look alike there.
    let dir = tempfile::tempdir().unwrap();
    database_before_file_management(
        &dir.path().join("leadgate.db"),
        "Заявки с сайта",
        &["file-box", "ui-box"],
    )
    .await
    .unwrap();
    let app = start(dir, |s| {
        s.schedule.mail_collector.enabled = false;
        s.collectors = vec![collector("file-box", "mail2.example.ru", None)];
    })
    .await;
    let s = storage(&app).await;
    let managed = s.managed_by_file().await.unwrap();
    let collectors = s.collectors(true).await.unwrap();
    let by_name = |n: &str| collectors.iter().find(|c| c.name == n).unwrap();
    assert!(managed.collectors.contains(&by_name("file-box").id));
    assert_eq!(by_name("file-box").host, "mail2.example.ru");
    assert!(!managed.collectors.contains(&by_name("ui-box").id));
    assert!(
        !by_name("ui-box").deleted,
        "a record the file never named is not retired"
    );
}
