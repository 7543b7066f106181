//! Lenient reading of the scalar values hand-written websites send: numbers, yes/no values and dates.
//!
//! Sites are written by hand, in PHP, by people who type `"1 000,50"` for a price, `"да"` for true and
//! `29.05.2019 15:15:00` for a date. The specification asks for all of these to be understood; these
//! functions say exactly what is understood, and give `None` for everything else so the caller can warn.
//! Money never passes through a float: JSON numbers are read from their decimal text.

use std::str::FromStr;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, TimeDelta, TimeZone, Utc};
use rust_decimal::Decimal;

/// The earliest year a payload date may have; anything earlier is a typing mistake.
pub const MIN_YEAR: i32 = 1970;
/// The latest year a payload date may have; anything later is a typing mistake.
pub const MAX_YEAR: i32 = 2200;

/// Reads a decimal written by a person: `"1000.50"`, `"1000,50"`, `"1 000,50"`, `"1\u{a0}000"`, `"-2"`,
/// `"1.5e3"`.
///
/// Whitespace of any kind (spaces, non-breaking and thin spaces) is removed. One comma is a decimal comma.
/// Text with both a comma and a dot, with several commas or dots, or with anything else but digits, a leading
/// sign and an exponent is not read (`None`): guessing which is the decimal separator would silently change
/// amounts.
pub fn decimal_from_text(text: &str) -> Option<Decimal> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let commas = compact.matches(',').count();
    let dots = compact.matches('.').count();
    if commas + dots > 1 {
        return None;
    }
    let normal = compact.replace(',', ".");
    if !looks_like_a_decimal(&normal) {
        return None;
    }
    if normal.contains(['e', 'E']) {
        Decimal::from_scientific(&normal).ok()
    } else {
        Decimal::from_str(&normal).ok()
    }
}

/// True for `[+-]digits[.digits][e[+-]digits]` with at least one mantissa digit.
fn looks_like_a_decimal(s: &str) -> bool {
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(at) => (s.get(..at).unwrap_or(""), s.get(at + 1..)),
        None => (s, None),
    };
    let mantissa_ok = mantissa.chars().any(|c| c.is_ascii_digit())
        && mantissa.chars().all(|c| c.is_ascii_digit() || c == '.');
    let exponent_ok = exponent.is_none_or(|e| {
        let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
        !digits.is_empty() && digits.len() <= 4 && digits.chars().all(|c| c.is_ascii_digit())
    });
    mantissa_ok && exponent_ok
}

/// Reads a JSON number exactly: integers directly, and floats from the shortest decimal text that
/// round-trips (`0.1` stays `0.1`), never through float arithmetic. `None` when it does not fit a
/// [`Decimal`] (about ±7.9e28, 28 decimal places).
pub fn decimal_from_json(number: &serde_json::Number) -> Option<Decimal> {
    if let Some(i) = number.as_i64() {
        return Some(Decimal::from(i));
    }
    if let Some(u) = number.as_u64() {
        return Some(Decimal::from(u));
    }
    let text = number.to_string();
    if text.contains(['e', 'E']) {
        Decimal::from_scientific(&text).ok()
    } else {
        Decimal::from_str(&text).ok()
    }
}

/// Reads a yes/no word: `true`/`false`, `да`/`нет`, `yes`/`no`, `1`/`0`, in any case and with surrounding
/// whitespace. Anything else is `None`.
pub fn bool_from_text(text: &str) -> Option<bool> {
    match text.trim().to_lowercase().as_str() {
        "true" | "да" | "yes" | "1" => Some(true),
        "false" | "нет" | "no" | "0" => Some(false),
        _ => None,
    }
}

/// Formats that carry their own UTC offset.
const WITH_OFFSET: &[&str] = &[
    "%Y-%m-%dT%H:%M:%S%.f%:z",
    "%Y-%m-%dT%H:%M:%S%.f%z",
    "%Y-%m-%d %H:%M:%S%.f%:z",
    "%Y-%m-%d %H:%M:%S%.f%z",
    "%Y-%m-%dT%H:%M%:z",
    "%Y-%m-%dT%H:%M%z",
    "%Y-%m-%d %H:%M%:z",
    "%Y-%m-%d %H:%M%z",
];

