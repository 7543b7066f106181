//! Counterparties a manager can trust, over HTTP against the real server: a new organisation is named by its
//! INN (an entrepreneur by the person), managers rename counterparties and keep their contacts in the UI
//! (with CSRF, escaping and the visibility of other counterparty pages), and a lead without an INN whose
//! phone or e-mail is a known customer's suggests that customer and is linked in one click.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
mod ui_support;

use common::TestApp;
use leadgate_domain::account::Role;
use serde_json::{Value, json};
use ui_support::*;

const ADMIN_PASSWORD: &str = "admin-password-for-tests";
const M1_PASSWORD: &str = "manager1-password";
const M2_PASSWORD: &str = "manager2-password";

async fn post_with(app: &TestApp, token: &str, payload: Value) -> Value {
    app.post_lead_with(token, &payload).await
}

async fn post_lead(app: &TestApp, payload: Value) -> Value {
    post_with(app, &app.source_token, payload).await
}

/// The app, its administrator, two managers, and manager2's personal calendar with a site of its own
/// (returns that site's token).
async fn two_managers() -> (TestApp, String) {
    let app = TestApp::spawn().await;
    set_admin_password(&app, ADMIN_PASSWORD).await;
    add_user(&app, "manager1", Role::Manager, M1_PASSWORD).await;
    let m2 = add_user(&app, "manager2", Role::Manager, M2_PASSWORD).await;
    let s = storage(&app).await;
    let cal = s
        .create_calendar("Личный manager2", Some(m2), "#dc2626")
        .await
        .unwrap();
    let token = leadgate::tokens::generate();
    s.create_http_source("m2-site", cal, &leadgate::tokens::hash(&token))
        .await
        .unwrap();
    (app, token)
}

#[tokio::test]
async fn a_new_organisation_is_named_by_its_inn_and_an_entrepreneur_by_the_person() {
    let app = TestApp::spawn().await;
    let company = post_lead(
        &app,
        json!({"ИНН": "7709745454", "КонтактноеЛицо": "Прилепский Алексей Анатольевич"}),
    )
    .await;
    assert_eq!(company["counterparty"]["name"], "ИНН 7709745454");
    let entrepreneur = post_lead(
        &app,
        json!({"ИНН": "500100732259", "КонтактноеЛицо": "Петров Пётр Петрович"}),
    )
    .await;
    assert_eq!(entrepreneur["counterparty"]["name"], "Петров Пётр Петрович");

    // A later lead with another person does not rename either of them.
    let again = post_lead(
        &app,
        json!({"ИНН": "7709745454", "КонтактноеЛицо": "Иванов"}),
    )
    .await;
    assert_eq!(again["counterparty"]["name"], "ИНН 7709745454");
    let found = app.get("/api/v1/counterparties?inn=7709745454").await;
    assert_eq!(found["items"][0]["name"], "ИНН 7709745454");
    assert_eq!(found["items"][0]["inn_kind"], "organisation");
    let found = app.get("/api/v1/counterparties?inn=500100732259").await;
    assert_eq!(found["items"][0]["name"], "Петров Пётр Петрович");
    assert_eq!(found["items"][0]["inn_kind"], "individual");
}

