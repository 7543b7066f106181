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
