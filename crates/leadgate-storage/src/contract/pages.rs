//! What the UI's pages read at scale: a page's duplicate hints at once, and a calendar day's count up to its cap.

use super::*;

/// A lead received at `at` from `source` into `calendar`, from this JSON payload.
async fn lead(s: &dyn Storage, source: i64, calendar: i64, json: &str, at: DateTime<Utc>) -> i64 {
    file_lead(s, source, payload(json), calendar, at).await
}

/// Every lead's hint as [`LeadEdits::duplicate_hint`] gives it one lead at a time, in the order asked.
async fn one_by_one(s: &dyn Storage, ids: &[i64], calendars: Option<&[i64]>) -> Vec<(i64, i64)> {
    let mut found = Vec::new();
    for id in ids {
        if let Some(hint) = ok("hint", s.duplicate_hint(*id, calendars).await) {
            found.push((*id, hint.of));
        }
    }
    found
}

/// [`LeadEdits::duplicate_hints`] (what the inbox marks on a page) finds for each lead the same earlier lead as
/// [`LeadEdits::duplicate_hint`] (the lead page): by phone, e-mail (its ASCII letters in any case) or INN with
/// the same subject, within the window, the earliest of them, in the calendars asked for; a marked or dismissed
/// lead has none.
pub async fn a_pages_duplicate_hints_are_each_leads_own_hint(s: &dyn Storage) {
    let anna = ok(
        "anna",
        s.create_user("anna", "Анна", Role::Manager, None).await,
    );
    let (a, source_a) = calendar_and_source(s, "a").await;
    let (b, source_b) = calendar_and_source(s, "b").await;
    let at = |hours: i64| now() - Duration::hours(hours);
    let inn = lead(
        s,
        source_b,
        b,
        r#"{"Тема": "Баннер", "ИНН": "7707083893"}"#,
        at(5),
    )
    .await;
    let first = lead(
        s,
        source_a,
        a,
        r#"{"Тема": "Баннер", "Телефон": "+79250000090", "АдресЭлектроннойПочты": "Anna@Shop.example"}"#,
        at(4),
    )
    .await;
    let by_phone = lead(
        s,
        source_a,
        a,
        r#"{"Тема": "Баннер", "Телефон": "8 925 000-00-90"}"#,
        at(3),
    )
    .await;
    let by_email = lead(
        s,
        source_a,
        a,
        r#"{"Тема": "Баннер", "АдресЭлектроннойПочты": "anna@shop.example"}"#,
        at(3),
    )
    .await;
    let other_subject = lead(
        s,
        source_a,
        a,
        r#"{"Тема": "Визитки", "Телефон": "+79250000090"}"#,
        at(2),
    )
    .await;
    let phone_and_inn = lead(
        s,
        source_a,
        a,
        r#"{"Тема": "Баннер", "Телефон": "+79250000090", "ИНН": "7707083893"}"#,
        at(1),
    )
    .await;
    let old = lead(
        s,
        source_a,
        a,
        r#"{"Тема": "Листовки", "Телефон": "+79250000091"}"#,
        at(30),
    )
    .await;
    let too_late = lead(
        s,
        source_a,
        a,
        r#"{"Тема": "Листовки", "Телефон": "+79250000091"}"#,
        at(1),
    )
    .await;
    // Newest first, as the inbox lists them.
    let page = [
        too_late,
        phone_and_inn,
        other_subject,
        by_email,
        by_phone,
        first,
        old,
        inn,
    ];
    let all = ok("hints", s.duplicate_hints(&page, None).await);
    assert_eq!(
        all,
        [(phone_and_inn, inn), (by_email, first), (by_phone, first)],
        "the earliest match of any key, within the window"
    );
    let in_a = ok("hints in a", s.duplicate_hints(&page, Some(&[a])).await);
    assert_eq!(
        in_a,
        [(phone_and_inn, first), (by_email, first), (by_phone, first)],
        "only earlier leads the viewer sees"
    );
    for scope in [
        None,
        Some(&[a][..]),
        Some(&[b][..]),
        Some(&[a, b][..]),
        Some(&[][..]),
    ] {
        assert_eq!(
            ok("hints", s.duplicate_hints(&page, scope).await),
            one_by_one(s, &page, scope).await,
            "{scope:?}"
        );
    }
    assert!(ok("no leads", s.duplicate_hints(&[], None).await).is_empty());

    assert_eq!(
        ok("mark", s.mark_duplicate(by_phone, first, anna).await),
        DuplicateOutcome::Done
    );
    assert_eq!(
        ok("dismiss", s.dismiss_duplicate(by_email, first, anna).await),
        DuplicateOutcome::Done
    );
    let all = ok("hints", s.duplicate_hints(&page, None).await);
    assert_eq!(all, [(phone_and_inn, inn)]);
    assert_eq!(all, one_by_one(s, &page, None).await);

    // "Any case" is ASCII's on both backends: an address differing in a Cyrillic letter's case is no match.
    let mailed =
        |address: &str| format!(r#"{{"Тема": "Наклейки", "АдресЭлектроннойПочты": "{address}"}}"#);
    let earlier = lead(s, source_b, b, &mailed("Anna@Печать.рф"), at(2)).await;
    let ascii_case = lead(s, source_b, b, &mailed("aNNA@Печать.рф"), at(1)).await;
    let cyrillic_case = lead(s, source_b, b, &mailed("Anna@пЕЧАТЬ.рф"), at(1)).await;
    let page = [cyrillic_case, ascii_case, earlier];
    let all = ok("hints", s.duplicate_hints(&page, None).await);
    assert_eq!(
        all,
        [(ascii_case, earlier)],
        "only ASCII letters' case is folded"
    );
    assert_eq!(all, one_by_one(s, &page, None).await);
}

/// [`Leads::calendar_days`] counts a day's leads up to [`DaySlot::COUNT_CAP`] (a busier day is capped, the
/// first events are still listed by time), and a quieter day exactly.
pub async fn a_calendar_day_counts_its_leads_up_to_the_cap(s: &dyn Storage) {
    let (a, source) = calendar_and_source(s, "a").await;
    let midnight =
        some("midnight", now().date_naive().and_hms_opt(0, 0, 0)).and_utc() - Duration::days(3);
    let busy = usize::try_from(DaySlot::COUNT_CAP).unwrap_or_default() + 1;
    let batch: Vec<Submission> = (0..busy)
        .map(|i| {
            let at = midnight + Duration::minutes(i64::try_from(i).unwrap_or_default() + 1);
            let ledger = entry(SourceRef::Http { id: source }, None, b"{}", at);
            lead_of(ledger, contact(&format!("звонок {i}"), "+79250000095"), a)
        })
        .collect();
    ok("busy day", s.submit_batch(&batch).await);
    let quiet = file_lead(
        s,
        source,
        contact("тихо", "+79250000096"),
        a,
        midnight + Duration::days(1) + Duration::hours(9),
    )
    .await;
    let bounds = [
        midnight,
        midnight + Duration::days(1),
        midnight + Duration::days(2),
    ];
    let days = ok("days", s.calendar_days(&[a], &bounds, 2).await);
    assert_eq!(days[0].count, DaySlot::COUNT_CAP);
    assert!(days[0].count_capped());
    assert_eq!(days[0].events.len(), 2, "the first events are still listed");
    assert!(days[0].events[0].starts_at < days[0].events[1].starts_at);
    assert_eq!(days[1].count, 1);
    assert!(!days[1].count_capped());
    assert_eq!(
        days[1].events.iter().map(|l| l.id).collect::<Vec<_>>(),
        [quiet]
    );
}