/// Formats of a wall-clock time in the shop's time zone.
const LOCAL: &[&str] = &[
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
];

/// Formats of a bare date, taken as midnight in the shop's time zone.
const DATE_ONLY: &[&str] = &["%d.%m.%Y", "%Y-%m-%d"];

/// Reads the payload's `Дата`: `dd.mm.yyyy hh:mm:ss`, the same without seconds, a bare `dd.mm.yyyy`, or ISO
/// 8601 (`2019-05-29T15:15:00`, with or without fractional seconds, with `Z`, `+03:00`, `+0300` or no
/// offset, or a bare `2019-05-29`).
///
/// A time without an offset is a wall-clock time in `tz`, the shop's time zone. A wall-clock time that the
/// zone skips (a daylight-saving gap) is read one hour later; an ambiguous one takes the earlier instant.
/// Years outside [`MIN_YEAR`]..=[`MAX_YEAR`] as written (in the offset or zone the time is in) are `None`, as is
/// anything else not in these formats. A leap second (`:60`) is the first instant of the next minute.
pub fn datetime_from_text(text: &str, tz: chrono_tz::Tz) -> Option<DateTime<Utc>> {
    let text = text.trim();
    let instant = match with_offset(text) {
        Some(t) => (MIN_YEAR..=MAX_YEAR)
            .contains(&t.year())
            .then(|| t.with_timezone(&Utc))?,
        None => {
            let naive = LOCAL
                .iter()
                .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
                .or_else(|| {
                    DATE_ONLY
                        .iter()
                        .find_map(|f| NaiveDate::parse_from_str(text, f).ok())
                        .and_then(|d| d.and_hms_opt(0, 0, 0))
                })?;
            if !(MIN_YEAR..=MAX_YEAR).contains(&naive.year()) {
                return None;
            }
            local_to_utc(naive, tz)?
        }
    };
    // chrono keeps a leap second as a nanosecond count past one second; nothing downstream does.
    match instant.timestamp_subsec_nanos() {
        nanos if nanos >= 1_000_000_000 => {
            DateTime::from_timestamp(instant.timestamp() + 1, nanos - 1_000_000_000)
        }
        _ => Some(instant),
    }
}

/// Reads a time that carries its own offset, `Z` included.
fn with_offset(text: &str) -> Option<DateTime<FixedOffset>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t);
    }
    let zulu;
    let text = match text.strip_suffix(['Z', 'z']) {
        Some(rest) => {
            zulu = format!("{rest}+00:00");
            zulu.as_str()
        }
        None => text,
    };
    WITH_OFFSET
        .iter()
        .find_map(|f| DateTime::<FixedOffset>::parse_from_str(text, f).ok())
}

