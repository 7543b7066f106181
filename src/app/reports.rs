//! Reports, as the API and the web UI both give them: the query string read into a [`ReportQuery`] (the
//! period cut into the shop's days, weeks or months, the filters, the viewer's calendars), the reports'
//! numbers in the shapes both show, and their CSV.
//!
//! Visibility is the inbox's: the caller passes the scope from [`leadgate_storage::visible_calendar_ids`], and
//! a calendar filter outside it is refused.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::ApiError;
use leadgate_domain::lead::{Channel, LeadKind, LeadStatus};
use leadgate_storage::{
    self as storage, LeadSeries, MAX_BUCKETS, ReportQuery, ReportSource, ResponseStat, Storage,
};

/// A lead is answered late when its first manager action comes later than this after its receipt.
pub const LATE_AFTER: Duration = Duration::hours(1);

/// The most leads one CSV export of a lead list holds.
pub const MAX_EXPORT_LEADS: usize = 100_000;

/// The filters and period of a report, from the query string. Empty values (an untouched form field) mean
/// "any"; without a period the last 30 days up to today (in the shop's time zone) are reported.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportParams {
    /// First day, `YYYY-MM-DD`, inclusive (default: 29 days before `to`).
    pub from: Option<String>,
    /// Last day, `YYYY-MM-DD`, inclusive (default: today).
    pub to: Option<String>,
    /// `day` (default), `week` (from Monday) or `month`, in the shop's time zone.
    pub group: Option<String>,
    /// Only this calendar (its id).
    pub calendar: Option<String>,
    /// Only this channel: `mail`, `http` or `file`.
    pub channel: Option<String>,
    /// Only this source: `collector:<id>` or `http:<id>`.
    pub source: Option<String>,
    /// Only this kind: `contact` or `order`.
    pub kind: Option<String>,
    /// What the leads report is split by: `channel` (default), `calendar`, `source`, `kind`, `utm_source`,
    /// `utm_medium` or `utm_campaign`.
    pub by: Option<String>,
}

/// How a period is cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grouping {
    /// Days.
    Day,
    /// Weeks, Monday to Sunday.
    Week,
    /// Calendar months.
    Month,
}

impl Grouping {
    /// All, in the order the UI offers them.
    pub const ALL: &[Grouping] = &[Grouping::Day, Grouping::Week, Grouping::Month];

    /// The query string's word.
    pub fn as_str(self) -> &'static str {
        match self {
            Grouping::Day => "day",
            Grouping::Week => "week",
            Grouping::Month => "month",
        }
    }

    /// Russian label.
    pub fn label(self) -> &'static str {
        match self {
            Grouping::Day => "по дням",
            Grouping::Week => "по неделям",
            Grouping::Month => "по месяцам",
        }
    }
}

/// The splits of the leads report: query word, storage series, Russian label.
pub const SERIES: &[(&str, LeadSeries, &str)] = &[
    ("channel", LeadSeries::Channel, "канал"),
    ("calendar", LeadSeries::Calendar, "календарь"),
    ("source", LeadSeries::Source, "источник"),
    ("kind", LeadSeries::Kind, "вид"),
    ("utm_source", LeadSeries::UtmSource, "utm_source"),
    ("utm_medium", LeadSeries::UtmMedium, "utm_medium"),
    ("utm_campaign", LeadSeries::UtmCampaign, "utm_campaign"),
];

/// One bucket of a report: where it starts (a local date) and how it is labelled.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BucketView {
    /// First day, `YYYY-MM-DD` (the period's first day for a bucket cut by it).
    pub start: String,
    /// Label: `dd.mm.yyyy` (a day, or the first day of a week), `mm.yyyy` (a month).
    pub label: String,
}

/// A report's parameters, read and checked.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// What storage is asked.
    pub query: ReportQuery,
    /// The buckets, as shown.
    pub buckets: Vec<BucketView>,
    /// The grouping.
    pub group: Grouping,
    /// The split of the leads report.
    pub by: (&'static str, LeadSeries, &'static str),
    /// The first and last day.
    pub from: NaiveDate,
    /// The last day, inclusive.
    pub to: NaiveDate,
}

fn non_empty(v: Option<&String>) -> Option<&str> {
    v.map(|s| s.trim()).filter(|s| !s.is_empty())
}

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::BadRequest(message.into())
}

