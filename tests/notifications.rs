//! E-mail notifications of new leads through a real SMTP server on loopback: a Postfix of the test's own
//! (scripts/postfix.sh) that hands the mail to the test Dovecot, from whose mailboxes each test reads it back
//! over IMAP. A lead to a calendar with notifications arrives with its subject, phone and link; ten leads
//! within a minute make one digest per recipient; a manager's personal calendar notifies its owner only; a
//! recipient the server refuses for a while gets every lead once it accepts again; the server's certificate
//! is checked. Runs on either backend.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
mod ui_support;

use std::sync::Arc;

use chrono::{Duration, Utc};
use common::dovecot::unique_user;
use common::postfix::{Postfix, mailbox, wait_for_mail};
use common::{SEED_SAMPLE, TestApp};
use leadgate::config::{CalendarConfig, NotificationSettings, Settings};
use leadgate::notifications::NotificationSender;
use leadgate_domain::collector::TlsMode;
use leadgate_storage::{CalendarNotifications, Storage};
use serde_json::Value;
use ui_support::{get, post_form, session_csrf, set_admin_password, signed_in};

const PUBLIC_URL: &str = "https://leads.shop.example";

/// `[notifications]` for the test's Postfix: STARTTLS on its plain port, its CA trusted.
fn smtp(postfix: &Postfix) -> NotificationSettings {
    NotificationSettings {
        smtp_host: Some("127.0.0.1".into()),
        smtp_port: Some(postfix.smtp_port),
        smtp_tls: TlsMode::StartTls,
        smtp_ca_file: Some(postfix.ca_file.clone()),
        from: Some("leadgate@shop.example".into()),
        retry_after_secs: 1,
        timeout_secs: 10,
        ..NotificationSettings::default()
    }
}

fn address(user: &str) -> String {
    format!("{user}@leadgate.test")
}

/// Posts the sample order with its own subject and phone; returns the lead's id.
async fn post_lead(app: &TestApp, subject: &str, phone: &str) -> i64 {
    let mut payload: Value = serde_json::from_str(SEED_SAMPLE).unwrap();
    payload["Тема"] = Value::from(subject);
    payload["Телефон"] = Value::from(phone);
    let response = app.intake_json(&payload.to_string()).await;
    assert_eq!(response.status().as_u16(), 201);
    let created: Value = response.json().await.unwrap();
    created["id"].as_i64().unwrap()
}

async fn calendar_id(storage: &dyn Storage, name: &str) -> i64 {
    storage
        .calendars()
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.name == name)
        .unwrap()
        .id
}

/// Notifies `addresses` of the default calendar's leads.
async fn notify(storage: &dyn Storage, addresses: &[String]) {
    let calendar = calendar_id(storage, "Заявки с сайта").await;
    storage
        .set_calendar_notifications(
            calendar,
            &CalendarNotifications {
                notify_owner: false,
                addresses: addresses.to_vec(),
            },
        )
        .await
        .unwrap();
}

/// A sender the test drives step by step (the app's own is switched off).
fn sender(storage: Arc<dyn Storage>, settings: &NotificationSettings) -> NotificationSender {
    NotificationSender::new(storage, settings, Some(PUBLIC_URL))
        .unwrap()
        .unwrap()
}

fn without_sender(s: &mut Settings) {
    s.notifications.enabled = false;
}

#[tokio::test]
async fn a_lead_to_a_calendar_with_notifications_arrives_by_mail_with_its_subject_phone_and_link() {
    let postfix = Postfix::start();
    let mut settings = smtp(&postfix);
    // Implicit TLS this time, through the app's own sender.
    settings.smtp_tls = TlsMode::Implicit;
    settings.smtp_port = Some(postfix.smtps_port);
    let app = TestApp::spawn_with(|s| {
        s.notifications = settings.clone();
        s.server.public_url = Some(PUBLIC_URL.into());
    })
    .await;
    let user = unique_user("notified");
    notify(app.storage().await.as_ref(), &[address(&user)]).await;

    let lead = post_lead(&app, "Баннер 3х6 для фасада", "+7 916 000-11-22").await;

    let mail = wait_for_mail(&user, 1).await;
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0].subject, "Новая заявка: Баннер 3х6 для фасада");
    let text = &mail[0].text;
    assert!(text.contains("Заказ"), "{text}");
    assert!(text.contains("Баннер 3х6 для фасада"), "{text}");
    assert!(text.contains("+7 916 000-11-22"), "{text}");
    assert!(text.contains("Календарь: Заявки с сайта"), "{text}");
    assert!(
        text.contains(&format!("{PUBLIC_URL}/leads/{lead}")),
        "{text}"
    );
    assert!(
        mail[0].raw.contains("From: leadgate@shop.example"),
        "{}",
        mail[0].raw
    );
}

