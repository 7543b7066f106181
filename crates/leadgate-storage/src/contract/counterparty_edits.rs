//! What managers change on counterparties: names, typed contacts, and leads linked by their contacts.

use super::*;

fn phone(value: &str) -> CounterpartyContact {
    CounterpartyContact {
        kind: ContactKind::Phone,
        value: value.to_owned(),
    }
}

fn email(value: &str) -> CounterpartyContact {
    CounterpartyContact {
        kind: ContactKind::Email,
        value: value.to_owned(),
    }
}

/// The counterparty as a viewer of these calendars sees it (`None`: every calendar).
async fn seen(s: &dyn Storage, id: i64, calendars: Option<&[i64]>) -> Option<CounterpartyView> {
    ok("counterparty", s.counterparty(id, calendars).await)
}

/// [`CounterpartyEdits::rename_counterparty`], [`CounterpartyEdits::add_counterparty_contact`],
/// [`CounterpartyEdits::remove_counterparty_contact`].
pub async fn a_manager_renames_a_counterparty_and_adds_and_removes_its_contacts(s: &dyn Storage) {
    let (first, first_source) = calendar_and_source(s, "first").await;
    let (second, second_source) = calendar_and_source(s, "second").await;
    let inn = Some("7709745454");
    let lead = file_lead(
        s,
        first_source,
        order(1, inn, "Алексей", "+7 925 642 42-90", "adwcom@gmail.com"),
        first,
        now(),
    )
    .await;
    file_lead(
        s,
        second_source,
        order(2, inn, "Мария", "+7 925 000 00-02", "b@shop.example"),
        second,
        now(),
    )
    .await;
    let party = some(
        "counterparty",
        some("lead", ok("lead", s.lead(lead).await)).counterparty,
    )
    .id;
    let maria = ok(
        "manager",
        s.create_user("maria", "Мария", Role::Manager, None).await,
    );
    let viewer = [second];
    let before = some("seen", seen(s, party, Some(&viewer)).await);
    assert_eq!(
        (before.phones.clone(), before.emails.clone()),
        (
            vec!["+79250000002".to_owned()],
            vec!["b@shop.example".to_owned()]
        ),
        "a viewer sees the contacts their calendar's leads brought"
    );

    assert!(ok(
        "rename",
        s.rename_counterparty(party, "ООО «Ромашка»").await
    ));
    assert_eq!(
        some("seen", seen(s, party, None).await).name,
        "ООО «Ромашка»"
    );
    assert!(
        !ok("unknown", s.rename_counterparty(party + 1000, "Нет").await),
        "no such counterparty"
    );

    // A typed contact is the counterparty's own: every viewer of it sees it.
    let typed = email("buh@shop.example");
    assert!(ok(
        "add",
        s.add_counterparty_contact(party, &typed, maria).await
    ));
    assert!(
        !ok(
            "again",
            s.add_counterparty_contact(party, &typed, maria).await
        ),
        "the counterparty has it already"
    );
    assert!(
        !ok(
            "in other case",
            s.add_counterparty_contact(party, &email("BUH@Shop.Example"), maria)
                .await
        ),
        "an e-mail in other letter case is the same address"
    );
    let first_only = [first];
    for calendars in [Some(&first_only[..]), Some(&viewer[..]), None] {
        let view = some("seen", seen(s, party, calendars).await);
        assert!(
            view.emails.contains(&typed.value),
            "{calendars:?} sees the typed e-mail: {:?}",
            view.emails
        );
        assert_eq!(
            view.emails.iter().filter(|e| **e == typed.value).count(),
            1,
            "each contact once"
        );
    }
    // A contact another calendar's lead brought, confirmed by a manager, is seen by every viewer too.
    ok(
        "confirm",
        s.add_counterparty_contact(party, &phone("+79256424290"), maria)
            .await,
    );
    let confirmed = some("seen", seen(s, party, Some(&viewer)).await);
    assert!(
        confirmed.phones.contains(&"+79256424290".to_owned()),
        "{:?}",
        confirmed.phones
    );
    match s
        .add_counterparty_contact(party + 1000, &typed, maria)
        .await
    {
        Err(StorageError::NotFound { .. }) => {}
        other => panic!("an unknown counterparty is NotFound: {other:?}"),
    }

    // A viewer of the second calendar removing it withdraws only the confirmation: the first calendar's
    // lead brought it, and its viewers keep it.
    assert!(ok(
        "withdraw",
        s.remove_counterparty_contact(party, &phone("+79256424290"), Some(&viewer))
            .await
    ));
    for (calendars, kept) in [
        (Some(&viewer[..]), false),
        (Some(&first_only[..]), true),
        (None, true),
    ] {
        assert_eq!(
            some("seen", seen(s, party, calendars).await)
                .phones
                .contains(&"+79256424290".to_owned()),
            kept,
            "{calendars:?}"
        );
    }

    // A typed contact no lead brought goes for every viewer.
    assert!(ok(
        "remove",
        s.remove_counterparty_contact(party, &typed, Some(&viewer))
            .await
    ));
    assert!(
        !ok(
            "again",
            s.remove_counterparty_contact(party, &typed, None).await
        ),
        "it is gone"
    );
    assert!(
        !ok(
            "other kind",
            s.remove_counterparty_contact(party, &phone("adwcom@gmail.com"), None)
                .await
        ),
        "a phone is not an e-mail"
    );
    let brought = phone("+79250000002");
    assert!(ok(
        "remove",
        s.remove_counterparty_contact(party, &brought, None).await
    ));
    let after = some("seen", seen(s, party, None).await);
    assert!(!after.emails.contains(&typed.value), "{:?}", after.emails);
    assert!(!after.phones.contains(&brought.value), "{:?}", after.phones);
    assert!(
        after.emails.contains(&"b@shop.example".to_owned()),
        "the other contacts stay"
    );
    file_lead(
        s,
        second_source,
        order(3, inn, "Мария", "+7 925 000 00-02", "b@shop.example"),
        second,
        now(),
    )
    .await;
    assert!(
        some("seen", seen(s, party, None).await)
            .phones
            .contains(&brought.value),
        "a later lead with the INN brings a removed contact back"
    );
}

