//! Records the configuration file manages, and the CORS origins of a source.

use super::*;

/// The names of the retired records, each list sorted (the order they are retired in is the backend's).
fn sorted(mut retired: Retired) -> Retired {
    retired.collectors.sort();
    retired.http_sources.sort();
    retired.calendars_deleted.sort();
    retired.calendars_released.sort();
    retired
}

fn ids<const N: usize>(ids: [i64; N]) -> std::collections::HashSet<i64> {
    ids.into_iter().collect()
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|n| (*n).to_owned()).collect()
}

/// [`FileManaged::manage_by_file`], [`FileManaged::claim_declared`], [`FileManaged::managed_by_file`].
pub async fn records_the_file_declares_are_its_own_and_retired_when_it_drops_them(s: &dyn Storage) {
    // What the file declares: a calendar that will hold a lead, one nothing refers to, one only a collector
    // names; a source and a collector.
    let orders = ok("calendar", s.upsert_calendar("Файл", None).await);
    let spare = ok("calendar", s.upsert_calendar("Запасной", None).await);
    let boxed = ok("calendar", s.upsert_calendar("Ящика", None).await);
    let site = ok(
        "source",
        s.upsert_http_source(
            &HttpSourceRecord {
                id: 0,
                name: "site".into(),
                calendar_id: orders,
                calendar_name: String::new(),
                cors_origins: vec!["https://shop.example".into()],
                auto_tech_cards: false,
            },
            Some("hash-site"),
        )
        .await,
    );
    let file_box = ok(
        "collector",
        s.upsert_collector(&collector_record("box", boxed)).await,
    );
    // What was made in the web UI.
    let ui_calendar = ok(
        "ui calendar",
        s.create_calendar("Интерфейс", None, "#16a34a").await,
    );
    let landing = ok(
        "ui source",
        s.create_http_source("landing", ui_calendar, "hash-landing")
            .await,
    );
    let ui_box = ok(
        "ui collector",
        s.upsert_collector(&collector_record("ui-box", ui_calendar))
            .await,
    );
    let fresh = ok("fresh", s.managed_by_file().await);
    assert!(
        fresh.calendars.is_empty() && fresh.http_sources.is_empty() && fresh.collectors.is_empty(),
        "nothing is the file's until it is declared"
    );

    // A one-shot command claims what its file declares and retires nothing, even what it does not declare.
    ok(
        "claim",
        s.claim_declared(&FileRecords {
            calendars: names(&["Файл"]),
            http_sources: Vec::new(),
            collectors: names(&["box"]),
        })
        .await,
    );
    let claimed = ok("claimed", s.managed_by_file().await);
    assert_eq!(claimed.calendars, ids([orders]));
    assert!(claimed.http_sources.is_empty());
    assert_eq!(claimed.collectors, ids([file_box]));

    let declared = FileRecords {
        calendars: names(&["Файл", "Запасной", "Ящика", "Нет такого"]),
        http_sources: names(&["site"]),
        collectors: names(&["box"]),
    };
    let retired = ok("apply", s.manage_by_file(&declared).await);
    assert!(
        retired.is_empty(),
        "a first start retires nothing: {retired:?}"
    );
    let managed = ok("managed", s.managed_by_file().await);
    assert_eq!(managed.calendars, ids([orders, spare, boxed]));
    assert_eq!(managed.http_sources, ids([site]));
    assert_eq!(managed.collectors, ids([file_box]));
    assert!(
        ok("again", s.manage_by_file(&declared).await).is_empty(),
        "applying the same file again retires nothing"
    );
    let lead = file_lead(
        s,
        site,
        contact("Звонок", "+7 925 000 00-01"),
        orders,
        now(),
    )
    .await;

    // The file drops everything.
    let retired = ok("apply", s.manage_by_file(&FileRecords::default()).await);
    assert_eq!(
        sorted(retired),
        Retired {
            collectors: names(&["box"]),
            http_sources: names(&["site"]),
            calendars_deleted: names(&["Запасной"]),
            calendars_released: names(&["Файл", "Ящика"]),
        },
        "a calendar holding a lead or named by a collector is handed over, an empty one deleted"
    );
    let live: Vec<String> = ok("live", s.collectors(false).await)
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(
        live,
        names(&["ui-box"]),
        "the dropped collector is marked for deletion"
    );
    let dropped = some("kept", ok("collector", s.collector(file_box).await));
    assert!(dropped.deleted, "its history stays");
    assert!(
        !some("ui", ok("collector", s.collector(ui_box).await)).deleted,
        "a collector made in the UI is never touched"
    );
    assert!(
        ok("token", s.http_source_by_token("hash-site").await).is_none(),
        "the dropped source's token is revoked"
    );
    assert!(
        ok("token", s.http_source_by_token("hash-landing").await).is_some(),
        "a source made in the UI keeps its token"
    );
    let sources: Vec<(String, bool)> = ok("sources", s.http_sources().await)
        .into_iter()
        .map(|v| (v.source.name, v.active))
        .collect();
    assert_eq!(
        sources,
        vec![("landing".to_owned(), true), ("site".to_owned(), false)]
    );
    let calendars: Vec<i64> = ok("calendars", s.calendars().await)
        .iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(calendars, vec![orders, boxed, ui_calendar]);
    assert_eq!(
        some("lead", ok("lead", s.lead(lead).await)).calendar.id,
        orders,
        "no lead is lost"
    );
    let managed = ok("managed", s.managed_by_file().await);
    assert!(
        managed.calendars.is_empty(),
        "a handed-over calendar is the UI's"
    );
    assert_eq!(
        (managed.http_sources, managed.collectors),
        (ids([site]), ids([file_box])),
        "a retired source and collector stay the file's"
    );
    assert!(
        ok("again", s.manage_by_file(&FileRecords::default()).await).is_empty(),
        "what is retired is retired once"
    );

    // The file names the collector again, and a name the UI made.
    ok(
        "restored",
        s.upsert_collector(&collector_record("box", boxed)).await,
    );
    let declared = FileRecords {
        collectors: names(&["box"]),
        http_sources: names(&["landing"]),
        ..FileRecords::default()
    };
    assert!(ok("apply", s.manage_by_file(&declared).await).is_empty());
    assert!(!some("box", ok("collector", s.collector(file_box).await)).deleted);
    let managed = ok("managed", s.managed_by_file().await);
    assert_eq!(managed.collectors, ids([file_box]));
    assert_eq!(
        managed.http_sources,
        ids([site, landing]),
        "the file takes over a record it names"
    );
}

/// [`FileManaged::set_http_source_cors`].
pub async fn a_sources_cors_origins_are_replaced_as_a_whole(s: &dyn Storage) {
    let (_, source) = calendar_and_source(s, "site").await;
    let origins = names(&["https://shop.example", "https://www.shop.example"]);
    assert!(ok("set", s.set_http_source_cors(source, &origins).await));
    let by_token = some(
        "by token",
        ok("by token", s.http_source_by_token("hash-site").await),
    );
    assert_eq!(by_token.cors_origins, origins, "the intake sees them");
    let fewer = names(&["https://promo.example"]);
    assert!(ok("replace", s.set_http_source_cors(source, &fewer).await));
    assert_eq!(
        some("source", ok("source", s.http_source(source).await)).cors_origins,
        fewer
    );
    assert!(ok("clear", s.set_http_source_cors(source, &[]).await));
    assert!(
        some("source", ok("source", s.http_source(source).await))
            .cors_origins
            .is_empty()
    );
    assert!(
        !ok(
            "unknown",
            s.set_http_source_cors(source + 1000, &fewer).await
        ),
        "no such source"
    );
}