fn day(v: Option<&String>, name: &str) -> Result<Option<NaiveDate>, ApiError> {
    non_empty(v)
        .map(|s| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .filter(|d| (1970..=9999).contains(&d.year()))
                .ok_or_else(|| {
                    bad(format!(
                        "{name} must be a date YYYY-MM-DD (years 1970 to 9999)"
                    ))
                })
        })
        .transpose()
}

use leadgate_domain::days::local_midnight;

/// The first day of the unit after the one `d` is in.
fn next_start(d: NaiveDate, group: Grouping) -> Option<NaiveDate> {
    match group {
        Grouping::Day => d.succ_opt(),
        Grouping::Week => {
            let monday = d - Duration::days(i64::from(d.weekday().num_days_from_monday()));
            monday.checked_add_signed(Duration::days(7))
        }
        Grouping::Month => {
            let (y, m) = if d.month() == 12 {
                (d.year() + 1, 1)
            } else {
                (d.year(), d.month() + 1)
            };
            NaiveDate::from_ymd_opt(y, m, 1)
        }
    }
}

fn label(d: NaiveDate, group: Grouping) -> String {
    match group {
        Grouping::Day | Grouping::Week => d.format("%d.%m.%Y").to_string(),
        Grouping::Month => d.format("%m.%Y").to_string(),
    }
}

/// Reads the parameters. `scope` is the viewer's calendars (`None`: every calendar), `today` the shop's
/// today.
///
/// # Errors
/// `BadRequest` for a malformed value or a period of more than [`MAX_BUCKETS`] buckets; `Forbidden` for a
/// calendar outside the scope.
pub fn resolve(
    params: &ReportParams,
    scope: Option<Vec<i64>>,
    tz: Tz,
    today: NaiveDate,
) -> Result<Resolved, ApiError> {
    let to = day(params.to.as_ref(), "to")?.unwrap_or(today);
    let from = day(params.from.as_ref(), "from")?.unwrap_or(to - Duration::days(29));
    if from > to {
        return Err(bad("from must not be after to"));
    }
    let group = match non_empty(params.group.as_ref()) {
        None | Some("day") => Grouping::Day,
        Some("week") => Grouping::Week,
        Some("month") => Grouping::Month,
        Some(_) => return Err(bad("group must be day, week or month")),
    };
    let by = match non_empty(params.by.as_ref()) {
        None => SERIES[0],
        Some(word) => *SERIES
            .iter()
            .find(|(w, ..)| *w == word)
            .ok_or_else(|| {
                bad("by must be channel, calendar, source, kind, utm_source, utm_medium or utm_campaign")
            })?,
    };
    let end = to.succ_opt().ok_or_else(|| bad("to is too late"))?;
    let mut starts = vec![from];
    let mut d = from;
    while let Some(next) = next_start(d, group).filter(|n| *n < end) {
        starts.push(next);
        d = next;
        if starts.len() > MAX_BUCKETS {
            return Err(bad(format!(
                "the period has more than {MAX_BUCKETS} {}; choose a longer grouping or a shorter period",
                match group {
                    Grouping::Day => "days",
                    Grouping::Week => "weeks",
                    Grouping::Month => "months",
                }
            )));
        }
    }
    let mut bounds: Vec<DateTime<Utc>> = starts.iter().map(|d| local_midnight(*d, tz)).collect();
    bounds.push(local_midnight(end, tz));
    let buckets = starts
        .iter()
        .map(|d| BucketView {
            start: d.format("%Y-%m-%d").to_string(),
            label: label(*d, group),
        })
        .collect();

    let calendars = match non_empty(params.calendar.as_ref()) {
        Some(cal) => {
            let id: i64 = cal
                .parse()
                .map_err(|_| bad("calendar must be a calendar id"))?;
            if scope.as_ref().is_some_and(|s| !s.contains(&id)) {
                return Err(ApiError::Forbidden);
            }
            Some(vec![id])
        }
        None => scope,
    };
    let channel = non_empty(params.channel.as_ref())
        .map(|s| {
            s.parse::<Channel>()
                .map_err(|_| bad("channel must be mail, http or file"))
        })
        .transpose()?;
    let kind = non_empty(params.kind.as_ref())
        .map(|s| {
            s.parse::<LeadKind>()
                .map_err(|_| bad("kind must be contact or order"))
        })
        .transpose()?;
    let source = non_empty(params.source.as_ref())
        .map(|s| {
            let parsed = match s.split_once(':') {
                Some(("collector", id)) => id.parse().ok().map(ReportSource::Collector),
                Some(("http", id)) => id.parse().ok().map(ReportSource::Http),
                _ => None,
            };
            parsed.ok_or_else(|| bad("source must be collector:<id> or http:<id>"))
        })
        .transpose()?;
    Ok(Resolved {
        query: ReportQuery {
            bounds,
            calendars,
            channel,
            source,
            kind,
        },
        buckets,
        group,
        by,
        from,
        to,
    })
}

