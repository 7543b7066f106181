//! Personal data: finding, erasing and the audit.

use super::*;

/// [`PersonalData::find_personal_data`], [`PersonalData::erase_personal_data`],
/// [`PersonalData::personal_data_erasures`].
pub async fn personal_data_is_found_erased_and_audited(s: &dyn Storage) {
    let (calendar, source) = calendar_and_source(s, "site").await;
    let person = "Прилепский Алексей";
    let lead = file_lead(
        s,
        source,
        order(
            1,
            Some("7709745454"),
            person,
            "+7 925 642 42-90",
            "adwcom@gmail.com",
        ),
        calendar,
        now(),
    )
    .await;
    let kept = file_lead(
        s,
        source,
        order(2, None, "Другой", "+7 925 000 00-99", "other@shop.example"),
        calendar,
        now(),
    )
    .await;
    let message = some(
        "its record",
        ok("message of lead", s.message_of_lead(lead).await),
    );
    let party = some(
        "counterparty",
        some("lead", ok("lead", s.lead(lead).await)).counterparty,
    );
    // A manager named the organisation after the person (as versions before naming by INN did).
    assert!(ok("rename", s.rename_counterparty(party.id, person).await));
    let query = match PersonDataQuery::phone("8 (925) 642-42-90") {
        Ok(query) => query,
        Err(e) => panic!("a phone query: {e}"),
    };
    let found = ok("find", s.find_personal_data(&query, &[]).await);
    assert_eq!(
        found.leads.iter().map(|l| l.id).collect::<Vec<_>>(),
        vec![lead]
    );
    assert_eq!(found.leads[0].contact_person.as_deref(), Some(person));
    assert_eq!(found.message_ids, vec![message]);
    assert_eq!(
        found.renamed_counterparty_ids,
        vec![party.id],
        "an organisation named after the person is renamed"
    );
    assert!(found.counterparties.is_empty(), "an organisation is kept");
    assert_eq!(found.contacts, 2, "the phone and e-mail the lead brought");

    let actor = ErasureActor {
        user_id: None,
        login: "command line".into(),
        channel: "cli",
    };
    // An edit kept the old phone in the history; erasure takes it from there too.
    let old_phone = NewLeadEvent::new(lead, None, leadgate_domain::lead::LeadEventKind::Edited)
        .with_change("phone", Some("+7 925 642 42-90"), Some("+79256424291"));
    ok("edit", s.record_lead_event(&old_phone).await);
    let record = ok("erase", s.erase_personal_data(&query, &[], &actor).await);
    let history = ok("history", s.lead_history(lead).await);
    assert_eq!(history.len(), 1, "the entry stays, without its detail");
    assert!(history[0].detail.is_empty(), "{:?}", history[0].detail);
    assert_eq!(
        (record.lead_ids.clone(), record.message_ids.clone()),
        (vec![lead], vec![message])
    );
    assert_eq!((record.renamed_counterparties, record.contacts), (1, 2));
    assert_eq!(
        (
            record.actor.as_str(),
            record.channel.as_str(),
            record.query_kind.as_str()
        ),
        ("command line", "cli", "phone")
    );
    let erased = some("the lead is kept", ok("lead", s.lead(lead).await));
    assert_eq!(
        (
            erased.contact.phone,
            erased.contact.person,
            erased.contact.email,
            erased.inn
        ),
        (None, None, None, None)
    );
    assert!(erased.counterparty.is_none() && erased.subject.is_none());
    assert_eq!(erased.lines.len(), 2, "the goods stay for the statistics");
    assert!(
        ok("raw", s.message_raw(message).await).is_none(),
        "the raw message is deleted"
    );
    let renamed = some(
        "counterparty",
        ok("counterparty", s.counterparty(party.id, None).await),
    );
    assert_eq!(renamed.name, "ИНН 7709745454");
    assert!(renamed.phones.is_empty() && renamed.emails.is_empty());
    assert!(
        ok(
            "search",
            s.search_counterparties("прилеп", None, page(10)).await
        )
        .items
        .is_empty(),
        "the name leaves the search"
    );
    let other = some("other lead", ok("lead", s.lead(kept).await));
    assert_eq!(
        other.contact.person.as_deref(),
        Some("Другой"),
        "nobody else is touched"
    );
    assert!(ok("find again", s.find_personal_data(&query, &[]).await).is_empty());
    let audit = ok("audit", s.personal_data_erasures(10).await);
    assert_eq!(audit.len(), 1);
    assert_eq!(
        (audit[0].id, audit[0].lead_ids.clone()),
        (record.id, vec![lead])
    );
    assert!(
        !format!("{audit:?}").contains("9256424290"),
        "the audit holds no erased value"
    );
}

