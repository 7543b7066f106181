//! Contract cases of [`Assignments`], [`Leads::move_lead`] and the inbox's filter by assignee.

use leadgate_domain::lead::{AssignmentRule, LeadEventKind};

use super::*;

async fn assignee(s: &dyn Storage, id: i64) -> Option<String> {
    some("the lead", ok("lead", s.lead(id).await)).assignee
}

/// A personal calendar's leads go to its owner, a round-robin's in turn to the fewest-given manager (a new
/// member starts level), and each assignment is in the lead's history, by leadgate.
pub async fn new_leads_are_assigned_by_their_calendars_rule(s: &dyn Storage) {
    let anna = ok(
        "anna",
        s.create_user("anna", "Анна", Role::Manager, None).await,
    );
    let boris = ok(
        "boris",
        s.create_user("boris", "Борис", Role::Manager, None).await,
    );
    let vera = ok(
        "vera",
        s.create_user("vera", "Вера", Role::Manager, None).await,
    );
    let (common, source) = calendar_and_source(s, "site").await;
    let personal = ok(
        "personal",
        s.create_calendar("anna-own", Some(anna), "#000000").await,
    );
    let unruled = file_lead(
        s,
        source,
        contact("Без правила", "+79250000050"),
        common,
        now(),
    )
    .await;
    assert_eq!(assignee(s, unruled).await, None, "no rule, no assignee");

    ok(
        "owner rule",
        s.set_assignment_rule(personal, AssignmentRule::Owner, &[])
            .await,
    );
    ok(
        "round-robin",
        s.set_assignment_rule(common, AssignmentRule::RoundRobin, &[anna, boris])
            .await,
    );
    let own = file_lead(
        s,
        source,
        contact("Личная", "+79250000051"),
        personal,
        now(),
    )
    .await;
    assert_eq!(assignee(s, own).await.as_deref(), Some("anna"));
    let mut given = Vec::new();
    for i in 0..4 {
        let id = file_lead(
            s,
            source,
            contact("По кругу", &format!("+7925000006{i}")),
            common,
            now(),
        )
        .await;
        given.push(some("assigned", assignee(s, id).await));
    }
    assert_eq!(given, ["anna", "boris", "anna", "boris"]);
    ok(
        "vera joins",
        s.set_assignment_rule(common, AssignmentRule::RoundRobin, &[anna, boris, vera])
            .await,
    );
    let rules = ok("rules", s.calendar_assignments().await);
    let rule = some("common", rules.iter().find(|r| r.calendar_id == common));
    assert_eq!(rule.rule, AssignmentRule::RoundRobin);
    assert_eq!(
        rule.members
            .iter()
            .map(|m| (m.login.as_str(), m.assigned))
            .collect::<Vec<_>>(),
        [("anna", 2), ("boris", 2), ("vera", 2)],
        "a new member starts level with the fewest"
    );
    let next = file_lead(s, source, contact("Дальше", "+79250000070"), common, now()).await;
    assert_eq!(assignee(s, next).await.as_deref(), Some("anna"));
    let history = ok("history", s.lead_history(next).await);
    assert_eq!(history.len(), 1);
    assert_eq!(
        (history[0].kind, history[0].actor_id),
        (LeadEventKind::Assigned, None)
    );
    assert_eq!(
        history[0].notes(),
        vec![("rule".to_owned(), "round_robin".to_owned())]
    );
    ok(
        "off",
        s.set_assignment_rule(common, AssignmentRule::None, &[anna])
            .await,
    );
    let off = file_lead(
        s,
        source,
        contact("Выключено", "+79250000071"),
        common,
        now(),
    )
    .await;
    assert_eq!(assignee(s, off).await, None);
    match s
        .set_assignment_rule(9_999, AssignmentRule::None, &[])
        .await
    {
        Err(StorageError::NotFound { .. }) => {}
        other => panic!("an unknown calendar is NotFound: {other:?}"),
    }
    match s
        .set_assignment_rule(common, AssignmentRule::RoundRobin, &[9_999])
        .await
    {
        Err(StorageError::NotFound { .. }) => {}
        other => panic!("an unknown user is NotFound: {other:?}"),
    }
}

