//! Calendars and HTTP sources.

use super::*;

/// [`Calendars::create_calendar`], [`Calendars::upsert_calendar`], [`Calendars::calendars`].
pub async fn calendars_are_created_once_and_upserted_by_name(s: &dyn Storage) {
    let common = ok("upsert", s.upsert_calendar("Заказы", None).await);
    assert_eq!(
        ok("again", s.upsert_calendar("Заказы", None).await),
        common,
        "by name"
    );
    let personal = ok("owned", s.upsert_calendar("Мой", Some("maria")).await);
    let maria = some("maria", ok("owner made", s.user_credentials("maria").await));
    assert_eq!(
        maria.role,
        Role::Manager,
        "a missing owner is made a manager"
    );
    let made = ok(
        "create",
        s.create_calendar("Ивана", Some(maria.id), "#16a34a").await,
    );
    match s.create_calendar("Заказы", None, "#000000").await {
        Err(StorageError::Conflict(_)) => {}
        other => panic!("a taken name is a Conflict: {other:?}"),
    }
    let all = ok("calendars", s.calendars().await);
    let shown: Vec<(i64, &str, Option<&str>)> = all
        .iter()
        .map(|c| (c.id, c.name.as_str(), c.owner.as_deref()))
        .collect();
    assert_eq!(
        shown,
        vec![
            (common, "Заказы", None),
            (personal, "Мой", Some("maria")),
            (made, "Ивана", Some("maria"))
        ]
    );
    assert_eq!(all[2].color, "#16a34a");
    assert!(!all[0].color.is_empty(), "a calendar has a colour");
    ok("unowned", s.upsert_calendar("Мой", None).await);
    assert_eq!(
        ok("calendars", s.calendars().await)[1].owner,
        None,
        "the upsert sets the owner"
    );
}

/// [`Calendars::create_http_source`], [`Calendars::upsert_http_source`], [`Calendars::http_source`],
/// [`Calendars::http_source_by_token`], [`Calendars::http_sources`], [`Calendars::revoke_http_source`].
pub async fn http_sources_are_found_by_token_until_revoked(s: &dyn Storage) {
    let calendar = ok("calendar", s.upsert_calendar("Заказы", None).await);
    let other = ok("calendar", s.upsert_calendar("Другой", None).await);
    let made = ok(
        "create",
        s.create_http_source("landing", calendar, "hash-l").await,
    );
    match s.create_http_source("landing", calendar, "hash-x").await {
        Err(StorageError::Conflict(_)) => {}
        other => panic!("a taken name is a Conflict: {other:?}"),
    }
    let record = HttpSourceRecord {
        id: 0,
        name: "site".into(),
        calendar_id: calendar,
        calendar_name: String::new(),
        cors_origins: vec!["https://shop.example".into()],
        auto_tech_cards: true,
    };
    let site = ok(
        "upsert",
        s.upsert_http_source(&record, Some("hash-s")).await,
    );
    let moved = HttpSourceRecord {
        calendar_id: other,
        cors_origins: Vec::new(),
        auto_tech_cards: false,
        ..record.clone()
    };
    assert_eq!(
        ok("again", s.upsert_http_source(&moved, None).await),
        site,
        "by name"
    );
    let found = some(
        "by token",
        ok("by token", s.http_source_by_token("hash-s").await),
    );
    assert_eq!(
        (found.id, found.calendar_id, found.calendar_name.as_str()),
        (site, other, "Другой"),
        "the token is kept"
    );
    assert!(found.cors_origins.is_empty() && !found.auto_tech_cards);
    ok("back", s.upsert_http_source(&record, Some("hash-s2")).await);
    let found = some("by id", ok("by id", s.http_source(site).await));
    assert_eq!(
        (
            found.name.as_str(),
            found.calendar_id,
            found.auto_tech_cards
        ),
        ("site", calendar, true)
    );
    assert_eq!(found.cors_origins, vec!["https://shop.example".to_owned()]);
    assert!(
        ok("old token", s.http_source_by_token("hash-s").await).is_none(),
        "a new token replaces the old"
    );
    assert!(ok("unknown", s.http_source(site + 1000).await).is_none());
    let listed = ok("list", s.http_sources().await);
    assert_eq!(
        listed
            .iter()
            .map(|v| (v.source.name.as_str(), v.active))
            .collect::<Vec<_>>(),
        vec![("landing", true), ("site", true)],
        "by name"
    );
    assert_eq!(
        listed[1].source.cors_origins,
        vec!["https://shop.example".to_owned()]
    );
    assert_eq!(listed[0].source.calendar_name, "Заказы");
    assert!(ok("revoke", s.revoke_http_source(made).await));
    assert!(ok("revoked", s.http_source_by_token("hash-l").await).is_none());
    assert!(!ok("list", s.http_sources().await)[0].active);
    assert!(some("still there", ok("by id", s.http_source(made).await)).name == "landing");
    assert!(!ok("unknown", s.revoke_http_source(made + 1000).await));
}
