//! Leads: the lead list, changes, tech cards, the inbox, the calendar views and what a hidden calendar hides.

use super::*;

/// [`Leads::leads`]: filters, text search, calendar visibility and paging.
pub async fn the_lead_list_filters_searches_and_pages(s: &dyn Storage) {
    let (a, source) = calendar_and_source(s, "a").await;
    let b = ok("calendar b", s.upsert_calendar("b", None).await);
    let base = now();
    let day = |d: i64| base - Duration::days(d);
    let first = file_lead(
        s,
        source,
        order(1, None, "Иван 100%_", "+79250000011", "x@shop.example"),
        a,
        day(3),
    )
    .await;
    let second = file_lead(s, source, contact("Звонок", "+79250000012"), a, day(2)).await;
    let third = file_lead(s, source, contact("Звонок", "+79250000013"), b, day(1)).await;
    let all = LeadFilter::default();
    assert_eq!(lead_ids(s, &all, None).await, vec![third, second, first]);
    assert_eq!(lead_ids(s, &all, Some(&[a])).await, vec![second, first]);
    assert!(
        lead_ids(s, &all, Some(&[])).await.is_empty(),
        "no calendar, no leads"
    );
    let by = |f: LeadFilter| f;
    assert_eq!(
        lead_ids(
            s,
            &by(LeadFilter {
                calendar: Some("b".into()),
                ..all.clone()
            }),
            None
        )
        .await,
        vec![third]
    );
    assert_eq!(
        lead_ids(
            s,
            &by(LeadFilter {
                calendar: Some(a.to_string()),
                ..all.clone()
            }),
            None
        )
        .await,
        vec![second, first]
    );
    assert_eq!(
        lead_ids(
            s,
            &by(LeadFilter {
                kind: Some(LeadKind::Order),
                ..all.clone()
            }),
            None
        )
        .await,
        vec![first]
    );
    assert_eq!(
        lead_ids(
            s,
            &by(LeadFilter {
                from: Some(day(2)),
                to: Some(day(1)),
                ..all.clone()
            }),
            None
        )
        .await,
        vec![second]
    );
    assert_eq!(
        lead_ids(
            s,
            &by(LeadFilter {
                search: Some("ЗВОН".into()),
                ..all.clone()
            }),
            None
        )
        .await,
        vec![third, second]
    );
    assert_eq!(
        lead_ids(
            s,
            &by(LeadFilter {
                search: Some("100%_".into()),
                ..all.clone()
            }),
            None
        )
        .await,
        vec![first],
        "LIKE characters are literal"
    );
    assert!(
        lead_ids(
            s,
            &by(LeadFilter {
                search: Some("1%0".into()),
                ..all.clone()
            }),
            None
        )
        .await
        .is_empty()
    );
    for (fragment, found, why) in [
        ("ан 100", vec![first], "a fragment across words"),
        ("ва", vec![first], "a fragment of two characters"),
        (
            "00000",
            vec![third, second, first],
            "a fragment that repeats its trigrams",
        ),
        (
            "000000",
            vec![],
            "a fragment none holds, though each of its trigrams is there",
        ),
        ("\"иван", vec![], "a quote is literal, not search syntax"),
        ("иван\"", vec![], "a closing quote too"),
        (
            "\0иван",
            vec![],
            "a NUL is searched as the U+FFFD stored in its place",
        ),
    ] {
        assert_eq!(
            lead_ids(
                s,
                &by(LeadFilter {
                    search: Some(fragment.into()),
                    ..all.clone()
                }),
                None
            )
            .await,
            found,
            "{why}: {fragment}"
        );
    }
    assert_eq!(
        lead_ids(
            s,
            &by(LeadFilter {
                search: Some("9250000012".into()),
                ..all.clone()
            }),
            None
        )
        .await,
        vec![second]
    );
    ok(
        "status",
        s.update_lead(
            second,
            &LeadPatch {
                status: Some(LeadStatus::Done),
                assignee: None,
                by: None,
            },
        )
        .await,
    );
    assert_eq!(
        lead_ids(
            s,
            &by(LeadFilter {
                status: Some(LeadStatus::Done),
                ..all.clone()
            }),
            None
        )
        .await,
        vec![second]
    );
    let one = ok("page 1", s.leads(&all, None, page(2)).await);
    assert_eq!(
        one.items.iter().map(|l| l.id).collect::<Vec<_>>(),
        vec![third, second]
    );
    let two = ok("page 2", s.leads(&all, None, after(&one, 2)).await);
    assert_eq!(
        two.items.iter().map(|l| l.id).collect::<Vec<_>>(),
        vec![first]
    );
    assert!(two.next.is_none());
    assert_eq!(
        two.items[0].lines.len(),
        2,
        "listed leads carry their lines"
    );
}