/// A lead moves to another calendar with an entry in its history; the inbox filters by assignee.
pub async fn a_lead_moves_between_calendars_and_the_inbox_filters_by_assignee(s: &dyn Storage) {
    let anna = ok(
        "anna",
        s.create_user("anna", "Анна", Role::Manager, None).await,
    );
    let (from, source) = calendar_and_source(s, "site").await;
    let to = ok("to", s.upsert_calendar("shop", None).await);
    let id = file_lead(s, source, contact("Звонок", "+79250000080"), from, now()).await;
    let other = file_lead(s, source, contact("Другая", "+79250000081"), from, now()).await;
    let moved = some(
        "the lead",
        ok("move", s.move_lead(id, to, Some(anna), None).await),
    );
    assert_eq!(moved.calendar.id, to);
    // A search in calendars finds the leads in them now: the moved lead in its new one only. (A viewer of one
    // calendar or of two of the three.)
    let third = ok("third", s.upsert_calendar("third", None).await);
    for (calendars, found) in [
        (vec![to], vec![id]),
        (vec![from], vec![other]),
        (vec![to, third], vec![id]),
        (vec![from, third], vec![other]),
    ] {
        let query = InboxQuery {
            calendars: Some(calendars.clone()),
            search: Some("925000008".into()),
            limit: 10,
            ..InboxQuery::default()
        };
        let page = ok("search", s.inbox(&query).await);
        let ids: Vec<i64> = page.items.iter().map(|l| l.id).collect();
        assert_eq!(ids, found, "a search in calendars {calendars:?}");
    }
    ok("again", s.move_lead(id, to, Some(anna), None).await);
    let history = ok("history", s.lead_history(id).await);
    assert_eq!(history.len(), 1, "moving where it is records nothing");
    assert_eq!(history[0].kind, LeadEventKind::Moved);
    assert_eq!(history[0].actor.as_deref(), Some("anna"));
    assert_eq!(
        history[0].changes(),
        vec![FieldChange {
            field: "calendar".into(),
            old: Some("site".into()),
            new: Some("shop".into())
        }]
    );
    match s.move_lead(id, 9_999, None, None).await {
        Err(StorageError::NotFound { .. }) => {}
        other => panic!("an unknown calendar is NotFound: {other:?}"),
    }
    assert!(ok("unknown lead", s.move_lead(id + 1000, to, None, None).await).is_none());

    ok(
        "assign",
        s.update_lead(
            id,
            &LeadPatch {
                status: None,
                assignee: Some("anna".into()),
                by: Some(anna),
            },
        )
        .await,
    );
    let inbox = |assignee| {
        let query = InboxQuery {
            assignee,
            limit: 50,
            ..InboxQuery::default()
        };
        async move {
            ok("inbox", s.inbox(&query).await)
                .items
                .iter()
                .map(|l| l.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(inbox(Some(AssigneeFilter::User(anna))).await, vec![id]);
    assert_eq!(inbox(Some(AssigneeFilter::Unassigned)).await, vec![other]);
    assert_eq!(inbox(None).await, vec![other, id]);

    // A move that takes the lead from an assignee who may not see the new calendar records both changes; one
    // naming someone else leaves the assignee.
    let moved = some(
        "the lead",
        ok(
            "move back",
            s.move_lead(id, from, None, Some("boris")).await,
        ),
    );
    assert_eq!(moved.assignee.as_deref(), Some("anna"));
    let moved = some(
        "the lead",
        ok("move", s.move_lead(id, third, None, Some("anna")).await),
    );
    assert_eq!((moved.calendar.id, moved.assignee), (third, None));
    let history = ok("history", s.lead_history(id).await);
    let last: Vec<_> = history[history.len() - 2..]
        .iter()
        .map(|e| (e.kind, e.changes()))
        .collect();
    assert_eq!(
        last,
        vec![
            (
                LeadEventKind::Moved,
                vec![FieldChange {
                    field: "calendar".into(),
                    old: Some("site".into()),
                    new: Some("third".into())
                }]
            ),
            (
                LeadEventKind::Assigned,
                vec![FieldChange {
                    field: "assignee".into(),
                    old: Some("anna".into()),
                    new: None
                }]
            ),
        ]
    );
    assert_eq!(
        inbox(Some(AssigneeFilter::Unassigned)).await,
        vec![other, id]
    );
}
