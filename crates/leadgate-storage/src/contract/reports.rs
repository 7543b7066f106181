//! Reports: [`Reports`] over leads that are filed, worked, moved, edited and erased.
//!
//! A report whose bounds are whole hours (a shop's midnights) may be summed from what the backend keeps per
//! hour; one whose bounds are not is counted from the leads themselves. Both must give the same figures, and
//! the figures the leads make, after every kind of change a lead goes through.

use chrono::TimeZone;

use super::*;

/// Every report of `query`, as one comparable value.
#[derive(Debug, PartialEq, Eq)]
struct Figures {
    by_channel: Vec<SeriesCount>,
    by_calendar: Vec<SeriesCount>,
    by_source: Vec<SeriesCount>,
    by_kind: Vec<SeriesCount>,
    orders: Vec<OrdersBucket>,
    outcomes: Vec<OutcomeBucket>,
    response: ResponseReport,
    health: Vec<HealthBucket>,
}

async fn figures(s: &dyn Storage, query: &ReportQuery, now: DateTime<Utc>) -> Figures {
    let leads = |by| async move { ok("leads report", s.report_leads(query, by).await) };
    Figures {
        by_channel: leads(LeadSeries::Channel).await,
        by_calendar: leads(LeadSeries::Calendar).await,
        by_source: leads(LeadSeries::Source).await,
        by_kind: leads(LeadSeries::Kind).await,
        orders: ok("orders report", s.report_orders(query).await),
        outcomes: ok("outcomes report", s.report_outcomes(query).await),
        response: ok(
            "response report",
            s.report_response(query, now, Duration::hours(1)).await,
        ),
        health: ok("health report", s.report_health(query).await),
    }
}

/// The first `n` buckets of `figures`.
fn first_buckets(mut figures: Figures, n: usize) -> Figures {
    for series in [
        &mut figures.by_channel,
        &mut figures.by_calendar,
        &mut figures.by_source,
        &mut figures.by_kind,
    ] {
        series.retain(|c| c.bucket < n);
    }
    figures.orders.truncate(n);
    figures.outcomes.truncate(n);
    figures.health.truncate(n);
    figures
}

/// The figures of `query` read three ways and checked equal: as the backend reads them (per day of the
/// shop's zone when every bound starts one), per hour (the same buckets and one more hour after them, in
/// which no lead of the case is received, so that the bounds are not all days), and counted from the leads
/// one by one (every bound a millisecond later; no lead of the case is received within a millisecond of a
/// bound).
async fn checked(s: &dyn Storage, query: &ReportQuery, now: DateTime<Utc>, step: &str) -> Figures {
    let summed = figures(s, query, now).await;
    let mut hourly = query.clone();
    if let Some(last) = hourly.bounds.last().copied() {
        hourly.bounds.push(last + Duration::hours(1));
    }
    let hourly = first_buckets(
        figures(s, &hourly, now).await,
        query.bounds.len().saturating_sub(1),
    );
    assert_eq!(
        summed, hourly,
        "{step}: the daily figures are the hourly ones"
    );
    let mut off_the_hour = query.clone();
    for b in &mut off_the_hour.bounds {
        *b += Duration::milliseconds(1);
    }
    let counted = figures(s, &off_the_hour, now).await;
    assert_eq!(summed, counted, "{step}: the figures are the leads'");
    summed
}

fn count(series: &[SeriesCount], bucket: usize, key: &str) -> i64 {
    series
        .iter()
        .filter(|c| c.bucket == bucket && c.key.as_deref() == Some(key))
        .map(|c| c.count)
        .sum()
}

/// A calendar's line of the response report: (answered, late), zeros where it has none.
fn calendar_line(report: &ResponseReport, calendar: i64) -> (i64, i64) {
    report
        .calendars
        .iter()
        .find(|c| c.id == Some(calendar))
        .map_or((0, 0), |c| (c.answered, c.late))
}

fn late(report: &ResponseReport, calendar: i64) -> i64 {
    calendar_line(report, calendar).1
}