/// A search finds a phone however the site wrote it and the manager types it: spaces, hyphens, dots and
/// brackets count on neither side, in the lead list and in the inbox alike. Among leads whose phones share the
/// operator's code (a trigram the search leaves out of its index lookup, being common).
pub async fn a_phone_is_found_however_it_is_written(s: &dyn Storage) {
    let (a, source) = calendar_and_source(s, "a").await;
    let at = now() - Duration::hours(1);
    for i in 0..40 {
        let phone = format!("+7 916 000-00-{i:02}");
        file_lead(
            s,
            source,
            contact("Звонок", &phone),
            a,
            at - Duration::hours(1),
        )
        .await;
    }
    let bracketed = file_lead(s, source, contact("Звонок", "+7 (916) 123-45-67"), a, at).await;
    let spaced = file_lead(s, source, contact("Звонок", "8 916 123 45 68"), a, at).await;
    let other = file_lead(s, source, contact("Звонок", "+7 916 765.43.21"), a, at).await;
    for (fragment, found) in [
        ("916 123 45 67", vec![bracketed]),
        ("(916) 123-45", vec![spaced, bracketed]),
        ("9161234567", vec![bracketed]),
        ("916-123", vec![spaced, bracketed]),
        ("765 43", vec![other]),
        ("8 (916) 123", vec![spaced]),
        ("звонок 8916", vec![]),
    ] {
        let filter = LeadFilter {
            search: Some(fragment.into()),
            ..LeadFilter::default()
        };
        assert_eq!(lead_ids(s, &filter, None).await, found, "list: {fragment}");
        let query = InboxQuery {
            search: Some(fragment.into()),
            limit: 10,
            ..InboxQuery::default()
        };
        let page = ok("inbox", s.inbox(&query).await);
        assert_eq!(page_ids(&page), found, "inbox: {fragment}");
    }
    let nothing = LeadFilter {
        search: Some(" - ( ) ".into()),
        ..LeadFilter::default()
    };
    assert_eq!(
        lead_ids(s, &nothing, None).await,
        lead_ids(s, &LeadFilter::default(), None).await,
        "a fragment of separators only searches for nothing"
    );
}

/// [`Leads::update_lead`].
pub async fn a_lead_changes_status_and_assignee(s: &dyn Storage) {
    let (calendar, source) = calendar_and_source(s, "site").await;
    ok(
        "user",
        s.create_user("maria", "Мария", Role::Manager, None).await,
    );
    let id = file_lead(
        s,
        source,
        contact("Звонок", "+79250000020"),
        calendar,
        now(),
    )
    .await;
    let patch = LeadPatch {
        status: Some(LeadStatus::InProgress),
        assignee: Some("maria".into()),
        by: None,
    };
    let lead = some("the lead", ok("update", s.update_lead(id, &patch).await));
    assert_eq!(
        (lead.status, lead.assignee.as_deref()),
        (LeadStatus::InProgress, Some("maria"))
    );
    let lead = some("the lead", ok("read", s.lead(id).await));
    assert_eq!(
        (lead.status, lead.assignee.as_deref()),
        (LeadStatus::InProgress, Some("maria"))
    );
    match s
        .update_lead(
            id,
            &LeadPatch {
                status: None,
                assignee: Some("nobody".into()),
                by: None,
            },
        )
        .await
    {
        Err(StorageError::NotFound { .. }) => {}
        other => panic!("an unknown assignee is NotFound: {other:?}"),
    }
    let cleared = ok(
        "clear",
        s.update_lead(
            id,
            &LeadPatch {
                status: None,
                assignee: Some(String::new()),
                by: None,
            },
        )
        .await,
    );
    let cleared = some("the lead", cleared);
    assert_eq!(
        (cleared.status, cleared.assignee),
        (LeadStatus::InProgress, None),
        "status kept, assignee cleared"
    );
    assert!(ok("unknown", s.update_lead(id + 1000, &patch).await).is_none());
}

