//! Settings in the UI, over HTTP against the real server: the administrator sets the default calendar and the
//! mail collector job's schedule and switch; what the configuration file sets is shown read-only; a bad cron
//! expression gets a sentence; and the running scheduler follows a schedule saved here, without a restart,
//! collecting from a real Dovecot.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
mod ui_support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::TestApp;
use common::TestDatabase;
use common::dovecot::{Dovecot, dovecot, unique_user};
use leadgate::config::{CollectorConfig, Settings};
use leadgate_domain::account::Role;
use leadgate_domain::collector::AfterImport;
use leadgate_domain::collector::Protocol;
use leadgate_domain::collector::SubjectFilter;
use leadgate_domain::collector::TlsMode;
use ui_support::*;

const ADMIN_PASSWORD: &str = "admin-password-for-tests";

/// The `<select>` or `<input>` of the settings page with this id, up to its end.
fn field<'a>(page: &'a str, id: &str) -> &'a str {
    let at = page
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in {page}"));
    let rest = &page[at..];
    &rest[..rest.find('>').unwrap()]
}

/// The text of the element with this id.
fn text_of<'a>(page: &'a str, id: &str) -> &'a str {
    let at = page
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in {page}"));
    let rest = &page[at..];
    let start = rest.find('>').unwrap() + 1;
    let end = rest[start..].find('<').unwrap();
    &rest[start..start + end]
}

/// The option of the default-calendar select that is chosen.
fn chosen_calendar(page: &str) -> i64 {
    let at = page.find("id=\"default-calendar\"").unwrap();
    let select = &page[at..at + page[at..].find("</select>").unwrap()];
    let option = select.find(" selected>").expect("a chosen calendar");
    let value = &select[..option];
    let value = &value[value.rfind("value=\"").unwrap() + 7..];
    value.trim_end_matches('"').parse().unwrap()
}

#[tokio::test]
async fn an_administrator_chooses_the_default_calendar_and_it_stays_after_a_restart() {
    let app = TestApp::spawn().await;
    set_admin_password(&app, ADMIN_PASSWORD).await;
    let calendar = storage(&app)
        .await
        .create_calendar("Заявки партнёров <b>", None, "#16a34a")
        .await
        .unwrap();
    let admin = signed_in(&app, "admin", ADMIN_PASSWORD).await;
    let (status, page) = get(&app, &admin, "/admin/settings").await;
    assert_eq!(status, 200);
    assert_eq!(text_of(&page, "default-calendar-origin"), "по умолчанию");
    assert_ne!(chosen_calendar(&page), calendar);
    assert!(
        page.contains("Заявки партнёров &#60;b&#62;"),
        "names are escaped"
    );
    let csrf = csrf_in(&page);

    let r = post_form(
        &app,
        &admin,
        "/admin/settings",
        &[
            ("csrf", &csrf),
            ("default_calendar", &calendar.to_string()),
            ("cron", "0 */5 * * * *"),
            ("enabled", "on"),
        ],
    )
    .await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/admin/settings?saved=1");
    let (_, page) = get(&app, &admin, "/admin/settings?saved=1").await;
    assert!(page.contains("Настройки сохранены"));
    assert_eq!(chosen_calendar(&page), calendar);
    assert_eq!(text_of(&page, "default-calendar-origin"), "задано здесь");
    // A new collector goes to it unless told otherwise.
    let (_, form) = get(&app, &admin, "/admin/collectors/new").await;
    assert!(
        form.contains(&format!("<option value=\"{calendar}\" selected>")),
        "{form}"
    );

    // It is stored: a restart keeps it.
    let dir = app.stop().await;
    let app = TestApp::spawn_in(dir, |_| {}).await;
    let admin = signed_in(&app, "admin", ADMIN_PASSWORD).await;
    let (_, page) = get(&app, &admin, "/admin/settings").await;
    assert_eq!(chosen_calendar(&page), calendar);
    app.stop().await;
}

