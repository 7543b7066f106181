//! Warnings: what was odd about a payload that was imported anyway.
//!
//! The specification splits every problem into errors, which reject a message, and warnings, which never do.
//! A warning travels with the lead so a manager sees, next to the order, that its INN has a bad check digit
//! or that a width could not be read, together with the original value the site sent.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One thing that was odd about an imported payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    /// The kind of problem, stable for programs.
    pub code: WarningCode,
    /// Where it was, as a path of the payload's own keys: `ИНН`, `Товары[1].Ширина` (positions are 1-based).
    pub field: String,
    /// A human-readable English sentence that quotes the original value.
    pub message: String,
}

impl Warning {
    /// Builds a warning.
    pub fn new(code: WarningCode, field: impl Into<String>, message: impl Into<String>) -> Self {
        Warning {
            code,
            field: field.into(),
            message: message.into(),
        }
    }

    /// The `charset_replacement` warning for a payload whose bytes were not all valid in `charset` (see
    /// [`crate::charset::Decoded::had_errors`]). Its field is empty: it concerns the whole payload.
    pub fn charset_replacement(charset: &str) -> Self {
        Warning::new(
            WarningCode::CharsetReplacement,
            "",
            format!(
                "some bytes were not valid {charset} and were replaced by U+FFFD; check the Cyrillic text"
            ),
        )
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.field, self.code, self.message)
    }
}

/// The kinds of warning, spelled in `snake_case` in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WarningCode {
    /// The INN has the wrong length, a non-digit, is all zeros or has a bad check digit.
    InvalidInn,
    /// The phone does not parse as a valid number.
    InvalidPhone,
    /// The e-mail address is not plausible.
    InvalidEmail,
    /// A number could not be read.
    UnreadableNumber,
    /// A yes/no value could not be read.
    UnreadableBoolean,
    /// A date could not be read.
    UnreadableDate,
    /// A layout file URL is not http(s).
    NonHttpUrl,
    /// `Сумма` differs from `Цена × Количество`.
    AmountMismatch,
    /// A key the format does not define.
    UnknownKey,
    /// A value of the wrong JSON type, such as an object where a string belongs.
    UnexpectedType,
    /// The text had bytes that were invalid in its charset and were replaced.
    CharsetReplacement,
    /// Neither contact details nor goods: a partly filled-in payload, imported as a contact lead.
    NoContactDetails,
}

impl WarningCode {
    /// Every code, in declaration order.
    pub const ALL: &'static [WarningCode] = &[
        WarningCode::InvalidInn,
        WarningCode::InvalidPhone,
        WarningCode::InvalidEmail,
        WarningCode::UnreadableNumber,
        WarningCode::UnreadableBoolean,
        WarningCode::UnreadableDate,
        WarningCode::NonHttpUrl,
        WarningCode::AmountMismatch,
        WarningCode::UnknownKey,
        WarningCode::UnexpectedType,
        WarningCode::CharsetReplacement,
        WarningCode::NoContactDetails,
    ];

    /// The `snake_case` word, as in JSON.
    pub fn as_str(&self) -> &'static str {
        match self {
            WarningCode::InvalidInn => "invalid_inn",
            WarningCode::InvalidPhone => "invalid_phone",
            WarningCode::InvalidEmail => "invalid_email",
            WarningCode::UnreadableNumber => "unreadable_number",
            WarningCode::UnreadableBoolean => "unreadable_boolean",
            WarningCode::UnreadableDate => "unreadable_date",
            WarningCode::NonHttpUrl => "non_http_url",
            WarningCode::AmountMismatch => "amount_mismatch",
            WarningCode::UnknownKey => "unknown_key",
            WarningCode::UnexpectedType => "unexpected_type",
            WarningCode::CharsetReplacement => "charset_replacement",
            WarningCode::NoContactDetails => "no_contact_details",
        }
    }
}

impl fmt::Display for WarningCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialise_as_their_snake_case_words() {
        for code in WarningCode::ALL {
            assert_eq!(
                serde_json::to_string(code).unwrap(),
                format!("\"{}\"", code.as_str())
            );
        }
    }

    #[test]
    fn a_warning_serialises_with_code_field_and_message() {
        let w = Warning::new(WarningCode::InvalidInn, "ИНН", "INN \"1\" has 1 digits");
        let json = serde_json::to_value(&w).unwrap();
        assert_eq!(json["code"], "invalid_inn");
        assert_eq!(json["field"], "ИНН");
        assert_eq!(serde_json::from_value::<Warning>(json).unwrap(), w);
    }

    #[test]
    fn a_charset_replacement_names_the_charset() {
        let w = Warning::charset_replacement("windows-1251");
        assert_eq!(w.code, WarningCode::CharsetReplacement);
        assert_eq!(w.field, "");
        assert!(w.message.contains("windows-1251"));
    }
}
