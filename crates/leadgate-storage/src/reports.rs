//! Reports: counts of leads, orders and their value, outcomes, response times and the health of the intake,
//! over a period cut into buckets (the shop's days, weeks or months).
//!
//! The caller cuts the period: [`ReportQuery::bounds`] are the instants where buckets start, in order, and
//! the last one where the period ends (n + 1 bounds make n buckets, bucket `i` is `[bounds[i], bounds[i+1])`),
//! so storage never needs to know the shop's time zone. Leads fall into the bucket of their receipt time.
//! Visibility is the caller's too: [`ReportQuery::calendars`] is the scope the inbox uses
//! ([`super::visible_calendar_ids`]), narrowed by the report's calendar filter.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;

use super::error::Result;
use leadgate_domain::days::local_midnight;
use leadgate_domain::lead::{Channel, LeadKind};

/// The most buckets one report may have (a year by day, with room).
pub const MAX_BUCKETS: usize = 400;

/// The unit of the backends' report rollup (`lead_hours`): one UTC hour, in milliseconds. A report whose
/// bounds are all whole hours (the local midnights of any time zone with a whole-hour offset) is summed from
/// it; any other is counted from the leads themselves, with the same result.
pub const ROLLUP_HOUR_MS: i64 = 3_600_000;

/// The years the backends' daily rollups (`lead_days`, `message_days`) cover: the shop's days from the first
/// of January of the first to the last of December of the second.
pub const REPORT_DAY_YEARS: (i32, i32) = (2000, 2099);

/// The shop's days in `zone` that the daily rollups keep, as `(start, end)` in milliseconds since the epoch,
/// in order: every day of [`REPORT_DAY_YEARS`] that starts and ends on a whole UTC hour (a day is then made of
/// the hourly rollup's hours; in a zone whose midnights are not whole hours there are none, and reports are
/// summed per hour or counted, as before).
pub fn report_days(zone: Tz) -> Vec<(i64, i64)> {
    let (first, last) = REPORT_DAY_YEARS;
    let (Some(first), Some(end)) = (
        NaiveDate::from_ymd_opt(first, 1, 1),
        NaiveDate::from_ymd_opt(last + 1, 1, 1),
    ) else {
        return Vec::new();
    };
    let midnights: Vec<i64> = first
        .iter_days()
        .take_while(|d| *d <= end)
        .map(|d| local_midnight(d, zone).timestamp_millis())
        .collect();
    midnights
        .windows(2)
        .map(|w| (w[0], w[1]))
        .filter(|(start, end)| {
            start < end && start % ROLLUP_HOUR_MS == 0 && end % ROLLUP_HOUR_MS == 0
        })
        .collect()
}

/// Which rows a backend reads a lead report's period from: its daily rollup (the period's bounds all start
/// the shop's days it keeps), its hourly rollup (all whole hours), or the leads themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportRows {
    /// `lead_days` (and `message_days`).
    Days,
    /// `lead_hours` (and `message_hours`, `collector_run_hours`).
    Hours,
    /// The leads (and messages, runs) one by one.
    Leads,
}

impl ReportRows {
    /// What a report may read without asking the database: the hourly rollup when every bound is a whole UTC
    /// hour (a lead's hour is then in the bucket exactly when the lead is) and its source, if any, is a real id
    /// (the rollups' 0 means "none"); else the leads. Whether the daily rollup serves it too, only the
    /// database knows (the days it keeps).
    pub fn of(query: &ReportQuery) -> Self {
        let whole_hours = query
            .bounds
            .iter()
            .all(|b| b.timestamp_millis().rem_euclid(ROLLUP_HOUR_MS) == 0);
        let real_source = match query.source {
            Some(ReportSource::Collector(id) | ReportSource::Http(id)) => id > 0,
            None => true,
        };
        if whole_hours && real_source {
            ReportRows::Hours
        } else {
            ReportRows::Leads
        }
    }
}

