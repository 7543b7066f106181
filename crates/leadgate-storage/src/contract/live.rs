//! The live pages' read of leads, one at a time and a group at once.

use super::*;

/// [`LiveLeads::lead_summary`].
pub async fn a_lead_summary_is_read_by_id_as_the_lists_show_it(s: &dyn Storage) {
    let (calendar, source) = calendar_and_source(s, "site").await;
    let id = file_lead(
        s,
        source,
        contact("Перезвоните", "+79250000030"),
        calendar,
        now(),
    )
    .await;
    let summary = some("the summary", ok("summary", s.lead_summary(id).await));
    assert_eq!(summary.id, id);
    assert_eq!(summary.calendar_id, calendar);
    assert_eq!(summary.subject.as_deref(), Some("Перезвоните"));
    assert_eq!(summary.contact.phone.as_deref(), Some("+79250000030"));
    assert_eq!(summary.status, LeadStatus::New);
    // The same row as the inbox shows.
    let inbox = ok(
        "inbox",
        s.inbox(&InboxQuery {
            limit: 10,
            ..InboxQuery::default()
        })
        .await,
    );
    assert_eq!(
        format!("{:?}", inbox.items[0]),
        format!("{summary:?}"),
        "as the inbox shows it"
    );
    assert!(
        ok("missing", s.lead_summary(id + 1000).await).is_none(),
        "no lead, no summary"
    );
}

/// [`LiveLeads::lead_summaries`]: the leads that exist among the ids, each as [`LiveLeads::lead_summary`]
/// reads it alone; the ids of no lead are left out.
pub async fn lead_summaries_are_read_together_as_each_alone(s: &dyn Storage) {
    let (calendar, source) = calendar_and_source(s, "site").await;
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(
            file_lead(
                s,
                source,
                contact(&format!("Перезвоните {i}"), &format!("+7925000003{i}")),
                calendar,
                now(),
            )
            .await,
        );
    }
    let missing = ids[2] + 1000;
    let mut read = ok(
        "summaries",
        s.lead_summaries(&[ids[2], missing, ids[0]]).await,
    );
    read.sort_by_key(|l| l.id);
    let mut alone = Vec::new();
    for id in [ids[0], ids[2]] {
        alone.push(some("the summary", ok("summary", s.lead_summary(id).await)));
    }
    assert_eq!(format!("{read:?}"), format!("{alone:?}"));
    assert!(ok("none", s.lead_summaries(&[]).await).is_empty());
}
