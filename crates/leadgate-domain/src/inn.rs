//! The INN, the Russian taxpayer number that identifies a customer company or an individual.
//!
//! A counterparty is found or created by its INN, so a mistyped INN must never create a second company:
//! `Inn::parse` is the only way to get an [`Inn`], and it checks the length and both check digits as the
//! specification defines them. Whatever fails the check stays text and becomes a warning further out.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Weights of the check digit of a 10-digit (organisation) INN.
const WEIGHTS_10: [u32; 9] = [2, 4, 10, 3, 5, 9, 4, 6, 8];
/// Weights of the 11th digit of a 12-digit (individual) INN.
const WEIGHTS_12_FIRST: [u32; 10] = [7, 2, 4, 10, 3, 5, 9, 4, 6, 8];
/// Weights of the 12th digit of a 12-digit (individual) INN.
const WEIGHTS_12_SECOND: [u32; 11] = [3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8];

/// A valid INN: 10 or 12 ASCII digits, not all zeros, with correct check digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Inn(String);

/// Whose INN it is, which its length tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InnKind {
    /// 10 digits: a legal entity.
    Organisation,
    /// 12 digits: an individual or a sole proprietor.
    Individual,
}

impl InnKind {
    /// The word used in storage and JSON: `organisation` or `individual`.
    pub fn as_str(&self) -> &'static str {
        match self {
            InnKind::Organisation => "organisation",
            InnKind::Individual => "individual",
        }
    }
}

impl fmt::Display for InnKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a text is not a valid INN.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InnError {
    /// Not 10 or 12 digits once spaces are removed.
    #[error("an INN has 10 or 12 digits, this has {len}")]
    WrongLength {
        /// The number of characters after removing spaces.
        len: usize,
    },
    /// A character that is neither a digit nor a space.
    #[error("an INN holds only digits, this has {found:?}")]
    NonDigit {
        /// The first offending character.
        found: char,
    },
    /// `0000000000` or `000000000000`.
    #[error("an INN cannot be all zeros")]
    AllZeros,
    /// A check digit does not match the others.
    #[error("the check digit in position {position} should be {expected}")]
    BadCheckDigit {
        /// The 1-based position of the first wrong check digit (10, 11 or 12).
        position: usize,
        /// The digit the weights give.
        expected: u8,
    },
}

impl Inn {
    /// Reads an INN, ignoring any whitespace in it (`"7709 745 454"` is `7709745454`).
    ///
    /// # Errors
    ///
    /// [`InnError`] when, without whitespace, the text is not 10 or 12 ASCII digits, is all zeros, or has a
    /// check digit that the specification's weights (mod 11, then mod 10) do not give.
    pub fn parse(s: &str) -> Result<Inn, InnError> {
        let mut digits = Vec::with_capacity(12);
        for c in s.chars().filter(|c| !c.is_whitespace()) {
            match c.to_digit(10) {
                Some(d) if c.is_ascii_digit() => digits.push(d),
                _ => return Err(InnError::NonDigit { found: c }),
            }
            if digits.len() > 12 {
                // Keep counting for the message without keeping the digits.
                let len = s.chars().filter(|c| !c.is_whitespace()).count();
                return Err(InnError::WrongLength { len });
            }
        }
        match digits.len() {
            10 | 12 => {}
            len => return Err(InnError::WrongLength { len }),
        }
        if digits.iter().all(|d| *d == 0) {
            return Err(InnError::AllZeros);
        }
        let checks: &[(usize, &[u32])] = if digits.len() == 10 {
            &[(9, &WEIGHTS_10)]
        } else {
            &[(10, &WEIGHTS_12_FIRST), (11, &WEIGHTS_12_SECOND)]
        };
        for (index, weights) in checks {
            let expected = check_digit(&digits, weights);
            if digits.get(*index).copied() != Some(u32::from(expected)) {
                return Err(InnError::BadCheckDigit {
                    position: index + 1,
                    expected,
                });
            }
        }
        let text = digits
            .iter()
            .filter_map(|d| char::from_digit(*d, 10))
            .collect();
        Ok(Inn(text))
    }

