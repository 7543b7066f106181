//! [`Reports`] in the SQLite backend.
//!
//! The buckets are a small table (`WITH b (i, lo, hi) AS (VALUES ...)`, standard SQL), and each bucket's
//! figures are one correlated subquery over its range (`SELECT b.i, (SELECT json_array(...) FROM ... WHERE
//! time >= b.lo AND time < b.hi) FROM b`), so each bucket is one range walk and the database does the
//! counting without sorting: a `GROUP BY b.i` over a join of the buckets and the rows sorted every row of the
//! period (a year's 35,000 hours of `lead_hours` cost about 10 ms in the sorter, four times the walk); the
//! buckets' figures come back as one JSON array, one row. The lead counts, the orders' value, the outcomes and
//! the leads still unanswered are summed from `lead_days` (the hourly counts summed per day of the shop, see
//! migration 0023) when every bound starts one of the shop's days, from `lead_hours` (the leads counted per
//! UTC hour by triggers, see its migration) when every bound is a whole hour, as a local midnight is in any
//! time zone with a whole-hour offset; otherwise, and for the UTM splits (not in the rollups), they walk
//! `leads_by_received`, which also carries the columns the lead reports group and filter by. The health
//! report sums `message_days` or `message_hours` and `collector_run_hours` the same way, or walks
//! `messages_by_received` and `collector_runs_by_start`. A percentile needs every value: the response times
//! of the answered leads are kept, as text, per hour of receipt in `lead_response_hours` (see its
//! migration), and the report reads the period's rows as one text (with bounds off the hour, the leads from
//! the partial index `leads_answered`); the percentiles are taken in [`leadgate_storage::response_report`].

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use rust_decimal::prelude::FromPrimitive;
use sqlx::{QueryBuilder, Sqlite};

use super::{Error, Result, SqliteStorage, ms};
use leadgate_domain::lead::Channel;
use leadgate_storage::{
    self as storage, AnsweredTimes, HealthBucket, LeadSeries, OrdersBucket, OutcomeBucket,
    ReportQuery, ReportRows as Read, ReportSource, Reports, ResponseReport, SeriesCount,
};

/// `SELECT <every bucket's figures> FROM b`, around the subquery of one bucket's figures (a JSON value): the
/// buckets' figures as one JSON array of `[i, figures]`, one row, so that a year by day hands one value to the
/// driver rather than 365 rows (each a hand-over between the database's thread and the caller's).
const BUCKETS_OPEN: &str = "SELECT json_group_array(json_array(b.i, json((";
const BUCKETS_CLOSE: &str = ")))) FROM b";

/// `WITH b (i, lo, hi) AS (VALUES ...)`: the buckets as a table.
fn push_buckets(q: &mut QueryBuilder<Sqlite>, bounds: &[DateTime<Utc>]) {
    q.push("WITH b (i, lo, hi) AS (VALUES ");
    for (i, w) in bounds.windows(2).enumerate() {
        if i > 0 {
            q.push(", ");
        }
        q.push("(")
            .push_bind(i64::try_from(i).unwrap_or(i64::MAX))
            .push(", ")
            .push_bind(ms(w[0]))
            .push(", ")
            .push_bind(ms(w[1]))
            .push(")");
    }
    q.push(") ");
}

/// The filters of a lead report, on `l`.
fn push_lead_filters(q: &mut QueryBuilder<Sqlite>, query: &ReportQuery) {
    if let Some(calendars) = &query.calendars {
        // Unary plus, here and on every other filter: the filters apply on the range walk of
        // `leads_by_received` or `lead_hours`, never choose the index to walk. With the statistics `PRAGMA optimize` gathers (a sample), the planner would
        // otherwise walk `leads_by_calendar_time` for every bucket: at a million leads, a manager's month
        // took half a minute instead of a few milliseconds.
        q.push(" AND +l.calendar_id IN (");
        let mut ids = q.separated(", ");
        for id in calendars {
            ids.push_bind(*id);
        }
        q.push(")");
    }
    if let Some(channel) = query.channel {
        q.push(" AND +l.channel = ").push_bind(channel.as_str());
    }
    match query.source {
        Some(ReportSource::Collector(id)) => {
            q.push(" AND +l.collector_id = ").push_bind(id);
        }
        Some(ReportSource::Http(id)) => {
            q.push(" AND +l.http_source_id = ").push_bind(id);
        }
        None => {}
    }
    if let Some(kind) = query.kind {
        q.push(" AND +l.kind = ").push_bind(kind.as_str());
    }
}