#[tokio::test]
async fn a_manager_renames_a_counterparty_and_keeps_its_contacts_in_the_ui() {
    let (app, _) = two_managers().await;
    let lead = post_lead(
        &app,
        json!({"ИНН": "7709745454", "КонтактноеЛицо": "Прилепский", "Телефон": "+7 925 642 42-90",
               "Тема": "Баннер"}),
    )
    .await;
    let id = lead["counterparty"]["id"].as_i64().unwrap();
    let path = format!("/counterparties/{id}");
    let m1 = signed_in(&app, "manager1", M1_PASSWORD).await;
    let (status, page) = get(&app, &m1, &path).await;
    assert_eq!(status, 200);
    let csrf = csrf_in(&page);

    // Without the session's CSRF token nothing changes.
    let r = post_form(
        &app,
        &m1,
        &format!("{path}/name"),
        &[("csrf", "forged"), ("name", "Чужое")],
    )
    .await;
    assert_eq!(r.status(), 403);
    let r = post_form(
        &app,
        &m1,
        &format!("{path}/contacts"),
        &[("kind", "phone"), ("value", "+79160000000")],
    )
    .await;
    assert_eq!(r.status(), 403);

    // The name is the manager's, shown escaped.
    let r = post_form(
        &app,
        &m1,
        &format!("{path}/name"),
        &[
            ("csrf", &csrf),
            ("name", "  ООО «Ромашка» <script>alert(1)</script> "),
        ],
    )
    .await;
    assert_eq!(r.status(), 303);
    let (_, page) = get(&app, &m1, &path).await;
    assert!(
        page.contains("ООО «Ромашка» &#60;script&#62;alert(1)&#60;/script&#62;"),
        "{page}"
    );
    assert!(!page.contains("<script>alert(1)"));
    let r = post_form(
        &app,
        &m1,
        &format!("{path}/name"),
        &[("csrf", &csrf), ("name", "   ")],
    )
    .await;
    assert_eq!(r.status(), 400);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("Название не может быть пустым")
    );
    let r = post_form(
        &app,
        &m1,
        &format!("{path}/name"),
        &[("csrf", &csrf), ("name", "ООО «Ромашка»")],
    )
    .await;
    assert_eq!(r.status(), 303);

    // A phone is kept in E.164 whatever way it was typed; nonsense gets a sentence, not a contact.
    let r = post_form(
        &app,
        &m1,
        &format!("{path}/contacts"),
        &[
            ("csrf", &csrf),
            ("kind", "phone"),
            ("value", "8 (916) 765-43-21"),
        ],
    )
    .await;
    assert_eq!(r.status(), 303);
    let r = post_form(
        &app,
        &m1,
        &format!("{path}/contacts"),
        &[
            ("csrf", &csrf),
            ("kind", "email"),
            ("value", "office@romashka.example"),
        ],
    )
    .await;
    assert_eq!(r.status(), 303);
    let r = post_form(
        &app,
        &m1,
        &format!("{path}/contacts"),
        &[
            ("csrf", &csrf),
            ("kind", "phone"),
            ("value", "позвоните <b>мне</b>"),
        ],
    )
    .await;
    assert_eq!(r.status(), 400);
    let refused = r.text().await.unwrap();
    assert!(refused.contains("не похоже на номер телефона"), "{refused}");
    assert!(
        refused.contains("позвоните &#60;b&#62;мне&#60;/b&#62;"),
        "{refused}"
    );
    // The wrong phone the lead brought goes.
    let r = post_form(
        &app,
        &m1,
        &format!("{path}/contacts/remove"),
        &[
            ("csrf", &csrf),
            ("kind", "phone"),
            ("value", "+79256424290"),
        ],
    )
    .await;
    assert_eq!(r.status(), 303);

    let found = app.get("/api/v1/counterparties?inn=7709745454").await;
    assert_eq!(found["items"][0]["name"], "ООО «Ромашка»");
    assert_eq!(found["items"][0]["phones"], json!(["+79167654321"]));
    assert_eq!(
        found["items"][0]["emails"],
        json!(["office@romashka.example"])
    );
    let lead = app.get(&format!("/api/v1/leads/{}", lead["id"])).await;
    assert_eq!(lead["counterparty"]["name"], "ООО «Ромашка»");

    // Another manager who sees the customer sees the contacts a manager typed.
    let m2 = signed_in(&app, "manager2", M2_PASSWORD).await;
    let (status, page) = get(&app, &m2, &path).await;
    assert_eq!(status, 200);
    assert!(page.contains("+79167654321") && page.contains("office@romashka.example"));
    assert!(!page.contains("+79256424290"));
}

