//! The live pages' read of one lead.

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