/// The parts of the period `[lo, hi)` in which a backend counts the leads still new and unanswered at
/// `cutoff` (received before it), and the rows of each: with `read` days, the daily rollup up to `cutoff_day`
/// (the start of the kept day the cutoff's hour is in, if any); with a rollup, the hourly one up to the
/// cutoff's hour; then the leads received before the cutoff one by one. Empty parts are left out; the parts
/// follow one another, so each lead is counted once.
pub fn unanswered_parts(
    read: ReportRows,
    (lo, hi): (i64, i64),
    cutoff: i64,
    cutoff_day: Option<i64>,
) -> Vec<(ReportRows, i64, i64)> {
    let mut parts = Vec::new();
    let mut leads_from = lo;
    if read != ReportRows::Leads {
        let cutoff_hour = cutoff - cutoff.rem_euclid(ROLLUP_HOUR_MS);
        let hours_from = match read {
            ReportRows::Days => cutoff_day.unwrap_or(lo).clamp(lo, hi),
            _ => lo,
        };
        parts.push((ReportRows::Days, lo, hours_from));
        parts.push((ReportRows::Hours, hours_from, hi.min(cutoff_hour)));
        leads_from = lo.max(cutoff_hour);
    }
    parts.push((ReportRows::Leads, leads_from, hi.min(cutoff)));
    parts.retain(|(_, from, to)| from < to);
    parts
}

/// Where leads came from, for the source filter: one mail collector or one HTTP source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportSource {
    /// A mail collector, by id.
    Collector(i64),
    /// An HTTP source, by id.
    Http(i64),
}

/// What a report covers.
#[derive(Debug, Clone, Default)]
pub struct ReportQuery {
    /// Bucket starts and the period's end, ascending (at least two).
    pub bounds: Vec<DateTime<Utc>>,
    /// Only leads of these calendars (`None`: every calendar).
    pub calendars: Option<Vec<i64>>,
    /// Only this channel.
    pub channel: Option<Channel>,
    /// Only this collector or HTTP source.
    pub source: Option<ReportSource>,
    /// Only this kind.
    pub kind: Option<LeadKind>,
}

/// What the lead counts are split by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeadSeries {
    /// `mail`, `http`, `file`.
    Channel,
    /// The calendar's name.
    Calendar,
    /// The collector's or HTTP source's name (`None`: a file import).
    Source,
    /// `contact`, `order`.
    Kind,
    /// The payload's `utm_source` (`None`: not sent).
    UtmSource,
    /// The payload's `utm_medium`.
    UtmMedium,
    /// The payload's `utm_campaign`.
    UtmCampaign,
}

/// Leads of one series in one bucket (buckets and series without leads are left out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesCount {
    /// Bucket index.
    pub bucket: usize,
    /// The series: the channel word, the calendar's or source's name, the kind word or the UTM value.
    pub key: Option<String>,
    /// Leads.
    pub count: i64,
}

/// Orders, contact leads and the value of the orders in one bucket.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OrdersBucket {
    /// Orders (leads with goods).
    pub orders: i64,
    /// Contact leads.
    pub contacts: i64,
    /// The sum of `Сумма` of the orders' lines, rounded to kopecks.
    pub value: Decimal,
}

/// Leads by status in one bucket.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OutcomeBucket {
    /// Still new.
    pub new: i64,
    /// Taken into work.
    pub in_progress: i64,
    /// Done.
    pub done: i64,
    /// Rejected as spam.
    pub rejected: i64,
}

/// Response times of one manager or one calendar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseStat {
    /// The user's or calendar's id (`None` in the totals).
    pub id: Option<i64>,
    /// The user's login, or the calendar's name.
    pub name: String,
    /// Leads with a first manager action.
    pub answered: i64,
    /// Median time to the first action, in seconds (the lower median: `percentile_disc(0.5)`).
    pub median_secs: Option<i64>,
    /// 90th percentile, in seconds (nearest rank: `percentile_disc(0.9)`).
    pub p90_secs: Option<i64>,
    /// Leads answered later than the threshold, or (for calendars and the totals) still new and unanswered
    /// past it.
    pub late: i64,
}