/// Erasing a person's data blanks what managers wrote about them: the comments on their lead and the notes
/// of its follow-ups (who wrote them and when stay), and nobody else's.
pub async fn an_erased_leads_comments_and_follow_up_notes_are_blanked(s: &dyn Storage) {
    let (calendar, source) = calendar_and_source(s, "site").await;
    let manager = ok(
        "manager",
        s.create_user("maria", "Мария", Role::Manager, None).await,
    );
    let lead = file_lead(
        s,
        source,
        contact("Перезвоните", "+7 925 642 42-90"),
        calendar,
        now(),
    )
    .await;
    let kept = file_lead(
        s,
        source,
        contact("Другой", "+7 925 000 00-99"),
        calendar,
        now(),
    )
    .await;
    for id in [lead, kept] {
        let comment = NewComment {
            lead_id: id,
            author_id: manager,
            body: "Алексей просил звонить на +7 925 642 42-90 после обеда".into(),
            at: now(),
        };
        some("comment", ok("comment", s.add_comment(&comment).await));
        let follow_up = NewFollowUp {
            lead_id: id,
            owner_id: manager,
            due_at: now() + Duration::days(1),
            note: "Спросить Алексея про макет".into(),
            created_by: manager,
            at: now(),
        };
        some("follow-up", ok("plan", s.plan_follow_up(&follow_up).await));
    }
    let query = match PersonDataQuery::phone("8 (925) 642-42-90") {
        Ok(query) => query,
        Err(e) => panic!("a phone query: {e}"),
    };
    let actor = ErasureActor {
        user_id: Some(manager),
        login: "maria".into(),
        channel: "ui",
    };
    let record = ok("erase", s.erase_personal_data(&query, &[], &actor).await);
    assert_eq!(record.lead_ids, vec![lead]);

    let comments = ok("comments", s.comments_of_lead(lead).await);
    assert_eq!(comments.len(), 1, "the comment stays, without its text");
    assert_eq!(comments[0].body, "");
    assert_eq!(comments[0].author_id, manager, "who wrote it stays");
    let follow_ups = ok("follow-ups", s.follow_ups_of_lead(lead).await);
    assert_eq!(follow_ups.len(), 1, "the follow-up stays in the calendar");
    assert_eq!(follow_ups[0].note, "");

    let theirs = ok("other comments", s.comments_of_lead(kept).await);
    assert!(
        theirs[0].body.contains("после обеда"),
        "nobody else's comment is touched"
    );
    let theirs = ok("other follow-ups", s.follow_ups_of_lead(kept).await);
    assert_eq!(theirs[0].note, "Спросить Алексея про макет");
}

/// Erasing a person's data blanks what webhook receivers answered to the deliveries of their lead (an answer
/// may repeat what it was sent); the log keeps each delivery's state, status and attempts, and another lead's
/// answers stay.
pub async fn an_erased_leads_webhook_answers_are_blanked(s: &dyn Storage) {
    let (calendar, source) = calendar_and_source(s, "hooked").await;
    hook(s, calendar).await;
    let t0 = now();
    let lead = file_lead(
        s,
        source,
        contact("Перезвоните", "+7 925 642 42-90"),
        calendar,
        t0,
    )
    .await;
    let kept = file_lead(
        s,
        source,
        contact("Другой", "+7 925 000 00-99"),
        calendar,
        t0,
    )
    .await;
    let jobs = ok(
        "claim",
        s.claim_webhook_deliveries(
            t0 + Duration::seconds(1),
            std::time::Duration::from_secs(60),
            10,
        )
        .await,
    );
    assert_eq!(jobs.len(), 2);
    for job in &jobs {
        ok(
            "attempt",
            s.record_webhook_attempt(
                job.id,
                &DeliveryAttempt {
                    at: t0 + Duration::seconds(2),
                    status: Some(200),
                    answer: "принято: Алексей, +7 925 642 42-90".into(),
                    outcome: AttemptOutcome::Delivered,
                },
            )
            .await,
        );
    }
    let query = match PersonDataQuery::phone("8 (925) 642-42-90") {
        Ok(query) => query,
        Err(e) => panic!("a phone query: {e}"),
    };
    let actor = ErasureActor {
        user_id: None,
        login: "admin".into(),
        channel: "api",
    };
    let record = ok("erase", s.erase_personal_data(&query, &[], &actor).await);
    assert_eq!(record.lead_ids, vec![lead]);

    let erased = ok("deliveries", s.webhook_deliveries_of_lead(lead).await);
    assert_eq!(erased.len(), 1, "the delivery stays in the log");
    assert_eq!(
        (erased[0].state, erased[0].last_status, erased[0].attempts),
        (DeliveryState::Delivered, Some(200), 1)
    );
    assert_eq!(erased[0].last_answer, None, "the receiver's answer is gone");
    let theirs = ok("other deliveries", s.webhook_deliveries_of_lead(kept).await);
    assert_eq!(
        theirs[0].last_answer.as_deref(),
        Some("принято: Алексей, +7 925 642 42-90"),
        "nobody else's answer is touched"
    );
}