/// How a lead report reads its leads, in SQL.
trait ReadSql {
    fn push_bucket_rows(self, q: &mut QueryBuilder<Sqlite>, query: &ReportQuery, joins: &str);
    fn value(self) -> &'static str;
    fn count(self, condition: &str) -> String;
}

impl ReadSql for Read {
    /// ` FROM ... WHERE ...`: the rows of bucket `b` (the outer query's), as `l`, with the report's filters.
    fn push_bucket_rows(self, q: &mut QueryBuilder<Sqlite>, query: &ReportQuery, joins: &str) {
        let (from, time) = match self {
            Read::Days => ("lead_days", "l.day"),
            Read::Hours => ("lead_hours", "l.hour"),
            Read::Leads => ("leads", "l.received_at"),
        };
        q.push(format!(
            " FROM {from} l {joins} WHERE {time} >= b.lo AND {time} < b.hi"
        ));
        push_lead_filters(q, query);
    }

    /// The value of the orders among the rows: the rollup's sums of their lines, or each lead's lines.
    fn value(self) -> &'static str {
        match self {
            Read::Days | Read::Hours => "SUM(CASE WHEN l.kind = 'order' THEN l.value ELSE 0 END)",
            Read::Leads => {
                "SUM(CASE WHEN l.kind = 'order' THEN (SELECT SUM(CAST(ol.amount AS REAL)) FROM order_lines ol
                     WHERE ol.lead_id = l.id AND ol.amount IS NOT NULL AND ol.removed_at IS NULL) END)"
            }
        }
    }

    /// The leads of a group matching `condition` (on `l`; `1` for all of them).
    fn count(self, condition: &str) -> String {
        match self {
            Read::Days | Read::Hours => {
                format!("SUM(CASE WHEN {condition} THEN l.leads ELSE 0 END)")
            }
            Read::Leads => format!("SUM(CASE WHEN {condition} THEN 1 ELSE 0 END)"),
        }
    }
}

/// The leads report's query: leads per bucket and series.
fn push_leads_query(q: &mut QueryBuilder<Sqlite>, query: &ReportQuery, read: Read, by: LeadSeries) {
    let (key, joins) = match by {
        LeadSeries::Channel => ("l.channel", ""),
        LeadSeries::Calendar => ("c.name", "CROSS JOIN calendars c ON c.id = l.calendar_id"),
        LeadSeries::Source => (
            "COALESCE(co.name, hs.name)",
            "LEFT JOIN collectors co ON co.id = l.collector_id
             LEFT JOIN http_sources hs ON hs.id = l.http_source_id",
        ),
        LeadSeries::Kind => ("l.kind", ""),
        LeadSeries::UtmSource => ("l.utm_source", ""),
        LeadSeries::UtmMedium => ("l.utm_medium", ""),
        LeadSeries::UtmCampaign => ("l.utm_campaign", ""),
    };
    // The rollup has no UTM values: those splits count the leads.
    let utm = matches!(
        by,
        LeadSeries::UtmSource | LeadSeries::UtmMedium | LeadSeries::UtmCampaign
    );
    let read = if utm { Read::Leads } else { read };
    push_buckets(q, &query.bounds);
    q.push(format!(
        "{BUCKETS_OPEN}SELECT json_group_array(json_array(k, n)) FROM (SELECT {key} AS k, {} AS n",
        read.count("1")
    ));
    read.push_bucket_rows(q, query, joins);
    q.push(format!(" GROUP BY {key}){BUCKETS_CLOSE}"));
}

/// `WITH b ... SELECT b.i, (SELECT json_array(<figures>) FROM <the bucket's rows>) FROM b`: each bucket's
/// figures as a JSON array.
fn push_figures_query(
    q: &mut QueryBuilder<Sqlite>,
    query: &ReportQuery,
    read: Read,
    figures: &[&str],
) {
    push_buckets(q, &query.bounds);
    q.push(format!(
        "{BUCKETS_OPEN}SELECT json_array({})",
        figures.join(", ")
    ));
    read.push_bucket_rows(q, query, "");
    q.push(BUCKETS_CLOSE);
}

