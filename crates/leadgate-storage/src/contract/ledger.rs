//! The ledger: exactly-once keys, idempotency, counterparties by INN, rejections, reprocessing, mailbox keys.

use super::*;

/// [`Ledger::ping`].
pub async fn the_database_answers_a_ping(s: &dyn Storage) {
    ok("ping", s.ping().await);
}

/// [`Ledger::submit_batch`], [`Ledger::message`], [`Ledger::message_raw`], [`Ledger::message_of_lead`],
/// [`Leads::lead`]: a lead and its ledger record are one, and read back as they were sent.
pub async fn a_lead_and_its_ledger_record_commit_together(s: &dyn Storage) {
    let (calendar, source) = calendar_and_source(s, "site").await;
    let received = now();
    let mut ledger = entry(SourceRef::Http { id: source }, None, b"{\"x\":1}", received);
    ledger.content_type = "application/json".to_owned();
    ledger.external_number = Some("123".to_owned());
    let sent = order(
        123,
        Some("7709745454"),
        "Прилепский Алексей",
        "+7 925 642 42-90",
        "a@shop.example",
    );
    let outcome = submit(s, lead_of(ledger, sent.clone(), calendar)).await;
    let SubmitOutcome::Imported {
        message_id,
        lead_id,
        counterparty,
    } = outcome
    else {
        panic!("imported expected: {outcome:?}");
    };
    let party = some("the counterparty of a valid INN", counterparty);
    assert_eq!(party.inn, "7709745454");

    let record = some(
        "the ledger record",
        ok("message", s.message(message_id).await),
    );
    assert_eq!(record.outcome, Outcome::Imported);
    assert_eq!(record.lead_id, Some(lead_id));
    assert_eq!(record.channel, Channel::Http);
    assert_eq!(record.http_source.as_deref(), Some("site-site"));
    assert_eq!(record.http_source_id, Some(source));
    assert_eq!(record.external_number.as_deref(), Some("123"));
    assert_eq!(record.received_at, received);
    assert!(record.has_raw);
    let raw = some("the raw body", ok("raw", s.message_raw(message_id).await));
    assert_eq!(raw.bytes, b"{\"x\":1}");
    assert_eq!(raw.content_type, "application/json");
    assert_eq!(
        ok("message of lead", s.message_of_lead(lead_id).await),
        Some(message_id)
    );

    let lead = some("the lead", ok("lead", s.lead(lead_id).await));
    assert_eq!(lead.kind, LeadKind::Order);
    assert_eq!(lead.status, LeadStatus::New);
    assert_eq!(lead.calendar.id, calendar);
    assert_eq!(lead.subject.as_deref(), Some("Заказ №123"));
    assert_eq!(lead.description.as_deref(), Some("описание 123"));
    assert_eq!(lead.received_at, received);
    assert_eq!(lead.contact.person.as_deref(), Some("Прилепский Алексей"));
    assert_eq!(lead.contact.phone_e164.as_deref(), Some("+79256424290"));
    assert_eq!(lead.contact.email.as_deref(), Some("a@shop.example"));
    assert_eq!(lead.inn.as_deref(), Some("7709745454"));
    assert_eq!(lead.counterparty.as_ref().map(|c| c.id), Some(party.id));
    assert_eq!(lead.layout_files, sent.layout_files);
    assert_eq!(lead.warnings, sent.warnings);
    assert_eq!(lead.source.channel, Channel::Http);
    assert_eq!(lead.source.external_number.as_deref(), Some("123"));
    assert_eq!(lead.lines.len(), 2);
    let line = &lead.lines[0];
    assert_eq!((line.position, line.is_service), (1, false));
    assert_eq!(line.nomenclature.as_deref(), Some("Баннер"));
    assert_eq!(
        (line.width, line.height, line.quantity),
        (dec(2), dec(2), dec(2))
    );
    assert_eq!((line.price, line.amount), (dec(500), dec(1000)));
    assert_eq!(line.extra_works.len(), 1);
    assert_eq!(line.extra_works[0].kind.as_deref(), Some("Люверсы"));
    assert_eq!(line.extra_works[0].quantity, dec(8));
    assert_eq!(
        line.extra_works[0].description.as_deref(),
        Some("шаг 30 см")
    );
    assert!(lead.lines[1].is_service);
    assert_eq!(
        ok("unknown lead", s.lead(lead_id + 1000).await).map(|l| l.id),
        None
    );
    assert!(ok("unknown message", s.message(message_id + 1000).await).is_none());
}

