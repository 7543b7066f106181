//! Comments and follow-ups on a lead, through the UI's forms and the API, as two managers (each with a
//! personal calendar) and an administrator: who may comment and plan on which lead, the CSRF token, the
//! follow-up in its owner's calendar feed, the inbox's overdue mark and filter, and the due event on the
//! owner's live stream (and nobody else's).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
mod ui_support;

use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use common::TestApp;
use leadgate_domain::account::Role;
use leadgate_domain::lead::LeadEventKind;
use serde_json::{Value, json};
use ui_support::*;

const M1_PASSWORD: &str = "manager1-password";
const M2_PASSWORD: &str = "manager2-password";
const ADMIN_PASSWORD: &str = "admin-password";

/// Long enough for a loaded machine; a follow-up falling due is announced within a second.
const PATIENCE: Duration = Duration::from_secs(60);

struct World {
    app: TestApp,
    m1: i64,
    /// A lead of the common calendar: both managers see it.
    common_lead: i64,
    /// A lead of manager2's personal calendar: manager1 may not see it.
    m2_lead: i64,
    m1_token: String,
    m2_token: String,
}

async fn post_with(app: &TestApp, token: &str, payload: Value) -> i64 {
    app.post_created(token, &payload.to_string()).await["id"]
        .as_i64()
        .unwrap()
}

async fn world() -> World {
    let app = TestApp::spawn().await;
    set_admin_password(&app, ADMIN_PASSWORD).await;
    let m1 = add_user(&app, "manager1", Role::Manager, M1_PASSWORD).await;
    let m2 = add_user(&app, "manager2", Role::Manager, M2_PASSWORD).await;
    let s = storage(&app).await;
    let cal_m2 = s
        .create_calendar("Личный manager2", Some(m2), "#dc2626")
        .await
        .unwrap();
    let m2_site = leadgate::tokens::generate();
    s.create_http_source("m2-site", cal_m2, &leadgate::tokens::hash(&m2_site))
        .await
        .unwrap();
    let common_lead = post_with(
        &app,
        &app.source_token,
        json!({"КонтактноеЛицо": "Общий Клиент", "Телефон": "+7 916 123-45-67", "Тема": "Общая заявка"}),
    )
    .await;
    let m2_lead = post_with(
        &app,
        &m2_site,
        json!({"КонтактноеЛицо": "Тайный Клиент", "Тема": "Тайная заявка"}),
    )
    .await;
    let m1_token = leadgate::tokens::generate();
    s.create_api_token(m1, "phone", &leadgate::tokens::hash(&m1_token))
        .await
        .unwrap();
    let m2_token = leadgate::tokens::generate();
    s.create_api_token(m2, "phone", &leadgate::tokens::hash(&m2_token))
        .await
        .unwrap();
    World {
        app,
        m1,
        common_lead,
        m2_lead,
        m1_token,
        m2_token,
    }
}

