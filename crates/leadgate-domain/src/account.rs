//! The vocabulary of accounts and named records: a user's role, and the plain names that logins, collectors
//! and HTTP sources are given.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::vocabulary;

/// A user's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Administration and everything else.
    Admin,
    /// Works leads.
    Manager,
}

vocabulary!(Role, "role", {
    Admin => "admin",
    Manager => "manager",
});

/// A login, or the name of a collector or an HTTP source: 1 to 64 letters (any script), digits and `. _ - @`.
///
/// Such a name is safe in a URL path segment, a log line and an environment variable's suffix, and reads the
/// same everywhere it is shown.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Name(String);

/// A string that is not a [`Name`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a name is 1 to 64 letters, digits and . _ - @")]
pub struct NameError;

impl Name {
    /// The longest name, in characters.
    pub const MAX_CHARS: usize = 64;

    /// Reads a name; nothing is trimmed.
    ///
    /// # Errors
    /// [`NameError`] when `name` is empty, longer than [`Name::MAX_CHARS`] characters, or holds anything but
    /// letters, digits, `.`, `_`, `-` and `@`.
    ///
    /// ```
    /// use leadgate_domain::account::Name;
    ///
    /// assert_eq!(Name::parse("ivanov.i@shop").map(|n| n.into_string()), Ok("ivanov.i@shop".to_owned()));
    /// assert!(Name::parse("a b").is_err());
    /// ```
    pub fn parse(name: &str) -> Result<Self, NameError> {
        let plain = (1..=Self::MAX_CHARS).contains(&name.chars().count())
            && name
                .chars()
                .all(|c| c.is_alphanumeric() || "._-@".contains(c));
        if plain {
            Ok(Self(name.to_owned()))
        } else {
            Err(NameError)
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name as an owned string.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocabulary::tests::assert_words_agree;

    #[test]
    fn every_role_round_trips_through_its_word_and_through_serde() {
        assert_words_agree::<Role>();
    }

    #[test]
    fn names_are_plain() {
        for good in [
            "manager1",
            "ivanov.i@shop",
            "менеджер",
            "site-orders_2",
            &"a".repeat(64),
        ] {
            assert_eq!(
                Name::parse(good).map(Name::into_string),
                Ok(good.to_owned())
            );
        }
        for bad in ["", "a b", " admin", "<script>", "x/y", &"a".repeat(65)] {
            assert_eq!(Name::parse(bad), Err(NameError), "{bad}");
        }
    }
}
