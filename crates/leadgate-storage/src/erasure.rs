//! What both backends' erasure of a person's data runs alike: the statements are the same SQL on SQLite and
//! PostgreSQL, so they are written once, here.

/// What erasure blanks beside the lead's own columns, one statement per table over the erased leads' ids, each
/// as the text before the ids (`… WHERE <column>`, the ids follow as ` IN (…)`) and the text after them (`")"`
/// for a statement whose ids sit inside a subquery): the history's old values (contact details among them);
/// what managers wrote about the person, the comments' text and the follow-ups' notes (who wrote them, and
/// when, stay with the lead's statistics); the extra works' descriptions; and what webhook receivers answered
/// to the lead's deliveries, which may repeat what they were sent (the log keeps each delivery's state,
/// status and attempts).
pub const ERASED_LEAD_TEXTS: [(&str, &str); 5] = [
    ("UPDATE lead_events SET detail = '{}' WHERE lead_id", ""),
    ("UPDATE lead_comments SET body = '' WHERE lead_id", ""),
    ("UPDATE follow_ups SET note = '' WHERE lead_id", ""),
    (
        "UPDATE extra_works SET description = NULL
         WHERE line_id IN (SELECT id FROM order_lines WHERE lead_id",
        ")",
    ),
    (
        "UPDATE webhook_deliveries SET last_answer = NULL
         WHERE event_id IN (SELECT id FROM webhook_events WHERE lead_id",
        ")",
    ),
];