/// [`Ledger::submit_batch`] with ledger keys: a message is recorded once, whether it comes again in the same
/// batch or a later one; another message under a known key is a new record.
pub async fn a_ledger_key_is_recorded_exactly_once(s: &dyn Storage) {
    let (calendar, mail) = mail_calendar_and_collector(s).await;
    let raw = b"Subject: ORDER 1\r\n\r\nfirst".to_vec();
    let first = lead_of(
        entry(mail.clone(), Some("a@shop"), &raw, now()),
        contact("1", "+79250000001"),
        calendar,
    );
    let mut again = first.clone();
    again.ledger.mailbox_key = Some("1:again".to_owned());
    let outcomes = ok(
        "batch",
        s.submit_batch(&[first.clone(), again.clone()]).await,
    );
    let SubmitOutcome::Imported { lead_id, .. } = outcomes[0] else {
        panic!("the first copy makes a lead: {outcomes:?}");
    };
    assert_eq!(
        outcomes[1],
        SubmitOutcome::Duplicate {
            lead_id: Some(lead_id)
        }
    );
    // A later batch: still the same message.
    assert_eq!(
        submit(s, first.clone()).await,
        SubmitOutcome::Duplicate {
            lead_id: Some(lead_id)
        }
    );
    // Another message that reuses the Message-ID is not a duplicate.
    let other_raw = b"Subject: ORDER 2\r\n\r\nsecond".to_vec();
    let mut other = lead_of(
        entry(mail, Some("a@shop"), &other_raw, now()),
        contact("2", "+79250000002"),
        calendar,
    );
    other.ledger.mailbox_key = Some("1:other".to_owned());
    let SubmitOutcome::Imported {
        message_id,
        lead_id: other_lead,
        ..
    } = submit(s, other).await
    else {
        panic!("another message under a known key is imported");
    };
    assert_ne!(other_lead, lead_id);
    assert_eq!(
        some("raw", ok("raw", s.message_raw(message_id).await)).bytes,
        other_raw
    );
    let leads = lead_ids(s, &LeadFilter::default(), None).await;
    assert_eq!(leads.len(), 2, "two messages, two leads: {leads:?}");
    let all = ok("messages", s.messages(None, page(50)).await);
    let duplicates = all
        .items
        .iter()
        .filter(|m| m.outcome == Outcome::Duplicate)
        .count();
    assert_eq!(
        duplicates, 1,
        "the second mailbox copy is recorded once as a duplicate"
    );
}

/// [`Ledger::submit_batch`] with idempotency keys, within a batch and across batches.
pub async fn an_idempotency_key_answers_with_its_first_lead(s: &dyn Storage) {
    let (calendar, source) = calendar_and_source(s, "site").await;
    let claim = |key: &str, body: &str| IdempotencyClaim {
        http_source_id: source,
        key: key.to_owned(),
        body_hash: content_hash(body.as_bytes()),
    };
    let post = |key: &str, body: &str| {
        let mut s = lead_of(
            entry(SourceRef::Http { id: source }, None, body.as_bytes(), now()),
            contact(body, "+79250000003"),
            calendar,
        );
        s.idempotency = Some(claim(key, body));
        s
    };
    let outcomes = ok(
        "batch",
        s.submit_batch(&[post("k1", "a"), post("k1", "a"), post("k1", "b")])
            .await,
    );
    let SubmitOutcome::Imported { lead_id, .. } = outcomes[0] else {
        panic!("the first use makes a lead: {outcomes:?}");
    };
    assert_eq!(outcomes[1], SubmitOutcome::IdempotentReplay { lead_id });
    assert_eq!(outcomes[2], SubmitOutcome::IdempotencyConflict);
    assert_eq!(
        submit(s, post("k1", "a")).await,
        SubmitOutcome::IdempotentReplay { lead_id }
    );
    assert_eq!(
        submit(s, post("k1", "c")).await,
        SubmitOutcome::IdempotencyConflict
    );
    let SubmitOutcome::Imported {
        lead_id: second, ..
    } = submit(s, post("k2", "a")).await
    else {
        panic!("another key makes another lead");
    };
    assert_eq!(
        lead_ids(s, &LeadFilter::default(), None).await,
        vec![second, lead_id]
    );
}