fn answered(report: &ResponseReport, calendar: i64) -> i64 {
    calendar_line(report, calendar).0
}

/// The report figures are the leads' after every change: intake, a status change (the first manager
/// action), a move between calendars (before and after the first action), order lines removed down to a
/// contact lead, an erasure, a rejection;
/// for every filter, summed per day of the shop, per hour or counted lead by lead; and with the days of
/// another zone.
pub async fn report_figures_stay_true_as_leads_are_filed_worked_moved_edited_and_erased(
    s: &dyn Storage,
) {
    let (shop, site) = calendar_and_source(s, "Магазин").await;
    let (print, _) = calendar_and_source(s, "Типография").await;
    let manager = ok(
        "manager",
        s.create_user("irina", "Ирина", Role::Manager, None).await,
    );
    // Three of the shop's days (Moscow midnights, whole UTC hours).
    let start = some(
        "a start",
        Utc.with_ymd_and_hms(2026, 3, 1, 21, 0, 0).single(),
    );
    let at = |day: i64, minutes: i64| start + Duration::days(day) + Duration::minutes(minutes);
    let every = ReportQuery {
        bounds: (0..=3).map(|d| start + Duration::days(d)).collect(),
        ..ReportQuery::default()
    };
    let now = start + Duration::days(10);

    let first = file_lead(
        s,
        site,
        order(1, None, "Анна", "+7 925 111-11-11", "anna@shop.example"),
        shop,
        at(0, 70),
    )
    .await;
    let second = file_lead(
        s,
        site,
        contact("Звонок", "+7 925 222-22-22"),
        shop,
        at(0, 300),
    )
    .await;
    let third = file_lead(
        s,
        site,
        order(3, None, "Борис", "+7 925 333-33-33", "boris@shop.example"),
        print,
        at(1, 130),
    )
    .await;
    // The shop's days are kept from here on: the rollup of the leads before is rebuilt, the later ones
    // are added as they come. Asking again changes nothing.
    assert!(ok(
        "zone",
        s.use_report_zone(chrono_tz::Europe::Moscow).await
    ));
    assert!(!ok(
        "zone again",
        s.use_report_zone(chrono_tz::Europe::Moscow).await
    ));
    let _fourth = file_lead(
        s,
        site,
        contact("Письмо", "+7 925 444-44-44"),
        print,
        at(2, 1430),
    )
    .await;

    let filed = checked(s, &every, now, "filed").await;
    assert_eq!(count(&filed.by_channel, 0, "http"), 2);
    assert_eq!(count(&filed.by_calendar, 0, "Магазин"), 2);
    assert_eq!(count(&filed.by_calendar, 2, "Типография"), 1);
    assert_eq!(count(&filed.by_kind, 1, "order"), 1);
    assert_eq!(filed.orders[0].orders, 1);
    assert_eq!(filed.orders[0].contacts, 1);
    assert_eq!(filed.orders[0].value, Decimal::from(1300));
    assert_eq!(filed.orders[1].value, Decimal::from(1300));
    assert_eq!(filed.outcomes[0].new, 2);
    assert_eq!(filed.health[0].imported, 2);
    assert_eq!(late(&filed.response, shop), 2, "unanswered past the hour");
    assert_eq!(filed.response.total.late, 4);

    // Taken into work: the first manager action.
    ok(
        "take",
        s.update_lead(
            first,
            &LeadPatch {
                status: Some(LeadStatus::InProgress),
                assignee: None,
                by: Some(manager),
            },
        )
        .await,
    );
    let worked = checked(s, &every, now, "worked").await;
    assert_eq!(worked.outcomes[0].new, 1);
    assert_eq!(worked.outcomes[0].in_progress, 1);
    assert_eq!(worked.response.total.answered, 1);
    assert_eq!(worked.response.managers.len(), 1, "answered by the manager");

    // Moved to the other calendar.
    ok(
        "move",
        s.move_lead(second, print, Some(manager), None).await,
    );
    let moved = checked(s, &every, now, "moved").await;
    assert_eq!(count(&moved.by_calendar, 0, "Магазин"), 1);
    assert_eq!(count(&moved.by_calendar, 0, "Типография"), 1);
    let shop_only = ReportQuery {
        calendars: Some(vec![shop]),
        ..every.clone()
    };
    let shop_figures = checked(s, &shop_only, now, "moved, one calendar").await;
    assert_eq!(shop_figures.orders[0].contacts, 0, "the contact lead left");
    assert_eq!(shop_figures.outcomes[0].new, 0);

    // The order's lines removed one by one: its value falls, then it is a contact lead.
    for position in [2, 1] {
        ok(
            "remove a line",
            s.change_order_lines(third, &LineChange::Remove { position }, &[], manager)
                .await,
        );
        let edited = checked(s, &every, now, "a line removed").await;
        let expected = if position == 2 { 1000 } else { 0 };
        assert_eq!(edited.orders[1].value, Decimal::from(expected));
    }
    let contact_now = checked(s, &every, now, "no lines").await;
    assert_eq!(contact_now.orders[1].orders, 0);
    assert_eq!(contact_now.orders[1].contacts, 1);

    // Erased: the lead stays for the statistics, anonymised.
    let query = match leadgate_domain::personal_data::PersonDataQuery::phone("+7 925 444-44-44") {
        Ok(query) => query,
        Err(e) => panic!("a phone query: {e}"),
    };
    let actor = ErasureActor {
        user_id: None,
        login: "command line".into(),
        channel: "cli",
    };
    ok("erase", s.erase_personal_data(&query, &[], &actor).await);
    let erased = checked(s, &every, now, "erased").await;
    assert_eq!(count(&erased.by_calendar, 2, "Типография"), 1);

    // Rejected as spam.
    ok(
        "reject",
        s.update_lead(
            second,
            &LeadPatch {
                status: Some(LeadStatus::Rejected),
                assignee: None,
                by: Some(manager),
            },
        )
        .await,
    );
    let rejected = checked(s, &every, now, "rejected").await;
    assert_eq!(rejected.outcomes[0].rejected, 1);
    for filter in [
        ReportQuery {
            channel: Some(Channel::Http),
            ..every.clone()
        },
        ReportQuery {
            kind: Some(LeadKind::Order),
            ..every.clone()
        },
        ReportQuery {
            source: Some(ReportSource::Http(site)),
            ..every.clone()
        },
        ReportQuery {
            calendars: Some(vec![print]),
            ..every.clone()
        },
    ] {
        checked(s, &filter, now, "filtered").await;
    }

    // Within the cutoff's own hour: the leads received before it count as late, the others not yet.
    let just_after = at(2, 1430) + Duration::hours(1) + Duration::minutes(5);
    let near = checked(s, &every, just_after, "the cutoff's hour").await;
    assert_eq!(
        late(&near.response, print),
        3,
        "the second (answered months later), the third, and the fourth by five minutes"
    );

    // An answered lead moved: its response time leaves the one calendar's figures for the other's.
    let before = checked(s, &every, now, "before the answered lead moves").await;
    ok(
        "move answered",
        s.move_lead(first, print, Some(manager), None).await,
    );
    let after = checked(s, &every, now, "an answered lead moved").await;
    assert_eq!(
        answered(&after.response, shop),
        answered(&before.response, shop) - 1
    );
    assert_eq!(
        answered(&after.response, print),
        answered(&before.response, print) + 1
    );
    assert_eq!(after.response.total, before.response.total);

    // Another zone's days: the rollup is rebuilt in them, and its days are buckets too.
    assert!(ok(
        "zone",
        s.use_report_zone(chrono_tz::Asia::Vladivostok).await
    ));
    let vladivostok_start = some(
        "a Vladivostok midnight",
        Utc.with_ymd_and_hms(2026, 3, 1, 14, 0, 0).single(),
    );
    let vladivostok_days = ReportQuery {
        bounds: (0..=4)
            .map(|d| vladivostok_start + Duration::days(d))
            .collect(),
        ..ReportQuery::default()
    };
    let in_vladivostok = checked(s, &vladivostok_days, now, "Vladivostok's days").await;
    assert_eq!(in_vladivostok.response.total, after.response.total);
    assert!(ok(
        "zone",
        s.use_report_zone(chrono_tz::Europe::Moscow).await
    ));
    assert_eq!(checked(s, &every, now, "Moscow's days again").await, after);

    // Collector runs, by the hour they started in.
    let collector = ok(
        "collector",
        s.upsert_collector(&collector_record("Почта", shop)).await,
    );
    let run = ok("run", s.start_run(collector).await);
    ok(
        "finish",
        s.finish_run(run, &RunCounts::default(), Some("connection refused"))
            .await,
    );
    let hour = Utc::now().timestamp_millis().div_euclid(ROLLUP_HOUR_MS) * ROLLUP_HOUR_MS;
    let this_hour = some("this hour", DateTime::from_timestamp_millis(hour));
    let around_now = ReportQuery {
        bounds: vec![
            this_hour - Duration::hours(1),
            this_hour,
            this_hour + Duration::hours(2),
        ],
        ..ReportQuery::default()
    };
    let runs = checked(s, &around_now, now, "a failed run").await;
    assert_eq!(runs.health.iter().map(|b| b.failed_runs).sum::<i64>(), 1);
}

