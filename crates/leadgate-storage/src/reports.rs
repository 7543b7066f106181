//! Reports: counts of leads, orders and their value, outcomes, response times and the health of the intake,
//! over a period cut into buckets (the shop's days, weeks or months).
//!
//! The caller cuts the period: [`ReportQuery::bounds`] are the instants where buckets start, in order, and
//! the last one where the period ends (n + 1 bounds make n buckets, bucket `i` is `[bounds[i], bounds[i+1])`),
//! so storage never needs to know the shop's time zone. Leads fall into the bucket of their receipt time.
//! Visibility is the caller's too: [`ReportQuery::calendars`] is the scope the inbox uses
//! ([`super::visible_calendar_ids`]), narrowed by the report's calendar filter.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;

use super::error::Result;
use leadgate_domain::lead::{Channel, LeadKind};

/// The most buckets one report may have (a year by day, with room).
pub const MAX_BUCKETS: usize = 400;

/// The unit of the backends' report rollup (`lead_hours`): one UTC hour, in milliseconds. A report whose
/// bounds are all whole hours (the local midnights of any time zone with a whole-hour offset) is summed from
/// it; any other is counted from the leads themselves, with the same result.
pub const ROLLUP_HOUR_MS: i64 = 3_600_000;

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
}

/// The `p`-th percentile of sorted values by nearest rank (SQL's `percentile_disc`).
pub fn percentile_disc(sorted: &[i64], p: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss
    )]
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted.get(rank - 1).copied()
}

/// The `p`-th percentile by nearest rank of values given ascending with how many times each occurs (the
/// same as [`percentile_disc`] of every value).
pub fn percentile_disc_counted(sorted: &[(i64, i64)], p: f64) -> Option<i64> {
    let total: i64 = sorted.iter().map(|(_, n)| (*n).max(0)).sum();
    if total == 0 {
        return None;
    }
    #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
    let rank = ((p * total as f64).ceil() as i64).clamp(1, total);
    let mut seen = 0;
    for (value, n) in sorted {
        seen += (*n).max(0);
        if seen >= rank {
            return Some(*value);
        }
    }
    sorted.last().map(|(value, _)| *value)
}

#[cfg(test)]
mod tests {
    use super::{percentile_disc, percentile_disc_counted};

    #[test]
    fn percentiles_of_counted_values_are_those_of_every_value() {
        let values = [1, 1, 1, 2, 5, 5, 7, 9, 9, 9, 9];
        let counted = [(1, 3), (2, 1), (5, 2), (7, 1), (9, 4)];
        for p in [0.1, 0.5, 0.9, 1.0] {
            assert_eq!(
                percentile_disc_counted(&counted, p),
                percentile_disc(&values, p)
            );
        }
        assert_eq!(percentile_disc_counted(&[], 0.5), None);
    }

    #[test]
    fn percentiles_are_by_nearest_rank() {
        assert_eq!(percentile_disc(&[], 0.5), None);
        assert_eq!(percentile_disc(&[7], 0.9), Some(7));
        assert_eq!(percentile_disc(&[1, 2, 3, 4], 0.5), Some(2));
        assert_eq!(percentile_disc(&[1, 2, 3, 4, 5], 0.5), Some(3));
        let ten: Vec<i64> = (1..=10).collect();
        assert_eq!(percentile_disc(&ten, 0.9), Some(9));
        let eleven: Vec<i64> = (1..=11).collect();
        assert_eq!(percentile_disc(&eleven, 0.9), Some(10));
    }
}