/// Counterparties by INN: [`Ledger::submit_batch`], [`Leads::counterparties`], [`Leads::counterparty`],
/// [`Leads::search_counterparties`], [`Leads::leads_of_counterparty`].
pub async fn a_counterparty_is_found_or_created_by_inn(s: &dyn Storage) {
    let (calendar, source) = calendar_and_source(s, "site").await;
    let http = |payload| {
        lead_of(
            entry(SourceRef::Http { id: source }, None, b"{}", now()),
            payload,
            calendar,
        )
    };
    let outcomes = ok(
        "batch",
        s.submit_batch(&[
            http(order(
                1,
                Some("7709745454"),
                "Прилепский Алексей",
                "+7 925 642 42-90",
                "a@shop.example",
            )),
            http(order(
                2,
                Some("7709745454"),
                "Другой Человек",
                "+7 925 000 00-01",
                "b@shop.example",
            )),
            http(order(
                3,
                Some("1234"),
                "Без ИНН",
                "+7 925 000 00-02",
                "c@shop.example",
            )),
        ])
        .await,
    );
    let party = |o: &SubmitOutcome| match o {
        SubmitOutcome::Imported { counterparty, .. } => counterparty.clone(),
        other => panic!("imported expected: {other:?}"),
    };
    let first = some("the counterparty", party(&outcomes[0]));
    assert_eq!(
        party(&outcomes[1]).map(|c| c.id),
        Some(first.id),
        "one counterparty per INN"
    );
    assert_eq!(
        first.name, "ИНН 7709745454",
        "an organisation is named by its INN, never after the person who filled in the form"
    );
    assert_eq!(
        party(&outcomes[2]),
        None,
        "an invalid INN makes no counterparty"
    );
    // A later batch finds it too.
    let later = submit(
        s,
        http(order(
            4,
            Some("7709745454"),
            "Третий",
            "+7 925 000 00-03",
            "a@shop.example",
        )),
    )
    .await;
    assert_eq!(party(&later).map(|c| c.id), Some(first.id));

    let listed = ok(
        "by INN",
        s.counterparties(Some("7709 745454"), None, page(10)).await,
    );
    assert_eq!(listed.items.len(), 1);
    let view = &listed.items[0];
    assert_eq!(
        (view.id, view.inn_kind.as_str()),
        (first.id, "organisation")
    );
    let mut phones = view.phones.clone();
    phones.sort();
    assert_eq!(
        phones,
        vec!["+79250000001", "+79250000003", "+79256424290"],
        "each lead's phone, in E.164"
    );
    assert_eq!(view.emails.len(), 2, "each e-mail once: {:?}", view.emails);
    let one = some(
        "by id",
        ok("counterparty", s.counterparty(first.id, None).await),
    );
    assert_eq!(one.phones.len(), 3);
    assert_eq!(
        ok("all", s.counterparties(None, None, page(10)).await)
            .items
            .len(),
        1
    );
    let by_prefix = ok(
        "INN prefix",
        s.search_counterparties("7709 7", None, page(10)).await,
    );
    assert_eq!(
        by_prefix.items.iter().map(|c| c.id).collect::<Vec<_>>(),
        vec![first.id]
    );
    // A manager names the customer; the search finds it by a word of its name.
    assert!(ok(
        "rename",
        s.rename_counterparty(first.id, "ООО «Прилепский и партнёры»")
            .await
    ));
    let by_name = ok(
        "name",
        s.search_counterparties("прилеп", None, page(10)).await,
    );
    assert_eq!(by_name.items.len(), 1, "a name word's prefix, in any case");
    assert!(
        ok(
            "no match",
            s.search_counterparties("Сидоров", None, page(10)).await
        )
        .items
        .is_empty()
    );
    assert_eq!(
        ok(
            "everything",
            s.search_counterparties("", None, page(10)).await
        )
        .items
        .len(),
        1
    );
    let leads = ok("its leads", s.leads_of_counterparty(first.id, 10).await);
    assert_eq!(leads.len(), 3);
    assert!(leads.windows(2).all(|w| w[0].id > w[1].id), "latest first");
    assert_eq!(
        leads[0].counterparty_name.as_deref(),
        Some("ООО «Прилепский и партнёры»"),
        "a lead shows its customer's current name"
    );
    assert_eq!(
        ok("limited", s.leads_of_counterparty(first.id, 2).await).len(),
        2
    );
}