/// The leads still new and unanswered (no first action) per calendar, received from `lo` to `hi`, counted
/// from `rows`.
fn push_unanswered_query(
    q: &mut QueryBuilder<Sqlite>,
    query: &ReportQuery,
    rows: Read,
    (lo, hi): (i64, i64),
) {
    let (count, table, time, unanswered) = match rows {
        Read::Days => ("SUM(l.leads)", "lead_days", "l.day", "+l.answered = 0"),
        Read::Hours => ("SUM(l.leads)", "lead_hours", "l.hour", "+l.answered = 0"),
        Read::Leads => (
            "COUNT(*)",
            "leads",
            "l.received_at",
            "l.first_action_at IS NULL",
        ),
    };
    q.push(format!(
        "SELECT l.calendar_id, {count} FROM {table} l WHERE {time} >= "
    ))
    .push_bind(lo)
    .push(format!(" AND {time} < "))
    .push_bind(hi);
    push_lead_filters(q, query);
    q.push(format!(
        " AND {unanswered} AND +l.status = 'new' GROUP BY l.calendar_id"
    ));
}

/// `calendar user times` (user 0: not known), one part of the response report's text.
fn answered_times(part: &str) -> Result<AnsweredTimes> {
    let corrupt = || Error::Corrupt(format!("response times {part:?}"));
    let mut fields = part.splitn(3, ' ');
    let mut id = || {
        fields
            .next()
            .and_then(|f| f.parse::<i64>().ok())
            .ok_or_else(corrupt)
    };
    let calendar_id = id()?;
    let by = id()?;
    let times = fields.next().ok_or_else(corrupt)?.to_owned();
    Ok(AnsweredTimes {
        calendar_id,
        answered_by: (by != 0).then_some(by),
        times,
    })
}

fn buckets(query: &ReportQuery) -> usize {
    query.bounds.len().saturating_sub(1)
}

fn index(i: i64, len: usize) -> Option<usize> {
    usize::try_from(i).ok().filter(|i| *i < len)
}

impl SqliteStorage {
    /// How a report reads: per day when every bound starts one of the kept days (see migration 0023) and the
    /// days between them are all kept, else as [`Read::of`] says (the days are the database's).
    async fn read_of(&self, query: &ReportQuery) -> Result<Read> {
        let read = Read::of(query);
        let (Some(first), Some(last)) = (query.bounds.first(), query.bounds.last()) else {
            return Ok(read);
        };
        if read != Read::Hours {
            return Ok(read);
        }
        let (lo, hi) = (ms(*first), ms(*last));
        let mut q = QueryBuilder::<Sqlite>::new(
            "SELECT (SELECT COUNT(*) FROM report_days WHERE day_start IN (",
        );
        let mut starts = q.separated(", ");
        for b in &query.bounds {
            starts.push_bind(ms(*b));
        }
        q.push(")) = ")
            .push_bind(i64::try_from(query.bounds.len()).unwrap_or(i64::MAX))
            .push(
                " AND (SELECT COALESCE(SUM(day_end - day_start), 0) FROM report_days
                  WHERE day_start >= ",
            )
            .push_bind(lo)
            .push(" AND day_start < ")
            .push_bind(hi)
            .push(") = ")
            .push_bind(hi - lo);
        let days: bool = q.build_query_scalar().fetch_one(&self.pool).await?;
        Ok(if days { Read::Days } else { Read::Hours })
    }

    /// Each bucket's figures from a query of [`BUCKETS_OPEN`] ... [`BUCKETS_CLOSE`], parsed.
    async fn per_bucket<T: serde::de::DeserializeOwned>(
        &self,
        mut q: QueryBuilder<Sqlite>,
        len: usize,
    ) -> Result<Vec<(usize, T)>> {
        let json: String = q.build_query_scalar().fetch_one(&self.pool).await?;
        let buckets: Vec<(i64, T)> = super::from_json("report buckets", &json)?;
        Ok(buckets
            .into_iter()
            .filter_map(|(i, figures)| index(i, len).map(|bucket| (bucket, figures)))
            .collect())
    }

    async fn leads_report(&self, query: &ReportQuery, by: LeadSeries) -> Result<Vec<SeriesCount>> {
        let len = buckets(query);
        if len == 0 {
            return Ok(Vec::new());
        }
        let read = self.read_of(query).await?;
        let mut q = QueryBuilder::<Sqlite>::new("");
        push_leads_query(&mut q, query, read, by);
        let mut out = Vec::new();
        for (bucket, mut series) in self
            .per_bucket::<Vec<(Option<String>, i64)>>(q, len)
            .await?
        {
            series.sort();
            out.extend(
                series
                    .into_iter()
                    .filter(|(_, n)| *n > 0)
                    .map(|(key, count)| SeriesCount { bucket, key, count }),
            );
        }
        Ok(out)
    }