/// The counterparties holding this phone or e-mail, newest first.
async fn by(s: &dyn Storage, phone: Option<&str>, email: Option<&str>, limit: u32) -> Vec<i64> {
    ok(
        "by contact",
        s.counterparties_by_contact(phone, email, limit).await,
    )
}

/// [`CounterpartyEdits::counterparties_by_contact`], [`CounterpartyEdits::link_lead_to_counterparty`].
pub async fn a_lead_without_an_inn_is_linked_to_a_customer_found_by_its_contacts(s: &dyn Storage) {
    let (first, first_source) = calendar_and_source(s, "first").await;
    let (second, second_source) = calendar_and_source(s, "second").await;
    let known = file_lead(
        s,
        first_source,
        order(
            1,
            Some("7709745454"),
            "Алексей",
            "+7 925 642 42-90",
            "adwcom@gmail.com",
        ),
        first,
        now(),
    )
    .await;
    let party = some(
        "counterparty",
        some("lead", ok("lead", s.lead(known).await)).counterparty,
    )
    .id;
    let newer = file_lead(
        s,
        first_source,
        order(
            2,
            Some("7707083893"),
            "Алексей",
            "+7 925 642 42-90",
            "other@shop.example",
        ),
        first,
        now(),
    )
    .await;
    let newer = some(
        "counterparty",
        some("lead", ok("lead", s.lead(newer).await)).counterparty,
    )
    .id;

    assert_eq!(
        by(s, Some("+79256424290"), None, 10).await,
        vec![newer, party],
        "newest first"
    );
    assert_eq!(
        by(s, Some("+79256424290"), None, 1).await,
        vec![newer],
        "at most the limit"
    );
    assert_eq!(
        by(s, None, Some("AdwCom@Gmail.COM"), 10).await,
        vec![party],
        "an e-mail in any case"
    );
    assert_eq!(
        by(s, Some("+79990000000"), Some("adwcom@gmail.com"), 10).await,
        vec![party],
        "the phone or the e-mail"
    );
    assert!(by(s, Some("+79990000000"), None, 10).await.is_empty());
    assert!(by(s, None, None, 10).await.is_empty(), "nothing to match");

    // A lead without an INN, in another calendar, from the same person.
    let lead = file_lead(
        s,
        second_source,
        order(
            3,
            None,
            "Алексей",
            "8 (925) 642-42-90",
            "zakaz@shop.example",
        ),
        second,
        now(),
    )
    .await;
    assert!(
        some("lead", ok("lead", s.lead(lead).await))
            .counterparty
            .is_none()
    );
    let viewer = [second];
    assert!(
        seen(s, party, Some(&viewer)).await.is_none(),
        "no lead of the viewer's calendar is the customer's yet"
    );
    assert_eq!(
        ok("link", s.link_lead_to_counterparty(lead, party).await),
        LinkOutcome::Linked
    );
    let linked = some("lead", ok("lead", s.lead(lead).await));
    assert_eq!(linked.counterparty.map(|c| c.id), Some(party));
    let mut its_leads: Vec<i64> = ok("its leads", s.leads_of_counterparty(party, 10).await)
        .iter()
        .map(|l| l.id)
        .collect();
    its_leads.sort_unstable();
    assert_eq!(
        its_leads,
        vec![known, lead],
        "the lead is one of the customer's"
    );
    let view = some("seen now", seen(s, party, Some(&viewer)).await);
    assert_eq!(
        (view.phones, view.emails),
        (
            vec!["+79256424290".to_owned()],
            vec!["zakaz@shop.example".to_owned()]
        ),
        "the lead's contacts are the customer's, as private as the lead"
    );
    assert_eq!(
        by(s, None, Some("zakaz@shop.example"), 10).await,
        vec![party]
    );

    assert_eq!(
        ok("again", s.link_lead_to_counterparty(lead, newer).await),
        LinkOutcome::AlreadyLinked
    );
    assert_eq!(
        ok(
            "with an INN",
            s.link_lead_to_counterparty(known, newer).await
        ),
        LinkOutcome::AlreadyLinked
    );
    assert_eq!(
        some("lead", ok("lead", s.lead(lead).await))
            .counterparty
            .map(|c| c.id),
        Some(party),
        "nothing changed"
    );
    let loose = file_lead(
        s,
        second_source,
        contact("Звонок", "+7 925 000 00-09"),
        second,
        now(),
    )
    .await;
    assert_eq!(
        ok(
            "unknown party",
            s.link_lead_to_counterparty(loose, party + 1000).await
        ),
        LinkOutcome::NotFound
    );
    assert!(
        some("lead", ok("lead", s.lead(loose).await))
            .counterparty
            .is_none()
    );
    assert_eq!(
        ok(
            "unknown lead",
            s.link_lead_to_counterparty(loose + 1000, party).await
        ),
        LinkOutcome::NotFound
    );
}