/// The response time report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseReport {
    /// Per manager (who took the first action), by login.
    pub managers: Vec<ResponseStat>,
    /// Per calendar, by name.
    pub calendars: Vec<ResponseStat>,
    /// Every lead of the report.
    pub total: ResponseStat,
}

/// The intake's health in one bucket: ledger records by outcome, and mail collector runs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HealthBucket {
    /// Messages imported as leads.
    pub imported: i64,
    /// Copies of messages already recorded.
    pub duplicates: i64,
    /// Mail without the collector's keyword.
    pub skipped: i64,
    /// Messages rejected into the quarantine (still there, or discarded since).
    pub quarantined: i64,
    /// Collector runs started.
    pub runs: i64,
    /// Runs that ended with an error.
    pub failed_runs: i64,
}

/// The reports' queries.
#[async_trait]
pub trait Reports: Send + Sync {
    /// Leads per bucket and series.
    ///
    /// # Errors
    /// Database errors.
    async fn report_leads(&self, query: &ReportQuery, by: LeadSeries) -> Result<Vec<SeriesCount>>;

    /// Orders, contact leads and order value, one entry per bucket.
    ///
    /// # Errors
    /// Database errors.
    async fn report_orders(&self, query: &ReportQuery) -> Result<Vec<OrdersBucket>>;

    /// Leads by their status now, one entry per bucket of receipt.
    ///
    /// # Errors
    /// Database errors.
    async fn report_outcomes(&self, query: &ReportQuery) -> Result<Vec<OutcomeBucket>>;

    /// Time from receipt to the first manager action, per manager, per calendar and in total, over the
    /// leads received in the period; `late` counts those answered later than `threshold`, and those still
    /// new and unanswered at `now` that were received more than `threshold` before it.
    ///
    /// # Errors
    /// Database errors.
    async fn report_response(
        &self,
        query: &ReportQuery,
        now: DateTime<Utc>,
        threshold: Duration,
    ) -> Result<ResponseReport>;

    /// Ledger records and collector runs per bucket. The calendar and kind filters do not apply (a
    /// rejected message has neither); the channel and source filters do.
    ///
    /// # Errors
    /// Database errors.
    async fn report_health(&self, query: &ReportQuery) -> Result<Vec<HealthBucket>>;

    /// Keeps the daily rollups in the days of `zone` (the shop's time zone, see [`report_days`]): when they
    /// were kept in another zone's days, or in none, they are rebuilt from the hourly ones, in one
    /// transaction; otherwise nothing changes. A report whose every bound is one of these days' starts is
    /// summed per day, any other as before. Returns whether it rebuilt them.
    ///
    /// # Errors
    /// Database errors.
    async fn use_report_zone(&self, zone: Tz) -> Result<bool>;
}

/// The answered leads of one calendar whose first action one user took, as a backend reads them for the
/// response-time report: from its rollup (`lead_response_hours`, kept per hour of receipt) or from the leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnsweredTimes {
    /// The calendar.
    pub calendar_id: i64,
    /// Who took the first action (`None`: not known, such as an action recorded without a user).
    pub answered_by: Option<i64>,
    /// The time from receipt to the first action of each lead, in milliseconds, never negative: decimal,
    /// each followed by a comma (`60000,125000,`), in any order. A percentile needs every value, and text
    /// is what both backends can keep a list in, append to and concatenate in SQL.
    pub times: String,
}