/// A site's text is one line of the digest: line breaks in a subject or a phone cannot start lines that look
/// like the digest's own (a forged link to open).
#[tokio::test]
async fn a_lead_cannot_forge_lines_of_the_notification() {
    let postfix = Postfix::start();
    let settings = smtp(&postfix);
    let app = TestApp::spawn_with(|s| {
        s.notifications = settings.clone();
        s.server.public_url = Some(PUBLIC_URL.into());
    })
    .await;
    let user = unique_user("forged");
    notify(app.storage().await.as_ref(), &[address(&user)]).await;
    let lead = post_lead(
        &app,
        "Заказ\nОткрыть: https://phish.example/leads/3\r\n\nКонтакт №99: поддельный",
        "+7 999\nОткрыть: https://phish.example/x",
    )
    .await;

    let mail = wait_for_mail(&user, 1).await;
    let text = &mail[0].text;
    let opens: Vec<&str> = text.lines().filter(|l| l.starts_with("Открыть:")).collect();
    assert_eq!(
        opens,
        [format!("Открыть: {PUBLIC_URL}/leads/{lead}").as_str()],
        "{text}"
    );
    assert!(
        !text.lines().any(|l| l.starts_with("Контакт №99")),
        "{text}"
    );
}

#[tokio::test]
async fn ten_leads_within_a_minute_make_one_digest_per_recipient_not_ten() {
    let postfix = Postfix::start();
    let app = TestApp::spawn_with(without_sender).await;
    let storage = app.storage().await;
    let (first, second) = (unique_user("digest-a"), unique_user("digest-b"));
    notify(storage.as_ref(), &[address(&first), address(&second)]).await;
    let sender = sender(storage.clone(), &smtp(&postfix));

    for n in 1..=10 {
        post_lead(
            &app,
            &format!("Заказ из дайджеста {n}"),
            &format!("+7 900 000-00-{n:02}"),
        )
        .await;
    }
    let step = sender.step(Utc::now()).await.unwrap();
    assert_eq!((step.sent, step.failed, step.leads), (2, 0, 20), "{step:?}");

    for user in [&first, &second] {
        let mail = wait_for_mail(user, 1).await;
        assert_eq!(mail.len(), 1, "one digest, not ten");
        assert_eq!(mail[0].subject, "Новые заявки: 10");
        for n in 1..=10 {
            assert!(
                mail[0].text.contains(&format!("Заказ из дайджеста {n}\n")),
                "lead {n} missing: {}",
                mail[0].text
            );
            assert!(mail[0].text.contains(&format!("+7 900 000-00-{n:02}")));
        }
    }

    // A lead within the minute waits for the next digest; once the minute has passed it is sent.
    post_lead(&app, "Заказ после дайджеста", "+7 900 111-22-33").await;
    let step = sender.step(Utc::now()).await.unwrap();
    assert_eq!(step.sent, 0, "within the minute: {step:?}");
    let step = sender
        .step(Utc::now() + Duration::seconds(61))
        .await
        .unwrap();
    assert_eq!((step.sent, step.leads), (2, 2), "{step:?}");
    let mail = wait_for_mail(&first, 2).await;
    assert_eq!(mail.len(), 2);
    assert!(
        mail.iter()
            .any(|m| m.subject == "Новая заявка: Заказ после дайджеста")
    );
}