/// One series of the leads report.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SeriesView {
    /// The channel or kind word, the calendar's or source's name, or the UTM value (`null`: none).
    pub key: Option<String>,
    /// How it is shown.
    pub label: String,
    /// Leads per bucket.
    pub counts: Vec<i64>,
    /// Leads in the period.
    pub total: i64,
}

/// Leads over time, split by one property.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LeadsReport {
    /// The buckets.
    pub buckets: Vec<BucketView>,
    /// What the leads are split by.
    pub by: String,
    /// The series, by key.
    pub series: Vec<SeriesView>,
    /// Leads per bucket.
    pub totals: Vec<i64>,
    /// Leads in the period.
    pub total: i64,
}

/// Orders, contact leads and the value of orders in one bucket (or in total).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrdersRow {
    /// The bucket (`null` in the total).
    pub bucket: Option<BucketView>,
    /// Orders.
    pub orders: i64,
    /// Contact leads.
    pub contacts: i64,
    /// The sum of Сумма of the orders' lines, a decimal as text (`"1500.5"`).
    #[schema(value_type = String)]
    pub value: Decimal,
}

/// Orders vs contact leads, and the value of orders, over time.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrdersReport {
    /// Per bucket.
    pub rows: Vec<OrdersRow>,
    /// The period.
    pub total: OrdersRow,
}

/// Leads by their status now, in one bucket of receipt (or in total).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OutcomeRow {
    /// The bucket (`null` in the total).
    pub bucket: Option<BucketView>,
    /// Done.
    pub done: i64,
    /// Rejected as spam.
    pub rejected: i64,
    /// Still open: new or in progress.
    pub open: i64,
    /// Of which new.
    pub new: i64,
    /// Of which in progress.
    pub in_progress: i64,
    /// All leads.
    pub total: i64,
    /// Share done, in percent (one decimal).
    pub done_share: f64,
    /// Share rejected as spam, in percent.
    pub rejected_share: f64,
    /// Share still open, in percent.
    pub open_share: f64,
}

/// Outcomes: the shares of leads done, rejected as spam and still open.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OutcomesReport {
    /// Per bucket.
    pub rows: Vec<OutcomeRow>,
    /// The period.
    pub total: OutcomeRow,
}

/// Response times of one manager, one calendar, or all leads.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ResponseRow {
    /// The user's or calendar's id (`null` in the total).
    pub id: Option<i64>,
    /// The user's login or the calendar's name.
    pub name: String,
    /// Leads with a first manager action.
    pub answered: i64,
    /// Median seconds from receipt to the first action (the lower median).
    pub median_secs: Option<i64>,
    /// 90th percentile of those seconds (nearest rank).
    pub p90_secs: Option<i64>,
    /// Answered later than an hour after receipt, or (calendars, total) still new and unanswered after it.
    pub late: i64,
}

impl From<ResponseStat> for ResponseRow {
    fn from(s: ResponseStat) -> Self {
        Self {
            id: s.id,
            name: s.name,
            answered: s.answered,
            median_secs: s.median_secs,
            p90_secs: s.p90_secs,
            late: s.late,
        }
    }
}

/// Response time: from receipt to the first manager action (taken into work, a status change, an
/// assignment).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ResponseReport {
    /// What counts as late, in seconds.
    pub late_after_secs: i64,
    /// Per manager who took the first action, by login.
    pub managers: Vec<ResponseRow>,
    /// Per calendar, by name.
    pub calendars: Vec<ResponseRow>,
    /// All leads of the report.
    pub total: ResponseRow,
}

/// The intake in one bucket (or in total).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HealthRow {
    /// The bucket (`null` in the total).
    pub bucket: Option<BucketView>,
    /// Messages imported as leads.
    pub imported: i64,
    /// Copies of messages recorded before.
    pub duplicates: i64,
    /// Mail without the collector's keyword.
    pub skipped: i64,
    /// Messages rejected into the quarantine.
    pub quarantined: i64,
    /// Mail collector runs.
    pub runs: i64,
    /// Runs that failed.
    pub failed_runs: i64,
}

