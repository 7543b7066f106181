//! The collector form's mail settings: the retention label says what retention deletes, and the subject
//! filter is chosen and kept.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
mod ui_support;

use common::TestApp;
use leadgate_domain::collector::SubjectFilter;
use ui_support::*;

const ADMIN_PASSWORD: &str = "admin-password-for-tests";

#[tokio::test]
async fn the_collector_form_says_retention_deletes_only_imported_mail_and_keeps_the_chosen_subject_filter()
 {
    let app = TestApp::spawn().await;
    set_admin_password(&app, ADMIN_PASSWORD).await;
    let c = signed_in(&app, "admin", ADMIN_PASSWORD).await;
    let (status, page) = get(&app, &c, "/admin/collectors/new").await;
    assert_eq!(status, 200);
    assert!(
        page.contains(
            "Удалять из ящика импортированные письма старше, дней (пропущенные и отклонённые не удаляются никогда)"
        ),
        "{page}"
    );
    assert!(
        page.contains(r#"<option value="server" selected>"#),
        "{page}"
    );

    let csrf = session_csrf(&app, &c).await;
    let form = [
        ("csrf", csrf.as_str()),
        ("name", "site-orders"),
        ("protocol", "imap"),
        ("host", "mail.example.ru"),
        ("port", "993"),
        ("tls", "implicit"),
        ("username", "orders@example.ru"),
        ("password_env", "LEADGATE_COLLECTOR_SITE_ORDERS_PASSWORD"),
        ("folder", "INBOX"),
        ("keyword", "ORDER"),
        ("subject_filter", "local"),
        ("calendar", "1"),
        ("default_charset", "windows-1251"),
        ("after_import", "keep"),
    ];
    let r = c
        .post(format!("{}/admin/collectors", app.base))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let stored = storage(&app).await.collectors(true).await.unwrap();
    assert_eq!(stored[0].subject_filter, SubjectFilter::Local);
    let (_, page) = get(&app, &c, &format!("/admin/collectors/{}", stored[0].id)).await;
    assert!(
        page.contains(r#"<option value="local" selected>"#),
        "{page}"
    );
}