async fn api(
    w: &World,
    token: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let url = format!("{}{path}", w.app.base);
    let mut r = match method {
        "GET" => w.app.client.get(url),
        _ => w.app.client.post(url),
    }
    .bearer_auth(token);
    if let Some(body) = body {
        r = r
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn rfc3339(t: chrono::DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[tokio::test]
async fn a_manager_comments_on_a_lead_and_plans_a_follow_up_through_the_api_and_marks_it_done() {
    let w = world().await;
    let lead = w.common_lead;
    let (status, comment) = api(
        &w,
        &w.m1_token,
        "POST",
        &format!("/api/v1/leads/{lead}/comments"),
        Some(json!({"body": "Клиент просил счёт.\nПерезвонить после обеда"})),
    )
    .await;
    assert_eq!(status, 201, "{comment}");
    assert_eq!(comment["author"], "manager1");
    assert_eq!(
        comment["body"],
        "Клиент просил счёт.\nПерезвонить после обеда"
    );
    let (status, list) = api(
        &w,
        &w.m2_token,
        "GET",
        &format!("/api/v1/leads/{lead}/comments"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["items"][0]["id"], comment["id"]);
    assert_eq!(list["next"], Value::Null);
    let (status, empty) = api(
        &w,
        &w.m1_token,
        "POST",
        &format!("/api/v1/leads/{lead}/comments"),
        Some(json!({"body": "  \n "})),
    )
    .await;
    assert_eq!(status, 422, "{empty}");
    // A NUL character means nothing (and PostgreSQL cannot store it): it is kept as U+FFFD, as in a lead.
    let (status, nul) = api(
        &w,
        &w.m1_token,
        "POST",
        &format!("/api/v1/leads/{lead}/comments"),
        Some(json!({"body": "до\u{0}после"})),
    )
    .await;
    assert_eq!(status, 201, "{nul}");
    assert_eq!(nul["body"], "до\u{fffd}после");

    let due = Utc::now() + chrono::Duration::days(2);
    let (status, planned) = api(
        &w,
        &w.m1_token,
        "POST",
        &format!("/api/v1/leads/{lead}/follow-ups"),
        Some(json!({"due_at": rfc3339(due), "note": "Уточнить\u{0}макет"})),
    )
    .await;
    assert_eq!(status, 201, "{planned}");
    assert_eq!(planned["note"], "Уточнить\u{fffd}макет");
    // The calendar feed and the pages write four-digit years, in any time zone.
    let (status, far) = api(
        &w,
        &w.m1_token,
        "POST",
        &format!("/api/v1/leads/{lead}/follow-ups"),
        Some(json!({"due_at": "9999-12-31T23:59:59Z"})),
    )
    .await;
    assert_eq!(status, 422, "{far}");
    assert_eq!(far["error"]["code"], "due_at_out_of_range");
    assert_eq!(planned["owner"], "manager1", "a manager's own by default");
    assert_eq!(planned["done"], false);
    assert_eq!(planned["due_at"], rfc3339(due));
    let id = planned["id"].as_i64().unwrap();
    let (status, done) = api(
        &w,
        &w.m2_token,
        "POST",
        &format!("/api/v1/leads/{lead}/follow-ups/{id}/done"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["done"], true);
    assert_eq!(done["done_by"], "manager2");
    let (_, list) = api(
        &w,
        &w.m1_token,
        "GET",
        &format!("/api/v1/leads/{lead}/follow-ups"),
        None,
    )
    .await;
    assert_eq!(list["items"][0]["done"], true);
    // Each change is in the lead's history, with who made it.
    let history = storage(&w.app).await.lead_history(lead).await.unwrap();
    let entries: Vec<(LeadEventKind, Option<String>)> =
        history.iter().map(|e| (e.kind, e.actor.clone())).collect();
    assert_eq!(
        entries,
        [
            (LeadEventKind::CommentAdded, Some("manager1".to_owned())),
            (LeadEventKind::CommentAdded, Some("manager1".to_owned())),
            (LeadEventKind::FollowUpPlanned, Some("manager1".to_owned())),
            (LeadEventKind::FollowUpDone, Some("manager2".to_owned())),
        ]
    );
    // Marking it done again changes nothing and records nothing.
    let (status, _) = api(
        &w,
        &w.m1_token,
        "POST",
        &format!("/api/v1/leads/{lead}/follow-ups/{id}/done"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        storage(&w.app)
            .await
            .lead_history(lead)
            .await
            .unwrap()
            .len(),
        4
    );
    // A follow-up is reached only through its own lead.
    let (status, _) = api(
        &w,
        &w.admin_token(),
        "POST",
        &format!("/api/v1/leads/{}/follow-ups/{id}/done", w.m2_lead),
        None,
    )
    .await;
    assert_eq!(status, 404);
}

impl World {
    fn admin_token(&self) -> String {
        self.app.admin_token.clone()
    }
}

#[tokio::test]
async fn the_api_keeps_a_lead_in_another_managers_personal_calendar_out_of_reach() {
    let w = world().await;
    let lead = w.m2_lead;
    for (method, path, body) in [
        ("GET", format!("/api/v1/leads/{lead}/comments"), None),
        (
            "POST",
            format!("/api/v1/leads/{lead}/comments"),
            Some(json!({"body": "чужая заявка"})),
        ),
        ("GET", format!("/api/v1/leads/{lead}/follow-ups"), None),
        (
            "POST",
            format!("/api/v1/leads/{lead}/follow-ups"),
            Some(json!({"due_at": rfc3339(Utc::now())})),
        ),
    ] {
        let (status, _) = api(&w, &w.m1_token, method, &path, body).await;
        assert_eq!(status, 404, "{method} {path} as manager1");
    }
    let (status, _) = api(
        &w,
        &w.m2_token,
        "GET",
        &format!("/api/v1/leads/{lead}/comments"),
        None,
    )
    .await;
    assert_eq!(status, 200, "its owner reaches it");
    // A manager plans only for themself; an administrator for someone who may see the lead.
    let due = rfc3339(Utc::now() + chrono::Duration::hours(3));
    let (status, _) = api(
        &w,
        &w.m1_token,
        "POST",
        &format!("/api/v1/leads/{}/follow-ups", w.common_lead),
        Some(json!({"due_at": due, "owner": "manager2"})),
    )
    .await;
    assert_eq!(status, 403);
    let (status, refused) = api(
        &w,
        &w.admin_token(),
        "POST",
        &format!("/api/v1/leads/{lead}/follow-ups"),
        Some(json!({"due_at": due, "owner": "manager1"})),
    )
    .await;
    assert_eq!(status, 422, "manager1 may not see it: {refused}");
    let (status, planned) = api(
        &w,
        &w.admin_token(),
        "POST",
        &format!("/api/v1/leads/{lead}/follow-ups"),
        Some(json!({"due_at": due, "owner": "manager2", "note": "Позвонить"})),
    )
    .await;
    assert_eq!(status, 201, "{planned}");
    assert_eq!(planned["owner"], "manager2");
    assert_eq!(planned["created_by"], "admin");
}

#[tokio::test]
async fn the_openapi_document_describes_the_comment_and_follow_up_operations() {
    let w = world().await;
    let doc: Value = w
        .app
        .client
        .get(format!("{}/openapi.json", w.app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let paths = &doc["paths"];
    for (path, method) in [
        ("/api/v1/leads/{id}/comments", "get"),
        ("/api/v1/leads/{id}/comments", "post"),
        ("/api/v1/leads/{id}/follow-ups", "get"),
        ("/api/v1/leads/{id}/follow-ups", "post"),
        ("/api/v1/leads/{id}/follow-ups/{follow_up_id}/done", "post"),
    ] {
        assert!(paths[path][method].is_object(), "{method} {path}");
    }
    assert!(doc["components"]["schemas"]["FollowUpView"].is_object());
}

#[tokio::test]
async fn the_ui_refuses_comments_and_follow_ups_on_another_managers_lead_and_forms_without_the_token()
 {
    let w = world().await;
    let app = &w.app;
    let m1 = signed_in(app, "manager1", M1_PASSWORD).await;
    let csrf = session_csrf(app, &m1).await;
    let hidden = w.m2_lead;
    let r = post_form(
        app,
        &m1,
        &format!("/leads/{hidden}/comments"),
        &[("csrf", &csrf), ("body", "подсмотрел")],
    )
    .await;
    // As for a lead that does not exist: the page does not tell that it does.
    assert_eq!(r.status(), 404);
    let r = post_form(
        app,
        &m1,
        &format!("/leads/{hidden}/follow-ups"),
        &[
            ("csrf", &csrf),
            ("date", "2030-06-03"),
            ("time", "11:00"),
            ("note", "x"),
        ],
    )
    .await;
    assert_eq!(r.status(), 404);
    let lead = w.common_lead;
    let r = post_form(
        app,
        &m1,
        &format!("/leads/{lead}/comments"),
        &[("body", "без токена")],
    )
    .await;
    assert_eq!(r.status(), 403, "no CSRF token");
    let r = post_form(
        app,
        &m1,
        &format!("/leads/{lead}/follow-ups"),
        &[("csrf", "wrong"), ("date", "2030-06-03"), ("time", "11:00")],
    )
    .await;
    assert_eq!(r.status(), 403, "a wrong CSRF token");
    let s = storage(app).await;
    assert!(s.comments_of_lead(lead).await.unwrap().is_empty());
    assert!(s.comments_of_lead(hidden).await.unwrap().is_empty());
    assert!(s.follow_ups_of_lead(lead).await.unwrap().is_empty());
    assert!(s.follow_ups_of_lead(hidden).await.unwrap().is_empty());

    // With the token, on a lead manager1 sees: 3 June 2030 at 11:00 in Moscow is 08:00 UTC.
    let r = post_form(
        app,
        &m1,
        &format!("/leads/{lead}/follow-ups"),
        &[
            ("csrf", &csrf),
            ("date", "2030-06-03"),
            ("time", "11:00"),
            ("note", "Перезвонить"),
        ],
    )
    .await;
    assert_eq!(r.status(), 303);
    let planned = s.follow_ups_of_lead(lead).await.unwrap();
    assert_eq!(planned.len(), 1);
    assert_eq!(planned[0].owner_id, w.m1);
    assert_eq!(rfc3339(planned[0].due_at), "2030-06-03T08:00:00Z");
    // A manager cannot plan for a colleague through the form either.
    let r = post_form(
        app,
        &m1,
        &format!("/leads/{lead}/follow-ups"),
        &[
            ("csrf", &csrf),
            ("date", "2030-06-03"),
            ("time", "12:00"),
            ("owner", "manager2"),
        ],
    )
    .await;
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn a_follow_up_is_in_its_owners_calendar_feed_with_a_uid_of_its_own() {
    let w = world().await;
    let lead = w.common_lead;
    let due = Utc::now() + chrono::Duration::days(1);
    let (status, planned) = api(
        &w,
        &w.m1_token,
        "POST",
        &format!("/api/v1/leads/{lead}/follow-ups"),
        Some(json!({"due_at": rfc3339(due), "note": "Согласовать, цену; и срок"})),
    )
    .await;
    assert_eq!(status, 201);
    let id = planned["id"].as_i64().unwrap();
    let s = storage(&w.app).await;
    let m2 = s.user_credentials("manager2").await.unwrap().unwrap().id;
    s.set_ics_secret(w.m1, &leadgate::tokens::hash("m1-feed-key"))
        .await
        .unwrap();
    s.set_ics_secret(m2, &leadgate::tokens::hash("m2-feed-key"))
        .await
        .unwrap();
    let calendar = s.lead(lead).await.unwrap().unwrap().calendar.id;
    let feed = |key: &'static str| {
        let url = format!(
            "{}/api/v1/calendars/{calendar}/events.ics?key={key}",
            w.app.base
        );
        let client = w.app.client.clone();
        async move { client.get(url).send().await.unwrap().text().await.unwrap() }
    };
    let ics = feed("m1-feed-key").await.replace("\r\n ", "");
    let uid = format!("UID:follow-up-{id}@leadgate\r\n");
    assert!(ics.contains(&uid), "{ics}");
    assert!(ics.contains(&format!("UID:lead-{lead}@leadgate\r\n")));
    assert!(ics.contains(&format!("DTSTART:{}\r\n", due.format("%Y%m%dT%H%M%SZ"))));
    assert!(ics.contains("Согласовать\\, цену\\; и срок"));
    let again = feed("m1-feed-key").await.replace("\r\n ", "");
    assert!(again.contains(&uid), "the UID is stable");
    let theirs = feed("m2-feed-key").await;
    assert!(
        !theirs.contains("follow-up-"),
        "another manager's feed does not carry it"
    );
    // A calendar the key's owner may not see answers as one that does not exist.
    let m2_calendar = s.lead(w.m2_lead).await.unwrap().unwrap().calendar.id;
    let mut answers = Vec::new();
    for id in [m2_calendar, 999_999] {
        let r = w
            .app
            .client
            .get(format!(
                "{}/api/v1/calendars/{id}/events.ics?key=m1-feed-key",
                w.app.base
            ))
            .send()
            .await
            .unwrap();
        answers.push((r.status().as_u16(), r.text().await.unwrap()));
    }
    assert_eq!(answers[0].0, 404, "{answers:?}");
    assert_eq!(answers[0], answers[1]);
}

#[tokio::test]
async fn an_overdue_follow_up_marks_the_inbox_row_and_the_filter_shows_only_such_leads() {
    let w = world().await;
    let lead = w.common_lead;
    let other = post_with(
        &w.app,
        &w.app.source_token,
        json!({"Тема": "Без перезвона"}),
    )
    .await;
    let (status, _) = api(
        &w,
        &w.m1_token,
        "POST",
        &format!("/api/v1/leads/{lead}/follow-ups"),
        Some(json!({"due_at": rfc3339(Utc::now() - chrono::Duration::hours(1))})),
    )
    .await;
    assert_eq!(status, 201);
    // A follow-up still ahead marks nothing.
    let (status, _) = api(
        &w,
        &w.m1_token,
        "POST",
        &format!("/api/v1/leads/{other}/follow-ups"),
        Some(json!({"due_at": rfc3339(Utc::now() + chrono::Duration::hours(5))})),
    )
    .await;
    assert_eq!(status, 201);
    let m2 = signed_in(&w.app, "manager2", M2_PASSWORD).await;
    let (status, html) = get(&w.app, &m2, "/inbox").await;
    assert_eq!(status, 200);
    let row = |html: &str, id: i64| {
        let start = html
            .find(&format!("data-lead-id=\"{id}\""))
            .unwrap_or_else(|| panic!("row of {id}"));
        let end = html[start..].find("</tr>").unwrap() + start;
        html[start..end].to_owned()
    };
    assert!(row(&html, lead).contains("overdue-mark"));
    assert!(!row(&html, other).contains("overdue-mark"));
    let (status, filtered) = get(&w.app, &m2, "/inbox?overdue=1").await;
    assert_eq!(status, 200);
    assert!(filtered.contains(&format!("data-lead-id=\"{lead}\"")));
    assert!(!filtered.contains(&format!("data-lead-id=\"{other}\"")));
    assert!(filtered.contains("id=\"filter-overdue\" checked"));
    // Marked done, it is no longer overdue.
    let id = storage(&w.app)
        .await
        .follow_ups_of_lead(lead)
        .await
        .unwrap()[0]
        .id;
    let (status, _) = api(
        &w,
        &w.m1_token,
        "POST",
        &format!("/api/v1/leads/{lead}/follow-ups/{id}/done"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let (_, html) = get(&w.app, &m2, "/inbox?overdue=1").await;
    assert!(!html.contains(&format!("data-lead-id=\"{lead}\"")));
}

/// Reads a Server-Sent Events stream until an event `follow_up` arrives; returns its JSON.
async fn next_follow_up_event(response: &mut reqwest::Response) -> Value {
    let mut buffer = String::new();
    loop {
        let chunk = tokio::time::timeout(PATIENCE, response.chunk())
            .await
            .expect("a follow-up event in time")
            .unwrap()
            .expect("the stream stays open");
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let event: String = buffer.drain(..end + 2).collect();
            if event.lines().any(|l| l == "event: follow_up") {
                let data = event
                    .lines()
                    .find_map(|l| l.strip_prefix("data: "))
                    .unwrap();
                return serde_json::from_str(data).unwrap();
            }
        }
    }
}

#[tokio::test]
async fn a_follow_up_falling_due_is_announced_on_its_owners_live_stream_only() {
    let w = world().await;
    let lead = w.common_lead;
    let m1 = signed_in(&w.app, "manager1", M1_PASSWORD).await;
    let m2 = signed_in(&w.app, "manager2", M2_PASSWORD).await;
    let open = |c: reqwest::Client| {
        let url = format!("{}/inbox/events", w.app.base);
        async move {
            let r = c.get(url).send().await.unwrap();
            assert_eq!(r.status(), 200);
            r
        }
    };
    let mut m1_stream = open(m1).await;
    let mut m2_stream = open(m2).await;
    // manager1's falls due first, then manager2's: manager2's stream must skip manager1's.
    let soon = Utc::now() + chrono::Duration::seconds(1);
    let (_, mine) = api(
        &w,
        &w.m1_token,
        "POST",
        &format!("/api/v1/leads/{lead}/follow-ups"),
        Some(json!({"due_at": rfc3339(soon), "note": "Перезвонить сейчас"})),
    )
    .await;
    let (_, theirs) = api(
        &w,
        &w.m2_token,
        "POST",
        &format!("/api/v1/leads/{lead}/follow-ups"),
        Some(json!({"due_at": rfc3339(soon + chrono::Duration::seconds(1))})),
    )
    .await;
    let heard = next_follow_up_event(&mut m1_stream).await;
    assert_eq!(heard["id"], mine["id"]);
    assert_eq!(heard["lead_id"], lead);
    assert_eq!(heard["note"], "Перезвонить сейчас");
    assert_eq!(heard["title"], "Общая заявка");
    let heard = next_follow_up_event(&mut m2_stream).await;
    assert_eq!(
        heard["id"], theirs["id"],
        "manager1's was not sent to manager2"
    );
}

/// How many times `needle` occurs in `html`.
fn occurrences(html: &str, needle: &str) -> usize {
    html.matches(needle).count()
}

#[tokio::test]
async fn a_long_worked_lead_page_shows_the_newest_entries_and_links_the_whole_history() {
    let w = world().await;
    let app = &w.app;
    let lead = w.common_lead;
    let s = storage(app).await;
    // A lead worked on for a while: 40 comments, 36 follow-ups of which all but the first are done.
    let start = Utc::now() + chrono::Duration::hours(1);
    for n in 0..40 {
        s.add_comment(&leadgate_storage::NewComment {
            lead_id: lead,
            author_id: w.m1,
            body: format!("комментарий №{n}."),
            at: start + chrono::Duration::minutes(n),
        })
        .await
        .unwrap()
        .unwrap();
    }
    let mut first_follow_up = None;
    for n in 0..36 {
        let due = start + chrono::Duration::days(n);
        let planned = s
            .plan_follow_up(&leadgate_storage::NewFollowUp {
                lead_id: lead,
                owner_id: w.m1,
                due_at: due,
                note: format!("перезвон №{n}."),
                created_by: w.m1,
                at: start + chrono::Duration::hours(1),
            })
            .await
            .unwrap()
            .unwrap();
        if n > 0 {
            s.complete_follow_up(planned.id, w.m1, due).await.unwrap();
        } else {
            first_follow_up = Some(planned.id);
        }
    }
    // The arrival, 40 comments, 36 follow-ups planned and 35 done.
    let history = 1 + s.lead_history(lead).await.unwrap().len();
    assert_eq!(history, 1 + 40 + 36 + 35);

    let m1 = signed_in(app, "manager1", M1_PASSWORD).await;
    let (status, page) = get(app, &m1, &format!("/leads/{lead}")).await;
    assert_eq!(status, 200);
    // The history: the arrival, then what is left out, then the newest 30.
    assert_eq!(occurrences(&page, "class=\"timeline-entry"), 31);
    let arrival = page.find("data-kind=\"received\"").expect("the arrival");
    let more = page
        .find("id=\"timeline-more\"")
        .expect("the link to the rest");
    assert!(arrival < more, "the arrival comes first");
    assert!(page.contains(&format!("(ещё записей: {})", history - 31)));
    assert!(page.contains(&format!("/leads/{lead}?history=all#timeline")));
    // The newest 30 comments.
    assert_eq!(occurrences(&page, "class=\"comment\""), 30);
    assert!(page.contains("комментарий №39."));
    assert!(page.contains("комментарий №10."));
    assert!(!page.contains("комментарий №9."));
    assert!(page.contains("(ещё ранних: 10)"));
    // Every open follow-up, however old, and the 30 done latest.
    assert_eq!(occurrences(&page, "data-follow-up-id="), 31);
    assert!(page.contains("перезвон №0."), "the open one stays");
    assert!(!page.contains("перезвон №5."), "done longest ago");
    assert!(page.contains("перезвон №6."));
    assert!(page.contains("(ещё выполненных: 5)"));
    let (status, all) = get(app, &m1, &format!("/leads/{lead}?history=all")).await;
    assert_eq!(status, 200);

    // The open one, due first, marked done last: it stays in sight, and the one done longest ago goes.
    s.complete_follow_up(
        first_follow_up.unwrap(),
        w.m1,
        start + chrono::Duration::days(40),
    )
    .await
    .unwrap();
    let (_, marked) = get(app, &m1, &format!("/leads/{lead}")).await;
    assert_eq!(occurrences(&marked, "data-follow-up-id="), 30);
    assert!(marked.contains("перезвон №0."), "the one just marked done");
    assert!(!marked.contains("перезвон №6."), "done longest ago");
    assert!(marked.contains("перезвон №7."));
    assert!(marked.contains("(ещё выполненных: 6)"));

    // The whole of it (read before the last follow-up was marked done).
    let page = all;
    assert_eq!(occurrences(&page, "class=\"timeline-entry"), history);
    assert_eq!(occurrences(&page, "class=\"comment\""), 40);
    assert_eq!(occurrences(&page, "data-follow-up-id="), 36);
    assert_eq!(occurrences(&page, "class=\"history-more\""), 0);
    // A lead with a short history shows it all, without a link.
    let (_, short) = get(
        app,
        &m1,
        &format!(
            "/leads/{}",
            post_with(app, &app.source_token, json!({"Тема": "Новая"})).await
        ),
    )
    .await;
    assert_eq!(occurrences(&short, "class=\"history-more\""), 0);
    assert_eq!(occurrences(&short, "class=\"timeline-entry"), 1);
    // Anything else is refused, not guessed.
    let (status, _) = get(app, &m1, &format!("/leads/{lead}?history=everything")).await;
    assert_eq!(status, 400);
}