#[tokio::test]
async fn a_manager_who_may_not_see_any_of_its_leads_cannot_change_a_counterparty() {
    let (app, m2_site) = two_managers().await;
    let secret = post_with(
        &app,
        &m2_site,
        json!({"ИНН": "5001007329", "Телефон": "+7 916 345-67-89", "Тема": "Тайная сделка"}),
    )
    .await;
    let id = secret["counterparty"]["id"].as_i64().unwrap();
    let path = format!("/counterparties/{id}");
    let m1 = signed_in(&app, "manager1", M1_PASSWORD).await;
    let csrf = session_csrf(&app, &m1).await;
    for (action, form) in [
        ("name", vec![("name", "Взлом")]),
        (
            "contacts",
            vec![("kind", "phone"), ("value", "+79160000000")],
        ),
        (
            "contacts/remove",
            vec![("kind", "phone"), ("value", "+79163456789")],
        ),
    ] {
        let mut fields = vec![("csrf", csrf.as_str())];
        fields.extend(form);
        let r = post_form(&app, &m1, &format!("{path}/{action}"), &fields).await;
        assert_eq!(r.status(), 404, "{action}: as if it did not exist");
    }
    let found = app.get("/api/v1/counterparties?inn=5001007329").await;
    assert_eq!(found["items"][0]["name"], "ИНН 5001007329");
    assert_eq!(found["items"][0]["phones"], json!(["+79163456789"]));

    // Its own manager may.
    let m2 = signed_in(&app, "manager2", M2_PASSWORD).await;
    let csrf = session_csrf(&app, &m2).await;
    let r = post_form(
        &app,
        &m2,
        &format!("{path}/name"),
        &[("csrf", &csrf), ("name", "ООО «Тайна»")],
    )
    .await;
    assert_eq!(r.status(), 303);
}

#[tokio::test]
async fn a_lead_without_an_inn_suggests_the_customer_with_its_phone_and_is_linked_in_one_click() {
    let app = TestApp::spawn().await;
    set_admin_password(&app, ADMIN_PASSWORD).await;
    add_user(&app, "manager1", Role::Manager, M1_PASSWORD).await;
    let first = post_lead(
        &app,
        json!({"ИНН": "7709745454", "Телефон": "+7 916 123-45-67", "Тема": "Первый заказ"}),
    )
    .await;
    let cp = first["counterparty"]["id"].as_i64().unwrap();
    let m1 = signed_in(&app, "manager1", M1_PASSWORD).await;
    let csrf = session_csrf(&app, &m1).await;
    let r = post_form(
        &app,
        &m1,
        &format!("/counterparties/{cp}/name"),
        &[("csrf", &csrf), ("name", "ООО «Ромашка»")],
    )
    .await;
    assert_eq!(r.status(), 303);

    // The same phone written another way, and no INN.
    let anonymous = post_lead(
        &app,
        json!({"Телефон": "8 (916) 123-45-67", "КонтактноеЛицо": "Света", "Тема": "Перезвоните"}),
    )
    .await;
    assert_eq!(anonymous["counterparty"], Value::Null);
    let lead_path = format!("/leads/{}", anonymous["id"]);
    let (status, page) = get(&app, &m1, &lead_path).await;
    assert_eq!(status, 200);
    assert!(page.contains("Похоже, это известный контрагент"), "{page}");
    assert!(page.contains("ООО «Ромашка»") && page.contains("совпал телефон +79161234567"));
    assert!(
        page.contains(&format!("/leads/{}\"", first["id"])),
        "the customer's other lead is shown"
    );

    // Linking needs the CSRF token and a current suggestion.
    let r = post_form(
        &app,
        &m1,
        &format!("{lead_path}/counterparty"),
        &[("counterparty", &cp.to_string())],
    )
    .await;
    assert_eq!(r.status(), 403);
    let stranger = post_lead(&app, json!({"ИНН": "500100732259", "Тема": "Другой"})).await;
    let r = post_form(
        &app,
        &m1,
        &format!("{lead_path}/counterparty"),
        &[
            ("csrf", &csrf),
            ("counterparty", &stranger["counterparty"]["id"].to_string()),
        ],
    )
    .await;
    assert_eq!(r.status(), 404, "only a suggested customer can be linked");
    let r = post_form(
        &app,
        &m1,
        &format!("{lead_path}/counterparty"),
        &[("csrf", &csrf), ("counterparty", &cp.to_string())],
    )
    .await;
    assert_eq!(r.status(), 303);

    // The read API shows the link; the page shows the customer instead of the suggestion.
    let lead = app.get(&format!("/api/v1/leads/{}", anonymous["id"])).await;
    assert_eq!(
        lead["counterparty"],
        json!({"id": cp, "inn": "7709745454", "name": "ООО «Ромашка»"})
    );
    let (_, page) = get(&app, &m1, &lead_path).await;
    assert!(!page.contains("Похоже, это известный контрагент"));
    assert!(page.contains("id=\"counterparty-link\">ООО «Ромашка»</a>"));
    let (_, customer) = get(&app, &m1, &format!("/counterparties/{cp}")).await;
    assert!(customer.contains(&format!("{lead_path}\"")));
    // Linking twice changes nothing.
    let r = post_form(
        &app,
        &m1,
        &format!("{lead_path}/counterparty"),
        &[("csrf", &csrf), ("counterparty", &cp.to_string())],
    )
    .await;
    assert_eq!(r.status(), 409);
}