#[tokio::test]
async fn a_managers_personal_calendar_notifies_its_owner_only() {
    let postfix = Postfix::start();
    let (owner, office) = (unique_user("owner"), unique_user("office"));
    let office_address = address(&office);
    let app = TestApp::spawn_with(|s| {
        without_sender(s);
        // The file's calendars: the manager's own, notifying its owner; the common one, notifying the office.
        s.calendars = vec![
            CalendarConfig {
                name: "Заявки с сайта".into(),
                notify: vec![office_address.clone()],
                ..CalendarConfig::default()
            },
            CalendarConfig {
                name: "Личный календарь".into(),
                owner: Some("manager1".into()),
                notify_owner: true,
                ..CalendarConfig::default()
            },
        ];
        s.http_sources[0].calendar = Some("Личный календарь".into());
    })
    .await;
    let storage = app.storage().await;
    let manager = storage
        .users()
        .await
        .unwrap()
        .into_iter()
        .find(|u| u.login == "manager1")
        .unwrap();
    storage
        .set_user_email(manager.id, Some(&address(&owner)))
        .await
        .unwrap();
    let sender = sender(storage.clone(), &smtp(&postfix));

    post_lead(&app, "Личный заказ менеджера", "+7 901 222-33-44").await;
    let step = sender.step(Utc::now()).await.unwrap();
    assert_eq!((step.sent, step.leads), (1, 1), "{step:?}");

    let mail = wait_for_mail(&owner, 1).await;
    assert_eq!(mail[0].subject, "Новая заявка: Личный заказ менеджера");
    assert!(mail[0].text.contains("Календарь: Личный календарь"));
    let recipients = storage.notification_recipients().await.unwrap();
    assert_eq!(
        recipients
            .iter()
            .map(|r| r.address.as_str())
            .collect::<Vec<_>>(),
        [address(&owner).as_str()],
        "only the owner was ever due a mail"
    );
    assert!(mailbox(&office).await.is_empty());
}

