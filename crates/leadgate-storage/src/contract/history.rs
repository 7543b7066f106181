//! Contract cases of [`LeadHistory`]: the changes a lead goes through are recorded with it, by whom, in
//! order; a change that changes nothing records nothing.

use leadgate_domain::lead::LeadEventKind;

use super::*;

fn kinds(history: &[LeadEvent]) -> Vec<LeadEventKind> {
    history.iter().map(|e| e.kind).collect()
}

fn change(field: &str, old: Option<&str>, new: Option<&str>) -> FieldChange {
    FieldChange {
        field: field.into(),
        old: old.map(str::to_owned),
        new: new.map(str::to_owned),
    }
}

/// [`LeadHistory::lead_history`] and [`LeadHistory::record_lead_event`], with the entries
/// [`Leads::update_lead`] and [`Leads::form_tech_cards`] write.
pub async fn a_leads_history_records_who_changed_what_in_order(s: &dyn Storage) {
    let (calendar, source) = calendar_and_source(s, "site").await;
    let anna = ok(
        "anna",
        s.create_user("anna", "Анна", Role::Manager, None).await,
    );
    ok(
        "boris",
        s.create_user("boris", "Борис", Role::Manager, None).await,
    );
    let t0 = now();
    let id = file_lead(
        s,
        source,
        order(8, None, "Иван", "+79250000040", "i@shop.example"),
        calendar,
        t0,
    )
    .await;
    let other = file_lead(s, source, contact("Звонок", "+79250000041"), calendar, t0).await;
    assert!(
        ok("fresh", s.lead_history(id).await).is_empty(),
        "arrival is the lead itself"
    );

    let take = LeadPatch {
        status: Some(LeadStatus::InProgress),
        assignee: Some("anna".into()),
        by: Some(anna),
    };
    ok("take", s.update_lead(id, &take).await);
    ok("take again", s.update_lead(id, &take).await);
    ok(
        "hand over",
        s.update_lead(
            id,
            &LeadPatch {
                status: None,
                assignee: Some("boris".into()),
                by: Some(anna),
            },
        )
        .await,
    );
    ok(
        "unassign",
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
    ok("form", s.form_tech_cards(id, Some(anna)).await);
    ok("form again", s.form_tech_cards(id, Some(anna)).await);
    let noted = ok(
        "record",
        s.record_lead_event(
            &NewLeadEvent::new(id, Some(anna), LeadEventKind::CommentAdded).with("comment_id", 7),
        )
        .await,
    );

    let history = ok("history", s.lead_history(id).await);
    assert_eq!(
        kinds(&history),
        vec![
            LeadEventKind::StatusChanged,
            LeadEventKind::Assigned,
            LeadEventKind::Assigned,
            LeadEventKind::Assigned,
            LeadEventKind::TechCardsFormed,
            LeadEventKind::CommentAdded,
        ],
        "a repeated change and a second forming record nothing"
    );
    assert!(history.windows(2).all(|w| w[0].id < w[1].id));
    assert!(history.iter().all(|e| e.lead_id == id && e.at >= t0));
    assert_eq!(
        history
            .iter()
            .map(|e| e.actor.as_deref())
            .collect::<Vec<_>>(),
        vec![
            Some("anna"),
            Some("anna"),
            Some("anna"),
            None,
            Some("anna"),
            Some("anna")
        ]
    );
    assert_eq!(history[0].actor_id, Some(anna));
    assert_eq!(
        history[0].changes(),
        vec![change("status", Some("new"), Some("in_progress"))]
    );
    assert_eq!(
        history[1].changes(),
        vec![change("assignee", None, Some("anna"))]
    );
    assert_eq!(
        history[2].changes(),
        vec![change("assignee", Some("anna"), Some("boris"))]
    );
    assert_eq!(
        history[3].changes(),
        vec![change("assignee", Some("boris"), None)]
    );
    assert_eq!(
        history[4].notes(),
        vec![("cards".to_owned(), format!("{id}-1"))]
    );
    assert_eq!(history[5].id, noted);
    assert_eq!(
        history[5].notes(),
        vec![("comment_id".to_owned(), "7".to_owned())]
    );

    assert!(
        ok("other", s.lead_history(other).await).is_empty(),
        "each lead has its own history"
    );
    match s
        .record_lead_event(&NewLeadEvent::new(
            id + 1000,
            None,
            LeadEventKind::CommentAdded,
        ))
        .await
    {
        Err(StorageError::NotFound { .. }) => {}
        other => panic!("an unknown lead is NotFound: {other:?}"),
    }
}

/// [`Ledger::import_for_message`] records the reprocessing, and the tech cards a source forms on arrival.
pub async fn a_reprocessed_lead_has_its_reprocessing_in_its_history(s: &dyn Storage) {
    let (calendar, source) = calendar_and_source(s, "site").await;
    let admin = ok(
        "admin",
        s.create_user("root", "Root", Role::Admin, None).await,
    );
    let SubmitOutcome::Rejected { message_id } = submit(
        s,
        Submission {
            ledger: entry(SourceRef::Http { id: source }, None, b"broken", now()),
            disposition: Disposition::Rejected {
                reason: "broken".to_owned(),
            },
            idempotency: None,
        },
    )
    .await
    else {
        panic!("rejected expected");
    };
    let draft = LeadDraft {
        payload: order(9, None, "Иван", "+79250000042", "i@shop.example"),
        calendar_id: calendar,
        auto_tech_cards: true,
        extra_warnings: Vec::new(),
    };
    let Reimport::Imported { lead_id } = ok(
        "reimport",
        s.import_for_message(message_id, &draft, Some(admin)).await,
    ) else {
        panic!("a rejected record gets a lead");
    };
    let history = ok("history", s.lead_history(lead_id).await);
    assert_eq!(
        kinds(&history),
        vec![LeadEventKind::TechCardsFormed, LeadEventKind::Reprocessed]
    );
    assert_eq!(history[0].actor, None, "the source formed the cards");
    assert_eq!(history[1].actor.as_deref(), Some("root"));
    assert_eq!(
        history[1].notes(),
        vec![("message_id".to_owned(), message_id.to_string())]
    );
}

/// [`Ledger::submit_batch`] with leads from sources that form tech cards on arrival and from one that does
/// not, in one batch: each lead of the first kind gets a card per goods line, numbered by its position, and
/// one history entry naming them in that order; the others get neither.
pub async fn leads_of_one_batch_get_the_tech_cards_their_sources_form(s: &dyn Storage) {
    let (calendar, source) = calendar_and_source(s, "site").await;
    let goods = payload(
        r#"{"Тема": "Заказ", "Товары": [
            {"Номенклатура": "Баннер", "Ширина": 2, "Высота": 2, "Количество": 2},
            {"Номенклатура": "Доставка", "Услуга": true, "Количество": 1},
            {"Номенклатура": "Плакат", "Ширина": 1, "Высота": 3, "Количество": 1}
        ]}"#,
    );
    let submission = |payload: Payload, auto_tech_cards: bool| Submission {
        ledger: entry(SourceRef::Http { id: source }, None, b"{}", now()),
        disposition: Disposition::Lead(Box::new(LeadDraft {
            payload,
            calendar_id: calendar,
            auto_tech_cards,
            extra_warnings: Vec::new(),
        })),
        idempotency: None,
    };
    let batch = [
        submission(goods.clone(), true),
        submission(contact("Звонок", "+79250000001"), true),
        submission(goods.clone(), false),
        submission(goods, true),
    ];
    let outcomes = ok("submit", s.submit_batch(&batch).await);
    let ids: Vec<i64> = outcomes
        .iter()
        .map(|o| match o {
            SubmitOutcome::Imported { lead_id, .. } => *lead_id,
            other => panic!("imported expected: {other:?}"),
        })
        .collect();
    for (i, &id) in ids.iter().enumerate() {
        let cards = ok("cards", s.tech_cards_of_lead(id).await);
        let history = ok("history", s.lead_history(id).await);
        if i == 0 || i == 3 {
            let numbers = vec![format!("{id}-1"), format!("{id}-3")];
            assert_eq!(
                cards.iter().map(|c| c.number.clone()).collect::<Vec<_>>(),
                numbers,
                "lead {i}"
            );
            assert_eq!(
                cards
                    .iter()
                    .map(|c| (c.area_per_piece, c.total_area, c.perimeter))
                    .collect::<Vec<_>>(),
                vec![(dec(4), dec(8), dec(8)), (dec(3), dec(3), dec(8))]
            );
            assert_eq!(kinds(&history), vec![LeadEventKind::TechCardsFormed]);
            assert_eq!(history[0].actor, None, "the source formed the cards");
            assert_eq!(
                history[0].notes(),
                vec![("cards".to_owned(), numbers.join(", "))]
            );
        } else {
            assert!(cards.is_empty(), "lead {i}: {cards:?}");
            assert!(history.is_empty(), "lead {i}: {history:?}");
        }
    }
}