    async fn orders_report(&self, query: &ReportQuery) -> Result<Vec<OrdersBucket>> {
        let len = buckets(query);
        let mut out = vec![OrdersBucket::default(); len];
        if len == 0 {
            return Ok(out);
        }
        let read = self.read_of(query).await?;
        let mut q = QueryBuilder::<Sqlite>::new("");
        push_figures_query(
            &mut q,
            query,
            read,
            &[
                &read.count("l.kind = 'order'"),
                &read.count("l.kind = 'contact'"),
                read.value(),
            ],
        );
        type Figures = (Option<i64>, Option<i64>, Option<f64>);
        for (bucket, (orders, contacts, value)) in self.per_bucket::<Figures>(q, len).await? {
            if let Some(b) = out.get_mut(bucket) {
                b.orders = orders.unwrap_or_default();
                b.contacts = contacts.unwrap_or_default();
                // Amounts are decimal text; summed as doubles and rounded to kopecks, which is exact for any
                // sum of amounts in kopecks below 2^53 / 100 roubles.
                b.value = value
                    .and_then(Decimal::from_f64)
                    .map(|d| d.round_dp(2).normalize())
                    .unwrap_or_default();
            }
        }
        Ok(out)
    }

    async fn outcomes_report(&self, query: &ReportQuery) -> Result<Vec<OutcomeBucket>> {
        let len = buckets(query);
        let mut out = vec![OutcomeBucket::default(); len];
        if len == 0 {
            return Ok(out);
        }
        let read = self.read_of(query).await?;
        let mut q = QueryBuilder::<Sqlite>::new("");
        push_figures_query(
            &mut q,
            query,
            read,
            &[
                &read.count("l.status = 'new'"),
                &read.count("l.status = 'in_progress'"),
                &read.count("l.status = 'done'"),
                &read.count("l.status = 'rejected'"),
            ],
        );
        type Figures = (Option<i64>, Option<i64>, Option<i64>, Option<i64>);
        for (bucket, (new, in_progress, done, rejected)) in
            self.per_bucket::<Figures>(q, len).await?
        {
            if let Some(b) = out.get_mut(bucket) {
                *b = OutcomeBucket {
                    new: new.unwrap_or_default(),
                    in_progress: in_progress.unwrap_or_default(),
                    done: done.unwrap_or_default(),
                    rejected: rejected.unwrap_or_default(),
                };
            }
        }
        Ok(out)
    }