/// Quarantine and collector health over time.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HealthReport {
    /// Per bucket.
    pub rows: Vec<HealthRow>,
    /// The period.
    pub total: HealthRow,
}

/// How a series key is shown.
fn series_label(by: LeadSeries, key: Option<&str>) -> String {
    match (by, key) {
        (LeadSeries::Channel, Some(k)) => match k.parse::<Channel>() {
            Ok(Channel::Mail) => "Почта".into(),
            Ok(Channel::Http) => "Сайт (HTTP)".into(),
            Ok(Channel::File) => "Файл".into(),
            Err(_) => k.into(),
        },
        (LeadSeries::Kind, Some(k)) => match k.parse::<LeadKind>() {
            Ok(LeadKind::Order) => "Заказ".into(),
            Ok(LeadKind::Contact) => "Обращение".into(),
            Err(_) => k.into(),
        },
        (LeadSeries::Source, None) => "Файл".into(),
        (_, Some(k)) => k.into(),
        (_, None) => "(не указано)".into(),
    }
}

/// The leads report.
///
/// # Errors
/// Database errors.
pub async fn leads(storage: &dyn Storage, r: &Resolved) -> Result<LeadsReport, ApiError> {
    let (word, by, _) = r.by;
    let counts = storage.report_leads(&r.query, by).await?;
    let n = r.buckets.len();
    let mut series: Vec<SeriesView> = Vec::new();
    let mut totals = vec![0; n];
    for c in counts {
        let idx = match series.iter().position(|s| s.key == c.key) {
            Some(i) => i,
            None => {
                series.push(SeriesView {
                    label: series_label(by, c.key.as_deref()),
                    key: c.key.clone(),
                    counts: vec![0; n],
                    total: 0,
                });
                series.len() - 1
            }
        };
        if let (Some(s), Some(t)) = (series.get_mut(idx), totals.get_mut(c.bucket)) {
            if let Some(v) = s.counts.get_mut(c.bucket) {
                *v += c.count;
            }
            s.total += c.count;
            *t += c.count;
        }
    }
    series.sort_by(|a, b| a.label.cmp(&b.label));
    Ok(LeadsReport {
        buckets: r.buckets.clone(),
        by: word.into(),
        total: totals.iter().sum(),
        series,
        totals,
    })
}

/// The orders report.
///
/// # Errors
/// Database errors.
pub async fn orders(storage: &dyn Storage, r: &Resolved) -> Result<OrdersReport, ApiError> {
    let rows = storage.report_orders(&r.query).await?;
    let mut total = OrdersRow {
        bucket: None,
        orders: 0,
        contacts: 0,
        value: Decimal::ZERO,
    };
    let rows = rows
        .into_iter()
        .zip(&r.buckets)
        .map(|(b, bucket)| {
            total.orders += b.orders;
            total.contacts += b.contacts;
            total.value += b.value;
            OrdersRow {
                bucket: Some(bucket.clone()),
                orders: b.orders,
                contacts: b.contacts,
                value: b.value.normalize(),
            }
        })
        .collect();
    total.value = total.value.normalize();
    Ok(OrdersReport { rows, total })
}

fn share(part: i64, whole: i64) -> f64 {
    if whole == 0 {
        return 0.0;
    }
    #[allow(clippy::cast_precision_loss)]
    let p = part as f64 * 100.0 / whole as f64;
    (p * 10.0).round() / 10.0
}

fn outcome_row(bucket: Option<BucketView>, b: &storage::OutcomeBucket) -> OutcomeRow {
    let open = b.new + b.in_progress;
    let total = open + b.done + b.rejected;
    OutcomeRow {
        bucket,
        done: b.done,
        rejected: b.rejected,
        open,
        new: b.new,
        in_progress: b.in_progress,
        total,
        done_share: share(b.done, total),
        rejected_share: share(b.rejected, total),
        open_share: share(open, total),
    }
}

