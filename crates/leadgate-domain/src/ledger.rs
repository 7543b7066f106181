//! The ledger's vocabulary: how one received message ended.

use serde::{Deserialize, Serialize};

use crate::vocabulary;

/// Outcome of one message in the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A lead was made from it.
    Imported,
    /// The ledger already held it.
    Duplicate,
    /// Looked at, not for leadgate (no keyword as a whole word).
    Skipped,
    /// For leadgate, but unusable; the raw message is kept for reprocessing.
    Rejected,
    /// A rejected message an administrator threw away (kept in the ledger).
    Discarded,
}

vocabulary!(Outcome, "outcome", {
    Imported => "imported",
    Duplicate => "duplicate",
    Skipped => "skipped",
    Rejected => "rejected",
    Discarded => "discarded",
});

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocabulary::tests::assert_words_agree;

    #[test]
    fn every_outcome_round_trips_through_its_word_and_through_serde() {
        assert_words_agree::<Outcome>();
    }
}
