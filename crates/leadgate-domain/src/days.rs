//! The shop's days: where a local date begins, in UTC.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

/// The instant a local day starts (the first instant after a gap, when midnight does not exist).
pub fn local_midnight(d: NaiveDate, tz: Tz) -> DateTime<Utc> {
    let naive = d.and_hms_opt(0, 0, 0).unwrap_or_default();
    match tz.from_local_datetime(&naive) {
        chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => {
            t.with_timezone(&Utc)
        }
        chrono::LocalResult::None => tz
            .from_local_datetime(&(naive + Duration::hours(1)))
            .earliest()
            .map_or_else(|| naive.and_utc(), |t| t.with_timezone(&Utc)),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_day_starts_at_the_shops_midnight_or_after_a_gap() {
        let d = NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
        assert_eq!(
            local_midnight(d, chrono_tz::Europe::Moscow),
            Utc.with_ymd_and_hms(2026, 3, 1, 21, 0, 0).unwrap()
        );
        // Summer time began at midnight in Santiago on 2022-09-11: the day starts at 01:00 local.
        let gap = NaiveDate::from_ymd_opt(2022, 9, 11).unwrap();
        assert_eq!(
            local_midnight(gap, chrono_tz::America::Santiago),
            Utc.with_ymd_and_hms(2022, 9, 11, 4, 0, 0).unwrap()
        );
    }
}