/// The health report counts every ledger record an intake batch writes: a lead, a second copy of it in the same
/// batch and in a later one (each recorded as a duplicate once per mailbox position), a rejected and a skipped
/// message, and a batch of a rejection alone; summed per day, per hour and counted record by record alike.
pub async fn the_health_report_counts_every_record_a_batch_writes(s: &dyn Storage) {
    let (calendar, mail) = mail_calendar_and_collector(s).await;
    // One of the shop's days (a Moscow midnight, a whole UTC hour).
    let start = some(
        "a start",
        Utc.with_ymd_and_hms(2026, 4, 1, 21, 0, 0).single(),
    );
    assert!(ok(
        "zone",
        s.use_report_zone(chrono_tz::Europe::Moscow).await
    ));
    let at = |minutes: i64| start + Duration::minutes(minutes);
    let message = |key: &str, raw: &[u8], disposition: Disposition| Submission {
        ledger: entry(mail.clone(), Some(key), raw, at(90)),
        disposition,
        idempotency: None,
    };
    let first = lead_of(
        entry(mail.clone(), Some("a@shop"), b"ORDER 1", at(90)),
        contact("1", "+79250000001"),
        calendar,
    );
    let mut again = first.clone();
    again.ledger.mailbox_key = Some("1:again".to_owned());
    let rejected = |key: &str| {
        message(
            key,
            b"broken",
            Disposition::Rejected {
                reason: "not JSON".to_owned(),
            },
        )
    };
    let skipped = message(
        "s@shop",
        b"no keyword",
        Disposition::Skipped {
            reason: "no keyword".to_owned(),
        },
    );
    ok(
        "a mixed batch",
        s.submit_batch(&[first.clone(), again, rejected("r@shop"), skipped])
            .await,
    );
    let mut later = first;
    later.ledger.mailbox_key = Some("1:later".to_owned());
    ok("a later copy", s.submit_batch(&[later]).await);
    ok(
        "a rejection alone",
        s.submit_batch(&[rejected("r2@shop")]).await,
    );

    let day = ReportQuery {
        bounds: vec![start, start + Duration::days(1)],
        ..ReportQuery::default()
    };
    let figures = checked(s, &day, start + Duration::days(2), "a day of records").await;
    let health = &figures.health[0];
    assert_eq!(
        (
            health.imported,
            health.duplicates,
            health.skipped,
            health.quarantined
        ),
        (1, 2, 1, 2),
        "imported, duplicates, skipped, quarantined: {health:?}"
    );
}