/// [`Ledger::submit_batch`] of rejections and skips, [`Ledger::messages`] by outcome.
pub async fn rejected_and_skipped_messages_are_recorded_with_their_reasons(s: &dyn Storage) {
    let (_, mail) = mail_calendar_and_collector(s).await;
    let rejected = Submission {
        ledger: entry(mail.clone(), Some("r@shop"), b"broken", now()),
        disposition: Disposition::Rejected {
            reason: "not JSON".to_owned(),
        },
        idempotency: None,
    };
    let skipped = Submission {
        ledger: entry(mail, Some("s@shop"), b"no keyword", now()),
        disposition: Disposition::Skipped {
            reason: "no keyword".to_owned(),
        },
        idempotency: None,
    };
    let outcomes = ok("batch", s.submit_batch(&[rejected, skipped]).await);
    let (SubmitOutcome::Rejected { message_id: r }, SubmitOutcome::Skipped { message_id: k }) =
        (&outcomes[0], &outcomes[1])
    else {
        panic!("rejected and skipped: {outcomes:?}");
    };
    let r = some("rejected", ok("message", s.message(*r).await));
    assert_eq!(
        (r.outcome, r.reason.as_deref()),
        (Outcome::Rejected, Some("not JSON"))
    );
    assert!(r.has_raw, "a rejected message is kept for reprocessing");
    assert_eq!(r.collector.as_deref(), Some("site"));
    assert_eq!(
        r.mailbox_key.as_deref(),
        Some("1:r@shop"),
        "where the collector found it, to find it there again"
    );
    let k = some("skipped", ok("message", s.message(*k).await));
    assert_eq!(k.outcome, Outcome::Skipped);
    assert!(!k.has_raw, "a skipped message is not kept");
    assert!(ok("no raw", s.message_raw(k.id).await).is_none());
    let only = ok(
        "rejected only",
        s.messages(Some(Outcome::Rejected), page(10)).await,
    );
    assert_eq!(
        only.items.iter().map(|m| m.id).collect::<Vec<_>>(),
        vec![r.id]
    );
    // Paging: one at a time, newest first.
    let first = ok("page 1", s.messages(None, page(1)).await);
    assert_eq!(first.items[0].id, k.id);
    let second = ok("page 2", s.messages(None, after(&first, 1)).await);
    assert_eq!(second.items[0].id, r.id);
    assert!(second.next.is_none());
}

