//! Accounts against the real server: a sign-in that is cheap to refuse, access that can be taken away, and
//! sessions that end (HTTPS-only cookies behind a trusted proxy, an idle timeout).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
mod ui_support;

use common::TestApp;
use common::TestDatabase;
use leadgate_domain::account::Role;
use leadgate_storage::SessionCheck;
use ui_support::*;

const ADMIN_PASSWORD: &str = "admin-password-for-tests";

async fn app_with_admin() -> TestApp {
    let app = TestApp::spawn().await;
    set_admin_password(&app, ADMIN_PASSWORD).await;
    app
}

/// The CSRF cookie and field of a fresh sign-in form, for posting it by hand.
async fn login_form(app: &TestApp) -> (String, String) {
    let r = client()
        .get(format!("{}/login", app.base))
        .send()
        .await
        .unwrap();
    let cookie = r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let csrf = csrf_in(&r.text().await.unwrap());
    (cookie, csrf)
}

async fn raw_sign_in(app: &TestApp, login: &str, password: &str) -> reqwest::Response {
    let (cookie, csrf) = login_form(app).await;
    client()
        .post(format!("{}/login", app.base))
        .header("cookie", cookie)
        .form(&[("login", login), ("password", password), ("csrf", &csrf)])
        .send()
        .await
        .unwrap()
}

