//! The small closed vocabularies of a lead: what it is, where it stands, and how it arrived.

use serde::{Deserialize, Serialize};

use crate::vocabulary;

/// What a lead is: a bare contact ("call me back") or an order with product lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeadKind {
    /// A primary contact without goods.
    Contact,
    /// An order with at least one line.
    Order,
}

vocabulary!(LeadKind, "lead kind", {
    Contact => "contact",
    Order => "order",
});

/// Where a lead stands in a manager's work: new, then in progress, then done or rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeadStatus {
    /// Just filed; nobody has looked at it.
    New,
    /// A manager is working on it.
    InProgress,
    /// Finished.
    Done,
    /// Turned down or spam.
    Rejected,
}

vocabulary!(LeadStatus, "lead status", {
    New => "new",
    InProgress => "in_progress",
    Done => "done",
    Rejected => "rejected",
});

/// How a lead arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// Collected from a mailbox.
    Mail,
    /// Posted to the HTTP intake endpoint.
    Http,
    /// Imported from a file with the CLI.
    File,
}

vocabulary!(Channel, "channel", {
    Mail => "mail",
    Http => "http",
    File => "file",
});

/// What an entry of a lead's timeline records. Every entry but `received` and `webhook_delivery` is a row of
/// the lead's history, written in the same transaction as the change it records; those two come from the
/// lead itself and from the webhooks' delivery log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeadEventKind {
    /// The lead arrived (channel, source, raw message).
    Received,
    /// Its status changed.
    StatusChanged,
    /// It was given to a user, or taken from one.
    Assigned,
    /// It was moved to another calendar.
    Moved,
    /// Its subject, description or contact details were corrected.
    Edited,
    /// Order lines were added, changed or removed.
    LinesChanged,
    /// Tech cards were formed from its lines.
    TechCardsFormed,
    /// One of its tech cards moved on.
    TechCardStatusChanged,
    /// A manager wrote a comment.
    CommentAdded,
    /// A follow-up was planned.
    FollowUpPlanned,
    /// A follow-up was done.
    FollowUpDone,
    /// Its raw message was run through the pipeline again.
    Reprocessed,
    /// It was marked as a duplicate of another lead.
    DuplicateMarked,
    /// The hint that it may be a duplicate was dismissed.
    DuplicateDismissed,
    /// A webhook delivery announced it.
    WebhookDelivery,
}

vocabulary!(LeadEventKind, "lead event kind", {
    Received => "received",
    StatusChanged => "status_changed",
    Assigned => "assigned",
    Moved => "moved",
    Edited => "edited",
    LinesChanged => "lines_changed",
    TechCardsFormed => "tech_cards_formed",
    TechCardStatusChanged => "tech_card_status_changed",
    CommentAdded => "comment_added",
    FollowUpPlanned => "follow_up_planned",
    FollowUpDone => "follow_up_done",
    Reprocessed => "reprocessed",
    DuplicateMarked => "duplicate_marked",
    DuplicateDismissed => "duplicate_dismissed",
    WebhookDelivery => "webhook_delivery",
});

/// How a calendar's new leads are assigned as they are filed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssignmentRule {
    /// Not at all: a manager takes them.
    None,
    /// To the calendar's owner (a personal calendar).
    Owner,
    /// In turn among the managers an administrator chose: the next lead goes to the one given the fewest.
    RoundRobin,
}

vocabulary!(AssignmentRule, "assignment rule", {
    None => "none",
    Owner => "owner",
    RoundRobin => "round_robin",
});

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::vocabulary::tests::assert_words_agree;

    #[test]
    fn every_value_round_trips_through_its_word_and_through_serde() {
        assert_words_agree::<LeadKind>();
        assert_words_agree::<LeadStatus>();
        assert_words_agree::<Channel>();
        assert_words_agree::<LeadEventKind>();
        assert_words_agree::<AssignmentRule>();
    }

    #[test]
    fn the_words_are_the_documented_ones() {
        assert_eq!(LeadStatus::InProgress.as_str(), "in_progress");
        assert_eq!(
            serde_json::from_str::<LeadStatus>("\"in_progress\"").unwrap(),
            LeadStatus::InProgress
        );
        assert_eq!(" order ".parse::<LeadKind>().unwrap(), LeadKind::Order);
    }

    #[test]
    fn an_unknown_word_is_a_typed_error_naming_the_type() {
        let err = "Order".parse::<LeadKind>().unwrap_err();
        assert_eq!(err.type_name, "lead kind");
        assert_eq!(err.value, "Order");
        assert!(err.to_string().contains("contact, order"));
        assert!("".parse::<Channel>().is_err());
    }
}