/// The outcomes report.
///
/// # Errors
/// Database errors.
pub async fn outcomes(storage: &dyn Storage, r: &Resolved) -> Result<OutcomesReport, ApiError> {
    let rows = storage.report_outcomes(&r.query).await?;
    let mut sum = storage::OutcomeBucket::default();
    let rows = rows
        .iter()
        .zip(&r.buckets)
        .map(|(b, bucket)| {
            sum.new += b.new;
            sum.in_progress += b.in_progress;
            sum.done += b.done;
            sum.rejected += b.rejected;
            outcome_row(Some(bucket.clone()), b)
        })
        .collect();
    Ok(OutcomesReport {
        rows,
        total: outcome_row(None, &sum),
    })
}

/// The response time report, as of `now`.
///
/// # Errors
/// Database errors.
pub async fn response(
    storage: &dyn Storage,
    r: &Resolved,
    now: DateTime<Utc>,
) -> Result<ResponseReport, ApiError> {
    let report = storage.report_response(&r.query, now, LATE_AFTER).await?;
    let mut total: ResponseRow = report.total.into();
    total.name = "Всего".into();
    Ok(ResponseReport {
        late_after_secs: LATE_AFTER.num_seconds(),
        managers: report.managers.into_iter().map(Into::into).collect(),
        calendars: report.calendars.into_iter().map(Into::into).collect(),
        total,
    })
}

/// The quarantine and collector health report.
///
/// # Errors
/// Database errors.
pub async fn health(storage: &dyn Storage, r: &Resolved) -> Result<HealthReport, ApiError> {
    let rows = storage.report_health(&r.query).await?;
    let mut total = HealthRow {
        bucket: None,
        imported: 0,
        duplicates: 0,
        skipped: 0,
        quarantined: 0,
        runs: 0,
        failed_runs: 0,
    };
    let rows = rows
        .into_iter()
        .zip(&r.buckets)
        .map(|(b, bucket)| {
            total.imported += b.imported;
            total.duplicates += b.duplicates;
            total.skipped += b.skipped;
            total.quarantined += b.quarantined;
            total.runs += b.runs;
            total.failed_runs += b.failed_runs;
            HealthRow {
                bucket: Some(bucket.clone()),
                imported: b.imported,
                duplicates: b.duplicates,
                skipped: b.skipped,
                quarantined: b.quarantined,
                runs: b.runs,
                failed_runs: b.failed_runs,
            }
        })
        .collect();
    Ok(HealthReport { rows, total })
}

// ---- CSV ----

/// A CSV file that Russian Excel opens as it is: UTF-8 with a byte-order mark, `;` between cells, dates as
/// `dd.mm.yyyy hh:mm`, decimals with a comma. A cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage
/// return is prefixed with `'`, so a spreadsheet never runs it as a formula.
#[derive(Debug)]
pub struct Csv {
    rows: Vec<Vec<String>>,
}

/// The characters that make a spreadsheet read a cell as a formula.
const FORMULA_STARTS: &[char] = &['=', '+', '-', '@', '\t', '\r'];

/// `cell`, made safe to open in a spreadsheet.
pub fn neutralise(cell: &str) -> String {
    if cell.starts_with(FORMULA_STARTS) {
        format!("'{cell}")
    } else {
        cell.to_owned()
    }
}

impl Csv {
    /// A file with this header row.
    pub fn new(header: &[&str]) -> Self {
        Self {
            rows: vec![header.iter().map(|h| (*h).to_owned()).collect()],
        }
    }

    /// The rows, the header first, as given (not yet neutralised).
    pub fn rows(&self) -> &[Vec<String>] {
        &self.rows
    }

    /// Adds a row.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// The file's bytes.
    pub fn bytes(&self) -> Vec<u8> {
        let mut out = "\u{feff}".as_bytes().to_vec();
        let mut w = csv::WriterBuilder::new()
            .delimiter(b';')
            .terminator(csv::Terminator::CRLF)
            .flexible(true)
            .from_writer(&mut out);
        for row in &self.rows {
            // Writing to a Vec cannot fail.
            let _ = w.write_record(row.iter().map(|c| neutralise(c)));
        }
        let _ = w.flush();
        drop(w);
        out
    }
}

/// A date and time as the spreadsheet reads it: `dd.mm.yyyy hh:mm` in the shop's time zone.
pub fn csv_datetime(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz).format("%d.%m.%Y %H:%M").to_string()
}

/// A decimal with a comma (`1500,5`).
pub fn csv_decimal(d: Decimal) -> String {
    d.normalize().to_string().replace('.', ",")
}

