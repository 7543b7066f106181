//! The live inbox and calendar: leads posted over HTTP or mailed to the shop's mailbox appear on a page that
//! is open and untouched (no reload, no click), over the page's Server-Sent Events stream; the stream
//! carries only what its viewer may see, and resumes after a reconnect from `Last-Event-ID`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
mod ui_support;

use std::path::PathBuf;
use std::time::Duration;

use common::dovecot::{dovecot, unique_user};
use common::{SEED_SAMPLE, TestApp};
use fantoccini::Locator;
use futures::StreamExt;
use leadgate::config::CollectorConfig;
use leadgate_domain::account::Role;
use leadgate_domain::collector::{Protocol, TlsMode};
use serde_json::Value;
use ui_support::*;

/// Long enough for a loaded CI machine; a live lead takes well under a second.
const PATIENCE: Duration = Duration::from_secs(60);

async fn post_lead(app: &TestApp, json: &str) -> i64 {
    let r = app.intake_json(json).await;
    assert_eq!(r.status(), 201);
    r.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
}

async fn js(b: &Browser, script: &str) -> Value {
    b.client.execute(script, vec![]).await.unwrap()
}

/// Waits (without touching the page) until `css` matches.
async fn appears(b: &Browser, css: &str) {
    b.client
        .wait()
        .at_most(PATIENCE)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css} never appeared: {e}"));
}

/// Marks the page, so that a reload (which would make a new one) shows.
async fn mark_page(b: &Browser) {
    js(b, "window.__same_page = true; return null").await;
}

async fn same_page(b: &Browser) -> bool {
    js(b, "return window.__same_page === true").await == Value::Bool(true)
}

/// Waits until the page's stream is open, so the test does not race the page's own start.
async fn stream_open(b: &Browser) {
    appears(b, "#live[data-state=\"open\"]").await;
}

