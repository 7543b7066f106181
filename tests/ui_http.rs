//! The web UI over plain HTTP (reqwest with a cookie jar) against the real server: sign-in, sessions, CSRF,
//! roles, escaping, the calendar feed, quarantine and administration.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
mod ui_support;

use common::{SEED_SAMPLE, TestApp};
use leadgate_domain::account::Role;
use serde_json::Value;
use ui_support::*;

const ADMIN_PASSWORD: &str = "admin-password-for-tests";

async fn app_with_admin() -> TestApp {
    let app = TestApp::spawn().await;
    set_admin_password(&app, ADMIN_PASSWORD).await;
    app
}

async fn post_lead(app: &TestApp, json: &str) -> i64 {
    let r = app.intake_json(json).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    r.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
}

#[tokio::test]
async fn signing_in_sets_an_http_only_lax_session_cookie_and_opens_the_inbox() {
    let app = app_with_admin().await;
    let c = client();
    let r = sign_in(&app, &c, "admin", ADMIN_PASSWORD).await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/inbox");
    let cookies: Vec<&str> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    let session = cookies
        .iter()
        .find(|c| c.starts_with("lg_session="))
        .expect("a session cookie");
    assert!(session.contains("HttpOnly"), "{session}");
    assert!(session.contains("SameSite=Lax"), "{session}");
    assert!(
        !session.contains("Secure"),
        "plain HTTP must not set Secure: {session}"
    );
    let (status, html) = get(&app, &c, "/inbox").await;
    assert_eq!(status, 200);
    assert!(html.contains("Входящие"));
}

#[tokio::test]
async fn behind_a_trusted_https_proxy_the_session_cookie_is_secure() {
    let app =
        TestApp::spawn_with(|s| s.server.trusted_proxies = vec!["127.0.0.1".parse().unwrap()])
            .await;
    set_admin_password(&app, ADMIN_PASSWORD).await;
    let c = client();
    let form = c
        .get(format!("{}/login", app.base))
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    let csrf_cookie = form.headers()["set-cookie"].to_str().unwrap().to_owned();
    let form = form.text().await.unwrap();
    let r = c
        .post(format!("{}/login", app.base))
        .header("x-forwarded-proto", "https")
        .header("cookie", csrf_cookie.split(';').next().unwrap())
        .form(&[
            ("login", "admin"),
            ("password", ADMIN_PASSWORD),
            ("csrf", &csrf_in(&form)),
        ])
        .send()
        .await
        .unwrap();
    let session = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("__Host-lg_session="))
        .unwrap();
    assert!(session.contains("; Secure"), "{session}");
}