async fn api_status(app: &TestApp, token: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("{}/api/v1/leads", app.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

// ---- a sign-in that is cheap to refuse ------------------------------------------------------------------------

#[tokio::test]
async fn a_sign_in_body_of_a_mebibyte_is_refused_before_it_is_read() {
    let app = app_with_admin().await;
    let (cookie, csrf) = login_form(&app).await;
    let huge = "a".repeat(1 << 20);
    let r = client()
        .post(format!("{}/login", app.base))
        .header("cookie", cookie)
        .form(&[("login", huge.as_str()), ("password", "x"), ("csrf", &csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
}

#[tokio::test]
async fn concurrent_guesses_for_one_login_are_counted_before_any_password_is_checked() {
    let app = app_with_admin().await;
    let mut guesses = Vec::new();
    for n in 0..20 {
        let (cookie, csrf) = login_form(&app).await;
        let c = client();
        let url = format!("{}/login", app.base);
        guesses.push(tokio::spawn(async move {
            c.post(url)
                .header("cookie", cookie)
                .form(&[
                    ("login", "admin"),
                    ("password", format!("guess {n}").as_str()),
                    ("csrf", &csrf),
                ])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for g in guesses {
        statuses.push(g.await.unwrap());
    }
    let checked = statuses.iter().filter(|s| **s == 401).count();
    assert!(
        checked <= leadgate::web::login::MAX_FAILURES as usize,
        "only the free attempts reach the password check: {statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 401 || *s == 429),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn one_address_guessing_many_logins_must_wait_and_is_told_how_long() {
    let app = app_with_admin().await;
    for n in 0..leadgate::web::login::MAX_FAILURES_PER_ADDRESS {
        let r = raw_sign_in(&app, &format!("user{n}"), "wrong password").await;
        assert_eq!(r.status(), 401, "attempt {n}");
    }
    let r = raw_sign_in(&app, "someone-else", "wrong password").await;
    assert_eq!(r.status(), 429);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=120).contains(&retry), "Retry-After {retry}");
}

#[tokio::test]
async fn the_attempt_table_holds_no_typed_login_and_a_non_login_is_not_even_recorded() {
    let app = app_with_admin().await;
    assert_eq!(
        raw_sign_in(&app, "Admin", "wrong password").await.status(),
        401
    );
    assert_eq!(
        raw_sign_in(&app, "<not a login name>", "wrong password")
            .await
            .status(),
        401
    );
    let database = TestDatabase::open(&app.database_url()).await.unwrap();
    let keys = database.login_attempts().await.unwrap();
    assert_eq!(
        keys,
        vec![
            ("login".to_owned(), leadgate::tokens::hash("admin")),
            ("address".to_owned(), "127.0.0.1".to_owned()),
        ]
    );
}

#[tokio::test]
async fn a_sign_in_is_refused_when_its_attempt_cannot_be_recorded() {
    let app = app_with_admin().await;
    let database = TestDatabase::open(&app.database_url()).await.unwrap();
    database.break_login_attempts().await.unwrap();
    database.close().await;
    let r = raw_sign_in(&app, "admin", ADMIN_PASSWORD).await;
    assert_eq!(r.status(), 503);
    assert!(
        r.headers()
            .get_all("set-cookie")
            .iter()
            .all(|c| !c.to_str().unwrap().starts_with("lg_session=")),
        "no session without a recorded attempt"
    );
}

// ---- access that can be taken away ---------------------------------------------------------------------------

/// A manager with a live session, an API token and a calendar feed URL.
struct Manager {
    id: i64,
    session: reqwest::Client,
    token: String,
    feed: String,
}

async fn manager_with_everything(app: &TestApp) -> Manager {
    let id = add_user(app, "ivanova", Role::Manager, "ivanova-password").await;
    let token = leadgate::tokens::generate();
    storage(app)
        .await
        .create_api_token(id, "laptop", &leadgate::tokens::hash(&token))
        .await
        .unwrap();
    let session = signed_in(app, "ivanova", "ivanova-password").await;
    let csrf = session_csrf(app, &session).await;
    let html = post_form(app, &session, "/account/feed-key", &[("csrf", &csrf)])
        .await
        .text()
        .await
        .unwrap();
    let feed = html
        .split("class=\"secret feed-url\" id=\"feed-1\">")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .replace("&#38;", "&");
    assert_eq!(api_status(app, &token).await, 200);
    assert_eq!(reqwest::get(&feed).await.unwrap().status(), 200);
    Manager {
        id,
        session,
        token,
        feed,
    }
}

#[tokio::test]
async fn a_disabled_user_loses_sign_in_sessions_api_tokens_and_feed_until_enabled() {
    let app = app_with_admin().await;
    let m = manager_with_everything(&app).await;
    let admin = signed_in(&app, "admin", ADMIN_PASSWORD).await;
    let csrf = session_csrf(&app, &admin).await;
    let r = post_form(
        &app,
        &admin,
        &format!("/admin/users/{}/disable", m.id),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(r.status(), 303);
    let (_, page) = get(&app, &admin, "/admin/users").await;
    assert!(page.contains("(отключён)"), "the list shows it");

    let (status, _) = get(&app, &m.session, "/inbox").await;
    assert_eq!(status, 303, "the session is over");
    assert_eq!(api_status(&app, &m.token).await, 401);
    assert_eq!(reqwest::get(&m.feed).await.unwrap().status(), 401);
    let r = raw_sign_in(&app, "ivanova", "ivanova-password").await;
    assert_eq!(r.status(), 403);

    let r = post_form(
        &app,
        &admin,
        &format!("/admin/users/{}/enable", m.id),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(r.status(), 303);
    assert_eq!(api_status(&app, &m.token).await, 200);
    assert_eq!(reqwest::get(&m.feed).await.unwrap().status(), 200);
    signed_in(&app, "ivanova", "ivanova-password").await;
}

#[tokio::test]
async fn an_administrator_cannot_disable_themself() {
    let app = app_with_admin().await;
    let admin = signed_in(&app, "admin", ADMIN_PASSWORD).await;
    let csrf = session_csrf(&app, &admin).await;
    let me = storage(&app)
        .await
        .user_credentials("admin")
        .await
        .unwrap()
        .unwrap()
        .id;
    let r = post_form(
        &app,
        &admin,
        &format!("/admin/users/{me}/disable"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(r.status(), 400);
    assert_eq!(get(&app, &admin, "/inbox").await.0, 200);
}

#[tokio::test]
async fn a_new_password_ends_sessions_and_revokes_api_tokens_and_the_feed_key() {
    let app = app_with_admin().await;
    let m = manager_with_everything(&app).await;
    let admin = signed_in(&app, "admin", ADMIN_PASSWORD).await;
    let csrf = session_csrf(&app, &admin).await;
    let r = post_form(
        &app,
        &admin,
        &format!("/admin/users/{}", m.id),
        &[("csrf", &csrf), ("password", "a-brand-new-password")],
    )
    .await;
    assert_eq!(r.status(), 303);
    assert_eq!(get(&app, &m.session, "/inbox").await.0, 303);
    assert_eq!(api_status(&app, &m.token).await, 401);
    assert_eq!(reqwest::get(&m.feed).await.unwrap().status(), 401);
    signed_in(&app, "ivanova", "a-brand-new-password").await;
    assert_eq!(
        api_status(&app, &app.admin_token).await,
        200,
        "the administrator's configured token is untouched"
    );
}

#[tokio::test]
async fn a_changed_admin_token_setting_revokes_the_previously_configured_token() {
    let app = TestApp::spawn().await;
    assert_eq!(api_status(&app, &app.admin_token).await, 200);
    let dir = app.stop().await;
    let rotated = dir.path().join("admin-rotated.token");
    std::fs::write(&rotated, "rotated-admin-token\n").unwrap();
    let app = TestApp::spawn_in(dir, |s| s.server.admin_token_file = Some(rotated)).await;
    assert_eq!(api_status(&app, "rotated-admin-token").await, 200);
    assert_eq!(
        api_status(&app, "admin-token-for-tests").await,
        401,
        "the old token stopped working"
    );
    let dir = app.stop().await;
    let app = TestApp::spawn_in(dir, |_| {}).await;
    assert_eq!(api_status(&app, "admin-token-for-tests").await, 200);
    assert_eq!(api_status(&app, "rotated-admin-token").await, 401);
}

/// `tokens revoke` of the configured administrator's token holds across a restart with the same
/// configuration: a leaked token stays dead until the file holds a new one.
#[tokio::test]
async fn a_revoked_configured_admin_token_stays_revoked_after_a_restart() {
    let app = TestApp::spawn().await;
    let cli = async |app: &TestApp, args: &[&str]| {
        let mut command = common::cli::leadgate_process();
        command.args(args).envs(app.test_dir().cli_env());
        let out = common::cli::output(command).await;
        assert_eq!(out.status.code(), Some(0), "{args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let list = cli(&app, &["tokens", "list"]).await;
    let id = list
        .lines()
        .find(|l| l.contains("configured") && !l.contains("revoked"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("the configured token is listed: {list}"))
        .to_owned();
    cli(&app, &["tokens", "revoke", &id]).await;
    assert_eq!(api_status(&app, &app.admin_token).await, 401);
    let dir = app.stop().await;
    let app = TestApp::spawn_in(dir, |_| {}).await;
    assert_eq!(
        api_status(&app, "admin-token-for-tests").await,
        401,
        "a restart does not bring it back"
    );
}

#[tokio::test]
async fn users_disable_enable_and_tokens_list_revoke_work_from_the_command_line() {
    let app = app_with_admin().await;
    let m = manager_with_everything(&app).await;
    let leadgate = async |args: &[&str]| {
        let mut command = common::cli::leadgate_process();
        command.args(args).envs(app.test_dir().cli_env());
        let out = common::cli::output(command).await;
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, out) = leadgate(&["users", "disable", "ivanova"]).await;
    assert_eq!((code, out.trim()), (Some(0), "user ivanova disabled"));
    assert_eq!(api_status(&app, &m.token).await, 401);
    let (code, _) = leadgate(&["users", "enable", "ivanova"]).await;
    assert_eq!(code, Some(0));
    assert_eq!(api_status(&app, &m.token).await, 200);
    assert_eq!(leadgate(&["users", "disable", "nobody"]).await.0, Some(1));

    let (code, list) = leadgate(&["tokens", "list"]).await;
    assert_eq!(code, Some(0));
    assert!(!list.contains(&m.token) && !list.contains("lg_"), "{list}");
    let line = list
        .lines()
        .find(|l| l.contains("ivanova") && l.contains("laptop"))
        .unwrap_or_else(|| panic!("the manager's token is listed: {list}"));
    let id = line.split_whitespace().next().unwrap();
    let (code, out) = leadgate(&["tokens", "revoke", id]).await;
    assert_eq!(
        (code, out.trim()),
        (Some(0), format!("token {id} revoked").as_str())
    );
    assert_eq!(api_status(&app, &m.token).await, 401);
    assert_eq!(leadgate(&["tokens", "revoke", id]).await.0, Some(1));
}

// ---- sessions ----------------------------------------------------------------------------------------------

#[tokio::test]
async fn behind_a_trusted_https_proxy_the_session_cookie_is_host_prefixed_and_hsts_is_sent() {
    let app = TestApp::spawn_with(|s| {
        s.server.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        s.server.hsts_max_age_secs = 31_536_000;
    })
    .await;
    set_admin_password(&app, ADMIN_PASSWORD).await;
    let c = client();
    let r = c
        .get(format!("{}/login", app.base))
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["strict-transport-security"], "max-age=31536000");
    let csrf_cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        csrf_cookie.starts_with("__Host-lg_login_csrf="),
        "{csrf_cookie}"
    );
    let csrf = csrf_in(&r.text().await.unwrap());
    let r = c
        .post(format!("{}/login", app.base))
        .header("x-forwarded-proto", "https")
        .header("cookie", csrf_cookie.split(';').next().unwrap())
        .form(&[
            ("login", "admin"),
            ("password", ADMIN_PASSWORD),
            ("csrf", &csrf),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let session = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("__Host-lg_session="))
        .expect("a __Host- session cookie");
    assert!(
        session.contains("; Secure") && session.contains("Path=/") && !session.contains("Domain"),
        "{session}"
    );
    let pair = session.split(';').next().unwrap().to_owned();
    let inbox = |proto: &'static str| {
        client()
            .get(format!("{}/inbox", app.base))
            .header("x-forwarded-proto", proto)
            .header("cookie", pair.clone())
            .send()
    };
    assert_eq!(inbox("https").await.unwrap().status(), 200);
    assert_eq!(
        inbox("http").await.unwrap().status(),
        303,
        "the secure cookie is not read from a plain-HTTP request"
    );
}

#[tokio::test]
async fn a_forwarded_proto_from_a_client_that_is_not_a_trusted_proxy_changes_nothing() {
    let app = app_with_admin().await;
    let r = client()
        .get(format!("{}/login", app.base))
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("strict-transport-security").is_none());
    let cookie = r.headers()["set-cookie"].to_str().unwrap();
    assert!(
        cookie.starts_with("lg_login_csrf=") && !cookie.contains("Secure"),
        "{cookie}"
    );
}

#[tokio::test]
async fn a_session_left_idle_longer_than_the_idle_timeout_is_over() {
    let app = TestApp::spawn_with(|s| s.server.session_idle_minutes = 30).await;
    set_admin_password(&app, ADMIN_PASSWORD).await;
    let c = client();
    let r = sign_in(&app, &c, "admin", ADMIN_PASSWORD).await;
    assert_eq!(r.status(), 303);
    let session_id = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .find_map(|c| {
            let cookie = c.to_str().unwrap().strip_prefix("lg_session=")?;
            Some(cookie.split(';').next().unwrap().to_owned())
        })
        .expect("a session cookie");
    let id_hash = leadgate::tokens::hash(&session_id);
    let s = storage(&app).await;
    let set_idle = |minutes: i64| {
        s.touch_session(
            &id_hash,
            chrono::Utc::now() - chrono::Duration::minutes(minutes),
        )
    };
    // Used 20 minutes ago: still live, and this request counts as use.
    set_idle(20).await.unwrap();
    assert_eq!(get(&app, &c, "/inbox").await.0, 200);
    let now = chrono::Utc::now();
    let live = SessionCheck {
        now,
        idle_since: now - chrono::Duration::days(1),
    };
    let seen = s
        .session(&id_hash, live)
        .await
        .unwrap()
        .unwrap()
        .last_seen_at;
    assert!(
        seen > now - chrono::Duration::minutes(5),
        "the use was recorded"
    );
    set_idle(31).await.unwrap();
    assert_eq!(get(&app, &c, "/inbox").await.0, 303, "idle too long");
}
