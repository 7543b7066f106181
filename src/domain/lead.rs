//! The small closed vocabularies of a lead: what it is, where it stands, and how it arrived.
//!
//! Storage, the HTTP API, the CLI and the UI all spell these as the same `snake_case` words, so the words
//! live here once: `as_str` and `Display` write them, `FromStr` and serde read them, and an unknown word is a
//! typed error rather than a silent default.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A word that names none of the values of one of this module's enums.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not a valid {type_name}; expected one of: {expected}")]
pub struct ParseNameError {
    /// The type that was being read, such as `lead kind`.
    pub type_name: &'static str,
    /// The words that would have been accepted, comma-separated.
    pub expected: &'static str,
    /// The word that was given.
    pub value: String,
}

/// Implements `as_str`, `Display`, `FromStr` and `ALL` for a field-less enum from one table of names.
macro_rules! named_enum {
    ($ty:ident, $type_name:literal, $expected:literal, { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $ty {
            /// Every value, in declaration order.
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            /// The `snake_case` word used for this value in storage, JSON and the CLI.
            pub fn as_str(&self) -> &'static str {
                match self {
                    $($ty::$variant => $name),+
                }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $ty {
            type Err = ParseNameError;

            /// Reads the `snake_case` word; surrounding whitespace is ignored, case is not.
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s.trim() {
                    $($name => Ok($ty::$variant),)+
                    _ => Err(ParseNameError {
                        type_name: $type_name,
                        expected: $expected,
                        value: s.to_owned(),
                    }),
                }
            }
        }
    };
}

/// What a lead is: a bare contact ("call me back") or an order with product lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeadKind {
    /// A primary contact without goods.
    Contact,
    /// An order with at least one line.
    Order,
}

named_enum!(LeadKind, "lead kind", "contact, order", {
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

named_enum!(LeadStatus, "lead status", "new, in_progress, done, rejected", {
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

named_enum!(Channel, "channel", "mail, http, file", {
    Mail => "mail",
    Http => "http",
    File => "file",
});

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_value_round_trips_through_its_word_and_through_serde() {
        for kind in LeadKind::ALL {
            assert_eq!(kind.as_str().parse::<LeadKind>().unwrap(), *kind);
            assert_eq!(serde_json::to_string(kind).unwrap(), format!("\"{kind}\""));
        }
        for status in LeadStatus::ALL {
            assert_eq!(status.as_str().parse::<LeadStatus>().unwrap(), *status);
            assert_eq!(
                serde_json::to_string(status).unwrap(),
                format!("\"{status}\"")
            );
        }
        for channel in Channel::ALL {
            assert_eq!(channel.as_str().parse::<Channel>().unwrap(), *channel);
            assert_eq!(
                serde_json::to_string(channel).unwrap(),
                format!("\"{channel}\"")
            );
        }
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