#[tokio::test]
async fn a_page_without_a_session_sends_the_browser_to_the_sign_in_form() {
    let app = app_with_admin().await;
    let r = client()
        .get(format!("{}/leads/1", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/login?next=%2Fleads%2F1");
    let r = client()
        .post(format!("{}/leads/1/take", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn a_wrong_password_is_refused_and_after_five_failures_even_the_right_one_waits() {
    let app = app_with_admin().await;
    let c = client();
    for _ in 0..5 {
        let r = sign_in(&app, &c, "admin", "wrong password").await;
        assert_eq!(r.status(), 401);
        assert!(
            r.text()
                .await
                .unwrap()
                .contains("Неверный логин или пароль")
        );
    }
    let r = sign_in(&app, &c, "admin", ADMIN_PASSWORD).await;
    assert_eq!(r.status(), 429);
    assert!(r.text().await.unwrap().contains("Слишком много"));
    // Another login is not affected.
    add_user(&app, "manager1", Role::Manager, "manager-password").await;
    assert_eq!(
        sign_in(&app, &c, "manager1", "manager-password")
            .await
            .status(),
        303
    );
}

#[tokio::test]
async fn an_unknown_login_is_answered_like_a_wrong_password() {
    let app = app_with_admin().await;
    let r = sign_in(&app, &client(), "nobody", "whatever-password").await;
    assert_eq!(r.status(), 401);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("Неверный логин или пароль")
    );
}

#[tokio::test]
async fn the_sign_in_form_without_its_csrf_cookie_is_refused() {
    let app = app_with_admin().await;
    let form = client()
        .get(format!("{}/login", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // A fresh client has no lg_login_csrf cookie, as a cross-site form post would not.
    let r = client()
        .post(format!("{}/login", app.base))
        .form(&[
            ("login", "admin"),
            ("password", ADMIN_PASSWORD),
            ("csrf", &csrf_in(&form)),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(
        r.headers()
            .get_all("set-cookie")
            .iter()
            .all(|c| !c.to_str().unwrap().starts_with("lg_session=lg_"))
    );
}

#[tokio::test]
async fn a_form_post_without_the_sessions_csrf_token_is_refused_and_changes_nothing() {
    let app = app_with_admin().await;
    let id = post_lead(&app, SEED_SAMPLE).await;
    let c = signed_in(&app, "admin", ADMIN_PASSWORD).await;
    let path = format!("/leads/{id}/take");
    assert_eq!(post_form(&app, &c, &path, &[]).await.status(), 403);
    assert_eq!(
        post_form(&app, &c, &path, &[("csrf", "lg_forged")])
            .await
            .status(),
        403
    );
    let lead = app.get(&format!("/api/v1/leads/{id}")).await;
    assert_eq!(lead["status"], "new");
    assert_eq!(lead["assignee"], Value::Null);

    let csrf = session_csrf(&app, &c).await;
    let r = post_form(&app, &c, &path, &[("csrf", &csrf)]).await;
    assert_eq!(r.status(), 303);
    let lead = app.get(&format!("/api/v1/leads/{id}")).await;
    assert_eq!(lead["status"], "in_progress");
    assert_eq!(lead["assignee"], "admin");
}

#[tokio::test]
async fn one_sessions_csrf_token_does_not_work_for_another_session() {
    let app = app_with_admin().await;
    let id = post_lead(&app, SEED_SAMPLE).await;
    let a = signed_in(&app, "admin", ADMIN_PASSWORD).await;
    let b = signed_in(&app, "admin", ADMIN_PASSWORD).await;
    let token_of_a = session_csrf(&app, &a).await;
    let r = post_form(
        &app,
        &b,
        &format!("/leads/{id}/done"),
        &[("csrf", &token_of_a)],
    )
    .await;
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn signing_out_ends_the_session_on_the_server() {
    let app = app_with_admin().await;
    let c = signed_in(&app, "admin", ADMIN_PASSWORD).await;
    let csrf = session_csrf(&app, &c).await;
    let r = post_form(&app, &c, "/logout", &[("csrf", &csrf)]).await;
    assert_eq!(r.status(), 303);
    let (status, _) = get(&app, &c, "/inbox").await;
    assert_eq!(status, 303, "the cleared cookie must not sign in");
}

#[tokio::test]
async fn ui_responses_carry_the_security_headers() {
    let app = app_with_admin().await;
    let c = signed_in(&app, "admin", ADMIN_PASSWORD).await;
    for path in ["/login", "/inbox", "/static/app.js", "/leads/999"] {
        let r = c.get(format!("{}{path}", app.base)).send().await.unwrap();
        let h = r.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("default-src 'self'"), "{path}: {csp}");
        assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["referrer-policy"], "same-origin", "{path}");
    }
    let (status, html) = get(&app, &c, "/leads/999").await;
    assert_eq!(status, 404);
    assert!(html.contains("Не найдено"), "errors are HTML pages: {html}");
}

#[tokio::test]
async fn no_page_carries_inline_script_or_style() {
    let app = app_with_admin().await;
    let id = post_lead(&app, SEED_SAMPLE).await;
    let c = signed_in(&app, "admin", ADMIN_PASSWORD).await;
    for path in [
        "/inbox".to_owned(),
        format!("/leads/{id}"),
        "/calendar?view=month&date=2019-05-01".into(),
        "/admin/users".into(),
        "/account".into(),
    ] {
        let (status, html) = get(&app, &c, &path).await;
        assert_eq!(status, 200, "{path}");
        assert!(!html.contains("<script>"), "{path} has an inline script");
        assert!(!html.contains(" style="), "{path} has an inline style");
        assert!(!html.contains(" onclick="), "{path} has an inline handler");
    }
}

#[tokio::test]
async fn untrusted_text_of_a_lead_is_escaped_and_layout_links_are_safe() {
    let app = app_with_admin().await;
    let payload = serde_json::json!({
        "Тема": "<script>window.__pwned=1</script>",
        "КонтактноеЛицо": "<img src=x onerror=alert(1)>",
        "Телефон": "+7 925 642 42-90",
        "Описание": "\"><svg onload=alert(2)>",
        "ФайлыМакета": ["https://files.example/a b/макет.pdf", "javascript:alert(3)"]
    });
    let id = post_lead(&app, &payload.to_string()).await;
    let c = signed_in(&app, "admin", ADMIN_PASSWORD).await;
    let (status, html) = get(&app, &c, &format!("/leads/{id}")).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("&#60;script&#62;window.__pwned=1&#60;/script&#62;")
            || html.contains("&lt;script&gt;window.__pwned=1&lt;/script&gt;"),
        "{html}"
    );
    assert!(!html.contains("<script>window.__pwned"));
    assert!(!html.contains("<img src=x"));
    assert!(!html.contains("<svg"));
    assert!(
        !html.contains("href=\"javascript:"),
        "a javascript: URL became a link"
    );
    assert!(html.contains("target=\"_blank\" rel=\"noopener noreferrer\""));
    assert!(html.contains("href=\"tel:+79256424290\""));
    let (_, inbox) = get(&app, &c, "/inbox").await;
    assert!(!inbox.contains("<script>window.__pwned"));
}

#[tokio::test]
async fn a_manager_is_refused_administration_and_quarantine() {
    let app = app_with_admin().await;
    add_user(&app, "manager1", Role::Manager, "manager-password").await;
    let m = signed_in(&app, "manager1", "manager-password").await;
    for path in [
        "/admin/users",
        "/admin/calendars",
        "/admin/sources",
        "/quarantine",
        "/quarantine/1",
    ] {
        let (status, html) = get(&app, &m, path).await;
        assert_eq!(status, 403, "{path}");
        assert!(html.contains("Доступ запрещён"), "{path}");
    }
    let csrf = session_csrf(&app, &m).await;
    let r = post_form(
        &app,
        &m,
        "/admin/users",
        &[
            ("csrf", &csrf),
            ("login", "evil"),
            ("role", "admin"),
            ("password", "evil-password"),
        ],
    )
    .await;
    assert_eq!(r.status(), 403);
    let s = storage(&app).await;
    assert!(s.user_credentials("evil").await.unwrap().is_none());
    let (_, html) = get(&app, &m, "/inbox").await;
    assert!(!html.contains("/admin/users"), "managers see no admin menu");
}

#[tokio::test]
async fn a_manager_never_sees_another_managers_personal_calendar() {
    let app = app_with_admin().await;
    add_user(&app, "manager1", Role::Manager, "manager-password").await;
    let other = add_user(&app, "manager2", Role::Manager, "manager2-password").await;
    let s = storage(&app).await;
    let mine = s
        .create_calendar(
            "Мой календарь",
            Some(s.user_credentials("manager1").await.unwrap().unwrap().id),
            "#16a34a",
        )
        .await
        .unwrap();
    let theirs = s
        .create_calendar("Чужой календарь", Some(other), "#dc2626")
        .await
        .unwrap();
    let token = leadgate::tokens::generate();
    s.create_http_source("their-site", theirs, &leadgate::tokens::hash(&token))
        .await
        .unwrap();
    let r = app
        .client
        .post(format!("{}/api/v1/intake", app.base))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(r#"{"Тема": "Секретный заказ", "Телефон": "+7 916 123-45-67"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let secret_lead = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let common_lead = post_lead(&app, SEED_SAMPLE).await;

    let m = signed_in(&app, "manager1", "manager-password").await;
    let (_, inbox) = get(&app, &m, "/inbox").await;
    assert!(inbox.contains(&format!("/leads/{common_lead}\"")));
    assert!(!inbox.contains("Секретный заказ"));
    assert!(inbox.contains("Мой календарь") && !inbox.contains("Чужой календарь"));
    for path in [
        format!("/calendar?cal={theirs}"),
        format!("/inbox?cal={theirs}"),
        format!("/inbox/events?cal={theirs}"),
        format!("/calendar/events?cal={theirs}"),
    ] {
        let (status, _) = get(&app, &m, &path).await;
        assert_eq!(status, 403, "{path}");
    }
    // A hidden lead is answered as one that does not exist: the page does not tell which ids are taken.
    for path in [
        format!("/leads/{secret_lead}"),
        format!("/leads/{secret_lead}/original"),
        format!("/leads/{}", secret_lead + 1000),
    ] {
        let (status, html) = get(&app, &m, &path).await;
        assert_eq!(status, 404, "{path}");
        assert!(!html.contains("Секретный заказ"), "{path}");
    }
    let (status, _) = get(&app, &m, &format!("/calendar?cal={mine}")).await;
    assert_eq!(status, 200);
    let csrf = session_csrf(&app, &m).await;
    let r = post_form(
        &app,
        &m,
        &format!("/leads/{secret_lead}/take"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(r.status(), 404);

    // The owner and the administrator do see it.
    let owner = signed_in(&app, "manager2", "manager2-password").await;
    let (status, html) = get(&app, &owner, &format!("/leads/{secret_lead}")).await;
    assert_eq!(status, 200);
    assert!(html.contains("Секретный заказ"));
    let admin = signed_in(&app, "admin", ADMIN_PASSWORD).await;
    let (_, inbox) = get(&app, &admin, "/inbox").await;
    assert!(inbox.contains("Секретный заказ"));
}

/// The address of the "next page" link of an inbox page.
fn next_page_link(html: &str) -> String {
    html.split("id=\"next-page\"")
        .next()
        .unwrap()
        .rsplit("href=\"")
        .next()
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .replace("&#38;", "&")
}

#[tokio::test]
async fn the_inbox_shows_new_leads_first_and_pages_with_a_cursor() {
    let app = app_with_admin().await;
    let mut ids = Vec::new();
    for i in 0..60 {
        ids.push(
            post_lead(
                &app,
                &format!(
                    r#"{{"Тема": "Заявка {i}", "Телефон": "+7 916 123-45-{:02}"}}"#,
                    i % 100
                ),
            )
            .await,
        );
    }
    // The newest lead is done: it goes after every new one.
    let newest = *ids.last().unwrap();
    storage(&app)
        .await
        .update_lead(
            newest,
            &leadgate_storage::LeadPatch {
                status: Some(leadgate_domain::lead::LeadStatus::Done),
                assignee: None,
                by: None,
            },
        )
        .await
        .unwrap();
    let c = signed_in(&app, "admin", ADMIN_PASSWORD).await;
    let shown = |html: &str| -> Vec<i64> {
        html.split("data-lead-id=\"")
            .skip(1)
            .map(|s| s.split('"').next().unwrap().parse().unwrap())
            .collect()
    };
    let (_, first) = get(&app, &c, "/inbox").await;
    let page1 = shown(&first);
    assert_eq!(page1.len(), 50);
    assert_eq!(page1[0], ids[58], "newest new lead first");
    let next = next_page_link(&first);
    let (_, second) = get(&app, &c, &next).await;
    let page2 = shown(&second);
    assert_eq!(page2.len(), 10);
    assert_eq!(*page2.last().unwrap(), newest, "the done lead comes last");
    let mut all: Vec<i64> = page1.into_iter().chain(page2).collect();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), 60, "no lead twice, none missing");
    assert!(!second.contains("id=\"next-page\""));

    // A search pages the same way, new leads first.
    let (_, first) = get(&app, &c, "/inbox?q=%D0%B7%D0%B0%D1%8F%D0%B2%D0%BA%D0%B0").await;
    assert_eq!(shown(&first), all_desc_new_first(&ids, newest)[..50]);
    let next = next_page_link(&first);
    let (_, second) = get(&app, &c, &next).await;
    assert_eq!(shown(&second), all_desc_new_first(&ids, newest)[50..]);
}

fn all_desc_new_first(ids: &[i64], done: i64) -> Vec<i64> {
    let mut v: Vec<i64> = ids.iter().rev().copied().filter(|i| *i != done).collect();
    v.push(done);
    v
}

#[tokio::test]
async fn inbox_filters_and_search_find_a_lead_by_inn_phone_and_name() {
    let app = app_with_admin().await;
    let id = post_lead(&app, SEED_SAMPLE).await;
    post_lead(
        &app,
        r#"{"Тема": "Обратный звонок", "Телефон": "+7 916 000-00-00"}"#,
    )
    .await;
    let c = signed_in(&app, "admin", ADMIN_PASSWORD).await;
    let link = format!("/leads/{id}\"");
    for q in ["7709745454", "925642", "прилепский", "ADWCOM@gmail", "123"] {
        let (status, html) = get(&app, &c, &format!("/inbox?q={}", urlencode(q))).await;
        assert_eq!(status, 200);
        assert!(html.contains(&link), "search {q}");
        assert!(!html.contains("Обратный звонок"), "search {q}");
    }
    let (_, html) = get(&app, &c, "/inbox?kind=contact").await;
    assert!(!html.contains(&link) && html.contains("Обратный звонок"));
    let (_, html) = get(&app, &c, "/inbox?from=2019-05-29&to=2019-05-29").await;
    assert!(html.contains(&link) && !html.contains("Обратный звонок"));
    let (_, html) = get(&app, &c, "/inbox?status=done").await;
    assert!(!html.contains(&link));
    let (status, _) = get(&app, &c, "/inbox?status=bogus").await;
    assert_eq!(status, 400);
}

fn urlencode(s: &str) -> String {
    serde_urlencoded::to_string([("q", s)]).unwrap()[2..].to_owned()
}

#[tokio::test]
async fn a_lead_appears_in_the_week_and_month_views_on_its_date() {
    let app = app_with_admin().await;
    let id = post_lead(&app, SEED_SAMPLE).await;
    let c = signed_in(&app, "admin", ADMIN_PASSWORD).await;
    for path in [
        "/calendar?view=month&date=2019-05-10",
        "/calendar?view=week&date=2019-05-29",
    ] {
        let (status, html) = get(&app, &c, path).await;
        assert_eq!(status, 200, "{path}");
        assert!(
            html.contains(&format!(
                "href=\"/leads/{id}\" class=\"event cal-1 status-new is-new\""
            )),
            "{path}"
        );
        assert!(html.contains("15:15"), "{path}: the shop's time zone");
    }
    let (_, html) = get(&app, &c, "/calendar?view=month&date=2019-07-10").await;
    assert!(!html.contains(&format!("/leads/{id}\"")));
}

#[tokio::test]
async fn the_lead_page_forms_tech_cards_once_and_the_card_has_the_sample_figures() {
    let app = app_with_admin().await;
    let id = post_lead(&app, SEED_SAMPLE).await;
    let c = signed_in(&app, "admin", ADMIN_PASSWORD).await;
    let csrf = session_csrf(&app, &c).await;
    for _ in 0..2 {
        let r = post_form(
            &app,
            &c,
            &format!("/leads/{id}/tech-cards"),
            &[("csrf", &csrf)],
        )
        .await;
        assert_eq!(r.status(), 303);
    }
    let cards = storage(&app).await.tech_cards_of_lead(id).await.unwrap();
    assert_eq!(cards.len(), 1, "one card per non-service line, formed once");
    let (status, html) = get(&app, &c, &format!("/tech-cards/{}", cards[0].id)).await;
    assert_eq!(status, 200);
    for (field, value) in [
        ("area-per-piece", "4"),
        ("total-area", "8"),
        ("perimeter", "8"),
        ("quantity", "2"),
        ("machine", "1"),
        ("material-code", "00-00000021"),
    ] {
        assert!(
            html.contains(&format!("id=\"{field}\">{value}</td>")),
            "{field} should be {value}"
        );
    }
    assert!(html.contains("Люверсы") && html.contains("шаг 30см"));
    assert!(html.contains("1\u{a0}000,00"), "amount");
}

#[tokio::test]
async fn the_original_message_of_a_lead_downloads_as_an_attachment() {
    let app = app_with_admin().await;
    let id = post_lead(&app, SEED_SAMPLE).await;
    let c = signed_in(&app, "admin", ADMIN_PASSWORD).await;
    let r = c
        .get(format!("{}/leads/{id}/original", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/octet-stream");
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment;")
    );
    assert_eq!(r.bytes().await.unwrap().as_ref(), SEED_SAMPLE.as_bytes());
}

#[tokio::test]
async fn quarantine_shows_the_raw_message_as_escaped_text_and_discarding_keeps_it_in_the_ledger() {
    let app = app_with_admin().await;
    let id = reject_message(&app, HOSTILE_RAW.as_bytes(), "no JSON attachment").await;
    let c = signed_in(&app, "admin", ADMIN_PASSWORD).await;
    let (status, list) = get(&app, &c, "/quarantine").await;
    assert_eq!(status, 200);
    assert!(list.contains("no JSON attachment"));
    assert!(list.contains(&format!("/quarantine/{id}\"")));
    let (status, html) = get(&app, &c, &format!("/quarantine/{id}")).await;
    assert_eq!(status, 200);
    let pre = html.split("<pre class=\"raw\" id=\"raw\">").nth(1).unwrap();
    let pre = pre.split("</pre>").next().unwrap();
    assert!(!pre.contains('<'), "raw text must be escaped: {pre}");
    assert!(pre.contains("&#60;script&#62;") || pre.contains("&lt;script&gt;"));
    assert!(pre.contains("Заказ"));

    let csrf = session_csrf(&app, &c).await;
    let r = post_form(
        &app,
        &c,
        &format!("/quarantine/{id}/discard"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(r.status(), 303);
    let record = storage(&app).await.message(id).await.unwrap().unwrap();
    assert_eq!(record.outcome, leadgate_domain::ledger::Outcome::Discarded);
    assert_eq!(record.reason.as_deref(), Some("no JSON attachment"));
    let (_, list) = get(&app, &c, "/quarantine").await;
    assert!(!list.contains(&format!("/quarantine/{id}\"")));
}

#[tokio::test]
async fn the_calendar_feed_needs_the_users_key_and_is_valid_icalendar() {
    let app = app_with_admin().await;
    let id = post_lead(&app, SEED_SAMPLE).await;
    // A lead dated today, so it falls inside the feed's window.
    let today = chrono::Utc::now().format("%d.%m.%Y 10:00:00");
    let recent = post_lead(
        &app,
        &format!(r#"{{"Тема": "Звонок; срочно, сегодня", "Дата": "{today}", "Телефон": "+7 916 123-45-67"}}"#),
    )
    .await;
    let c = signed_in(&app, "admin", ADMIN_PASSWORD).await;
    let csrf = session_csrf(&app, &c).await;
    let r = post_form(&app, &c, "/account/feed-key", &[("csrf", &csrf)]).await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    let url = html
        .split("class=\"secret feed-url\" id=\"feed-1\">")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .replace("&#38;", "&");
    assert!(
        url.contains("/api/v1/calendars/1/events.ics?key=lg_"),
        "{url}"
    );
    let r = reqwest::get(&url).await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/calendar")
    );
    let ics = r.text().await.unwrap();
    assert!(ics.starts_with("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"));
    assert!(ics.ends_with("END:VCALENDAR\r\n"));
    assert!(
        !ics.replace("\r\n", "").contains('\n'),
        "every line ends in CRLF"
    );
    assert!(ics.contains(&format!("UID:lead-{recent}@leadgate\r\n")));
    assert!(ics.contains("SUMMARY:Контакт: Звонок\\; срочно\\, сегодня\r\n"));
    assert!(
        !ics.contains(&format!("UID:lead-{id}@leadgate")),
        "2019 is outside the window"
    );
    assert_eq!(
        ics.matches("BEGIN:VEVENT").count(),
        ics.matches("END:VEVENT").count()
    );

    let base = url.split("?key=").next().unwrap();
    assert_eq!(reqwest::get(base).await.unwrap().status(), 401);
    assert_eq!(
        reqwest::get(format!("{base}?key=lg_wrong"))
            .await
            .unwrap()
            .status(),
        401
    );
    // A new key revokes the old one.
    post_form(&app, &c, "/account/feed-key", &[("csrf", &csrf)]).await;
    assert_eq!(reqwest::get(&url).await.unwrap().status(), 401);
}

#[tokio::test]
async fn an_administrator_creates_a_manager_who_can_then_sign_in() {
    let app = app_with_admin().await;
    let c = signed_in(&app, "admin", ADMIN_PASSWORD).await;
    let csrf = session_csrf(&app, &c).await;
    let form = [
        ("csrf", csrf.as_str()),
        ("login", "ivanova"),
        ("display_name", "Иванова Мария"),
        ("role", "manager"),
        ("password", "ivanova-password"),
    ];
    let r = post_form(&app, &c, "/admin/users", &form).await;
    assert_eq!(r.status(), 200);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("Пользователь ivanova создан")
    );
    let r = post_form(&app, &c, "/admin/users", &form).await;
    assert_eq!(r.status(), 409);
    let m = signed_in(&app, "ivanova", "ivanova-password").await;
    let (_, html) = get(&app, &m, "/inbox").await;
    assert!(html.contains("Иванова Мария"));
    let short = [
        ("csrf", csrf.as_str()),
        ("login", "petrov"),
        ("role", "manager"),
        ("password", "short"),
    ];
    assert_eq!(
        post_form(&app, &c, "/admin/users", &short).await.status(),
        400
    );
}

#[tokio::test]
async fn a_new_http_source_token_is_shown_once_works_for_intake_and_can_be_revoked() {
    let app = app_with_admin().await;
    let c = signed_in(&app, "admin", ADMIN_PASSWORD).await;
    let csrf = session_csrf(&app, &c).await;
    let r = post_form(
        &app,
        &c,
        "/admin/sources",
        &[("csrf", &csrf), ("name", "promo-site"), ("calendar", "1")],
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
    let send = |token: String| {
        let app = &app;
        async move {
            app.client
                .post(format!("{}/api/v1/intake", app.base))
                .bearer_auth(token)
                .header("content-type", "application/json")
                .body(SEED_SAMPLE)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(send(token.clone()).await, 201);
    let (_, list) = get(&app, &c, "/admin/sources").await;
    assert!(!list.contains(&token), "the token is shown only once");
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
        &format!("/admin/sources/{id}/revoke"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(r.status(), 303);
    assert_eq!(send(token).await, 401);
}

#[tokio::test]
async fn an_administrator_creates_a_personal_calendar() {
    let app = app_with_admin().await;
    let manager = add_user(&app, "manager1", Role::Manager, "manager-password").await;
    let c = signed_in(&app, "admin", ADMIN_PASSWORD).await;
    let csrf = session_csrf(&app, &c).await;
    let owner = manager.to_string();
    let form = [
        ("csrf", csrf.as_str()),
        ("name", "Заказы магазина"),
        ("owner", owner.as_str()),
        ("colour", "#9333ea"),
    ];
    assert_eq!(
        post_form(&app, &c, "/admin/calendars", &form)
            .await
            .status(),
        303
    );
    assert_eq!(
        post_form(&app, &c, "/admin/calendars", &form)
            .await
            .status(),
        409
    );
    let cal = storage(&app)
        .await
        .calendars()
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.name == "Заказы магазина")
        .unwrap();
    assert_eq!(cal.owner.as_deref(), Some("manager1"));
    let (_, css) = get(&app, &c, "/static/calendars.css").await;
    assert!(css.contains(&format!(".cal-{} {{ --cal: #9333ea; }}", cal.id)));

    // A NUL character in a form's field means nothing (and PostgreSQL cannot store it): it is kept as U+FFFD,
    // as in a lead's fields.
    let form = [
        ("csrf", csrf.as_str()),
        ("name", "Заказы\u{0}опта"),
        ("owner", ""),
        ("colour", "#9333ea"),
    ];
    assert_eq!(
        post_form(&app, &c, "/admin/calendars", &form)
            .await
            .status(),
        303
    );
    let names: Vec<String> = storage(&app)
        .await
        .calendars()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert!(
        names.contains(&"Заказы\u{fffd}опта".to_owned()),
        "{names:?}"
    );
}

#[tokio::test]
async fn counterparties_are_found_by_inn_prefix_and_by_name_in_any_case() {
    let app = app_with_admin().await;
    post_lead(&app, SEED_SAMPLE).await;
    let c = signed_in(&app, "admin", ADMIN_PASSWORD).await;
    // An organisation is called by its INN until a manager names it.
    let (_, page) = get(&app, &c, "/counterparties/1").await;
    assert!(page.contains("ИНН 7709745454"));
    let csrf = csrf_in(&page);
    let r = post_form(
        &app,
        &c,
        "/counterparties/1/name",
        &[("csrf", &csrf), ("name", "Прилепский Алексей Анатольевич")],
    )
    .await;
    assert_eq!(r.status(), 303);
    for q in ["7709", "прилепский", "ПРИЛЕП", "алексей прил"] {
        let (status, html) = get(&app, &c, &format!("/counterparties?q={}", urlencode(q))).await;
        assert_eq!(status, 200);
        assert!(html.contains("Прилепский Алексей Анатольевич"), "query {q}");
    }
    let (_, html) = get(&app, &c, "/counterparties?q=1234").await;
    assert!(html.contains("Ничего не найдено"));
    let (_, html) = get(&app, &c, "/counterparties?q=%22%20OR%20*").await;
    assert!(
        html.contains("Ничего не найдено"),
        "FTS syntax from the user is quoted"
    );
    let (status, page) = get(&app, &c, "/counterparties/1").await;
    assert_eq!(status, 200);
    assert!(page.contains("href=\"tel:+79256424290\"") && page.contains("adwcom@gmail.com"));
    assert!(page.contains("/leads/1\""));
}

#[tokio::test]
async fn the_first_start_prints_a_web_password_for_admin_that_signs_in() {
    let dir = common::TestDir::new().await;
    let settings = common::settings_in(&dir);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = leadgate::startup::Application::build(settings, listener)
        .await
        .unwrap();
    let password = app
        .services()
        .first_start
        .admin_password
        .clone()
        .expect("a first-start password");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = rx.await;
    }));
    let c = client();
    let form = c
        .get(format!("{base}/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let r = c
        .post(format!("{base}/login"))
        .form(&[
            ("login", "admin"),
            ("password", password.as_str()),
            ("csrf", &csrf_in(&form)),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let _ = tx.send(());
    server.await.unwrap().unwrap();
}

/// A site may send a subject and a contact name of a hundred thousand characters: the inbox and the calendar
/// show their first 200, the lead's page all of it.
#[tokio::test]
async fn the_lists_show_the_start_of_a_very_long_text_and_the_lead_page_all_of_it() {
    let app = app_with_admin().await;
    let subject = format!("Баннер {}", "ж".repeat(100_000));
    let person = format!("Иван {}", "в".repeat(100_000));
    let id = post_lead(
        &app,
        &serde_json::json!({"Тема": subject, "КонтактноеЛицо": person, "Телефон": "+79160000001",
                            "Дата": "15.05.2019 10:00:00"})
        .to_string(),
    )
    .await;
    let c = signed_in(&app, "admin", ADMIN_PASSWORD).await;
    let start: String = subject.chars().take(199).collect();
    for path in ["/inbox", "/calendar?view=week&date=2019-05-15"] {
        let (status, page) = get(&app, &c, path).await;
        assert_eq!(status, 200, "{path}");
        assert!(page.contains(&format!("{start}…")), "{path}");
        assert!(
            !page.contains(&subject) && !page.contains(&person),
            "{path}"
        );
        assert!(page.len() < 50_000, "{path}: {} bytes", page.len());
    }
    let (status, page) = get(&app, &c, &format!("/leads/{id}")).await;
    assert_eq!(status, 200);
    assert!(page.contains(&subject) && page.contains(&person));
}

/// A manager's API token for their scripts is made from the command line, printed once, and reaches what the
/// manager sees: their leads, not another manager's. A disabled or unknown user gets none.
#[tokio::test]
async fn tokens_create_makes_a_managers_api_token_from_the_command_line() {
    let dir = common::TestDir::new().await;
    let cli = |args: &[&str]| {
        common::cli::leadgate()
            .args(args)
            .envs(dir.cli_env())
            .env("LEADGATE_NEW_PASSWORD", "manager-password")
            .output()
            .unwrap()
    };
    for login in ["manager1", "manager2"] {
        assert!(
            cli(&["users", "add", login, "--role", "manager"])
                .status
                .success()
        );
    }
    let out = cli(&["tokens", "create", "manager1", "--name", "scripts"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(
        !token.is_empty() && !token.contains(char::is_whitespace),
        "{token:?}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("shown only now"));
    let list = String::from_utf8(cli(&["tokens", "list"]).stdout).unwrap();
    assert!(
        list.lines()
            .any(|l| l.contains("manager1") && l.contains("scripts")),
        "{list}"
    );
    assert!(!list.contains(&token), "the token is not stored: {list}");
    assert!(cli(&["users", "disable", "manager2"]).status.success());
    for login in ["manager2", "nobody"] {
        let out = cli(&["tokens", "create", login]);
        assert_eq!(out.status.code(), Some(1), "{login}");
        assert!(out.stdout.is_empty(), "{login}");
    }

    let app = TestApp::spawn_in(dir, |_| {}).await;
    let s = storage(&app).await;
    let manager2 = s
        .users()
        .await
        .unwrap()
        .into_iter()
        .find(|u| u.login == "manager2")
        .unwrap()
        .id;
    let personal = s
        .create_calendar("Личный manager2", Some(manager2), "#dc2626")
        .await
        .unwrap();
    let common_lead = post_lead(&app, SEED_SAMPLE).await;
    let hidden = s
        .move_lead(post_lead(&app, SEED_SAMPLE).await, personal, None, None)
        .await
        .unwrap()
        .unwrap()
        .id;
    let r = app
        .client
        .get(format!("{}/api/v1/leads", app.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let ids: Vec<i64> = r.json::<serde_json::Value>().await.unwrap()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_i64().unwrap())
        .collect();
    assert_eq!(
        ids,
        vec![common_lead],
        "not {hidden}, in manager2's calendar"
    );
}

/// Asserts that `users add` created the manager `login` on the first start, which wrote the administrator's
/// secrets; returns what it printed.
fn created_on_first_start(
    out: &std::process::Output,
    dir: &common::TestDir,
    login: &str,
) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        stdout.contains(&format!("user {login} created (manager)")),
        "{stdout}"
    );
    let secrets =
        std::fs::read_to_string(dir.path().join(leadgate::cli::FIRST_START_FILE)).unwrap();
    assert!(
        secrets.contains("web UI login \"admin\""),
        "first start secrets: {secrets}"
    );
    stdout
}

/// A configuration that names a calendar's owner makes that owner's account before the first start's
/// administrator: the first start still makes the administrator, and adding the owner with a password is
/// its creation.
#[tokio::test]
async fn a_first_start_with_a_calendar_owner_still_makes_the_administrator() {
    let dir = common::TestDir::new().await;
    let config = dir.path().join("owners.toml");
    std::fs::write(
        &config,
        format!(
            "{}\n[[calendars]]\nname = \"Личный\"\nowner = \"manager3\"\n",
            dir.database_toml()
        ),
    )
    .unwrap();
    let out = common::cli::leadgate()
        .current_dir(dir.path())
        .arg("--config")
        .arg(&config)
        .args(["users", "add", "manager3", "--role", "manager"])
        .envs(dir.cli_env())
        .env("LEADGATE_NEW_PASSWORD", "manager3-password")
        .output()
        .unwrap();
    created_on_first_start(&out, &dir, "manager3");
}

#[tokio::test]
async fn users_add_creates_a_manager_from_the_command_line() {
    let dir = common::TestDir::new().await;
    let out = common::cli::leadgate()
        .args(["users", "add", "manager1", "--role", "manager"])
        .envs(dir.cli_env())
        .env("LEADGATE_NEW_PASSWORD", "manager-password")
        .output()
        .unwrap();
    let stdout = created_on_first_start(&out, &dir, "manager1");
    assert!(!stdout.contains("password:"), "{stdout}");
    let out = common::cli::leadgate()
        .args(["users", "add", "manager1", "--role", "admin"])
        .envs(dir.cli_env())
        .env_remove("LEADGATE_NEW_PASSWORD")
        .write_stdin("new-password-from-stdin\n")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("user manager1 updated (admin)"));
    let out = common::cli::leadgate()
        .args(["users", "add", "x"])
        .envs(dir.cli_env())
        .env("LEADGATE_NEW_PASSWORD", "short")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("the password must be at least 8 characters"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("short"),
        "the password is not echoed: {stderr}"
    );

    let app = TestApp::spawn_in(dir, |_| {}).await;
    let c = signed_in(&app, "manager1", "new-password-from-stdin").await;
    let (status, _) = get(&app, &c, "/admin/users").await;
    assert_eq!(status, 200, "now an administrator");
}

#[tokio::test]
async fn reprocessing_from_quarantine_files_a_lead_or_keeps_the_message_with_its_new_reason() {
    let app = app_with_admin().await;
    let fixed = reject_as(
        &app,
        SEED_SAMPLE.as_bytes(),
        "application/json",
        "limit exceeded",
    )
    .await;
    let broken = reject_message(&app, HOSTILE_RAW.as_bytes(), "no JSON attachment").await;
    let c = signed_in(&app, "admin", ADMIN_PASSWORD).await;
    let csrf = session_csrf(&app, &c).await;
    let (_, page) = get(&app, &c, &format!("/quarantine/{fixed}")).await;
    assert!(page.contains(&format!("action=\"/quarantine/{fixed}/reprocess\"")));

    let r = post_form(
        &app,
        &c,
        &format!("/quarantine/{fixed}/reprocess"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(r.status(), 303);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with("/leads/"), "{location}");
    let (status, lead) = get(&app, &c, &location).await;
    assert_eq!(status, 200);
    assert!(lead.contains("Прилепский Алексей Анатольевич"));
    let s = storage(&app).await;
    assert_eq!(
        s.message(fixed).await.unwrap().unwrap().outcome,
        leadgate_domain::ledger::Outcome::Imported
    );

    let r = post_form(
        &app,
        &c,
        &format!("/quarantine/{broken}/reprocess"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("Снова отклонено"));
    assert_eq!(
        s.message(broken).await.unwrap().unwrap().outcome,
        leadgate_domain::ledger::Outcome::Rejected
    );
    // Without the token nothing is reprocessed.
    let r = post_form(&app, &c, &format!("/quarantine/{broken}/reprocess"), &[]).await;
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn a_collector_form_refuses_any_password_variable_but_the_collectors_own() {
    let app = app_with_admin().await;
    let c = signed_in(&app, "admin", ADMIN_PASSWORD).await;
    let csrf = session_csrf(&app, &c).await;
    let mut form = vec![
        ("csrf", csrf.as_str()),
        ("name", "site-orders"),
        ("protocol", "imap"),
        ("host", "mail.example.ru"),
        ("port", "993"),
        ("tls", "implicit"),
        ("username", "orders@example.ru"),
        ("password_env", "LEADGATE_ADMIN_TOKEN"),
        ("folder", "INBOX"),
        ("keyword", "ORDER"),
        ("calendar", "1"),
        ("default_charset", "windows-1251"),
        ("after_import", "keep"),
    ];
    let r = post_form(&app, &c, "/admin/collectors", &form).await;
    assert_eq!(r.status(), 400);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("LEADGATE_COLLECTOR_SITE_ORDERS_PASSWORD")
    );
    assert!(
        storage(&app)
            .await
            .collectors(true)
            .await
            .unwrap()
            .is_empty()
    );

    form[7] = ("password_env", "LEADGATE_COLLECTOR_SITE_ORDERS_PASSWORD");
    assert_eq!(
        post_form(&app, &c, "/admin/collectors", &form)
            .await
            .status(),
        303
    );
    let stored = storage(&app).await.collectors(true).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(
        stored[0].password_env.as_deref(),
        Some("LEADGATE_COLLECTOR_SITE_ORDERS_PASSWORD")
    );
    let (status, list) = get(&app, &c, "/admin/collectors").await;
    assert_eq!(status, 200);
    assert!(list.contains("site-orders") && list.contains("не запускался"));

    // Marking for deletion keeps it listed, marked, and without "run now".
    let id = stored[0].id.to_string();
    let r = post_form(
        &app,
        &c,
        &format!("/admin/collectors/{id}/delete"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(r.status(), 303);
    assert!(
        storage(&app)
            .await
            .collector(stored[0].id)
            .await
            .unwrap()
            .unwrap()
            .deleted
    );
    let (_, list) = get(&app, &c, "/admin/collectors").await;
    assert!(list.contains("помечен на удаление"));
    assert!(!list.contains(&format!("/admin/collectors/{id}/run")));

    add_user(&app, "manager1", Role::Manager, "manager-password").await;
    let m = signed_in(&app, "manager1", "manager-password").await;
    assert_eq!(get(&app, &m, "/admin/collectors").await.0, 403);
    let mcsrf = session_csrf(&app, &m).await;
    let r = post_form(
        &app,
        &m,
        &format!("/admin/collectors/{id}/run"),
        &[("csrf", &mcsrf)],
    )
    .await;
    assert_eq!(r.status(), 403);
}

/// The tab's icon is served where pages name it and where browsers ask without being told (`/favicon.ico`):
/// no page load logs a failed request in the browser's console.
#[tokio::test]
async fn the_tab_icon_is_served_where_browsers_look_for_it() {
    let app = app_with_admin().await;
    let (_, login) = get(&app, &reqwest::Client::new(), "/login").await;
    assert!(login.contains("href=\"/static/favicon.svg\""), "{login}");
    for path in ["/favicon.ico", "/static/favicon.svg"] {
        let r = reqwest::get(format!("{}{path}", app.base)).await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(r.headers()["content-type"], "image/svg+xml", "{path}");
        assert!(r.text().await.unwrap().starts_with("<svg"), "{path}");
    }
}