/// The response-time report from the answered leads' times and the counts of leads still new and unanswered
/// past `threshold` per calendar (`(calendar id, leads)`), with the names of the calendars and the logins of
/// the users. Each backend reads the numbers its own way; the percentiles are taken here, by nearest rank, from
/// every value.
///
/// # Errors
/// A time that is not a number (the stored text is corrupt).
pub fn response_report(
    answered: &[AnsweredTimes],
    unanswered: &[(i64, i64)],
    calendar_names: &HashMap<i64, String>,
    logins: &HashMap<i64, String>,
    threshold: Duration,
) -> std::result::Result<ResponseReport, String> {
    #[derive(Default)]
    struct Acc {
        /// Whole seconds.
        secs: Vec<i64>,
        late: i64,
    }
    impl Acc {
        fn add(&mut self, secs: &[i64], late: i64) {
            self.secs.extend_from_slice(secs);
            self.late += late;
        }
        fn stat(mut self, id: Option<i64>, name: String) -> ResponseStat {
            let [median_secs, p90_secs] = percentiles_disc(&mut self.secs, [0.5, 0.9]);
            ResponseStat {
                id,
                name,
                answered: i64::try_from(self.secs.len()).unwrap_or(i64::MAX),
                median_secs,
                p90_secs,
                late: self.late,
            }
        }
    }
    let threshold_ms = threshold.num_milliseconds();
    // Each group's times parsed once (in whole seconds: the floor keeps the order, so the percentiles are
    // those of the times floored), with how many of them are late.
    let groups: Vec<(&AnsweredTimes, Vec<i64>, i64)> = answered
        .iter()
        .map(|group| {
            let ms = parse_times(&group.times).ok_or_else(|| {
                let bad = group
                    .times
                    .split_terminator(',')
                    .find(|t| t.parse::<u64>().is_err())
                    .unwrap_or("(the last, without its comma)");
                format!("response time {bad:?} of calendar {}", group.calendar_id)
            })?;
            let late = ms.iter().filter(|t| **t > threshold_ms).count();
            let secs = ms.into_iter().map(|t| t / 1000).collect();
            Ok((group, secs, i64::try_from(late).unwrap_or(i64::MAX)))
        })
        .collect::<std::result::Result<_, String>>()?;
    // Every accumulator sized before it is filled: a year's 300,000 values are not copied as they grow.
    let mut manager_sizes: HashMap<i64, usize> = HashMap::new();
    let mut calendar_sizes: HashMap<i64, usize> = HashMap::new();
    for (group, secs, _) in &groups {
        if let Some(id) = group.answered_by {
            *manager_sizes.entry(id).or_default() += secs.len();
        }
        *calendar_sizes.entry(group.calendar_id).or_default() += secs.len();
    }
    let sized = |sizes: HashMap<i64, usize>| -> HashMap<i64, Acc> {
        sizes
            .into_iter()
            .map(|(id, n)| {
                let acc = Acc {
                    secs: Vec::with_capacity(n),
                    late: 0,
                };
                (id, acc)
            })
            .collect()
    };
    let mut by_manager = sized(manager_sizes);
    let mut by_calendar = sized(calendar_sizes);
    let mut all = Acc {
        secs: Vec::with_capacity(groups.iter().map(|(_, secs, _)| secs.len()).sum()),
        late: 0,
    };
    for (group, secs, late) in &groups {
        // Actions recorded without a user are in their calendar and the total only.
        if let Some(id) = group.answered_by {
            by_manager.entry(id).or_default().add(secs, *late);
        }
        by_calendar
            .entry(group.calendar_id)
            .or_default()
            .add(secs, *late);
        all.add(secs, *late);
    }
    for &(calendar_id, count) in unanswered {
        by_calendar.entry(calendar_id).or_default().late += count;
        all.late += count;
    }
    let mut managers: Vec<ResponseStat> = by_manager
        .into_iter()
        .map(|(id, acc)| {
            let name = logins.get(&id).cloned().unwrap_or_else(|| id.to_string());
            acc.stat(Some(id), name)
        })
        .collect();
    managers.sort_by(|a, b| a.name.cmp(&b.name));
    let mut calendars: Vec<ResponseStat> = by_calendar
        .into_iter()
        .map(|(id, acc)| {
            let name = calendar_names
                .get(&id)
                .cloned()
                .unwrap_or_else(|| id.to_string());
            acc.stat(Some(id), name)
        })
        .collect();
    calendars.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(ResponseReport {
        managers,
        calendars,
        total: all.stat(None, String::new()),
    })
}