#[tokio::test]
async fn a_recipient_the_server_refuses_for_a_while_gets_every_lead_once_it_accepts() {
    let postfix = Postfix::start();
    let app = TestApp::spawn_with(without_sender).await;
    let storage = app.storage().await;
    let (flaky, steady) = (unique_user("flaky"), unique_user("steady"));
    notify(storage.as_ref(), &[address(&flaky), address(&steady)]).await;
    let sender = sender(storage.clone(), &smtp(&postfix));
    postfix.refuse(&[&address(&flaky)]);

    for n in 1..=3 {
        post_lead(&app, &format!("Заказ при отказе {n}"), "+7 902 333-44-55").await;
    }
    let step = sender.step(Utc::now()).await.unwrap();
    assert_eq!((step.sent, step.failed), (1, 1), "{step:?}");
    let recipients = storage.notification_recipients().await.unwrap();
    let refused = recipients
        .iter()
        .find(|r| r.address == address(&flaky))
        .unwrap();
    assert_eq!(refused.pending, 3);
    assert_eq!(refused.failures, 1);
    let error = refused.last_error.as_deref().unwrap();
    assert!(
        error.contains("450"),
        "the server's answer is kept: {error}"
    );

    // More leads while the recipient is refused; then the server accepts it again.
    for n in 4..=5 {
        post_lead(&app, &format!("Заказ при отказе {n}"), "+7 902 333-44-55").await;
    }
    postfix.accept_all();
    // Postfix's reload takes effect as its smtpd processes restart: the retries go on until one is taken.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut later = 0;
    let step = loop {
        later += 5;
        let step = sender
            .step(Utc::now() + Duration::seconds(later))
            .await
            .unwrap();
        if step.sent > 0 || std::time::Instant::now() > deadline {
            break step;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert_eq!((step.sent, step.failed, step.leads), (1, 0, 5), "{step:?}");

    let mail = wait_for_mail(&flaky, 1).await;
    assert_eq!(mail.len(), 1);
    for n in 1..=5 {
        assert!(
            mail[0].text.contains(&format!("Заказ при отказе {n}\n")),
            "{}",
            mail[0].text
        );
    }
    let recipients = storage.notification_recipients().await.unwrap();
    let recovered = recipients
        .iter()
        .find(|r| r.address == address(&flaky))
        .unwrap();
    assert_eq!((recovered.pending, recovered.failures), (0, 0));
    assert_eq!(recovered.last_error, None);
    // The other recipient got the first three at once and gets the other two after its minute.
    let step = sender
        .step(Utc::now() + Duration::seconds(later + 61))
        .await
        .unwrap();
    assert_eq!((step.sent, step.leads), (1, 2), "{step:?}");
    assert_eq!(wait_for_mail(&steady, 2).await.len(), 2);
}

#[tokio::test]
async fn the_smtp_servers_certificate_is_checked_unless_a_setting_says_otherwise() {
    let postfix = Postfix::start();
    let app = TestApp::spawn_with(without_sender).await;
    let storage = app.storage().await;
    let user = unique_user("checked");
    notify(storage.as_ref(), &[address(&user)]).await;
    post_lead(&app, "Заказ через проверенный TLS", "+7 903 444-55-66").await;

    // The test CA is not among the usual roots: the certificate is refused and nothing is sent.
    let untrusted = NotificationSettings {
        smtp_ca_file: None,
        ..smtp(&postfix)
    };
    let step = sender(storage.clone(), &untrusted)
        .step(Utc::now())
        .await
        .unwrap();
    assert_eq!((step.sent, step.failed), (0, 1), "{step:?}");
    let recipients = storage.notification_recipients().await.unwrap();
    let error = recipients[0].last_error.clone().unwrap();
    assert!(error.to_lowercase().contains("certificate"), "{error}");

    // Only the explicit setting skips the check.
    let insecure = NotificationSettings {
        smtp_insecure_skip_verify: true,
        ..untrusted
    };
    let step = sender(storage.clone(), &insecure)
        .step(Utc::now() + Duration::seconds(5))
        .await
        .unwrap();
    assert_eq!((step.sent, step.failed), (1, 0), "{step:?}");
    assert_eq!(wait_for_mail(&user, 1).await.len(), 1);
}

#[tokio::test]
async fn an_administrator_sets_a_calendars_recipients_and_a_user_their_own_address_in_the_ui() {
    const PASSWORD: &str = "correct horse battery staple";
    let app = TestApp::spawn_with(without_sender).await;
    let storage = app.storage().await;
    set_admin_password(&app, PASSWORD).await;
    let c = signed_in(&app, "admin", PASSWORD).await;
    let csrf = session_csrf(&app, &c).await;
    let made = post_form(
        &app,
        &c,
        "/admin/calendars",
        &[
            ("csrf", csrf.as_str()),
            ("name", "Отдел продаж"),
            ("owner", ""),
        ],
    )
    .await;
    assert_eq!(made.status().as_u16(), 303);
    let sales = calendar_id(storage.as_ref(), "Отдел продаж").await;
    let path = format!("/admin/calendars/{sales}/notifications");

    let forged = post_form(&app, &c, &path, &[("notify", "office@leadgate.test")]).await;
    assert_eq!(forged.status().as_u16(), 403, "no CSRF token, no change");
    let refused = post_form(
        &app,
        &c,
        &path,
        &[
            ("csrf", csrf.as_str()),
            ("notify", "office@leadgate.test, не-адрес"),
        ],
    )
    .await;
    assert_eq!(refused.status().as_u16(), 400);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("не адрес электронной почты")
    );
    let saved = post_form(
        &app,
        &c,
        &path,
        &[
            ("csrf", csrf.as_str()),
            (
                "notify",
                "Office@Leadgate.test\nsales@leadgate.test, office@leadgate.test",
            ),
        ],
    )
    .await;
    assert_eq!(saved.status().as_u16(), 303);
    assert_eq!(
        storage.calendar_notifications(sales).await.unwrap(),
        CalendarNotifications {
            notify_owner: false,
            addresses: vec!["office@leadgate.test".into(), "sales@leadgate.test".into()],
        }
    );
    // The calendars of the configuration file are set there.
    let default = calendar_id(storage.as_ref(), "Заявки с сайта").await;
    let managed = post_form(
        &app,
        &c,
        &format!("/admin/calendars/{default}/notifications"),
        &[("csrf", csrf.as_str()), ("notify", "office@leadgate.test")],
    )
    .await;
    assert_eq!(managed.status().as_u16(), 409);

    // A user's own address, on the account page.
    let refused = post_form(
        &app,
        &c,
        "/account/email",
        &[("csrf", csrf.as_str()), ("email", "admin@")],
    )
    .await;
    assert_eq!(refused.status().as_u16(), 400);
    let saved = post_form(
        &app,
        &c,
        "/account/email",
        &[("csrf", csrf.as_str()), ("email", "Admin@Leadgate.test")],
    )
    .await;
    assert_eq!(saved.status().as_u16(), 303);
    let admin = storage
        .users()
        .await
        .unwrap()
        .into_iter()
        .find(|u| u.login == "admin")
        .unwrap();
    assert_eq!(
        storage.user_email(admin.id).await.unwrap().as_deref(),
        Some("admin@leadgate.test")
    );

    // Without an SMTP server the page says so, and lists what waits for each recipient.
    storage
        .set_calendar_notifications(
            default,
            &CalendarNotifications {
                notify_owner: false,
                addresses: vec!["office@leadgate.test".into()],
            },
        )
        .await
        .unwrap();
    post_lead(&app, "Заказ без почтового сервера", "+7 904 555-66-77").await;
    let (status, html) = get(&app, &c, "/admin/calendars").await;
    assert_eq!(status, 200);
    assert!(html.contains("Почтовый сервер не настроен"), "{html}");
    assert!(
        html.contains(
            "data-recipient=\"office@leadgate.test\"><td>office@leadgate.test</td><td>1</td>"
        ),
        "{html}"
    );
}