#[tokio::test]
async fn an_email_in_other_letters_case_finds_the_customer_too() {
    let app = TestApp::spawn().await;
    set_admin_password(&app, ADMIN_PASSWORD).await;
    let first = post_lead(
        &app,
        json!({"ИНН": "7709745454", "АдресЭлектроннойПочты": "Office@Romashka.example"}),
    )
    .await;
    let anonymous = post_lead(
        &app,
        json!({"АдресЭлектроннойПочты": "office@romashka.EXAMPLE"}),
    )
    .await;
    let admin = signed_in(&app, "admin", ADMIN_PASSWORD).await;
    let (_, page) = get(&app, &admin, &format!("/leads/{}", anonymous["id"])).await;
    assert!(
        page.contains("совпал e-mail office@romashka.EXAMPLE"),
        "{page}"
    );
    assert!(page.contains(&format!(
        "name=\"counterparty\" value=\"{}\"",
        first["counterparty"]["id"]
    )));
    // A lead that has an INN is its own evidence: no suggestion.
    let with_inn = post_lead(
        &app,
        json!({"ИНН": "500100732259", "АдресЭлектроннойПочты": "office@romashka.example"}),
    )
    .await;
    let (_, page) = get(&app, &admin, &format!("/leads/{}", with_inn["id"])).await;
    assert!(!page.contains("Похоже, это известный контрагент"));
}