/// The values of a list of times (`60000,125000,`: decimal milliseconds, each followed by a comma), never
/// negative; `None` if it is anything else. One pass over the bytes: a year's list is 2 MB of them.
fn parse_times(times: &str) -> Option<Vec<i64>> {
    let mut out = Vec::with_capacity(times.len() / 6);
    let mut value: Option<i64> = None;
    for b in times.bytes() {
        match b {
            b'0'..=b'9' => {
                let digit = i64::from(b - b'0');
                value = Some(value.unwrap_or(0).checked_mul(10)?.checked_add(digit)?);
            }
            b',' => out.push(value.take()?),
            _ => return None,
        }
    }
    value.is_none().then_some(out)
}

/// The `p`-th percentile of values by nearest rank (SQL's `percentile_disc`), in any order (they are
/// reordered): a selection, not a sort, so a year's 300,000 response times cost a few milliseconds.
pub fn percentile_disc(values: &mut [i64], p: f64) -> Option<i64> {
    let [value] = percentiles_disc(values, [p]);
    value
}

/// [`percentile_disc`] of each of `ps`, in ascending order: each selection leaves every larger value after
/// the one it found, so the next percentile is selected among those alone.
pub fn percentiles_disc<const N: usize>(values: &mut [i64], ps: [f64; N]) -> [Option<i64>; N] {
    let len = values.len();
    let mut from = 0;
    ps.map(|p| {
        if len == 0 {
            return None;
        }
        #[allow(
            clippy::cast_precision_loss,
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss
        )]
        let rank = ((p * len as f64).ceil() as usize).clamp(1, len);
        // Ranks below `from` were settled by an earlier selection (a `p` out of order): select again whole.
        let start = if rank > from { from } else { 0 };
        let (_, nth, _) = values
            .get_mut(start..)?
            .select_nth_unstable(rank - 1 - start);
        from = rank;
        Some(*nth)
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use std::collections::HashMap;

    use chrono::Duration;

    use super::{
        AnsweredTimes, ROLLUP_HOUR_MS, parse_times, percentile_disc, percentiles_disc, report_days,
        response_report,
    };

    #[test]
    fn the_rollups_days_are_the_shops_whole_hour_days_end_to_end() {
        // 2000 to 2099: 36,525 days, each the next one's start.
        for zone in [chrono_tz::Europe::Moscow, chrono_tz::Europe::Berlin] {
            let days = report_days(zone);
            assert_eq!(days.len(), 36_525, "{zone}");
            assert!(days.windows(2).all(|w| w[0].1 == w[1].0), "{zone}");
        }
        // Berlin's days change length with summer time: 23 and 25 hours.
        let lengths: std::collections::BTreeSet<i64> = report_days(chrono_tz::Europe::Berlin)
            .iter()
            .map(|(start, end)| (end - start) / ROLLUP_HOUR_MS)
            .collect();
        assert_eq!(lengths.into_iter().collect::<Vec<_>>(), vec![23, 24, 25]);
        // Moscow's day of 2 March 2026 starts at 21:00 UTC the day before.
        let moscow = report_days(chrono_tz::Europe::Moscow);
        assert!(moscow.iter().any(|(start, _)| *start == 1_772_398_800_000));
        // A zone whose midnights are not whole hours has no days the hourly rollup could make.
        assert!(report_days(chrono_tz::Asia::Kolkata).is_empty());
    }

    #[test]
    fn percentiles_are_by_nearest_rank_in_any_order() {
        assert_eq!(percentile_disc(&mut [], 0.5), None);
        assert_eq!(percentile_disc(&mut [7], 0.9), Some(7));
        assert_eq!(percentile_disc(&mut [4, 1, 3, 2], 0.5), Some(2));
        assert_eq!(percentile_disc(&mut [5, 3, 1, 4, 2], 0.5), Some(3));
        let mut ten: Vec<i64> = (1..=10).rev().collect();
        assert_eq!(percentile_disc(&mut ten, 0.9), Some(9));
        let mut eleven: Vec<i64> = (1..=11).rev().collect();
        assert_eq!(percentile_disc(&mut eleven, 0.9), Some(10));
        assert_eq!(percentile_disc(&mut [9, 1, 9, 1, 1], 0.5), Some(1));
    }

    #[test]
    fn percentiles_selected_one_after_another_are_those_of_the_sorted_values() {
        // A fixed pseudo-random sequence with repeats.
        let mut x: i64 = 7;
        for len in [1_usize, 2, 3, 10, 11, 99, 1000] {
            let values: Vec<i64> = (0..len)
                .map(|_| {
                    x = (x * 1_103_515_245 + 12_345) % 2_147_483_648;
                    x % 50
                })
                .collect();
            let mut sorted = values.clone();
            sorted.sort_unstable();
            let rank = |p: f64| sorted[((p * len as f64).ceil() as usize).clamp(1, len) - 1];
            let ps = [0.1, 0.5, 0.5, 0.9, 1.0];
            let mut shuffled = values.clone();
            assert_eq!(
                percentiles_disc(&mut shuffled, ps),
                ps.map(|p| Some(rank(p))),
                "{values:?}"
            );
            // Out of order too.
            let mut shuffled = values.clone();
            assert_eq!(
                percentiles_disc(&mut shuffled, [0.9, 0.5]),
                [Some(rank(0.9)), Some(rank(0.5))]
            );
        }
    }

    #[test]
    fn a_report_takes_each_groups_times_into_its_calendar_its_manager_and_the_total() {
        let answered = [
            AnsweredTimes {
                calendar_id: 1,
                answered_by: Some(10),
                times: "60000,3600001,120999,".into(),
            },
            AnsweredTimes {
                calendar_id: 2,
                answered_by: Some(10),
                times: "7200000,".into(),
            },
            AnsweredTimes {
                calendar_id: 2,
                answered_by: None,
                times: "1000,".into(),
            },
        ];
        let calendars = HashMap::from([(1, "Б".to_string()), (2, "А".to_string())]);
        let logins = HashMap::from([(10, "anna".to_string())]);
        let report = response_report(
            &answered,
            &[(3, 2), (1, 1)],
            &calendars,
            &logins,
            Duration::hours(1),
        )
        .unwrap();
        let anna = &report.managers[0];
        assert_eq!(report.managers.len(), 1);
        assert_eq!(
            (
                anna.name.as_str(),
                anna.answered,
                anna.median_secs,
                anna.p90_secs,
                anna.late
            ),
            ("anna", 4, Some(120), Some(7200), 2)
        );
        let names: Vec<&str> = report.calendars.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["3", "А", "Б"]);
        let [none, a, b] = &report.calendars[..] else {
            panic!("{:?}", report.calendars)
        };
        assert_eq!((none.answered, none.median_secs, none.late), (0, None, 2));
        assert_eq!(
            (a.answered, a.median_secs, a.p90_secs, a.late),
            (2, Some(1), Some(7200), 1)
        );
        assert_eq!(
            (b.answered, b.median_secs, b.p90_secs, b.late),
            (3, Some(120), Some(3600), 2)
        );
        let total = &report.total;
        assert_eq!(
            (
                total.answered,
                total.median_secs,
                total.p90_secs,
                total.late
            ),
            (5, Some(120), Some(7200), 5)
        );
    }

    #[test]
    fn a_time_that_is_not_a_number_is_an_error_not_a_zero() {
        let answered = [AnsweredTimes {
            calendar_id: 1,
            answered_by: None,
            times: "60000,x,".into(),
        }];
        let err = response_report(
            &answered,
            &[],
            &HashMap::new(),
            &HashMap::new(),
            Duration::hours(1),
        )
        .unwrap_err();
        assert!(err.contains("\"x\""), "{err}");
    }

    #[test]
    fn a_list_of_times_is_read_whole_or_not_at_all() {
        assert_eq!(parse_times(""), Some(vec![]));
        assert_eq!(
            parse_times("0,60000,125000,"),
            Some(vec![0, 60_000, 125_000])
        );
        for corrupt in ["60000", "60000,,", "-5,", "6 0,", "99999999999999999999,"] {
            assert_eq!(parse_times(corrupt), None, "{corrupt:?}");
        }
    }
}
