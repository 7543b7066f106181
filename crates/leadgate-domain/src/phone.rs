//! Phone numbers: the raw text a site sent, and its E.164 form when it is a real number.
//!
//! Managers search and dial by phone, and the same customer writes `+7 925 642 42-90` one day and
//! `8 (925) 642-42-90` the next, so a lead keeps the raw text and, when it parses, the one canonical E.164
//! form. Russian shops get Russian numbers, so a number without a country code is read as Russian.
//!
//! The `phonenumber` crate has panicked on odd input in the past. To keep this module total, the text is
//! first reduced to an optional `+` and its digits (anything else but spaces and the usual punctuation makes
//! it not a phone), and the crate only ever sees that reduced form.

use std::panic::{AssertUnwindSafe, catch_unwind};

use phonenumber::{Mode, country};

/// The fewest digits a full number can have (with its country code or trunk prefix).
const MIN_DIGITS: usize = 7;
/// The most digits an E.164 number can have, plus one for a trunk prefix such as the Russian `8`.
const MAX_DIGITS: usize = 16;

/// The E.164 form (`+79256424290`) of a phone number written as people write it.
///
/// A number without a country code is read as Russian, so `8 (916) 123-45-67` gives `+79161234567`.
/// Spaces, hyphens, dots, slashes and brackets are ignored. Returns `None` when the text holds anything else
/// (letters, an extension) or does not give a valid number.
pub fn to_e164(raw: &str) -> Option<String> {
    let reduced = reduce(raw)?;
    russian_mobile_or_8xx(&reduced).or_else(|| by_metadata(&reduced))
}

/// The Russian numbers leadgate reads without the crate's metadata, written `+7…`, `7…`, `8…` (11 digits) or
/// as the 10 national digits:
/// - a mobile number, `9` and nine more digits, the numbers most leads carry: every such number is valid in
///   the numbering plan (its mobile pattern is `9\d{9}`), and the crate's answer is the same (a test compares
///   the two), only about a hundred times slower;
/// - a number whose code starts with `8`: the toll-free 8-800 and 8-804, and the areas of Saint Petersburg
///   (812), Kazan (843), Nizhny Novgorod (831), Krasnodar (861) and many more. The crate takes that `8` for
///   the trunk prefix even after `+7`, and finds no valid number left.
fn russian_mobile_or_8xx(reduced: &str) -> Option<String> {
    let national = match reduced.len() {
        12 => reduced.strip_prefix("+7")?,
        11 => reduced
            .strip_prefix('8')
            .or_else(|| reduced.strip_prefix('7'))?,
        10 => reduced,
        _ => return None,
    };
    (national.starts_with(['9', '8']) && national.bytes().all(|b| b.is_ascii_digit()))
        .then(|| format!("+7{national}"))
}

/// Any other number, by the `phonenumber` crate and its numbering-plan metadata.
fn by_metadata(reduced: &str) -> Option<String> {
    // The reduced text is plain ASCII, but should the crate still panic, that is "not a number", not a crash.
    catch_unwind(AssertUnwindSafe(|| {
        let number = phonenumber::parse(Some(country::Id::RU), reduced).ok()?;
        if !phonenumber::is_valid(&number) {
            return None;
        }
        Some(number.format().mode(Mode::E164).to_string())
    }))
    .ok()
    .flatten()
}

/// Reduces `+7 (925) 642-42-90` to `+79256424290`, or gives `None` for text that is not just a phone.
fn reduce(raw: &str) -> Option<String> {
    let mut out = String::with_capacity(MAX_DIGITS + 1);
    let mut digits = 0usize;
    for c in raw.chars() {
        match c {
            '0'..='9' => {
                digits += 1;
                if digits > MAX_DIGITS {
                    return None;
                }
                out.push(c);
            }
            '+' if out.is_empty() => out.push('+'),
            '-' | '(' | ')' | '.' | '/' | '\u{2010}'..='\u{2015}' | '\u{2212}' => {}
            c if c.is_whitespace() => {}
            _ => return None,
        }
    }
    (digits >= MIN_DIGITS).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_specification_examples_give_e164() {
        assert_eq!(to_e164("+7 925 642 42-90").as_deref(), Some("+79256424290"));
        assert_eq!(
            to_e164("8 (916) 123-45-67").as_deref(),
            Some("+79161234567")
        );
    }

    #[test]
    fn a_number_without_country_code_is_russian() {
        assert_eq!(to_e164("(916) 123-45-67").as_deref(), Some("+79161234567"));
        assert_eq!(
            to_e164("+7\u{a0}(495)\u{a0}123–45–67").as_deref(),
            Some("+74951234567")
        );
    }

    /// Codes that start with 8: toll-free numbers and whole regions, which the metadata crate misreads.
    #[test]
    fn russian_numbers_whose_code_starts_with_8_give_e164() {
        for (raw, e164) in [
            ("8-800-555-35-35", "+78005553535"),
            ("+7 800 555 35 35", "+78005553535"),
            ("8-804-333-22-11", "+78043332211"),
            ("8 (812) 312-34-56", "+78123123456"),
            ("+7 843 231-23-45", "+78432312345"),
            ("(861) 201-23-45", "+78612012345"),
        ] {
            assert_eq!(to_e164(raw).as_deref(), Some(e164), "{raw}");
        }
    }

    #[test]
    fn a_foreign_number_keeps_its_country() {
        assert_eq!(
            to_e164("+44 20 7946 0018").as_deref(),
            Some("+442079460018")
        );
    }

    #[test]
    fn text_that_is_not_a_valid_phone_gives_none() {
        for raw in [
            "",
            "   ",
            "позвоните мне",
            "12345",
            "+7 925 642 42-90 доб. 12",
            "1234567890123456789",
            "+7 000 000 00 00",
            "++79256424290",
            "  2 22#:",
        ] {
            assert_eq!(to_e164(raw), None, "{raw:?}");
        }
    }

    proptest! {
        #[test]
        fn the_mobile_fast_path_agrees_with_the_numbering_plan(
            prefix in prop::sample::select(vec!["+7", "7", "8", ""]),
            first in 0u8..10,
            rest in "[0-9]{9}",
        ) {
            let reduced = format!("{prefix}{first}{rest}");
            let fast = russian_mobile_or_8xx(&reduced);
            prop_assert_eq!(fast.is_some(), first == 9 || first == 8, "{}", reduced);
            if first == 9 {
                prop_assert_eq!(fast, by_metadata(&reduced), "{}", reduced);
            }
        }

        #[test]
        fn any_text_never_panics(s in ".*") {
            let _ = to_e164(&s);
        }

        #[test]
        fn any_phone_like_text_never_panics(s in "[+]?[0-9 ()./-]{0,24}") {
            if let Some(e164) = to_e164(&s) {
                prop_assert!(e164.starts_with('+'));
                prop_assert!(e164[1..].chars().all(|c| c.is_ascii_digit()));
            }
        }
    }
}