    /// The digits, without spaces.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Organisation (10 digits) or individual (12 digits).
    pub fn kind(&self) -> InnKind {
        if self.0.len() == 10 {
            InnKind::Organisation
        } else {
            InnKind::Individual
        }
    }

    /// The name a new counterparty gets until a manager names it. A company is never named after whoever
    /// filled in the form (its contact person is not the company), so an organisation is `ИНН <inn>`; an
    /// individual entrepreneur is the person, so a 12-digit INN takes the contact person's name when the
    /// lead gives one, else `ИНН <inn>` too.
    pub fn new_counterparty_name(&self, contact_person: Option<&str>) -> String {
        let person = contact_person.map(str::trim).filter(|p| !p.is_empty());
        match (self.kind(), person) {
            (InnKind::Individual, Some(person)) => person.to_owned(),
            _ => format!("ИНН {}", self.0),
        }
    }
}

/// The check digit the weights give for the leading digits: the weighted sum mod 11, then mod 10.
fn check_digit(digits: &[u32], weights: &[u32]) -> u8 {
    let sum: u32 = digits.iter().zip(weights).map(|(d, w)| d * w).sum();
    // Always below 10, so the narrowing cannot lose anything.
    u8::try_from(sum % 11 % 10).unwrap_or(0)
}

impl fmt::Display for Inn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Inn {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl FromStr for Inn {
    type Err = InnError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Inn::parse(s)
    }
}

impl TryFrom<String> for Inn {
    type Error = InnError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        Inn::parse(&s)
    }
}