#[tokio::test]
async fn values_set_in_the_configuration_file_are_shown_as_the_files_and_cannot_be_changed() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("leadgate.toml");
    std::fs::write(
        &file,
        "default_calendar = \"Календарь из файла\"\n\n[schedule.mail_collector]\ncron = \"0 0 * * * *\"\n",
    )
    .unwrap();
    let app = TestApp::spawn_with(move |s| {
        let loaded = Settings::load(Some(&file)).unwrap();
        s.default_calendar = loaded.default_calendar;
        s.schedule = loaded.schedule;
        s.from_file = loaded.from_file;
    })
    .await;
    set_admin_password(&app, ADMIN_PASSWORD).await;
    let other = storage(&app)
        .await
        .create_calendar("Другой", None, "#16a34a")
        .await
        .unwrap();
    let admin = signed_in(&app, "admin", ADMIN_PASSWORD).await;
    let (_, page) = get(&app, &admin, "/admin/settings").await;
    for id in ["default-calendar-origin", "cron-origin"] {
        assert_eq!(text_of(&page, id), "задано в файле настроек");
    }
    assert_eq!(text_of(&page, "enabled-origin"), "по умолчанию");
    assert!(field(&page, "default-calendar").contains("disabled"));
    assert!(field(&page, "cron").contains("disabled"));
    assert!(field(&page, "cron").contains("value=\"0 0 * * * *\""));
    assert!(!field(&page, "enabled").contains("disabled"));
    let file_calendar = chosen_calendar(&page);

    // A crafted form cannot change them; what the file leaves out still can be changed.
    let r = post_form(
        &app,
        &admin,
        "/admin/settings",
        &[
            ("csrf", &csrf_in(&page)),
            ("default_calendar", &other.to_string()),
            ("cron", "* * * * * *"),
        ],
    )
    .await;
    assert_eq!(r.status(), 303);
    let (_, page) = get(&app, &admin, "/admin/settings").await;
    assert_eq!(chosen_calendar(&page), file_calendar);
    assert!(field(&page, "cron").contains("value=\"0 0 * * * *\""));
    assert!(!field(&page, "enabled").contains("checked"), "switched off");
    assert_eq!(text_of(&page, "enabled-origin"), "задано здесь");
    assert_eq!(
        text_of(&page, "next-run"),
        "не запланирован — задание выключено"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_bad_cron_expression_gets_a_clear_error_and_changes_nothing() {
    let app = TestApp::spawn().await;
    set_admin_password(&app, ADMIN_PASSWORD).await;
    let admin = signed_in(&app, "admin", ADMIN_PASSWORD).await;
    let (_, page) = get(&app, &admin, "/admin/settings").await;
    let csrf = csrf_in(&page);
    let before = field(&page, "cron").to_owned();
    for (cron, says) in [
        ("каждые <5> минут", "не распознано"),
        ("0 0 30 2 *", "никогда не наступает"),
    ] {
        let r = post_form(
            &app,
            &admin,
            "/admin/settings",
            &[("csrf", &csrf), ("cron", cron), ("enabled", "on")],
        )
        .await;
        assert_eq!(r.status(), 400, "{cron}");
        let html = r.text().await.unwrap();
        let error = text_of(&html, "settings-error");
        assert!(
            error.contains(says) || (cron.contains('<') && error.contains("не распознано")),
            "{cron}: {error}"
        );
        assert!(
            error.contains("0 */5 * * * *"),
            "the error shows an example: {error}"
        );
        if cron.contains('<') {
            assert!(html.contains("каждые &#60;5&#62; минут"), "escaped");
        }
    }
    let (_, page) = get(&app, &admin, "/admin/settings").await;
    assert_eq!(field(&page, "cron"), before, "nothing was saved");

    // Only an administrator, and only with the session's CSRF token.
    let r = post_form(&app, &admin, "/admin/settings", &[("cron", "* * * * * *")]).await;
    assert_eq!(r.status(), 403);
    add_user(&app, "manager1", Role::Manager, "manager-password").await;
    let manager = signed_in(&app, "manager1", "manager-password").await;
    let (status, _) = get(&app, &manager, "/admin/settings").await;
    assert_eq!(status, 403);
    let r = post_form(
        &app,
        &manager,
        "/admin/settings",
        &[
            ("csrf", &session_csrf(&app, &manager).await),
            ("cron", "* * * * * *"),
            ("enabled", "on"),
        ],
    )
    .await;
    assert_eq!(r.status(), 403);
    app.stop().await;
}

fn collector(dc: &Dovecot, user: &str, password: PathBuf) -> CollectorConfig {
    CollectorConfig {
        name: "site".to_owned(),
        protocol: Protocol::Imap,
        host: "localhost".to_owned(),
        port: dc.port("DOVECOT_IMAP_PORT"),
        tls: TlsMode::None,
        ca_file: None,
        insecure_skip_verify: false,
        username: user.to_owned(),
        password_env: None,
        password_file: Some(password),
        folder: "INBOX".to_owned(),
        keyword: "ORDER".to_owned(),
        subject_filter: SubjectFilter::Server,
        calendar: None,
        default_charset: "windows-1251".to_owned(),
        after_import: AfterImport::Keep,
        move_to: None,
        failed_folder: None,
        delete_after_days: None,
        auto_tech_cards: false,
        deleted: false,
        // This file is about the schedule: push would import the mail without it.
        push: false,
    }
}

fn order_mail(number: u32) -> Vec<u8> {
    format!(
        "From: site@shop.example\r\nTo: orders@shop.example\r\nSubject: ORDER: {number}\r\n\
         Message-ID: <order-{number}-{:08x}@shop.example>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         Заказ\r\n--b\r\nContent-Type: application/json; charset=utf-8\r\n\
         Content-Disposition: attachment; filename=\"order.json\"\r\n\r\n\
         {{\"Тема\": \"Заказ {number}\", \"Телефон\": \"+7 916 123-45-67\"}}\r\n--b--\r\n",
        rand::random::<u32>()
    )
    .into_bytes()
}

async fn subjects(app: &TestApp) -> Vec<String> {
    app.get("/api/v1/leads?limit=500").await["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["subject"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// How many runs the collectors have had, once none is going.
async fn finished_runs(app: &TestApp) -> i64 {
    let db = TestDatabase::open(&app.database_url()).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (all, going) = db.collector_runs().await.unwrap();
        if going == 0 {
            return all;
        }
        assert!(Instant::now() < deadline, "a run never finished");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_running_job_follows_a_schedule_saved_in_the_ui_and_stops_when_switched_off() {
    let dc = dovecot();
    let user = unique_user("settings");
    let secrets = tempfile::tempdir().unwrap();
    let password = secrets.path().join("password");
    std::fs::write(&password, format!("{}\n", dc.var("DOVECOT_PASSWORD"))).unwrap();
    let config = collector(&dc, &user, password);
    // Switched off by the code that starts it, not by a file: the UI may switch it on.
    let app = TestApp::spawn_with(move |s| {
        s.schedule.mail_collector.enabled = false;
        s.collectors = vec![config];
    })
    .await;
    set_admin_password(&app, ADMIN_PASSWORD).await;
    dc.deliver(&user, &order_mail(1));
    let admin = signed_in(&app, "admin", ADMIN_PASSWORD).await;
    let (_, page) = get(&app, &admin, "/admin/settings").await;
    assert_eq!(
        text_of(&page, "next-run"),
        "не запланирован — задание выключено"
    );
    assert_eq!(finished_runs(&app).await, 0, "nothing ran yet");
    let csrf = csrf_in(&page);

    // Every second, switched on: the job runs without a restart and the order arrives by itself.
    let r = post_form(
        &app,
        &admin,
        "/admin/settings",
        &[("csrf", &csrf), ("cron", "* * * * * *"), ("enabled", "on")],
    )
    .await;
    assert_eq!(r.status(), 303);
    let (_, page) = get(&app, &admin, "/admin/settings").await;
    let next = text_of(&page, "next-run");
    assert!(
        chrono::NaiveDateTime::parse_from_str(next, "%d.%m.%Y %H:%M:%S").is_ok(),
        "the next run is shown: {next}"
    );
    // Waiting here is for the schedule to fall due, not for readiness.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !subjects(&app).await.contains(&"Заказ 1".to_owned()) {
        assert!(
            Instant::now() < deadline,
            "the job never ran on the schedule saved in the UI"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Switched off: from the answer on, no run starts.
    let r = post_form(
        &app,
        &admin,
        "/admin/settings",
        &[("csrf", &csrf), ("cron", "* * * * * *")],
    )
    .await;
    assert_eq!(r.status(), 303);
    let (_, page) = get(&app, &admin, "/admin/settings").await;
    assert_eq!(
        text_of(&page, "next-run"),
        "не запланирован — задание выключено"
    );
    let runs = finished_runs(&app).await;
    assert!(runs >= 1);
    dc.deliver(&user, &order_mail(2));
    // Three seconds hold three due times of the old schedule: none of them may start a run.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        finished_runs(&app).await,
        runs,
        "a run started after switching off"
    );
    assert!(!subjects(&app).await.contains(&"Заказ 2".to_owned()));
    app.stop().await;
}