/// [`Leads::form_tech_cards`], [`Leads::tech_cards_of_lead`], [`Leads::tech_card`].
pub async fn tech_cards_are_formed_once_per_goods_line(s: &dyn Storage) {
    let (calendar, source) = calendar_and_source(s, "site").await;
    let id = file_lead(
        s,
        source,
        order(5, None, "Иван", "+79250000030", "i@shop.example"),
        calendar,
        now(),
    )
    .await;
    assert!(ok("none yet", s.tech_cards_of_lead(id).await).is_empty());
    let cards = some("the lead", ok("form", s.form_tech_cards(id, None).await));
    assert_eq!(cards.len(), 1, "the service line gets no card");
    let card = &cards[0];
    assert_eq!(
        (card.lead_id, card.line_position, card.number.as_str()),
        (id, 1, format!("{id}-1").as_str())
    );
    assert_eq!(
        (card.area_per_piece, card.total_area, card.perimeter),
        (dec(4), dec(8), dec(8))
    );
    assert_eq!(card.line.nomenclature.as_deref(), Some("Баннер"));
    assert_eq!(card.line.extra_works.len(), 1);
    let again = some(
        "the lead",
        ok("form again", s.form_tech_cards(id, None).await),
    );
    assert_eq!(
        again.iter().map(|c| c.id).collect::<Vec<_>>(),
        vec![card.id],
        "forming again changes nothing"
    );
    assert_eq!(ok("of lead", s.tech_cards_of_lead(id).await).len(), 1);
    let one = some("by id", ok("card", s.tech_card(card.id).await));
    assert_eq!((one.id, one.lead_id), (card.id, id));
    assert!(ok("unknown card", s.tech_card(card.id + 1000).await).is_none());
    assert!(ok("unknown lead", s.form_tech_cards(id + 1000, None).await).is_none());
}