#[tokio::test]
async fn a_lead_posted_over_http_appears_in_an_open_untouched_inbox_and_calendar() {
    let app = TestApp::spawn().await;
    add_user(&app, "manager1", Role::Manager, "manager-password").await;
    let b = Browser::start().await;
    b.sign_in(&app, "manager1", "manager-password").await;
    // An empty inbox: the list is made on the first lead.
    assert!(b.client.find(Locator::Css("#no-leads")).await.is_ok());
    stream_open(&b).await;
    mark_page(&b).await;
    // Desktop notifications: the system's notification centre is outside leadgate, so the browser's
    // Notification API is replaced by a recorder that grants permission when asked.
    js(
        &b,
        "window.__notes = [];
         function FakeNotification(title, options) {
           this.title = title; this.options = options; this.listeners = {}; window.__notes.push(this);
         }
         FakeNotification.prototype.addEventListener = function (type, f) { this.listeners[type] = f; };
         FakeNotification.prototype.close = function () {};
         FakeNotification.permission = 'default';
         FakeNotification.requestPermission = function () {
           FakeNotification.permission = 'granted'; return Promise.resolve('granted');
         };
         window.Notification = FakeNotification;
         setUpNotifications();
         return null",
    )
    .await;
    b.click("#notify-toggle").await;
    appears(&b, "#notify-toggle[aria-pressed=\"true\"]").await;

    let id = post_lead(&app, SEED_SAMPLE).await;
    appears(&b, &format!("tr.lead-row.is-new[data-lead-id=\"{id}\"]")).await;
    let note = js(
        &b,
        "var n = window.__notes[0]; return n ? [n.title, n.options.body, n.options.tag] : null",
    )
    .await;
    assert_eq!(
        note,
        serde_json::json!([
            "Заказ №123 от 01.06.2019 бла бла бла",
            "Заказ · +7 925 642 42-90",
            format!("lead-{id}")
        ]),
        "the notification shows the subject, the kind and the phone"
    );
    assert!(same_page(&b).await, "the page was not reloaded");
    assert_eq!(
        js(
            &b,
            "return document.getElementById('new-count').textContent"
        )
        .await,
        "1"
    );
    let title = b
        .client
        .find(Locator::Css(&format!(
            "tr[data-lead-id=\"{id}\"] .lead-link"
        )))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(title, "Заказ №123 от 01.06.2019 бла бла бла");
    b.screenshot("live-inbox").await;

    // A change (taken into work over the API) updates the row in place.
    let r = app
        .client
        .patch(format!("{}/api/v1/leads/{id}", app.base))
        .bearer_auth(&app.admin_token)
        .json(&serde_json::json!({"status": "in_progress"}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    appears(
        &b,
        &format!("tr[data-lead-id=\"{id}\"] .status-in_progress"),
    )
    .await;
    assert!(same_page(&b).await);

    // Clicking the notification opens the lead.
    js(&b, "window.__notes[0].listeners.click(); return null").await;
    appears(&b, "#take, #lead-status").await;
    assert!(
        b.client
            .current_url()
            .await
            .unwrap()
            .path()
            .ends_with(&format!("/leads/{id}")),
        "the notification opened the lead"
    );

    // The calendar of the lead's month, open and untouched, gets the next lead of that month on its day.
    b.client
        .goto(&format!("{}/calendar?view=month&date=2019-05-01", app.base))
        .await
        .unwrap();
    stream_open(&b).await;
    mark_page(&b).await;
    let second = post_lead(&app, &SEED_SAMPLE.replace("бла бла бла", "и ещё один")).await;
    appears(
        &b,
        &format!(".day[data-date=\"2019-05-29\"] a.event[data-lead-id=\"{second}\"]"),
    )
    .await;
    assert!(same_page(&b).await);
    b.stop().await;
}

/// A shop with one manager, signed in in Chromium on the inbox, its live stream open.
async fn manager_on_a_live_inbox() -> (TestApp, Browser) {
    let app = TestApp::spawn().await;
    add_user(&app, "manager1", Role::Manager, "manager-password").await;
    let b = Browser::start().await;
    b.sign_in(&app, "manager1", "manager-password").await;
    stream_open(&b).await;
    (app, b)
}

/// Leads committed at the same moment (on PostgreSQL two groups are written at once) may reach an open inbox out
/// of their order; each new row takes its place in the inbox's order, newest first, as the reloaded page shows
/// it. Here three leads arrive in order and their events are kept; then the middle one's row is taken away and
/// its own event given to the page again, as if it had come last.
#[tokio::test]
async fn a_new_lead_arriving_out_of_order_takes_its_place_in_the_inbox() {
    let (app, b) = manager_on_a_live_inbox().await;
    js(
        &b,
        "window.__events = {};
         var page = inboxLead;
         inboxLead = function (live, lead) { window.__events[lead.id] = lead; return page(live, lead); };
         return null",
    )
    .await;
    let mut ids = Vec::new();
    for title in ["Первая", "Вторая", "Третья"] {
        let id = post_lead(
            &app,
            &format!(r#"{{"Тема": "{title}", "Телефон": "+7 916 100-00-01"}}"#),
        )
        .await;
        appears(&b, &format!("tr.lead-row[data-lead-id=\"{id}\"]")).await;
        ids.push(id);
    }
    let order =
        "return [...document.querySelectorAll('tr.lead-row')].map(r => Number(r.dataset.leadId))";
    let newest_first = serde_json::json!([ids[2], ids[1], ids[0]]);
    assert_eq!(js(&b, order).await, newest_first);
    js(
        &b,
        &format!(
            "document.querySelector('tr.lead-row[data-lead-id=\"{middle}\"]').remove();
             inboxLead(document.getElementById('live'), window.__events[{middle}]);
             return null",
            middle = ids[1]
        ),
    )
    .await;
    assert_eq!(
        js(&b, order).await,
        newest_first,
        "the late row in its place"
    );
    b.client.refresh().await.unwrap();
    b.wait_for("tr.lead-row").await;
    assert_eq!(js(&b, order).await, newest_first, "as the reloaded page");
    b.stop().await;
}

/// The element `css` matches, written out with its attributes sorted and blank text left out (the page's
/// own rows are indented markup, a live row is built by the page), without the mark a live arrival gets.
async fn written_out(b: &Browser, css: &str) -> String {
    let script = format!(
        "function canon(n) {{
           if (n.nodeType === 3) {{ var t = n.textContent.replace(/\\s+/g, ' ').trim(); return t ? JSON.stringify(t) : ''; }}
           if (n.nodeType !== 1) {{ return ''; }}
           var attrs = Array.from(n.attributes).filter(function (a) {{ return a.name !== 'class'; }})
             .map(function (a) {{ return a.name + '=' + JSON.stringify(a.value); }}).sort();
           var classes = Array.from(n.classList).filter(function (c) {{ return c !== 'live-arrived'; }}).sort();
           return '<' + n.tagName + ' ' + attrs.join(' ') + ' class=' + classes.join('.') + '>' +
             Array.from(n.childNodes).map(canon).join('') + '</' + n.tagName + '>';
         }}
         var e = document.querySelector({css:?});
         return e ? canon(e) : null;"
    );
    match js(b, &script).await {
        Value::String(s) => s,
        other => panic!("{css} is not on the page: {other}"),
    }
}

/// What a live page puts in place is what the page shows for the same lead once reloaded: the inbox row
/// (new, then taken into work and assigned) and the calendar entry (month and week). The page builds them from
/// the event's values as text, so a subject with markup in it shows as that text.
#[tokio::test]
async fn a_live_row_or_calendar_entry_is_what_the_reloaded_page_shows() {
    let (app, b) = manager_on_a_live_inbox().await;
    mark_page(&b).await;
    let subject = "<b>Визитки</b> & <i>буклеты</i>";
    let id = post_lead(
        &app,
        &SEED_SAMPLE.replace("Заказ №123 от 01.06.2019 бла бла бла", subject),
    )
    .await;
    let row = format!("tr.lead-row[data-lead-id=\"{id}\"]");
    appears(&b, &row).await;
    assert!(same_page(&b).await, "the page was not reloaded");
    let link = b
        .client
        .find(Locator::Css(&format!("{row} .lead-link")))
        .await
        .unwrap();
    assert_eq!(link.text().await.unwrap(), subject, "shown as text");
    let live = written_out(&b, &row).await;
    b.client.refresh().await.unwrap();
    assert_eq!(live, written_out(&b, &row).await, "the new lead's row");

    stream_open(&b).await;
    mark_page(&b).await;
    // Ticked for assigning: the changed row that replaces it stays ticked.
    b.click(&format!("{row} input[name='lead']")).await;
    let r = app
        .client
        .patch(format!("{}/api/v1/leads/{id}", app.base))
        .bearer_auth(&app.admin_token)
        .json(&serde_json::json!({"status": "in_progress", "assignee": "manager1"}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    appears(&b, &format!("{row} .status-in_progress")).await;
    assert!(same_page(&b).await, "the page was not reloaded");
    let live = written_out(&b, &row).await;
    assert!(live.contains("manager1"), "{live}");
    assert_eq!(
        js(
            &b,
            &format!(
                "return document.querySelector({:?}).checked",
                format!("{row} input[name=lead]")
            )
        )
        .await,
        Value::Bool(true),
        "the tick survives the live change"
    );
    b.client.refresh().await.unwrap();
    assert_eq!(live, written_out(&b, &row).await, "the changed lead's row");

    for (view, title) in [("month", "Листовки"), ("week", "Наклейки")] {
        b.client
            .goto(&format!(
                "{}/calendar?view={view}&date=2019-05-29",
                app.base
            ))
            .await
            .unwrap();
        stream_open(&b).await;
        mark_page(&b).await;
        let id = post_lead(
            &app,
            &SEED_SAMPLE.replace("Заказ №123 от 01.06.2019 бла бла бла", title),
        )
        .await;
        let entry = format!(".day[data-date=\"2019-05-29\"] a.event[data-lead-id=\"{id}\"]");
        appears(&b, &entry).await;
        assert!(same_page(&b).await, "the page was not reloaded");
        let live = written_out(&b, &entry).await;
        b.client.refresh().await.unwrap();
        assert_eq!(live, written_out(&b, &entry).await, "the {view} entry");
    }
    b.stop().await;
}

#[tokio::test]
async fn a_mail_delivered_to_the_mailbox_appears_in_an_open_untouched_inbox() {
    let dc = dovecot();
    let user = unique_user("live");
    let dir = tempfile::tempdir().unwrap();
    let password = dir.path().join("mail.password");
    std::fs::write(&password, dc.var("DOVECOT_PASSWORD")).unwrap();
    let collector = CollectorConfig {
        tls: TlsMode::None,
        ca_file: Some(PathBuf::from(dc.var("DOVECOT_CA_FILE"))),
        password_file: Some(password),
        ..CollectorConfig::new(
            "site",
            Protocol::Imap,
            "localhost",
            dc.port("DOVECOT_IMAP_PORT"),
            &user,
        )
    };
    let app = TestApp::spawn_with(move |s| {
        // Due once a year: the mail comes in by push.
        s.schedule.mail_collector.cron = "0 0 0 1 1 *".into();
        s.collectors = vec![collector];
    })
    .await;
    add_user(&app, "manager1", Role::Manager, "manager-password").await;
    let b = Browser::start().await;
    b.sign_in(&app, "manager1", "manager-password").await;
    stream_open(&b).await;
    mark_page(&b).await;
    // Push is connected once the collector list says so.
    let deadline = std::time::Instant::now() + PATIENCE;
    while app.get("/api/v1/collectors").await[0]["push_status"]["state"] != "connected" {
        assert!(std::time::Instant::now() < deadline, "push never connected");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let raw = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/mail/seed_sample.eml"
    ))
    .unwrap();
    dc.deliver(&user, &raw);
    appears(&b, "tr.lead-row.is-new").await;
    let title = b
        .client
        .find(Locator::Css("tr.lead-row .lead-link"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(title, "Заказ №123 от 01.06.2019 бла бла бла");
    assert!(same_page(&b).await, "the page was not reloaded");
    b.stop().await;
}

/// One event of a stream: its `event`, `id` and `data` fields.
#[derive(Debug, Default)]
struct SseEvent {
    event: String,
    id: String,
    data: String,
}

/// Reads a Server-Sent Events response as it comes.
struct SseReader {
    response: reqwest::Response,
    buffer: Vec<u8>,
    /// Everything read so far, for assertions on the stream as a whole.
    seen: String,
}

impl SseReader {
    async fn open(app: &TestApp, client: &reqwest::Client, path: &str, last: Option<&str>) -> Self {
        let mut request = client.get(format!("{}{path}", app.base));
        if let Some(last) = last {
            request = request.header("Last-Event-ID", last);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(
            response.headers()["content-type"],
            "text/event-stream",
            "{path}"
        );
        Self {
            response,
            buffer: Vec::new(),
            seen: String::new(),
        }
    }

    async fn next(&mut self) -> SseEvent {
        loop {
            if let Some(end) = self.buffer.windows(2).position(|w| w == b"\n\n") {
                let block: Vec<u8> = self.buffer.drain(..end + 2).collect();
                let block = String::from_utf8(block).unwrap();
                self.seen.push_str(&block);
                let mut event = SseEvent::default();
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        event.event = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("id:") {
                        event.id = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        event.data.push_str(v.trim_start());
                    }
                }
                if event.event.is_empty() && event.data.is_empty() {
                    continue; // a keep-alive comment
                }
                return event;
            }
            let chunk = tokio::time::timeout(PATIENCE, self.response.chunk())
                .await
                .expect("an event in time")
                .unwrap()
                .expect("the stream stays open");
            self.buffer.extend_from_slice(&chunk);
        }
    }

    /// Reads lead events until the one of lead `id`; returns it.
    async fn until_lead(&mut self, id: i64) -> (SseEvent, Value) {
        loop {
            let event = self.next().await;
            assert_eq!(event.event, "lead", "{event:?}");
            let data: Value = serde_json::from_str(&event.data).unwrap();
            if data["id"] == id {
                return (event, data);
            }
        }
    }
}

#[tokio::test]
async fn a_managers_stream_never_carries_a_lead_of_another_managers_personal_calendar() {
    let app = TestApp::spawn().await;
    let me = add_user(&app, "manager1", Role::Manager, "manager-password").await;
    let other = add_user(&app, "manager2", Role::Manager, "manager2-password").await;
    let s = storage(&app).await;
    let mine = s
        .create_calendar("Мой календарь", Some(me), "#16a34a")
        .await
        .unwrap();
    let theirs = s
        .create_calendar("Чужой календарь", Some(other), "#dc2626")
        .await
        .unwrap();
    let post_to = async |calendar: i64, json: &str| -> i64 {
        let token = leadgate::tokens::generate();
        s.create_http_source(
            &format!("site-{calendar}-{:08x}", rand::random::<u32>()),
            calendar,
            &leadgate::tokens::hash(&token),
        )
        .await
        .unwrap();
        let r = app
            .client
            .post(format!("{}/api/v1/intake", app.base))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(json.to_owned())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        r.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
    };
    let m1 = signed_in(&app, "manager1", "manager-password").await;
    let m2 = signed_in(&app, "manager2", "manager2-password").await;
    let mut mine_stream = SseReader::open(&app, &m1, "/inbox/events", None).await;
    let mut theirs_stream = SseReader::open(&app, &m2, "/inbox/events", None).await;
    let mut calendar_stream = SseReader::open(&app, &m1, "/calendar/events", None).await;
    // Asking for the other manager's calendar is refused outright.
    let r = m1
        .get(format!("{}/inbox/events?cal={theirs}", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    let secret = post_to(
        theirs,
        r#"{"Тема": "Секретный заказ", "Телефон": "+7 916 111-11-11"}"#,
    )
    .await;
    let shared = post_lead(
        &app,
        r#"{"Тема": "Общий заказ", "Телефон": "+7 916 222-22-22"}"#,
    )
    .await;
    let own = post_to(
        mine,
        r#"{"Тема": "Мой заказ", "Телефон": "+7 916 333-33-33"}"#,
    )
    .await;

    // The other manager's stream carries their lead, with what a notification shows…
    let (_, data) = theirs_stream.until_lead(secret).await;
    assert_eq!(data["title"], "Секретный заказ");
    assert_eq!(data["phone"], "+7 916 111-11-11");
    assert_eq!(data["change"], "new");
    assert_eq!(data["id"], secret);
    assert_eq!(data["status_key"], "new");
    // …and never the first manager's own one.
    theirs_stream.until_lead(shared).await;

    // The first manager's streams get the shared and their own lead, in order, and nothing of the secret one
    // (posted before both).
    let (_, data) = mine_stream.until_lead(shared).await;
    assert!(!data["kind"].as_str().unwrap().is_empty());
    mine_stream.until_lead(own).await;
    calendar_stream.until_lead(shared).await;
    calendar_stream.until_lead(own).await;
    for seen in [&mine_stream.seen, &calendar_stream.seen] {
        assert!(!seen.contains("Секретный"), "{seen}");
        assert!(!seen.contains("111-11-11"), "{seen}");
        assert!(!seen.contains(&format!("\"id\":{secret},")), "{seen}");
    }
    assert!(!theirs_stream.seen.contains("Мой заказ"));
}

/// A page left open after its user signed out, or after an administrator disabled the user, gets no lead
/// after that: its stream asks it to reload (to the sign-in page) and ends.
#[tokio::test]
async fn a_stream_carries_nothing_once_its_session_has_ended() {
    let app = TestApp::spawn().await;
    add_user(&app, "manager1", Role::Manager, "manager-password").await;
    let m2 = add_user(&app, "manager2", Role::Manager, "manager2-password").await;
    let signed_out = signed_in(&app, "manager1", "manager-password").await;
    let disabled = signed_in(&app, "manager2", "manager2-password").await;
    let mut streams = [
        SseReader::open(&app, &signed_out, "/inbox/events", None).await,
        SseReader::open(&app, &disabled, "/calendar/events", None).await,
    ];
    let before = post_lead(
        &app,
        r#"{"Тема": "До выхода", "Телефон": "+7 916 000-00-05"}"#,
    )
    .await;
    for stream in &mut streams {
        stream.until_lead(before).await;
    }

    let csrf = session_csrf(&app, &signed_out).await;
    let r = post_form(&app, &signed_out, "/logout", &[("csrf", &csrf)]).await;
    assert_eq!(r.status(), 303);
    assert!(
        storage(&app)
            .await
            .set_user_disabled(m2, true)
            .await
            .unwrap()
    );
    // Past the time a stream trusts its session without reading it again.
    tokio::time::sleep(Duration::from_secs(6)).await;
    post_lead(
        &app,
        r#"{"Тема": "После выхода", "Телефон": "+7 916 000-00-06"}"#,
    )
    .await;
    for stream in &mut streams {
        assert_eq!(stream.next().await.event, "reload");
        assert!(!stream.seen.contains("После выхода"), "{}", stream.seen);
        let end = tokio::time::timeout(PATIENCE, stream.response.chunk()).await;
        assert!(
            matches!(end, Ok(Ok(None))),
            "the stream ends after the reload: {end:?}"
        );
    }
}

#[tokio::test]
async fn a_stream_resumes_after_a_reconnect_and_asks_for_a_reload_when_it_cannot() {
    let app = TestApp::spawn().await;
    add_user(&app, "manager1", Role::Manager, "manager-password").await;
    let m = signed_in(&app, "manager1", "manager-password").await;
    let mut stream = SseReader::open(&app, &m, "/inbox/events", None).await;
    let first = post_lead(&app, r#"{"Тема": "Первый", "Телефон": "+7 916 000-00-01"}"#).await;
    let (event, _) = stream.until_lead(first).await;
    assert!(!event.id.is_empty());
    drop(stream);

    // Two leads while the page is disconnected…
    let second = post_lead(&app, r#"{"Тема": "Второй", "Телефон": "+7 916 000-00-02"}"#).await;
    let third = post_lead(&app, r#"{"Тема": "Третий", "Телефон": "+7 916 000-00-03"}"#).await;
    // …come first after the reconnect, in order, without the one it saw.
    let mut resumed = SseReader::open(&app, &m, "/inbox/events", Some(&event.id)).await;
    let next = resumed.next().await;
    let data: Value = serde_json::from_str(&next.data).unwrap();
    assert_eq!(data["id"], second);
    let next = resumed.next().await;
    let data: Value = serde_json::from_str(&next.data).unwrap();
    assert_eq!(data["id"], third);

    // The page's first connection starts from the id it was rendered with (`since`), so a lead committed
    // between the render and the connection is not missed.
    let (_, html) = get(&app, &m, "/inbox").await;
    let at = html
        .find("/inbox/events?since=")
        .expect("the stream address")
        + 20;
    let since = html[at..].split(['"', '&']).next().unwrap().to_owned();
    let fourth = post_lead(
        &app,
        r#"{"Тема": "Четвёртый", "Телефон": "+7 916 000-00-04"}"#,
    )
    .await;
    let mut fresh = SseReader::open(&app, &m, &format!("/inbox/events?since={since}"), None).await;
    let data: Value = serde_json::from_str(&fresh.next().await.data).unwrap();
    assert_eq!(data["id"], fourth);

    // An id the server does not know (another start of leadgate, or too old) asks the page to reload.
    let mut stale = SseReader::open(&app, &m, "/inbox/events", Some("0-1")).await;
    assert_eq!(stale.next().await.event, "reload");
}

#[tokio::test]
async fn a_burst_of_leads_reaches_an_open_stream_whole_without_a_reload() {
    // A site's form sends this many in a minute only under load: the source's limits are lifted.
    let app = TestApp::spawn_with(|s| {
        s.http_sources[0].rate_limit_per_client = Some(0);
        s.http_sources[0].rate_limit_total = Some(0);
    })
    .await;
    add_user(&app, "manager1", Role::Manager, "manager-password").await;
    let m = signed_in(&app, "manager1", "manager-password").await;
    let mut stream = SseReader::open(&app, &m, "/inbox/events", None).await;
    // More leads than one write of the stream holds (256), posted 32 at a time, so that group commits file
    // them in groups and they pile up for the page between two of its writes.
    let posted: Vec<i64> = futures::stream::iter(0..400)
        .map(|i| {
            let app = &app;
            async move {
                post_lead(
                    app,
                    &format!(r#"{{"Тема": "Пачка {i}", "Телефон": "+7 916 100-{i:04}"}}"#),
                )
                .await
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    let mut received = Vec::new();
    while received.len() < posted.len() {
        let event = stream.next().await;
        assert_eq!(event.event, "lead", "{event:?}");
        let data: Value = serde_json::from_str(&event.data).unwrap();
        received.push(data["id"].as_i64().unwrap());
    }
    // Every lead once. In the order they were committed, which is not always the ids' order: on PostgreSQL two
    // groups are written at once (the page puts each new row in its place).
    received.sort_unstable();
    let mut filed = posted;
    filed.sort_unstable();
    assert_eq!(received, filed);
}