#[tokio::test]
async fn a_customer_known_only_from_another_managers_calendar_is_never_suggested() {
    let (app, m2_site) = two_managers().await;
    // A customer manager2 alone knows, and one both know (its second lead is manager2's alone).
    let secret = post_with(
        &app,
        &m2_site,
        json!({"ИНН": "5001007329", "Телефон": "+7 916 345-67-89", "Тема": "Тайная сделка"}),
    )
    .await;
    let shared = post_lead(
        &app,
        json!({"ИНН": "7709745454", "АдресЭлектроннойПочты": "buyer@shop.example", "Тема": "Общий заказ"}),
    )
    .await;
    let shared_private = post_with(
        &app,
        &m2_site,
        json!({"ИНН": "7709745454", "Телефон": "+7 916 222-33-44", "Тема": "Личный заказ manager2"}),
    )
    .await;

    let by_secret_phone = post_lead(&app, json!({"Телефон": "+7 916 345-67-89"})).await;
    let by_private_phone = post_lead(&app, json!({"Телефон": "+7 916 222-33-44"})).await;
    let by_email = post_lead(&app, json!({"АдресЭлектроннойПочты": "buyer@shop.example"})).await;

    let m1 = signed_in(&app, "manager1", M1_PASSWORD).await;
    let csrf = session_csrf(&app, &m1).await;
    for (lead, hidden) in [(&by_secret_phone, &secret), (&by_private_phone, &shared)] {
        let path = format!("/leads/{}", lead["id"]);
        let (_, page) = get(&app, &m1, &path).await;
        assert!(
            !page.contains("Похоже, это известный контрагент"),
            "manager1 must not learn whose phone it is: {page}"
        );
        let r = post_form(
            &app,
            &m1,
            &format!("{path}/counterparty"),
            &[
                ("csrf", &csrf),
                ("counterparty", &hidden["counterparty"]["id"].to_string()),
            ],
        )
        .await;
        assert_eq!(r.status(), 404);
        let after = app.get(&format!("/api/v1/leads/{}", lead["id"])).await;
        assert_eq!(after["counterparty"], Value::Null);
    }
    // The shared customer is suggested by the e-mail manager1 may see, with only the leads manager1 may see.
    let (_, page) = get(&app, &m1, &format!("/leads/{}", by_email["id"])).await;
    assert!(page.contains("совпал e-mail buyer@shop.example"), "{page}");
    assert!(page.contains(&format!("/leads/{}\"", shared["id"])));
    assert!(!page.contains(&format!("/leads/{}\"", shared_private["id"])));
    assert!(!page.contains("Личный заказ manager2"));

    // manager2 is offered the customer of the phone.
    let m2 = signed_in(&app, "manager2", M2_PASSWORD).await;
    let (_, page) = get(&app, &m2, &format!("/leads/{}", by_secret_phone["id"])).await;
    assert!(page.contains("совпал телефон +79163456789"), "{page}");
}

#[tokio::test]
async fn a_manager_who_types_and_removes_another_managers_private_contact_leaves_it_to_them() {
    let (app, m2_site) = two_managers().await;
    // One customer: manager1 sees its lead with an e-mail, manager2 alone the lead that brought a phone.
    let shared = post_lead(
        &app,
        json!({"ИНН": "7709745454", "АдресЭлектроннойПочты": "buyer@shop.example", "Тема": "Общий заказ"}),
    )
    .await;
    post_with(
        &app,
        &m2_site,
        json!({"ИНН": "7709745454", "Телефон": "+7 916 222-33-44", "Тема": "Личный заказ manager2"}),
    )
    .await;
    let party = shared["counterparty"]["id"].as_i64().unwrap();
    let path = format!("/counterparties/{party}");
    let m1 = signed_in(&app, "manager1", M1_PASSWORD).await;
    let csrf = session_csrf(&app, &m1).await;
    // Not seen, so not removable; typed, then removed.
    for (action, value, status) in [
        ("contacts/remove", "+79162223344", 404),
        ("contacts", "+7 916 222-33-44", 303),
        ("contacts/remove", "+79162223344", 303),
    ] {
        let form = [("csrf", csrf.as_str()), ("kind", "phone"), ("value", value)];
        let r = post_form(&app, &m1, &format!("{path}/{action}"), &form).await;
        assert_eq!(r.status(), status, "{action} {value}");
    }
    let (_, page) = get(&app, &m1, &path).await;
    assert!(
        !page.contains("+79162223344"),
        "manager1 removed it for themself"
    );

    // manager2's lead brought it: manager2 and the administrator still see it, and a new lead of manager2's
    // with that phone is still offered the customer.
    let m2 = signed_in(&app, "manager2", M2_PASSWORD).await;
    let (_, page) = get(&app, &m2, &path).await;
    assert!(page.contains("+79162223344"), "{page}");
    let admin = signed_in(&app, "admin", ADMIN_PASSWORD).await;
    let (_, page) = get(&app, &admin, &path).await;
    assert!(page.contains("+79162223344"), "{page}");
    let by_phone = post_with(&app, &m2_site, json!({"Телефон": "+7 916 222-33-44"})).await;
    let (_, page) = get(&app, &m2, &format!("/leads/{}", by_phone["id"])).await;
    assert!(page.contains("совпал телефон +79162223344"), "{page}");
}