impl From<Inn> for String {
    fn from(inn: Inn) -> String {
        inn.0
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn an_organisation_is_named_by_its_inn_and_an_entrepreneur_by_the_person() {
        let company = Inn::parse("7709745454").unwrap();
        assert_eq!(
            company.new_counterparty_name(Some("Прилепский Алексей Анатольевич")),
            "ИНН 7709745454"
        );
        assert_eq!(company.new_counterparty_name(None), "ИНН 7709745454");
        let entrepreneur = Inn::parse("500100732259").unwrap();
        assert_eq!(
            entrepreneur.new_counterparty_name(Some(" Петров Пётр ")),
            "Петров Пётр"
        );
        assert_eq!(
            entrepreneur.new_counterparty_name(Some("  ")),
            "ИНН 500100732259"
        );
        assert_eq!(entrepreneur.new_counterparty_name(None), "ИНН 500100732259");
    }

    #[test]
    fn a_known_organisation_inn_is_valid() {
        let inn = Inn::parse("7709745454").unwrap();
        assert_eq!(inn.as_str(), "7709745454");
        assert_eq!(inn.kind(), InnKind::Organisation);
        assert_eq!(inn.kind().as_str(), "organisation");
        assert_eq!(inn.to_string(), "7709745454");
    }

    #[test]
    fn a_known_individual_inn_is_valid() {
        let inn = Inn::parse("500100732259").unwrap();
        assert_eq!(inn.kind(), InnKind::Individual);
        assert_eq!(inn.kind().to_string(), "individual");
    }

    #[test]
    fn spaces_are_ignored() {
        assert_eq!(Inn::parse(" 7709 745 454 ").unwrap().as_str(), "7709745454");
        assert_eq!(
            Inn::parse("5001\u{a0}0073\t2259").unwrap().as_str(),
            "500100732259"
        );
    }

    #[test]
    fn a_bad_check_digit_is_rejected_with_its_position() {
        assert_eq!(
            Inn::parse("7709745455"),
            Err(InnError::BadCheckDigit {
                position: 10,
                expected: 4
            })
        );
        assert_eq!(
            Inn::parse("500100732269"),
            Err(InnError::BadCheckDigit {
                position: 11,
                expected: 5
            })
        );
        assert_eq!(
            Inn::parse("500100732258"),
            Err(InnError::BadCheckDigit {
                position: 12,
                expected: 9
            })
        );
    }

    #[test]
    fn all_zeros_is_rejected() {
        assert_eq!(Inn::parse("0000000000"), Err(InnError::AllZeros));
        assert_eq!(Inn::parse("000000000000"), Err(InnError::AllZeros));
    }

    #[test]
    fn wrong_lengths_and_non_digits_are_rejected() {
        assert_eq!(Inn::parse(""), Err(InnError::WrongLength { len: 0 }));
        assert_eq!(
            Inn::parse("77097454"),
            Err(InnError::WrongLength { len: 8 })
        );
        assert_eq!(
            Inn::parse("77097454541"),
            Err(InnError::WrongLength { len: 11 })
        );
        assert_eq!(
            Inn::parse("7".repeat(40).as_str()),
            Err(InnError::WrongLength { len: 40 })
        );
        assert_eq!(
            Inn::parse("7709-745454"),
            Err(InnError::NonDigit { found: '-' })
        );
        // Non-ASCII digits are not INN digits.
        assert_eq!(
            Inn::parse("٧٧٠٩٧٤٥٤٥٤"),
            Err(InnError::NonDigit { found: '٧' })
        );
    }

    #[test]
    fn serde_writes_the_digits_and_reading_validates() {
        let inn = Inn::parse("7709745454").unwrap();
        assert_eq!(serde_json::to_string(&inn).unwrap(), "\"7709745454\"");
        assert_eq!(serde_json::from_str::<Inn>("\"7709745454\"").unwrap(), inn);
        assert!(serde_json::from_str::<Inn>("\"7709745455\"").is_err());
    }

    /// Computes the check digits independently of the code under test.
    fn complete(prefix: &[u32]) -> String {
        let digit = |ds: &[u32], ws: &[u32]| -> u32 {
            ds.iter().zip(ws.iter()).map(|(d, w)| d * w).sum::<u32>() % 11 % 10
        };
        let mut ds = prefix.to_vec();
        if ds.len() == 9 {
            ds.push(digit(&ds, &[2, 4, 10, 3, 5, 9, 4, 6, 8]));
        } else {
            ds.push(digit(&ds, &[7, 2, 4, 10, 3, 5, 9, 4, 6, 8]));
            ds.push(digit(&ds, &[3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8]));
        }
        ds.iter().map(|d| d.to_string()).collect()
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in ".*") {
            let _ = Inn::parse(&s);
        }

        #[test]
        fn inns_with_computed_check_digits_always_parse(
            prefix in prop_oneof![
                proptest::collection::vec(0u32..10, 9),
                proptest::collection::vec(0u32..10, 10),
            ]
        ) {
            let text = complete(&prefix);
            prop_assume!(text.chars().any(|c| c != '0'));
            let inn = Inn::parse(&text).unwrap();
            prop_assert_eq!(inn.as_str(), text.as_str());
            let kind = if text.len() == 10 { InnKind::Organisation } else { InnKind::Individual };
            prop_assert_eq!(inn.kind(), kind);
        }

        #[test]
        fn changing_the_last_digit_breaks_a_valid_inn(
            prefix in proptest::collection::vec(0u32..10, 9),
            bump in 1u32..10,
        ) {
            let text = complete(&prefix);
            prop_assume!(text.chars().any(|c| c != '0'));
            let mut digits: Vec<u32> = text.chars().filter_map(|c| c.to_digit(10)).collect();
            if let Some(last) = digits.last_mut() {
                *last = (*last + bump) % 10;
            }
            let broken: String = digits.iter().map(|d| d.to_string()).collect();
            prop_assert!(
                matches!(
                    Inn::parse(&broken),
                    Err(InnError::BadCheckDigit { .. } | InnError::AllZeros)
                ),
                "broken INN {} parsed", broken
            );
        }
    }
}