/// The instant a wall-clock time in `tz` names, stepping over a daylight-saving gap.
fn local_to_utc(naive: NaiveDateTime, tz: chrono_tz::Tz) -> Option<DateTime<Utc>> {
    tz.from_local_datetime(&naive)
        .earliest()
        .or_else(|| {
            let later = naive.checked_add_signed(TimeDelta::hours(1))?;
            tz.from_local_datetime(&later).earliest()
        })
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn numbers_with_decimal_comma_and_spaces_are_read() {
        assert_eq!(decimal_from_text("1 000,50"), Some(d("1000.50")));
        assert_eq!(decimal_from_text("1\u{a0}000,5"), Some(d("1000.5")));
        assert_eq!(
            decimal_from_text("1\u{202f}234\u{2009}567"),
            Some(d("1234567"))
        );
        assert_eq!(decimal_from_text(" 0,7 "), Some(d("0.7")));
        assert_eq!(decimal_from_text("2.5"), Some(d("2.5")));
        assert_eq!(decimal_from_text("-3"), Some(d("-3")));
        assert_eq!(decimal_from_text("+3"), Some(d("3")));
        assert_eq!(decimal_from_text("1,5e3"), Some(d("1500")));
        assert_eq!(decimal_from_text(",5"), Some(d("0.5")));
    }

    #[test]
    fn ambiguous_or_foreign_numbers_are_not_read() {
        for s in [
            "",
            " ",
            "abc",
            "1.000,50",
            "1,000,000",
            "1.2.3",
            "12 шт",
            "1_000",
            "--1",
            "e5",
            "1e",
            "1e99999",
            "NaN",
            "inf",
            "0x10",
            "1e100",
            ".",
            ",",
        ] {
            assert_eq!(decimal_from_text(s), None, "{s:?}");
        }
    }

    #[test]
    fn json_numbers_are_read_through_their_text() {
        let n = |s: &str| serde_json::from_str::<serde_json::Number>(s).unwrap();
        assert_eq!(decimal_from_json(&n("500")), Some(d("500")));
        assert_eq!(decimal_from_json(&n("-7")), Some(d("-7")));
        assert_eq!(
            decimal_from_json(&n("18446744073709551615")),
            Some(d("18446744073709551615"))
        );
        assert_eq!(decimal_from_json(&n("0.1")), Some(d("0.1")));
        assert_eq!(decimal_from_json(&n("1000.5")), Some(d("1000.5")));
        assert_eq!(decimal_from_json(&n("1.5e3")), Some(d("1500")));
        assert_eq!(decimal_from_json(&n("1e300")), None);
    }

    #[test]
    fn yes_and_no_are_read_in_three_languages_of_the_web() {
        for s in ["true", "TRUE", "да", "Да", "ДА", "yes", "Yes", "1", " да "] {
            assert_eq!(bool_from_text(s), Some(true), "{s:?}");
        }
        for s in ["false", "False", "нет", "НЕТ", "no", "0"] {
            assert_eq!(bool_from_text(s), Some(false), "{s:?}");
        }
        for s in ["", "2", "maybe", "д", "истина"] {
            assert_eq!(bool_from_text(s), None, "{s:?}");
        }
    }

    #[test]
    fn the_seed_date_format_is_moscow_time() {
        let moscow = chrono_tz::Europe::Moscow;
        assert_eq!(
            datetime_from_text("29.05.2019 15:15:00", moscow),
            Some(utc("2019-05-29T12:15:00Z"))
        );
        assert_eq!(
            datetime_from_text("29.05.2019 15:15", moscow),
            Some(utc("2019-05-29T12:15:00Z"))
        );
        assert_eq!(
            datetime_from_text("29.05.2019", moscow),
            Some(utc("2019-05-28T21:00:00Z"))
        );
    }

    #[test]
    fn a_leap_second_is_the_next_minute_and_years_are_bounded_as_written() {
        let moscow = chrono_tz::Europe::Moscow;
        let next_minute = Some(utc("2019-05-29T12:16:00Z"));
        assert_eq!(
            datetime_from_text("29.05.2019 15:15:60", moscow),
            next_minute
        );
        assert_eq!(
            datetime_from_text("2019-05-29T12:15:60Z", moscow),
            next_minute
        );
        assert_eq!(
            datetime_from_text("2019-05-29T15:15:60.5+03:00", moscow).map(|t| t.to_rfc3339()),
            Some("2019-05-29T12:16:00.500+00:00".to_owned())
        );
        // The first moment of 1970 and the last of 2200 in the shop's zone or the given offset are in range.
        assert_eq!(
            datetime_from_text("01.01.1970", moscow),
            Some(utc("1969-12-31T21:00:00Z"))
        );
        assert!(datetime_from_text("1970-01-01T00:00:00+03:00", moscow).is_some());
        assert!(datetime_from_text("31.12.2200 23:59", moscow).is_some());
        assert_eq!(
            datetime_from_text("2201-01-01T00:00:00+03:00", moscow),
            None
        );
        assert_eq!(datetime_from_text("31.12.1969 23:59", moscow), None);
    }

    #[test]
    fn iso_dates_with_an_offset_keep_it_and_without_take_the_shop_zone() {
        let moscow = chrono_tz::Europe::Moscow;
        let expected = Some(utc("2019-05-29T12:15:00Z"));
        for s in [
            "2019-05-29T15:15:00+03:00",
            "2019-05-29T12:15:00Z",
            "2019-05-29T12:15:00.000Z",
            "2019-05-29 12:15:00Z",
            "2019-05-29T17:15:00+0500",
            "2019-05-29T15:15+03:00",
            "2019-05-29T15:15:00",
            "2019-05-29 15:15:00",
            "2019-05-29T15:15",
        ] {
            assert_eq!(datetime_from_text(s, moscow), expected, "{s:?}");
        }
        assert_eq!(
            datetime_from_text("2019-05-29", moscow),
            Some(utc("2019-05-28T21:00:00Z"))
        );
    }

    #[test]
    fn the_shop_zone_is_applied_including_daylight_saving() {
        let berlin = chrono_tz::Europe::Berlin;
        assert_eq!(
            datetime_from_text("29.05.2019 15:15:00", berlin),
            Some(utc("2019-05-29T13:15:00Z"))
        );
        assert_eq!(
            datetime_from_text("15.01.2019 15:15:00", berlin),
            Some(utc("2019-01-15T14:15:00Z"))
        );
        // 02:30 does not exist on 31 March 2019 in Berlin: read as 03:30 CEST.
        assert_eq!(
            datetime_from_text("31.03.2019 02:30", berlin),
            Some(utc("2019-03-31T01:30:00Z"))
        );
        assert_eq!(
            datetime_from_text("29.05.2019 15:15:00", chrono_tz::UTC),
            Some(utc("2019-05-29T15:15:00Z"))
        );
    }

    #[test]
    fn unreadable_dates_are_none() {
        let moscow = chrono_tz::Europe::Moscow;
        for s in [
            "",
            "вчера",
            "32.05.2019",
            "29.13.2019 10:00",
            "29.05.2019 25:00",
            "29/05/2019",
            "29.05.2019 15:15:00 extra",
            "01.01.1900",
            "01.01.9999",
            "+262143-12-31T23:59:59Z",
            "1234",
        ] {
            assert_eq!(datetime_from_text(s, moscow), None, "{s:?}");
        }
    }

    proptest! {
        #[test]
        fn any_text_never_panics(s in ".*") {
            let _ = decimal_from_text(&s);
            let _ = bool_from_text(&s);
            let _ = datetime_from_text(&s, chrono_tz::Europe::Moscow);
        }

        #[test]
        fn date_like_text_never_panics(s in "[0-9]{1,6}[.-][0-9]{1,3}[.-][0-9]{1,6}( [0-9]{1,3}:[0-9]{1,3}(:[0-9]{1,3})?)?[Z+-]?[0-9:]{0,6}") {
            let _ = datetime_from_text(&s, chrono_tz::Europe::Moscow);
        }

        #[test]
        fn numbers_written_with_comma_and_spaces_round_trip(
            units in 0u64..10_000_000_000u64,
            cents in 0u32..100,
            negative in any::<bool>(),
            separator in prop_oneof![Just(" "), Just("\u{a0}"), Just("\u{202f}"), Just("")],
        ) {
            let digits = units.to_string();
            let mut grouped = String::new();
            for (i, c) in digits.chars().enumerate() {
                if i > 0 && (digits.len() - i) % 3 == 0 {
                    grouped.push_str(separator);
                }
                grouped.push(c);
            }
            let sign = if negative { "-" } else { "" };
            let text = format!("{sign}{grouped},{cents:02}");
            let expected = Decimal::from_str(&format!("{sign}{units}.{cents:02}")).unwrap();
            prop_assert_eq!(decimal_from_text(&text), Some(expected));
        }

        #[test]
        fn any_decimal_written_with_a_comma_round_trips(
            mantissa in any::<i64>(),
            scale in 0u32..=18,
        ) {
            let value = Decimal::new(mantissa, scale);
            let text = value.to_string().replace('.', ",");
            prop_assert_eq!(decimal_from_text(&text), Some(value));
        }
    }
}