/// [`Leads::inbox`] and [`Leads::inbox_pulse`].
pub async fn the_inbox_shows_new_leads_first_and_pages_by_cursor(s: &dyn Storage) {
    let (a, source) = calendar_and_source(s, "a").await;
    let b = ok("calendar b", s.upsert_calendar("b", None).await);
    let mut ids = Vec::new();
    for (i, calendar) in [a, a, a, b].into_iter().enumerate() {
        ids.push(
            file_lead(
                s,
                source,
                contact(&format!("Звонок {i}"), "+79250000040"),
                calendar,
                now(),
            )
            .await,
        );
    }
    ok(
        "done",
        s.update_lead(
            ids[2],
            &LeadPatch {
                status: Some(LeadStatus::Done),
                assignee: None,
                by: None,
            },
        )
        .await,
    );
    let inbox = |query: InboxQuery| async move { ok("inbox", s.inbox(&query).await) };
    let all = InboxQuery {
        limit: 10,
        ..InboxQuery::default()
    };
    assert_eq!(
        page_ids(&inbox(all.clone()).await),
        vec![ids[3], ids[1], ids[0], ids[2]],
        "new first"
    );
    let mut seen = Vec::new();
    let mut query = InboxQuery {
        limit: 1,
        ..all.clone()
    };
    loop {
        let p = inbox(query.clone()).await;
        seen.extend(page_ids(&p));
        match p.next {
            Some(next) => query.cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(
        seen,
        vec![ids[3], ids[1], ids[0], ids[2]],
        "pages walk the same order"
    );
    let mine = InboxQuery {
        calendars: Some(vec![a]),
        ..all.clone()
    };
    assert_eq!(page_ids(&inbox(mine).await), vec![ids[1], ids[0], ids[2]]);
    assert!(
        inbox(InboxQuery {
            calendars: Some(Vec::new()),
            ..all.clone()
        })
        .await
        .items
        .is_empty()
    );
    let done = InboxQuery {
        status: Some(LeadStatus::Done),
        ..all.clone()
    };
    assert_eq!(page_ids(&inbox(done).await), vec![ids[2]]);
    let search = InboxQuery {
        search: Some("звонок 1".into()),
        ..all.clone()
    };
    assert_eq!(page_ids(&inbox(search).await), vec![ids[1]]);
    let summary = &inbox(all.clone()).await.items[0];
    assert_eq!(
        (summary.calendar_id, summary.calendar_name.as_str()),
        (b, "b")
    );
    assert_eq!(summary.contact.phone_e164.as_deref(), Some("+79250000040"));

    let pulse = ok("pulse", s.inbox_pulse(None).await);
    assert_eq!((pulse.latest_id, pulse.new_count), (ids[3], 3));
    let pulse = ok("pulse of a", s.inbox_pulse(Some(&[a])).await);
    assert_eq!((pulse.latest_id, pulse.new_count), (ids[1], 2));
    let pulse = ok("pulse of none", s.inbox_pulse(Some(&[])).await);
    assert_eq!((pulse.latest_id, pulse.new_count), (0, 0));
}

/// [`Leads::inbox`] finds a search's matches however far behind newer leads that do not match them they are,
/// and however many matches sit in calendars the viewer may not see, newest first and page by page.
pub async fn an_inbox_search_finds_matches_behind_many_newer_leads(s: &dyn Storage) {
    let (a, source) = calendar_and_source(s, "a").await;
    let b = ok("calendar b", s.upsert_calendar("b", None).await);
    // Two old matches (one hidden from a viewer of `a`), 1,200 newer leads that do not match, and a newer
    // match in `b`.
    let mut leads = vec![("Кузнецова", a), ("Кузнецова", b)];
    leads.extend([("Звонок", a); 1200]);
    leads.push(("Кузнецова", b));
    let ids = file_in_one_batch(s, source, &leads).await;
    let (old_a, old_b, new_b) = (ids[0], ids[1], ids[1202]);
    let page = ok(
        "visible",
        s.inbox(&surname_search(Some(vec![a]), 10, None)).await,
    );
    assert_eq!(page_ids(&page), vec![old_a]);
    assert!(page.next.is_none());
    let page = ok(
        "hidden",
        s.inbox(&surname_search(Some(vec![b]), 10, None)).await,
    );
    assert_eq!(page_ids(&page), vec![new_b, old_b]);
    assert_eq!(
        every_page(s, surname_search(None, 1, None)).await,
        vec![new_b, old_b, old_a],
        "page by page, newest first"
    );
}

/// The inbox search for `кузнецова` of the two tests of searches behind newer leads: in `calendars` (`None`: every calendar), `limit`
/// a page, from `cursor`.
fn surname_search(
    calendars: Option<Vec<i64>>,
    limit: u32,
    cursor: Option<InboxCursor>,
) -> InboxQuery {
    InboxQuery {
        calendars,
        search: Some("кузнецова".into()),
        limit,
        cursor,
        ..InboxQuery::default()
    }
}

/// Files one lead per `(subject, calendar)` through one batch, a millisecond apart from a day ago, and
/// returns their ids in that order.
async fn file_in_one_batch(s: &dyn Storage, source: i64, leads: &[(&str, i64)]) -> Vec<i64> {
    let base = now() - Duration::days(1);
    let batch: Vec<Submission> = (0i64..)
        .zip(leads)
        .map(|(i, &(subject, calendar))| {
            let at = base + Duration::milliseconds(i);
            let body = format!("{{\"n\": {i}}}");
            let ledger = entry(SourceRef::Http { id: source }, None, body.as_bytes(), at);
            lead_of(ledger, contact(subject, "+79250000011"), calendar)
        })
        .collect();
    ok("a batch", s.submit_batch(&batch).await)
        .into_iter()
        .map(|o| match o {
            SubmitOutcome::Imported { lead_id, .. } => lead_id,
            other => panic!("not imported: {other:?}"),
        })
        .collect()
}

/// The ids of every page of the inbox `query`, from its first page on, following the cursors.
async fn every_page(s: &dyn Storage, mut query: InboxQuery) -> Vec<i64> {
    let mut seen = Vec::new();
    loop {
        let page = ok("a page", s.inbox(&query).await);
        seen.extend(page_ids(&page));
        match page.next {
            Some(next) => query.cursor = Some(next),
            None => return seen,
        }
    }
}

/// The ids of an inbox page's leads, in its order.
fn page_ids(page: &InboxPage) -> Vec<i64> {
    page.items.iter().map(|l| l.id).collect()
}

/// [`Leads::inbox`] with a search and no status filter, when both runs (the new leads and the others) hold
/// only older matches behind many newer leads that do not match: new matches first, then the others, each
/// newest first, page by page across the runs, and the matches in a calendar the viewer may not see left out.
pub async fn an_inbox_search_reads_both_runs_behind_many_newer_leads(s: &dyn Storage) {
    let (a, source) = calendar_and_source(s, "a").await;
    let b = ok("calendar b", s.upsert_calendar("b", None).await);
    // Four old matches, two of each run (one of each in `b`), then 600 newer leads that do not match for each
    // run: more than either backend tests among a run's newest before it reads the rest otherwise.
    let mut leads = vec![
        ("Кузнецова", a),
        ("Кузнецова", b),
        ("Кузнецова", a),
        ("Кузнецова", b),
    ];
    leads.extend([("Звонок", a); 1200]);
    let ids = file_in_one_batch(s, source, &leads).await;
    let (new_a, new_b, done_a, done_b) = (ids[0], ids[1], ids[2], ids[3]);
    let done = LeadPatch {
        status: Some(LeadStatus::Done),
        assignee: None,
        by: None,
    };
    for &id in [done_a, done_b].iter().chain(&ids[604..]) {
        some("done", ok("status", s.update_lead(id, &done).await));
    }
    let page = ok(
        "visible",
        s.inbox(&surname_search(Some(vec![a]), 10, None)).await,
    );
    assert_eq!(page_ids(&page), vec![new_a, done_a]);
    assert!(page.next.is_none());
    let page = ok("both runs", s.inbox(&surname_search(None, 3, None)).await);
    assert_eq!(page_ids(&page), vec![new_b, new_a, done_b]);
    let page = ok(
        "the rest",
        s.inbox(&surname_search(None, 3, page.next)).await,
    );
    assert_eq!(page_ids(&page), vec![done_a]);
    assert!(page.next.is_none());
    assert_eq!(
        every_page(s, surname_search(None, 1, None)).await,
        vec![new_b, new_a, done_b, done_a],
        "page by page, new first, newest first"
    );
}

/// [`Leads::inbox_pulse`] counts new leads up to [`InboxPulse::NEW_COUNT_CAP`], not every one of them: in every
/// calendar, in several together (past the cap only together), and in one.
pub async fn the_inbox_counts_new_leads_up_to_its_cap(s: &dyn Storage) {
    let (a, source) = calendar_and_source(s, "a").await;
    let (b, _) = calendar_and_source(s, "b").await;
    let cap = InboxPulse::NEW_COUNT_CAP;
    let base = now();
    // One more than the cap, every other lead in `b`: `a` gets half of them and one more.
    let batch: Vec<Submission> = (0..=cap)
        .map(|i| {
            let at = base + Duration::milliseconds(i);
            let body = format!("{{\"n\": {i}}}");
            let ledger = entry(SourceRef::Http { id: source }, None, body.as_bytes(), at);
            let calendar = if i % 2 == 0 { a } else { b };
            lead_of(ledger, contact("Звонок", "+79250000011"), calendar)
        })
        .collect();
    let outcomes = ok("a batch past the cap", s.submit_batch(&batch).await);
    assert_eq!(i64::try_from(outcomes.len()).ok(), Some(cap + 1));
    for calendars in [None, Some(&[a, b][..])] {
        let pulse = ok("pulse", s.inbox_pulse(calendars).await);
        assert_eq!(pulse.new_count, cap, "{calendars:?}");
        assert!(pulse.count_capped());
    }
    let pulse = ok("pulse of a", s.inbox_pulse(Some(&[a])).await);
    assert_eq!(pulse.new_count, cap / 2 + 1);
    assert!(!pulse.count_capped());
}

/// A lead marked a second submission of another has left the inbox: [`Leads::inbox_pulse`] does not count it
/// among the new ones, though it is still new.
pub async fn a_lead_marked_a_duplicate_is_not_counted_among_the_new(s: &dyn Storage) {
    let (a, source) = calendar_and_source(s, "a").await;
    let manager = ok(
        "manager",
        s.create_user("maria", "Мария", Role::Manager, None).await,
    );
    let first = file_lead(s, source, contact("Звонок", "+79250000011"), a, now()).await;
    let again = file_lead(s, source, contact("Звонок", "+79250000011"), a, now()).await;
    file_lead(s, source, contact("Другой", "+79250000012"), a, now()).await;
    assert_eq!(ok("pulse", s.inbox_pulse(None).await).new_count, 3);
    let hints = ok("hints", s.duplicate_hints(&[again], None).await);
    assert_eq!(
        hints,
        vec![(again, first)],
        "the second submission is hinted"
    );
    assert_eq!(
        ok("mark", s.mark_duplicate(again, first, manager).await),
        DuplicateOutcome::Done
    );
    for calendars in [None, Some(&[a][..])] {
        let pulse = ok("pulse", s.inbox_pulse(calendars).await);
        assert_eq!(pulse.new_count, 2, "the duplicate is not counted");
    }
    let status = some("the duplicate", ok("lead", s.lead(again).await)).status;
    assert_eq!(
        status,
        LeadStatus::New,
        "it is still new, only out of the inbox"
    );
    // Undone: back in the inbox, not hinted again.
    assert_eq!(
        ok("undo", s.dismiss_duplicate(again, first, manager).await),
        DuplicateOutcome::Done
    );
    let lead = some("the lead", ok("lead", s.lead(again).await));
    assert_eq!(lead.duplicate_of, None);
    assert_eq!(ok("pulse", s.inbox_pulse(None).await).new_count, 3);
    assert!(ok("hints", s.duplicate_hints(&[again], None).await).is_empty());
    assert_eq!(
        ok("again", s.dismiss_duplicate(again, first, manager).await),
        DuplicateOutcome::NotFound
    );
}

/// [`Leads::calendar_days`] and [`Leads::calendar_feed`].
pub async fn calendar_views_count_and_list_leads_by_day_and_feed_them(s: &dyn Storage) {
    let (a, source) = calendar_and_source(s, "a").await;
    let b = ok("calendar b", s.upsert_calendar("b", None).await);
    let midnight =
        some("midnight", now().date_naive().and_hms_opt(0, 0, 0)).and_utc() - Duration::days(3);
    let at = |day: i64, hour: i64| midnight + Duration::days(day) + Duration::hours(hour);
    let late = file_lead(s, source, contact("поздно", "+79250000050"), a, at(0, 18)).await;
    let early = file_lead(s, source, contact("рано", "+79250000051"), a, at(0, 9)).await;
    let third = file_lead(s, source, contact("ещё", "+79250000052"), a, at(0, 12)).await;
    let next_day = file_lead(s, source, contact("завтра", "+79250000053"), a, at(1, 10)).await;
    let other = file_lead(s, source, contact("чужой", "+79250000054"), b, at(0, 10)).await;
    let bounds = [at(0, 0), at(1, 0), at(2, 0), at(3, 0)];
    let days = ok("days", s.calendar_days(&[a], &bounds, 2).await);
    assert_eq!(
        days.iter().map(|d| d.count).collect::<Vec<_>>(),
        vec![3, 1, 0]
    );
    assert_eq!(
        days[0].events.iter().map(|l| l.id).collect::<Vec<_>>(),
        vec![early, third],
        "the first by time"
    );
    assert_eq!(
        days[1].events.iter().map(|l| l.id).collect::<Vec<_>>(),
        vec![next_day]
    );
    let both = ok("both", s.calendar_days(&[a, b], &bounds, 0).await);
    assert_eq!(
        both.iter()
            .map(|d| (d.count, d.events.len()))
            .collect::<Vec<_>>(),
        vec![(4, 0), (1, 0), (0, 0)]
    );
    assert!(
        ok("none", s.calendar_days(&[], &bounds, 2).await)
            .iter()
            .all(|d| d.count == 0)
    );
    assert!(ok("no days", s.calendar_days(&[a], &bounds[..1], 2).await).is_empty());

    let feed = ok("feed", s.calendar_feed(a, at(0, 10), 10).await);
    assert_eq!(
        feed.iter().map(|l| l.id).collect::<Vec<_>>(),
        vec![next_day, late, third],
        "latest first, from `from`"
    );
    assert_eq!(
        ok("limited", s.calendar_feed(a, at(0, 0), 1).await)
            .iter()
            .map(|l| l.id)
            .collect::<Vec<_>>(),
        vec![next_day]
    );
    assert_eq!(
        ok("other", s.calendar_feed(b, at(0, 0), 10).await)
            .iter()
            .map(|l| l.id)
            .collect::<Vec<_>>(),
        vec![other]
    );
}

/// The `calendars` filter of [`Leads::counterparties`], [`Leads::counterparty`] and
/// [`Leads::search_counterparties`]: a counterparty and its contacts show through a visible lead only.
pub async fn a_hidden_calendar_hides_its_counterparties_and_their_contacts(s: &dyn Storage) {
    let (mine, source) = calendar_and_source(s, "mine").await;
    let theirs = ok("theirs", s.upsert_calendar("theirs", None).await);
    let inn = Some("7709745454");
    file_lead(
        s,
        source,
        order(1, inn, "Фирма", "+79250000060", "mine@shop.example"),
        mine,
        now(),
    )
    .await;
    file_lead(
        s,
        source,
        order(2, inn, "Фирма", "+79250000061", "theirs@shop.example"),
        theirs,
        now(),
    )
    .await;
    file_lead(
        s,
        source,
        order(
            3,
            Some("500100732259"),
            "ИП Чужой",
            "+79250000062",
            "ip@shop.example",
        ),
        theirs,
        now(),
    )
    .await;
    let visible = ok(
        "visible",
        s.counterparties(None, Some(&[mine]), page(10)).await,
    );
    assert_eq!(
        visible.items.len(),
        1,
        "only the one with a lead in my calendar"
    );
    let firm = &visible.items[0];
    assert_eq!(
        (firm.phones.clone(), firm.emails.clone()),
        (
            vec!["+79250000060".to_owned()],
            vec!["mine@shop.example".to_owned()]
        ),
        "only the contacts my calendar's leads brought"
    );
    let all = ok("all", s.counterparties(None, None, page(10)).await);
    assert_eq!(all.items.len(), 2);
    let ip = some(
        "the entrepreneur",
        all.items.iter().find(|c| c.inn_kind == "individual"),
    );
    assert!(ok("hidden", s.counterparty(ip.id, Some(&[mine])).await).is_none());
    assert_eq!(
        some(
            "shown",
            ok("shown", s.counterparty(firm.id, Some(&[mine])).await)
        )
        .phones
        .len(),
        1
    );
    assert_eq!(
        some(
            "all of it",
            ok("admin", s.counterparty(firm.id, None).await)
        )
        .phones
        .len(),
        2
    );
    assert!(
        ok(
            "search hidden",
            s.search_counterparties("Чужой", Some(&[mine]), page(10))
                .await
        )
        .items
        .is_empty()
    );
    assert_eq!(
        ok(
            "search all",
            s.search_counterparties("Чужой", None, page(10)).await
        )
        .items
        .len(),
        1
    );
    assert!(
        ok(
            "no calendars",
            s.counterparties(None, Some(&[]), page(10)).await
        )
        .items
        .is_empty()
    );
}