fn opt(v: Option<i64>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

fn share_text(v: f64) -> String {
    format!("{v:.1}").replace('.', ",")
}

/// The leads report as CSV: one row per bucket, one column per series.
pub fn leads_csv(report: &LeadsReport) -> Csv {
    let mut header: Vec<&str> = vec!["Период"];
    header.extend(report.series.iter().map(|s| s.label.as_str()));
    header.push("Всего");
    let mut csv = Csv::new(&header);
    for (i, b) in report.buckets.iter().enumerate() {
        let mut row = vec![b.label.clone()];
        row.extend(
            report
                .series
                .iter()
                .map(|s| s.counts.get(i).copied().unwrap_or(0).to_string()),
        );
        row.push(report.totals.get(i).copied().unwrap_or(0).to_string());
        csv.row(row);
    }
    let mut row = vec!["Итого".to_owned()];
    row.extend(report.series.iter().map(|s| s.total.to_string()));
    row.push(report.total.to_string());
    csv.row(row);
    csv
}

fn bucket_label(b: Option<&BucketView>) -> String {
    b.map_or_else(|| "Итого".to_owned(), |b| b.label.clone())
}

/// The orders report as CSV.
pub fn orders_csv(report: &OrdersReport) -> Csv {
    let mut csv = Csv::new(&["Период", "Заказы", "Обращения", "Сумма заказов"]);
    for r in report.rows.iter().chain(std::iter::once(&report.total)) {
        csv.row(vec![
            bucket_label(r.bucket.as_ref()),
            r.orders.to_string(),
            r.contacts.to_string(),
            csv_decimal(r.value),
        ]);
    }
    csv
}

/// The outcomes report as CSV.
pub fn outcomes_csv(report: &OutcomesReport) -> Csv {
    let mut csv = Csv::new(&[
        "Период",
        "Выполнено",
        "Спам",
        "Открыто",
        "Всего",
        "Выполнено, %",
        "Спам, %",
        "Открыто, %",
    ]);
    for r in report.rows.iter().chain(std::iter::once(&report.total)) {
        csv.row(vec![
            bucket_label(r.bucket.as_ref()),
            r.done.to_string(),
            r.rejected.to_string(),
            r.open.to_string(),
            r.total.to_string(),
            share_text(r.done_share),
            share_text(r.rejected_share),
            share_text(r.open_share),
        ]);
    }
    csv
}

/// The response time report as CSV: managers, then calendars, then the total.
pub fn response_csv(report: &ResponseReport) -> Csv {
    let mut csv = Csv::new(&[
        "Разрез",
        "Кто / где",
        "С ответом",
        "Медиана, с",
        "90-й перцентиль, с",
        "Без ответа дольше часа",
    ]);
    let groups = [
        ("Менеджер", report.managers.as_slice()),
        ("Календарь", report.calendars.as_slice()),
        ("Итого", std::slice::from_ref(&report.total)),
    ];
    for (what, rows) in groups {
        for r in rows {
            csv.row(vec![
                what.to_owned(),
                r.name.clone(),
                r.answered.to_string(),
                opt(r.median_secs),
                opt(r.p90_secs),
                r.late.to_string(),
            ]);
        }
    }
    csv
}

/// The health report as CSV.
pub fn health_csv(report: &HealthReport) -> Csv {
    let mut csv = Csv::new(&[
        "Период",
        "Принято",
        "Повторы",
        "Пропущено",
        "В карантине",
        "Запуски сборщиков",
        "Неудачные запуски",
    ]);
    for r in report.rows.iter().chain(std::iter::once(&report.total)) {
        csv.row(vec![
            bucket_label(r.bucket.as_ref()),
            r.imported.to_string(),
            r.duplicates.to_string(),
            r.skipped.to_string(),
            r.quarantined.to_string(),
            r.runs.to_string(),
            r.failed_runs.to_string(),
        ]);
    }
    csv
}

fn status_label(s: LeadStatus) -> &'static str {
    match s {
        LeadStatus::New => "Новая",
        LeadStatus::InProgress => "В работе",
        LeadStatus::Done => "Выполнена",
        LeadStatus::Rejected => "Спам",
    }
}