    async fn response_report(
        &self,
        query: &ReportQuery,
        now: DateTime<Utc>,
        threshold: Duration,
    ) -> Result<ResponseReport> {
        let threshold_ms = threshold.num_milliseconds();
        let now_ms = ms(now);
        let mut answered: Vec<AnsweredTimes> = Vec::new();
        let mut unanswered: Vec<(i64, i64)> = Vec::new();
        if let (Some(first), Some(last)) = (query.bounds.first(), query.bounds.last())
            && buckets(query) > 0
        {
            // The answered leads' times (the percentiles need every value), from the hourly rollup or the
            // leads, as one text: `calendar user times;` per row of the rollup or per lead (user 0: not known).
            // Neither grouped in SQL (a sort of the rows) nor a row each through the driver.
            let read = self.read_of(query).await?;
            let (select, time) = match read {
                Read::Days | Read::Hours => (
                    "SELECT group_concat(l.calendar_id || ' ' || l.first_action_by || ' ' || l.times, ';')
                     FROM lead_response_hours l WHERE 1 = 1",
                    "l.hour",
                ),
                Read::Leads => (
                    "SELECT group_concat(l.calendar_id || ' ' || COALESCE(l.first_action_by, 0) || ' '
                         || max(l.first_action_at - l.received_at, 0) || ',', ';')
                     FROM leads l WHERE l.first_action_at IS NOT NULL",
                    "l.received_at",
                ),
            };
            let mut q = QueryBuilder::<Sqlite>::new(select);
            q.push(format!(" AND {time} >= ")).push_bind(ms(*first));
            q.push(format!(" AND {time} < ")).push_bind(ms(*last));
            push_lead_filters(&mut q, query);
            let text: Option<String> = q.build_query_scalar().fetch_one(&self.pool).await?;
            answered = text
                .as_deref()
                .unwrap_or_default()
                .split_terminator(';')
                .map(answered_times)
                .collect::<Result<_>>()?;
            // Leads still new and unanswered past the threshold, counted per calendar: the rollup's whole
            // days before the cutoff's day, its whole hours before the cutoff's hour, then the leads received
            // before the cutoff one by one. Leads acted on before the first action was recorded are neither:
            // what happened to them first is not known.
            let cutoff = now_ms - threshold_ms;
            let cutoff_day: Option<i64> = if read == Read::Days {
                sqlx::query_scalar("SELECT MAX(day_start) FROM report_days WHERE day_start <= $1")
                    .bind(cutoff)
                    .fetch_one(&self.pool)
                    .await?
            } else {
                None
            };
            let period = (ms(*first), ms(*last));
            for (rows, from, to) in storage::unanswered_parts(read, period, cutoff, cutoff_day) {
                let mut q = QueryBuilder::<Sqlite>::new("");
                push_unanswered_query(&mut q, query, rows, (from, to));
                let counted: Vec<(i64, i64)> = q.build_query_as().fetch_all(&self.pool).await?;
                unanswered.extend(counted);
            }
        }
        let calendar_names: HashMap<i64, String> =
            sqlx::query_as::<_, (i64, String)>("SELECT id, name FROM calendars")
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .collect();
        let logins: HashMap<i64, String> =
            sqlx::query_as::<_, (i64, String)>("SELECT id, login FROM users")
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .collect();
        storage::response_report(&answered, &unanswered, &calendar_names, &logins, threshold)
            .map_err(Error::Corrupt)
    }

    /// See [`Reports::use_report_zone`]: the days written as one JSON array, the daily rollups summed from
    /// the hourly ones, in one write transaction.
    async fn use_zone(&self, zone: Tz) -> Result<bool> {
        // Read first: every command's start asks, and the zone seldom changes; only a change takes the lock.
        let kept: Option<String> = sqlx::query_scalar("SELECT zone FROM report_zone")
            .fetch_optional(&self.pool)
            .await?;
        if kept.as_deref() == Some(zone.name()) {
            return Ok(false);
        }
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let kept: Option<String> = sqlx::query_scalar("SELECT zone FROM report_zone")
            .fetch_optional(&mut *tx)
            .await?;
        if kept.as_deref() == Some(zone.name()) {
            return Ok(false);
        }
        let days = serde_json::to_string(&storage::report_days(zone))
            .map_err(|e| Error::Corrupt(e.to_string()))?;
        for statement in [
            "DELETE FROM report_days",
            "DELETE FROM lead_days",
            "DELETE FROM message_days",
        ] {
            sqlx::query(statement).execute(&mut *tx).await?;
        }
        sqlx::query(
            "INSERT INTO report_days (day_start, day_end)
             SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each($1)",
        )
        .bind(days)
        .execute(&mut *tx)
        .await?;
        // Each hour's day: the last day starting at or before it, if the hour is within it.
        sqlx::query(
            "INSERT INTO lead_days (day, calendar_id, channel, collector_id, http_source_id, kind, status,
                                    answered, leads, value)
             SELECT * FROM (
                 SELECT (SELECT d.day_start FROM (SELECT day_start, day_end FROM report_days
                                                   WHERE day_start <= h.hour ORDER BY day_start DESC LIMIT 1) d
                          WHERE d.day_end > h.hour) AS day,
                        calendar_id, channel, collector_id, http_source_id, kind, status, answered, SUM(leads),
                        SUM(value)
                   FROM lead_hours h GROUP BY 1, 2, 3, 4, 5, 6, 7, 8)
              WHERE day IS NOT NULL",
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO message_days (day, channel, collector_id, http_source_id, outcome, messages)
             SELECT * FROM (
                 SELECT (SELECT d.day_start FROM (SELECT day_start, day_end FROM report_days
                                                   WHERE day_start <= h.hour ORDER BY day_start DESC LIMIT 1) d
                          WHERE d.day_end > h.hour) AS day,
                        channel, collector_id, http_source_id, outcome, SUM(messages)
                   FROM message_hours h GROUP BY 1, 2, 3, 4, 5)
              WHERE day IS NOT NULL",
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO report_zone (id, zone) VALUES (1, $1)
             ON CONFLICT (id) DO UPDATE SET zone = excluded.zone",
        )
        .bind(zone.name())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn health_report(&self, query: &ReportQuery) -> Result<Vec<HealthBucket>> {
        let len = buckets(query);
        let mut out = vec![HealthBucket::default(); len];
        if len == 0 {
            return Ok(out);
        }
        // Summed from the daily or hourly rollups, or counted one by one (as the lead reports, see
        // `read_of`); the collector runs, a few a day, from the hourly one.
        let read = self.read_of(query).await?;
        let hourly_runs = (
            "SUM(r.runs)",
            "SUM(CASE WHEN r.failed = 1 THEN r.runs ELSE 0 END)",
            "collector_run_hours",
            "r.hour",
        );
        let ((one, messages, time), (runs, failed, run_rows, started)) = match read {
            Read::Days => (("m.messages", "message_days", "m.day"), hourly_runs),
            Read::Hours => (("m.messages", "message_hours", "m.hour"), hourly_runs),
            Read::Leads => (
                ("1", "messages", "m.received_at"),
                (
                    "COUNT(*)",
                    "SUM(CASE WHEN r.error IS NOT NULL THEN 1 ELSE 0 END)",
                    "collector_runs",
                    "r.started_at",
                ),
            ),
        };
        let mut q = QueryBuilder::<Sqlite>::new("");
        push_buckets(&mut q, &query.bounds);
        q.push(format!(
            "{BUCKETS_OPEN}SELECT json_array(
                 SUM(CASE WHEN m.outcome = 'imported' THEN {one} ELSE 0 END),
                 SUM(CASE WHEN m.outcome = 'duplicate' THEN {one} ELSE 0 END),
                 SUM(CASE WHEN m.outcome = 'skipped' THEN {one} ELSE 0 END),
                 SUM(CASE WHEN m.outcome IN ('rejected', 'discarded') THEN {one} ELSE 0 END))
             FROM {messages} m WHERE {time} >= b.lo AND {time} < b.hi"
        ));
        if let Some(channel) = query.channel {
            q.push(" AND m.channel = ").push_bind(channel.as_str());
        }
        match query.source {
            Some(ReportSource::Collector(id)) => {
                q.push(" AND m.collector_id = ").push_bind(id);
            }
            Some(ReportSource::Http(id)) => {
                q.push(" AND m.http_source_id = ").push_bind(id);
            }
            None => {}
        }
        q.push(BUCKETS_CLOSE);
        type Messages = (Option<i64>, Option<i64>, Option<i64>, Option<i64>);
        for (bucket, (imported, duplicates, skipped, quarantined)) in
            self.per_bucket::<Messages>(q, len).await?
        {
            if let Some(b) = out.get_mut(bucket) {
                b.imported = imported.unwrap_or_default();
                b.duplicates = duplicates.unwrap_or_default();
                b.skipped = skipped.unwrap_or_default();
                b.quarantined = quarantined.unwrap_or_default();
            }
        }
        // Collector runs are mail; an HTTP source or another channel has none.
        let runs_apply = query.channel.is_none_or(|c| c == Channel::Mail)
            && !matches!(query.source, Some(ReportSource::Http(_)));
        if runs_apply {
            let mut q = QueryBuilder::<Sqlite>::new("");
            push_buckets(&mut q, &query.bounds);
            q.push(format!(
                "{BUCKETS_OPEN}SELECT json_array({runs}, {failed})
                 FROM {run_rows} r WHERE {started} >= b.lo AND {started} < b.hi"
            ));
            if let Some(ReportSource::Collector(id)) = query.source {
                q.push(" AND r.collector_id = ").push_bind(id);
            }
            q.push(BUCKETS_CLOSE);
            for (bucket, (runs, failed)) in self
                .per_bucket::<(Option<i64>, Option<i64>)>(q, len)
                .await?
            {
                if let Some(b) = out.get_mut(bucket) {
                    b.runs = runs.unwrap_or_default();
                    b.failed_runs = failed.unwrap_or_default();
                }
            }
        }
        Ok(out)
    }
}