/// [`Ledger::import_for_message`], [`Ledger::resolve_message`] and [`Ledger::replace_raw`].
pub async fn a_rejected_message_gets_one_lead_however_often_it_is_reprocessed(s: &dyn Storage) {
    let (calendar, source) = calendar_and_source(s, "site").await;
    let reject = |body: &str| Submission {
        ledger: entry(SourceRef::Http { id: source }, None, body.as_bytes(), now()),
        disposition: Disposition::Rejected {
            reason: "broken".to_owned(),
        },
        idempotency: None,
    };
    let SubmitOutcome::Rejected { message_id } = submit(s, reject("a")).await else {
        panic!("rejected expected");
    };
    let draft = LeadDraft {
        payload: order(7, None, "Иван", "+79250000007", "i@shop.example"),
        calendar_id: calendar,
        auto_tech_cards: true,
        extra_warnings: Vec::new(),
    };
    let Reimport::Imported { lead_id } = ok(
        "reimport",
        s.import_for_message(message_id, &draft, None).await,
    ) else {
        panic!("a rejected record gets a lead");
    };
    assert_eq!(
        ok(
            "again",
            s.import_for_message(message_id, &draft, None).await
        ),
        Reimport::AlreadyResolved {
            outcome: Outcome::Imported,
            lead_id: Some(lead_id)
        }
    );
    assert_eq!(
        lead_ids(s, &LeadFilter::default(), None).await,
        vec![lead_id]
    );
    let record = some("record", ok("message", s.message(message_id).await));
    assert_eq!(
        (record.outcome, record.lead_id),
        (Outcome::Imported, Some(lead_id))
    );
    assert_eq!(
        ok("cards", s.tech_cards_of_lead(lead_id).await).len(),
        1,
        "auto tech cards"
    );
    assert_eq!(
        ok("message of lead", s.message_of_lead(lead_id).await),
        Some(message_id)
    );
    match s.import_for_message(message_id + 1000, &draft, None).await {
        Err(StorageError::NotFound { .. }) => {}
        other => panic!("an unknown record is NotFound: {other:?}"),
    }
    assert!(
        !ok(
            "resolve imported",
            s.resolve_message(message_id, Outcome::Discarded, None, None)
                .await
        ),
        "only a rejected record is resolved"
    );
    assert!(
        !ok(
            "replace imported raw",
            s.replace_raw(
                message_id,
                "message/rfc822",
                &StoredRaw::new(b"late".to_vec())
            )
            .await
        ),
        "only a rejected record's raw bytes are replaced"
    );
    let SubmitOutcome::Rejected { message_id: other } = submit(s, reject("b")).await else {
        panic!("rejected expected");
    };
    // A rejected record's raw bytes are replaced whole, with their content type: more parts than before.
    let whole: Vec<u8> = (0..(3 << 20) + 17).map(|i: u32| (i % 251) as u8).collect();
    assert!(ok(
        "replace raw",
        s.replace_raw(other, "message/rfc822", &StoredRaw::new(whole.clone()))
            .await
    ));
    let raw = some("raw", ok("raw", s.message_raw(other).await));
    assert_eq!(
        (raw.content_type.as_str(), raw.bytes == whole),
        ("message/rfc822", true)
    );
    assert!(ok(
        "discard",
        s.resolve_message(other, Outcome::Discarded, Some("spam"), None)
            .await
    ));
    let discarded = some("record", ok("message", s.message(other).await));
    assert_eq!(
        (discarded.outcome, discarded.reason.as_deref()),
        (Outcome::Discarded, Some("spam"))
    );
    assert!(!ok(
        "twice",
        s.resolve_message(other, Outcome::Discarded, None, None)
            .await
    ));
}

/// [`Ledger::known_mailbox_keys`], [`Ledger::imported_mailbox_keys`], [`Ledger::imported_mailbox_keys_before`].
pub async fn mailbox_keys_tell_known_records_from_what_retention_may_delete(s: &dyn Storage) {
    let (calendar, mail) = mail_calendar_and_collector(s).await;
    let source = mail.key();
    let imported = lead_of(
        entry(mail.clone(), Some("i@shop"), b"imported", now()),
        contact("i", "+79250000010"),
        calendar,
    );
    let mut copy = imported.clone();
    copy.ledger.mailbox_key = Some("1:copy".to_owned());
    let rejected = Submission {
        ledger: entry(mail.clone(), Some("r@shop"), b"rejected", now()),
        disposition: Disposition::Rejected {
            reason: "broken".to_owned(),
        },
        idempotency: None,
    };
    ok("batch", s.submit_batch(&[imported, rejected]).await);
    assert!(matches!(
        submit(s, copy).await,
        SubmitOutcome::Duplicate { .. }
    ));
    let keys: Vec<String> = ["1:i@shop", "1:copy", "1:r@shop", "1:unknown"]
        .map(str::to_owned)
        .to_vec();
    let known = ok("known", s.known_mailbox_keys(&source, &keys).await);
    assert_eq!(
        known,
        ["1:i@shop", "1:copy", "1:r@shop"]
            .map(str::to_owned)
            .into_iter()
            .collect()
    );
    let deletable = ok("imported", s.imported_mailbox_keys(&source, &keys).await);
    assert_eq!(
        deletable,
        ["1:i@shop", "1:copy"]
            .map(str::to_owned)
            .into_iter()
            .collect(),
        "imported, and duplicates of imported; never a rejected message"
    );
    assert!(
        ok(
            "other source",
            s.known_mailbox_keys("collector:999", &keys).await
        )
        .is_empty()
    );
    let later = now() + Duration::minutes(1);
    assert_eq!(
        ok(
            "before later",
            s.imported_mailbox_keys_before(&source, later).await
        ),
        deletable
    );
    let earlier = now() - Duration::days(1);
    assert!(
        ok(
            "before earlier",
            s.imported_mailbox_keys_before(&source, earlier).await
        )
        .is_empty()
    );
}
