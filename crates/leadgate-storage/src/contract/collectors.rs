//! Collectors: settings, scan states, runs and the job lock.

use super::*;

/// [`Collectors::upsert_collector`], [`Collectors::collector`], [`Collectors::collectors`].
pub async fn collectors_round_trip_and_are_upserted_by_name(s: &dyn Storage) {
    let calendar = ok("calendar", s.upsert_calendar("Заказы", None).await);
    let record = collector_record("site", calendar);
    let id = ok("upsert", s.upsert_collector(&record).await);
    let stored = some("collector", ok("collector", s.collector(id).await));
    let expected = CollectorRecord {
        id,
        ..record.clone()
    };
    assert_eq!(
        format!("{stored:?}"),
        format!("{expected:?}"),
        "every field round-trips"
    );
    let changed = CollectorRecord {
        protocol: Protocol::Pop3,
        tls: leadgate_domain::collector::TlsMode::StartTls,
        port: 110,
        ca_file: None,
        password_env: None,
        password_file: Some("/run/secrets/pop3".into()),
        subject_filter: SubjectFilter::Server,
        after_import: AfterImport::Delete,
        move_to: None,
        failed_folder: None,
        delete_after_days: None,
        auto_tech_cards: false,
        insecure_skip_verify: true,
        push: true,
        ..record.clone()
    };
    assert_eq!(
        ok("again", s.upsert_collector(&changed).await),
        id,
        "by name"
    );
    let stored = some("collector", ok("collector", s.collector(id).await));
    assert_eq!(
        format!("{stored:?}"),
        format!(
            "{:?}",
            CollectorRecord {
                id,
                ..changed.clone()
            }
        )
    );
    let other = ok(
        "other",
        s.upsert_collector(&collector_record("another", calendar))
            .await,
    );
    ok(
        "delete",
        s.upsert_collector(&CollectorRecord {
            deleted: true,
            ..collector_record("another", calendar)
        })
        .await,
    );
    let names = |list: Vec<CollectorRecord>| list.into_iter().map(|c| c.name).collect::<Vec<_>>();
    assert_eq!(names(ok("live", s.collectors(false).await)), vec!["site"]);
    assert_eq!(
        names(ok("all", s.collectors(true).await)),
        vec!["another", "site"],
        "by name"
    );
    assert!(some("deleted", ok("collector", s.collector(other).await)).deleted);
    assert!(ok("unknown", s.collector(id + 1000).await).is_none());
}

/// [`Collectors::scan_state`] and [`Collectors::set_scan_state`].
pub async fn a_scan_state_round_trips_per_folder(s: &dyn Storage) {
    let calendar = ok("calendar", s.upsert_calendar("Заказы", None).await);
    let id = ok(
        "collector",
        s.upsert_collector(&collector_record("site", calendar))
            .await,
    );
    assert_eq!(ok("none", s.scan_state(id, "INBOX").await), None);
    let state = ScanState {
        uid_validity: u32::MAX,
        last_uid: 41,
    };
    ok("save", s.set_scan_state(id, "INBOX", state).await);
    assert_eq!(
        ok("read", s.scan_state(id, "INBOX").await),
        Some(state),
        "the largest UIDVALIDITY fits"
    );
    let moved = ScanState {
        uid_validity: 7,
        last_uid: 3,
    };
    ok("overwrite", s.set_scan_state(id, "INBOX", moved).await);
    assert_eq!(ok("read", s.scan_state(id, "INBOX").await), Some(moved));
    assert_eq!(ok("other folder", s.scan_state(id, "Orders").await), None);
    ok("other", s.set_scan_state(id, "Orders", state).await);
    assert_eq!(ok("both", s.scan_state(id, "INBOX").await), Some(moved));
}

/// [`Collectors::start_run`], [`Collectors::finish_run`], [`Collectors::last_runs`].
pub async fn runs_are_recorded_and_the_last_one_shown(s: &dyn Storage) {
    let calendar = ok("calendar", s.upsert_calendar("Заказы", None).await);
    let site = ok(
        "site",
        s.upsert_collector(&collector_record("site", calendar))
            .await,
    );
    let other = ok(
        "other",
        s.upsert_collector(&collector_record("other", calendar))
            .await,
    );
    assert!(ok("none", s.last_runs().await).is_empty());
    let first = ok("start", s.start_run(site).await);
    let counts = RunCounts {
        imported: 3,
        duplicate: 2,
        skipped: 1,
        rejected: 4,
    };
    ok("finish", s.finish_run(first, &counts, None).await);
    let running = ok("start", s.start_run(other).await);
    let runs = ok("last", s.last_runs().await);
    let done = some("site's run", runs.get(&site));
    assert_eq!((done.counts.clone(), done.error.as_deref()), (counts, None));
    assert!(done.finished_at.is_some_and(|f| f >= done.started_at));
    let open = some("other's run", runs.get(&other));
    assert!(open.finished_at.is_none(), "a run still going has no end");
    let second = ok("start", s.start_run(site).await);
    ok(
        "fail",
        s.finish_run(second, &RunCounts::default(), Some("connection refused"))
            .await,
    );
    ok(
        "finish",
        s.finish_run(running, &RunCounts::default(), None).await,
    );
    let runs = ok("last", s.last_runs().await);
    let last = some("site's run", runs.get(&site));
    assert_eq!(
        (last.counts.clone(), last.error.as_deref()),
        (RunCounts::default(), Some("connection refused")),
        "the latest run"
    );
    assert!(some("other's run", runs.get(&other)).finished_at.is_some());
}

/// [`Collectors::try_lock_job`].
pub async fn a_job_lock_has_one_holder_until_dropped(s: &dyn Storage) {
    let held = some("a free lock", ok("lock", s.try_lock_job("collect").await));
    assert!(
        ok("held", s.try_lock_job("collect").await).is_none(),
        "one holder at a time"
    );
    let other = ok("another job", s.try_lock_job("retention").await);
    assert!(other.is_some(), "jobs lock apart");
    drop(held);
    assert!(
        ok("released", s.try_lock_job("collect").await).is_some(),
        "dropping the guard releases it"
    );
}