/// Leads as CSV, one row a lead (the inbox's and the API's lead list export).
pub fn leads_list_csv(leads: &[storage::LeadView], tz: Tz) -> Csv {
    let mut csv = Csv::new(&[
        "Номер",
        "Получена",
        "Дата",
        "Вид",
        "Статус",
        "Календарь",
        "Тема",
        "Контактное лицо",
        "Телефон",
        "Эл. почта",
        "ИНН",
        "Контрагент",
        "Канал",
        "Источник",
        "Ответственный",
        "Позиций",
        "Сумма",
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "Страница",
        "Откуда пришёл",
    ]);
    for l in leads {
        let amount: Option<Decimal> = l
            .lines
            .iter()
            .filter_map(|line| line.amount)
            .reduce(|a, b| a + b);
        let source = l
            .source
            .collector
            .clone()
            .or_else(|| l.source.http_source.clone())
            .unwrap_or_default();
        csv.row(vec![
            l.id.to_string(),
            csv_datetime(l.received_at, tz),
            l.occurred_at
                .map(|t| csv_datetime(t, tz))
                .unwrap_or_default(),
            match l.kind {
                LeadKind::Order => "Заказ".into(),
                LeadKind::Contact => "Обращение".into(),
            },
            status_label(l.status).into(),
            l.calendar.name.clone(),
            l.subject.clone().unwrap_or_default(),
            l.contact.person.clone().unwrap_or_default(),
            l.contact.phone.clone().unwrap_or_default(),
            l.contact.email.clone().unwrap_or_default(),
            l.inn.clone().unwrap_or_default(),
            l.counterparty
                .as_ref()
                .map(|c| c.name.clone())
                .unwrap_or_default(),
            l.source.channel.as_str().into(),
            source,
            l.assignee.clone().unwrap_or_default(),
            l.lines.len().to_string(),
            amount.map(csv_decimal).unwrap_or_default(),
            l.campaign.utm_source.clone().unwrap_or_default(),
            l.campaign.utm_medium.clone().unwrap_or_default(),
            l.campaign.utm_campaign.clone().unwrap_or_default(),
            l.campaign.page_url.clone().unwrap_or_default(),
            l.campaign.referrer.clone().unwrap_or_default(),
        ]);
    }
    csv
}

/// Every lead of a filter (up to [`MAX_EXPORT_LEADS`]), newest first.
///
/// # Errors
/// Database errors.
pub async fn all_leads(
    storage: &dyn Storage,
    filter: &storage::LeadFilter,
    scope: Option<&[i64]>,
) -> Result<Vec<storage::LeadView>, ApiError> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = storage
            .leads(
                filter,
                scope,
                storage::PageRequest {
                    limit: storage::PageRequest::MAX_LIMIT,
                    cursor,
                },
            )
            .await?;
        out.extend(page.items);
        if out.len() >= MAX_EXPORT_LEADS {
            out.truncate(MAX_EXPORT_LEADS);
            break;
        }
        match page.next.as_deref().map(str::parse::<i64>) {
            Some(Ok(next)) => cursor = Some(next),
            _ => break,
        }
    }
    Ok(out)
}

/// A CSV download.
pub fn csv_response(file_name: &str, csv: &Csv) -> axum::response::Response {
    use axum::http::header;
    use axum::response::IntoResponse;
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file_name}\""),
            ),
        ],
        csv.bytes(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_cells_are_neutralised() {
        for hostile in ["=1+1", "+7", "-5", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(neutralise(hostile), format!("'{hostile}"));
        }
        assert_eq!(neutralise("Иванов"), "Иванов");
        assert_eq!(neutralise("1500,5"), "1500,5");
    }

    #[test]
    fn weeks_start_on_monday_and_the_period_clips_them() {
        let p = ReportParams {
            from: Some("2026-03-04".into()),
            to: Some("2026-03-20".into()),
            group: Some("week".into()),
            ..ReportParams::default()
        };
        let today = NaiveDate::from_ymd_opt(2026, 3, 31).unwrap_or_default();
        let r = resolve(&p, None, chrono_tz::Europe::Moscow, today).expect("resolves");
        let starts: Vec<&str> = r.buckets.iter().map(|b| b.start.as_str()).collect();
        assert_eq!(starts, ["2026-03-04", "2026-03-09", "2026-03-16"]);
        assert_eq!(r.query.bounds.len(), 4);
        // Moscow is UTC+3: the period starts at 21:00 UTC the day before.
        assert_eq!(r.query.bounds[0].to_rfc3339(), "2026-03-03T21:00:00+00:00");
        assert_eq!(r.query.bounds[3].to_rfc3339(), "2026-03-20T21:00:00+00:00");
    }
}