#[async_trait]
impl Reports for SqliteStorage {
    #[tracing::instrument(skip_all)]
    async fn report_leads(
        &self,
        query: &ReportQuery,
        by: LeadSeries,
    ) -> storage::Result<Vec<SeriesCount>> {
        Ok(self.leads_report(query, by).await?)
    }

    #[tracing::instrument(skip_all)]
    async fn report_orders(&self, query: &ReportQuery) -> storage::Result<Vec<OrdersBucket>> {
        Ok(self.orders_report(query).await?)
    }

    #[tracing::instrument(skip_all)]
    async fn report_outcomes(&self, query: &ReportQuery) -> storage::Result<Vec<OutcomeBucket>> {
        Ok(self.outcomes_report(query).await?)
    }

    #[tracing::instrument(skip_all)]
    async fn report_response(
        &self,
        query: &ReportQuery,
        now: DateTime<Utc>,
        threshold: Duration,
    ) -> storage::Result<ResponseReport> {
        Ok(self.response_report(query, now, threshold).await?)
    }

    #[tracing::instrument(skip_all)]
    async fn report_health(&self, query: &ReportQuery) -> storage::Result<Vec<HealthBucket>> {
        Ok(self.health_report(query).await?)
    }

    #[tracing::instrument(skip_all, fields(zone = %zone))]
    async fn use_report_zone(&self, zone: Tz) -> storage::Result<bool> {
        Ok(self.use_zone(zone).await?)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use sqlx::Connection;

    /// The plan of the query `build` writes, one line per step, on a new database whose `sqlite_stat1` has
    /// `stats` (table, index, statistics) in place of what `ANALYZE` finds for those tables.
    async fn plan_with(
        stats: &[(&str, &str, &str)],
        build: impl FnOnce(&mut QueryBuilder<Sqlite>),
    ) -> String {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("plan.db").display());
        let storage = SqliteStorage::connect(&url).await.unwrap();
        let pool = &storage.pool;
        sqlx::query("ANALYZE").execute(pool).await.unwrap();
        for (table, _, _) in stats {
            sqlx::query("DELETE FROM sqlite_stat1 WHERE tbl = $1")
                .bind(table)
                .execute(pool)
                .await
                .unwrap();
        }
        for (table, index, stat) in stats {
            sqlx::query("INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES ($1, $2, $3)")
                .bind(table)
                .bind(index)
                .bind(stat)
                .execute(pool)
                .await
                .unwrap();
        }
        // A new connection reads the statistics.
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        let mut q = QueryBuilder::<Sqlite>::new("EXPLAIN QUERY PLAN ");
        build(&mut q);
        let steps: Vec<(i64, i64, i64, String)> =
            q.build_query_as().fetch_all(&mut conn).await.unwrap();
        steps
            .into_iter()
            .map(|(_, _, _, detail)| detail)
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The plan of a report that counts the leads themselves (split by UTM source, which the rollup does not
    /// keep), with the statistics of a million-lead database as `PRAGMA optimize` samples them (about 400
    /// rows per calendar, where a calendar really has 250,000).
    async fn plan_with_sampled_statistics(query: &ReportQuery) -> String {
        let stats = [
            ("leads", "leads_by_received", "1062200 1 1 1 1 1"),
            ("leads", "leads_by_calendar_time", "1127880 401 1"),
            ("leads", "leads_by_status_calendar", "1213650 401 401 1"),
            ("leads", "leads_by_status", "1261104 401 1"),
            ("leads", "leads_by_starts_at", "1085175 1"),
        ];
        plan_with(&stats, |q| {
            push_leads_query(q, query, Read::Leads, LeadSeries::UtmSource)
        })
        .await
    }

    #[tokio::test]
    async fn a_managers_report_walks_the_period_not_each_calendar() {
        let start = Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap();
        let query = ReportQuery {
            bounds: (0..=30).map(|d| start + Duration::days(d)).collect(),
            calendars: Some(vec![1, 2]),
            channel: None,
            source: None,
            kind: None,
        };
        let plan = plan_with_sampled_statistics(&query).await;
        assert!(plan.contains("leads_by_received"), "{plan}");
        assert!(!plan.contains("leads_by_calendar_time"), "{plan}");
    }

    /// The plan of the query `build` writes, with the statistics `ANALYZE` gathered on the benchmark's year
    /// of a million leads: 35,040 hours in `lead_hours`, four calendars.
    async fn plan_at_a_million(build: impl FnOnce(&mut QueryBuilder<Sqlite>)) -> String {
        let stats = [
            ("lead_hours", "lead_hours", "35040 4 1 1 1 1 1 1 1"),
            ("lead_days", "lead_days", "1460 4 1 1 1 1 1 1 1"),
            ("calendars", "sqlite_autoindex_calendars_1", "4 1"),
        ];
        plan_with(&stats, build).await
    }

    #[tokio::test]
    async fn a_year_by_day_and_calendar_walks_each_days_hours_at_a_million_leads() {
        let start = Utc.with_ymd_and_hms(2019, 4, 30, 21, 0, 0).unwrap();
        let query = ReportQuery {
            bounds: (0..=365).map(|d| start + Duration::days(d)).collect(),
            calendars: None,
            channel: None,
            source: None,
            kind: None,
        };
        // Left to itself, SQLite built an index of `lead_hours` by calendar, kind or status for each day
        // (on the benchmark's database, 0.7 s instead of 24 ms for the leads split by calendar).
        let by_calendar =
            plan_at_a_million(|q| push_leads_query(q, &query, Read::Hours, LeadSeries::Calendar))
                .await;
        let orders = plan_at_a_million(|q| {
            push_figures_query(
                q,
                &query,
                Read::Hours,
                &["SUM(l.leads)", Read::Hours.value()],
            );
        })
        .await;
        let unanswered = plan_at_a_million(|q| {
            push_unanswered_query(
                q,
                &query,
                Read::Hours,
                (ms(start), ms(start + Duration::days(365))),
            );
        })
        .await;
        for plan in [by_calendar, orders, unanswered] {
            assert!(
                plan.contains("SEARCH l USING PRIMARY KEY (hour>? AND hour<?)"),
                "{plan}"
            );
            assert!(!plan.contains("AUTOMATIC"), "{plan}");
        }
        // The same per day of the shop.
        let by_calendar =
            plan_at_a_million(|q| push_leads_query(q, &query, Read::Days, LeadSeries::Calendar))
                .await;
        let outcomes = plan_at_a_million(|q| {
            push_figures_query(
                q,
                &query,
                Read::Days,
                &[&Read::Days.count("l.status = 'new'")],
            );
        })
        .await;
        for plan in [by_calendar, outcomes] {
            assert!(
                plan.contains("SEARCH l USING PRIMARY KEY (day>? AND day<?)"),
                "{plan}"
            );
            assert!(!plan.contains("AUTOMATIC"), "{plan}");
        }
    }

    /// The plan of the leads report's own query, on a database whose daily rollups are in `zone`'s days
    /// (`None`: none set yet).
    async fn leads_report_plan(query: &ReportQuery, zone: Option<Tz>) -> String {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("plan.db").display());
        let storage = SqliteStorage::connect(&url).await.unwrap();
        if let Some(zone) = zone {
            assert!(storage.use_zone(zone).await.unwrap(), "days written");
        }
        let read = storage.read_of(query).await.unwrap();
        let mut q = QueryBuilder::<Sqlite>::new("EXPLAIN QUERY PLAN ");
        push_leads_query(&mut q, query, read, LeadSeries::Channel);
        let steps: Vec<(i64, i64, i64, String)> =
            q.build_query_as().fetch_all(&storage.pool).await.unwrap();
        steps
            .into_iter()
            .map(|(_, _, _, detail)| detail)
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[tokio::test]
    async fn a_year_by_the_shops_days_is_summed_from_the_daily_counts_in_the_shops_zone() {
        let moscow = chrono_tz::Europe::Moscow;
        let start = Utc.with_ymd_and_hms(2025, 12, 31, 21, 0, 0).unwrap();
        let mut query = ReportQuery {
            bounds: (0..=365).map(|d| start + Duration::days(d)).collect(),
            ..ReportQuery::default()
        };
        let plan = leads_report_plan(&query, Some(moscow)).await;
        assert!(
            plan.contains("SEARCH l USING PRIMARY KEY (day>? AND day<?)"),
            "{plan}"
        );
        // Days of another zone are no buckets of this one: its hours are summed.
        let plan = leads_report_plan(&query, Some(chrono_tz::Asia::Vladivostok)).await;
        assert!(
            plan.contains("USING PRIMARY KEY (hour>? AND hour<?)"),
            "{plan}"
        );
        // Nor is a bucket that is not whole days.
        query.bounds[1] += Duration::hours(1);
        let plan = leads_report_plan(&query, Some(moscow)).await;
        assert!(
            plan.contains("USING PRIMARY KEY (hour>? AND hour<?)"),
            "{plan}"
        );
    }

    #[tokio::test]
    async fn a_year_by_the_shops_days_is_summed_from_the_hourly_counts_not_the_leads() {
        // The shop's midnights in Moscow: 21:00 UTC, whole hours.
        let start = Utc.with_ymd_and_hms(2025, 12, 31, 21, 0, 0).unwrap();
        let mut query = ReportQuery {
            bounds: (0..=365).map(|d| start + Duration::days(d)).collect(),
            calendars: Some(vec![1, 2]),
            channel: None,
            source: None,
            kind: None,
        };
        // `lead_hours` is a table without rowid: its primary key, walked per bucket from hour to hour (before
        // any zone's days are kept).
        let plan = leads_report_plan(&query, None).await;
        assert!(
            plan.contains("USING PRIMARY KEY (hour>? AND hour<?)"),
            "{plan}"
        );
        assert!(!plan.contains("leads_by_received"), "{plan}");

        // Bounds off the hour (a half-hour time zone) count the leads themselves.
        for b in &mut query.bounds {
            *b += Duration::minutes(30);
        }
        let plan = leads_report_plan(&query, None).await;
        assert!(plan.contains("leads_by_received"), "{plan}");
    }
}
