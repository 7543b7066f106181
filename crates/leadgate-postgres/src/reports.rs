//! [`Reports`] in the PostgreSQL backend.
//!
//! Every query walks the report's period by time and the database does the counting. The lead counts, the orders'
//! value (`numeric`, exact), the outcomes and the leads still unanswered are summed from `lead_days` (the
//! hourly counts summed per day of the shop, see migration 0013) when every bound starts one of the shop's
//! days, from `lead_hours` (the leads counted per UTC hour by triggers, and by the intake's own last statement,
//! migrations 0010 and 0018) when every bound is a whole hour, as a local midnight is in any time zone with a
//! whole-hour offset; otherwise, and for the UTM
//! splits (not in the rollups), they walk `leads_by_received`, which also carries the columns the lead
//! reports group and filter by; the health report sums `message_days` or `message_hours` (kept the same way,
//! the intake's records counted in its last statement since migration 0019) and
//! `collector_run_hours` the same way, or walks `messages_by_received` and `collector_runs_by_start`. A row's bucket is a binary search in the bounds
//! (`width_bucket`). A percentile needs every value: the response times of the answered
//! leads are kept, as text, per hour of receipt in `lead_response_hours` (see its migration), and the report
//! concatenates them per calendar and manager in one row each (with bounds off the hour, from the partial
//! index `leads_answered`); the percentiles are taken in [`leadgate_storage::response_report`].

use std::collections::HashMap;
use std::str::FromStr;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use sqlx::{Postgres, QueryBuilder};

use super::{Error, PgStorage, Result, ms, push_calendar_ids};
use leadgate_domain::lead::Channel;
use leadgate_storage::{
    self as storage, AnsweredTimes, HealthBucket, LeadSeries, OrdersBucket, OutcomeBucket,
    ReportQuery, ReportRows as Read, ReportSource, Reports, ResponseReport, SeriesCount,
};

/// The bucket of `column` (a time): `(width_bucket(column, bounds) - 1)::bigint`, one binary search in the
/// bounds per row. (Joining a table of the buckets by range made the planner compare every row of the period
/// with every bucket: a year by day of counts took ten times as long.)
fn push_bucket(q: &mut QueryBuilder<Postgres>, column: &str, bounds: &[DateTime<Utc>]) {
    let bounds: Vec<i64> = bounds.iter().map(|b| ms(*b)).collect();
    q.push(format!("(width_bucket({column}, "))
        .push_bind(bounds)
        .push("::bigint[]) - 1)::bigint");
}

/// ` column >= <first bound> AND column < <last bound>`: the period.
fn push_period(q: &mut QueryBuilder<Postgres>, column: &str, bounds: &[DateTime<Utc>]) {
    let lo = bounds.first().map_or(0, |b| ms(*b));
    let hi = bounds.last().map_or(0, |b| ms(*b));
    q.push(format!(" {column} >= "))
        .push_bind(lo)
        .push(format!(" AND {column} < "))
        .push_bind(hi);
}

/// The filters of a lead report, on `l`.
fn push_lead_filters(q: &mut QueryBuilder<Postgres>, query: &ReportQuery) {
    if let Some(calendars) = &query.calendars {
        push_calendar_ids(q, calendars);
    }
    if let Some(channel) = query.channel {
        q.push(" AND l.channel = ").push_bind(channel.as_str());
    }
    match query.source {
        Some(ReportSource::Collector(id)) => {
            q.push(" AND l.collector_id = ").push_bind(id);
        }
        Some(ReportSource::Http(id)) => {
            q.push(" AND l.http_source_id = ").push_bind(id);
        }
        None => {}
    }
    if let Some(kind) = query.kind {
        q.push(" AND l.kind = ").push_bind(kind.as_str());
    }
}

/// The leads received in the period, with the report's filters: `FROM leads l ... WHERE ...`.
fn push_leads_from(q: &mut QueryBuilder<Postgres>, query: &ReportQuery, joins: &str) {
    q.push(" FROM leads l ");
    q.push(joins);
    q.push(" WHERE");
    push_period(q, "l.received_at", &query.bounds);
    push_lead_filters(q, query);
}

/// The rows of a rollup (`lead_days` by `l.day` or `lead_hours` by `l.hour`) in the period, as `l` (its
/// columns are named as the leads' are, so the filters are the same), with the report's filters:
/// `FROM <rollup> l ... WHERE ...`.
fn push_rollup_from(
    q: &mut QueryBuilder<Postgres>,
    query: &ReportQuery,
    joins: &str,
    (table, time): (&str, &str),
) {
    q.push(format!(" FROM {table} l "));
    q.push(joins);
    q.push(" WHERE");
    push_period(q, time, &query.bounds);
    push_lead_filters(q, query);
}

/// How a lead report reads its leads, in SQL.
trait ReadSql {
    fn time(self) -> &'static str;
    fn push_select_bucket(self, q: &mut QueryBuilder<Postgres>, query: &ReportQuery);
    fn push_from(self, q: &mut QueryBuilder<Postgres>, query: &ReportQuery, joins: &str);
    fn count(self, condition: &str) -> String;
}

impl ReadSql for Read {
    /// The time a row is bucketed by.
    fn time(self) -> &'static str {
        match self {
            Read::Days => "l.day",
            Read::Hours => "l.hour",
            Read::Leads => "l.received_at",
        }
    }

    /// `SELECT <the bucket> AS i`.
    fn push_select_bucket(self, q: &mut QueryBuilder<Postgres>, query: &ReportQuery) {
        q.push("SELECT ");
        push_bucket(q, self.time(), &query.bounds);
        q.push(" AS i");
    }

    /// `FROM ... WHERE ...` of this reading.
    fn push_from(self, q: &mut QueryBuilder<Postgres>, query: &ReportQuery, joins: &str) {
        match self {
            Read::Days => push_rollup_from(q, query, joins, ("lead_days", "l.day")),
            Read::Hours => push_rollup_from(q, query, joins, ("lead_hours", "l.hour")),
            Read::Leads => push_leads_from(q, query, joins),
        }
    }

    /// The leads of a group matching `condition` (on `l`; `TRUE` for all of them), as `bigint`.
    fn count(self, condition: &str) -> String {
        match self {
            Read::Days | Read::Hours => {
                format!("COALESCE(SUM(l.leads) FILTER (WHERE {condition}), 0)::bigint")
            }
            Read::Leads => format!("COUNT(*) FILTER (WHERE {condition})"),
        }
    }
}

fn buckets(query: &ReportQuery) -> usize {
    query.bounds.len().saturating_sub(1)
}

fn index(i: i64, len: usize) -> Option<usize> {
    usize::try_from(i).ok().filter(|i| *i < len)
}

#[derive(sqlx::FromRow)]
struct SeriesRow {
    i: i64,
    key: Option<String>,
    n: i64,
}

#[derive(sqlx::FromRow)]
struct OrdersRow {
    i: i64,
    orders: i64,
    contacts: i64,
    /// The exact `numeric` sum as text (`NULL`: no amounts).
    value: Option<String>,
}

#[derive(sqlx::FromRow)]
struct OutcomeRow {
    i: i64,
    new: i64,
    in_progress: i64,
    done: i64,
    rejected: i64,
}

#[derive(sqlx::FromRow)]
struct MessagesRow {
    i: i64,
    imported: i64,
    duplicates: i64,
    skipped: i64,
    quarantined: i64,
}

#[derive(sqlx::FromRow)]
struct RunsRow {
    i: i64,
    runs: i64,
    failed: i64,
}

impl PgStorage {
    /// How a report reads: per day when every bound starts one of the kept days (see migration 0013) and the
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
        let bounds: Vec<i64> = query.bounds.iter().map(|b| ms(*b)).collect();
        let days: bool = sqlx::query_scalar(
            "SELECT (SELECT COUNT(*) FROM report_days WHERE day_start = ANY($1)) = cardinality($1)
                AND (SELECT COALESCE(SUM(day_end - day_start), 0) FROM report_days
                      WHERE day_start >= $2 AND day_start < $3) = $3 - $2",
        )
        .bind(&bounds)
        .bind(lo)
        .bind(hi)
        .fetch_one(&self.pool)
        .await?;
        Ok(if days { Read::Days } else { Read::Hours })
    }

    /// See [`Reports::use_report_zone`]: the hourly rollups are locked against writers (which wait) while
    /// the days are written and the daily rollups summed from them, in one transaction.
    async fn use_zone(&self, zone: Tz) -> Result<bool> {
        // Read first: every command's start asks, and the zone seldom changes; only a change takes the lock.
        let kept: Option<String> = sqlx::query_scalar("SELECT zone FROM report_zone")
            .fetch_optional(&self.pool)
            .await?;
        if kept.as_deref() == Some(zone.name()) {
            return Ok(false);
        }
        let mut tx = self.pool.begin().await?;
        // One instance at a time: another that starts with the same zone then finds it kept.
        sqlx::query("LOCK TABLE report_zone IN EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await?;
        let kept: Option<String> = sqlx::query_scalar("SELECT zone FROM report_zone")
            .fetch_optional(&mut *tx)
            .await?;
        if kept.as_deref() == Some(zone.name()) {
            return Ok(false);
        }
        // Writers wait until the rebuild commits. In the order the intake writes them (a lead, then its ledger
        // record), so a batch that holds the one is never waiting for the other behind this lock.
        sqlx::query("LOCK TABLE lead_hours, message_hours IN SHARE MODE")
            .execute(&mut *tx)
            .await?;
        let (starts, ends): (Vec<i64>, Vec<i64>) = storage::report_days(zone).into_iter().unzip();
        for statement in [
            "DELETE FROM report_days",
            "DELETE FROM lead_days",
            "DELETE FROM message_days",
        ] {
            sqlx::query(statement).execute(&mut *tx).await?;
        }
        sqlx::query(
            "INSERT INTO report_days (day_start, day_end) SELECT * FROM UNNEST($1::bigint[], $2::bigint[])",
        )
        .bind(&starts)
        .bind(&ends)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO lead_days (day, calendar_id, channel, collector_id, http_source_id, kind, status,
                                    answered, leads, value)
             SELECT * FROM (
                 SELECT report_day(hour) AS day, calendar_id, channel, collector_id, http_source_id, kind,
                        status, answered, SUM(leads), SUM(value)
                   FROM lead_hours GROUP BY 1, 2, 3, 4, 5, 6, 7, 8) h
              WHERE day IS NOT NULL",
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO message_days (day, channel, collector_id, http_source_id, outcome, messages)
             SELECT * FROM (
                 SELECT report_day(hour) AS day, channel, collector_id, http_source_id, outcome, SUM(messages)
                   FROM message_hours GROUP BY 1, 2, 3, 4, 5) h
              WHERE day IS NOT NULL",
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO report_zone (id, zone) VALUES (1, $1)
             ON CONFLICT (id) DO UPDATE SET zone = EXCLUDED.zone",
        )
        .bind(zone.name())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn leads_report(&self, query: &ReportQuery, by: LeadSeries) -> Result<Vec<SeriesCount>> {
        if buckets(query) == 0 {
            return Ok(Vec::new());
        }
        let (key, joins) = match by {
            LeadSeries::Channel => ("l.channel", ""),
            LeadSeries::Calendar => ("c.name", "JOIN calendars c ON c.id = l.calendar_id"),
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
        let read = if utm {
            Read::Leads
        } else {
            self.read_of(query).await?
        };
        let n = read.count("TRUE");
        let mut q = QueryBuilder::<Postgres>::new("");
        read.push_select_bucket(&mut q, query);
        q.push(format!(", {key} AS key, {n} AS n"));
        read.push_from(&mut q, query, joins);
        q.push(format!(" GROUP BY i, {key} HAVING {n} > 0"));
        let rows: Vec<SeriesRow> = q.build_query_as().fetch_all(&self.pool).await?;
        let len = buckets(query);
        let mut out: Vec<SeriesCount> = rows
            .into_iter()
            .filter_map(|r| {
                index(r.i, len).map(|bucket| SeriesCount {
                    bucket,
                    key: r.key,
                    count: r.n,
                })
            })
            .collect();
        // By bucket, then by key in byte order with "not sent" first, whatever the database's collation.
        out.sort_by(|a, b| (a.bucket, &a.key).cmp(&(b.bucket, &b.key)));
        Ok(out)
    }

    async fn orders_report(&self, query: &ReportQuery) -> Result<Vec<OrdersBucket>> {
        let len = buckets(query);
        let mut out = vec![OrdersBucket::default(); len];
        if len == 0 {
            return Ok(out);
        }
        // The value: the lines' amounts (decimal text) summed as `numeric` per lead, then per bucket.
        let read = self.read_of(query).await?;
        let mut q = QueryBuilder::<Postgres>::new("");
        read.push_select_bucket(&mut q, query);
        q.push(format!(
            ", {} AS orders, {} AS contacts",
            read.count("l.kind = 'order'"),
            read.count("l.kind = 'contact'")
        ));
        match read {
            Read::Days | Read::Hours => {
                q.push(", SUM(l.value) FILTER (WHERE l.kind = 'order')::text AS value");
                read.push_from(&mut q, query, "");
            }
            Read::Leads => {
                q.push(", SUM(v.value) FILTER (WHERE l.kind = 'order')::text AS value");
                push_leads_from(
                    &mut q,
                    query,
                    "LEFT JOIN LATERAL (SELECT SUM(ol.amount::numeric) AS value FROM order_lines ol
                         WHERE ol.lead_id = l.id AND ol.amount IS NOT NULL AND ol.removed_at IS NULL) v ON TRUE",
                );
            }
        }
        q.push(" GROUP BY i");
        let rows: Vec<OrdersRow> = q.build_query_as().fetch_all(&self.pool).await?;
        for r in rows {
            if let Some(b) = index(r.i, len).and_then(|i| out.get_mut(i)) {
                b.orders = r.orders;
                b.contacts = r.contacts;
                b.value = match r.value {
                    Some(text) => Decimal::from_str(&text)
                        .map_err(|_| Error::Corrupt(format!("order value = {text:?}")))?
                        .round_dp(2)
                        .normalize(),
                    None => Decimal::ZERO,
                };
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
        let mut q = QueryBuilder::<Postgres>::new("");
        read.push_select_bucket(&mut q, query);
        q.push(format!(
            ", {} AS new, {} AS in_progress, {} AS done, {} AS rejected",
            read.count("l.status = 'new'"),
            read.count("l.status = 'in_progress'"),
            read.count("l.status = 'done'"),
            read.count("l.status = 'rejected'"),
        ));
        read.push_from(&mut q, query, "");
        q.push(" GROUP BY i");
        let rows: Vec<OutcomeRow> = q.build_query_as().fetch_all(&self.pool).await?;
        for r in rows {
            if let Some(b) = index(r.i, len).and_then(|i| out.get_mut(i)) {
                *b = OutcomeBucket {
                    new: r.new,
                    in_progress: r.in_progress,
                    done: r.done,
                    rejected: r.rejected,
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
        if buckets(query) > 0 {
            // The answered leads' times per calendar and manager (the percentiles need every value), from the
            // hourly rollup or the leads: one row of text each.
            let read = self.read_of(query).await?;
            let mut q = match read {
                Read::Days | Read::Hours => {
                    let mut q = QueryBuilder::<Postgres>::new(
                        "SELECT l.calendar_id, l.first_action_by, string_agg(l.times, '')
                         FROM lead_response_hours l WHERE",
                    );
                    push_period(&mut q, "l.hour", &query.bounds);
                    q
                }
                Read::Leads => {
                    let mut q = QueryBuilder::<Postgres>::new(
                        "SELECT l.calendar_id, COALESCE(l.first_action_by, 0),
                             string_agg(lead_response_time(l.received_at, l.first_action_at), '')
                         FROM leads l WHERE l.first_action_at IS NOT NULL AND",
                    );
                    push_period(&mut q, "l.received_at", &query.bounds);
                    q
                }
            };
            push_lead_filters(&mut q, query);
            q.push(" GROUP BY 1, 2");
            let rows: Vec<(i64, i64, String)> = q.build_query_as().fetch_all(&self.pool).await?;
            answered = rows
                .into_iter()
                .map(|(calendar_id, by, times)| AnsweredTimes {
                    calendar_id,
                    answered_by: (by != 0).then_some(by),
                    times,
                })
                .collect();
            // Leads still new and unanswered past the threshold, counted per calendar. Leads acted on before
            // the first action was recorded are neither: what happened to them first is not known.
            let cutoff = now_ms - threshold_ms;
            let cutoff_day: Option<i64> = if read == Read::Days {
                sqlx::query_scalar("SELECT MAX(day_start) FROM report_days WHERE day_start <= $1")
                    .bind(cutoff)
                    .fetch_one(&self.pool)
                    .await?
            } else {
                None
            };
            let period = (
                query.bounds.first().map_or(0, |b| ms(*b)),
                query.bounds.last().map_or(0, |b| ms(*b)),
            );
            for (rows, from, to) in storage::unanswered_parts(read, period, cutoff, cutoff_day) {
                let (count, table, time, unanswered_now) = match rows {
                    Read::Days => (
                        "SUM(l.leads)::bigint",
                        "lead_days",
                        "l.day",
                        "NOT l.answered",
                    ),
                    Read::Hours => (
                        "SUM(l.leads)::bigint",
                        "lead_hours",
                        "l.hour",
                        "NOT l.answered",
                    ),
                    Read::Leads => (
                        "COUNT(*)",
                        "leads",
                        "l.received_at",
                        "l.first_action_at IS NULL",
                    ),
                };
                let mut q = QueryBuilder::<Postgres>::new(format!(
                    "SELECT l.calendar_id, {count} FROM {table} l WHERE {time} >= "
                ));
                q.push_bind(from)
                    .push(format!(" AND {time} < "))
                    .push_bind(to);
                push_lead_filters(&mut q, query);
                q.push(format!(
                    " AND {unanswered_now} AND l.status = 'new' GROUP BY l.calendar_id"
                ));
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

    async fn health_report(&self, query: &ReportQuery) -> Result<Vec<HealthBucket>> {
        let len = buckets(query);
        let mut out = vec![HealthBucket::default(); len];
        if len == 0 {
            return Ok(out);
        }
        // Summed from the daily or hourly rollups, or counted one by one (as the lead reports, see
        // `read_of`); the collector runs, a few a day, from the hourly one.
        let read = self.read_of(query).await?;
        let sum = |c: &str| format!("COALESCE(SUM(m.messages) FILTER (WHERE {c}), 0)::bigint");
        let hourly_runs = "SUM(r.runs)::bigint AS runs,
                 COALESCE(SUM(r.runs) FILTER (WHERE r.failed), 0)::bigint AS failed
             FROM collector_run_hours r WHERE";
        let (count, messages, runs): (fn(&str) -> String, &str, &str) = match read {
            Read::Days => (sum, "message_days m", hourly_runs),
            Read::Hours => (sum, "message_hours m", hourly_runs),
            Read::Leads => (
                |c: &str| format!("COUNT(*) FILTER (WHERE {c})"),
                "messages m",
                "COUNT(*) AS runs, COUNT(*) FILTER (WHERE r.error IS NOT NULL) AS failed
                 FROM collector_runs r WHERE",
            ),
        };
        let time = |table: &str| match read {
            Read::Days if table == "m" => "m.day".to_owned(),
            Read::Days | Read::Hours => format!("{table}.hour"),
            Read::Leads if table == "m" => "m.received_at".to_owned(),
            Read::Leads => "r.started_at".to_owned(),
        };
        let mut q = QueryBuilder::<Postgres>::new("SELECT ");
        push_bucket(&mut q, &time("m"), &query.bounds);
        q.push(format!(
            " AS i, {} AS imported, {} AS duplicates, {} AS skipped, {} AS quarantined
             FROM {messages} WHERE",
            count("m.outcome = 'imported'"),
            count("m.outcome = 'duplicate'"),
            count("m.outcome = 'skipped'"),
            count("m.outcome IN ('rejected', 'discarded')"),
        ));
        push_period(&mut q, &time("m"), &query.bounds);
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
        q.push(" GROUP BY i");
        let rows: Vec<MessagesRow> = q.build_query_as().fetch_all(&self.pool).await?;
        for r in rows {
            if let Some(b) = index(r.i, len).and_then(|i| out.get_mut(i)) {
                b.imported = r.imported;
                b.duplicates = r.duplicates;
                b.skipped = r.skipped;
                b.quarantined = r.quarantined;
            }
        }
        // Collector runs are mail; an HTTP source or another channel has none.
        let runs_apply = query.channel.is_none_or(|c| c == Channel::Mail)
            && !matches!(query.source, Some(ReportSource::Http(_)));
        if runs_apply {
            let mut q = QueryBuilder::<Postgres>::new("SELECT ");
            push_bucket(&mut q, &time("r"), &query.bounds);
            q.push(" AS i, ").push(runs);
            push_period(&mut q, &time("r"), &query.bounds);
            if let Some(ReportSource::Collector(id)) = query.source {
                q.push(" AND r.collector_id = ").push_bind(id);
            }
            q.push(" GROUP BY i");
            let rows: Vec<RunsRow> = q.build_query_as().fetch_all(&self.pool).await?;
            for r in rows {
                if let Some(b) = index(r.i, len).and_then(|i| out.get_mut(i)) {
                    b.runs = r.runs;
                    b.failed_runs = r.failed;
                }
            }
        }
        Ok(out)
    }
}

#[async_trait]
impl Reports for PgStorage {
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

    #[tokio::test]
    async fn a_report_by_the_shops_days_reads_the_daily_counts_of_the_shops_zone() {
        let pg = crate::testing::FreshPg::new().await;
        let storage = pg.storage();
        let start = Utc.with_ymd_and_hms(2025, 12, 31, 21, 0, 0).unwrap();
        let mut query = ReportQuery {
            bounds: (0..=365).map(|d| start + Duration::days(d)).collect(),
            ..ReportQuery::default()
        };
        // Before any zone's days are kept: the hours.
        assert_eq!(storage.read_of(&query).await.unwrap(), Read::Hours);
        assert!(storage.use_zone(chrono_tz::Europe::Moscow).await.unwrap());
        assert!(!storage.use_zone(chrono_tz::Europe::Moscow).await.unwrap());
        assert_eq!(storage.read_of(&query).await.unwrap(), Read::Days);
        // Another zone's days are not this report's buckets.
        assert!(
            storage
                .use_zone(chrono_tz::Asia::Vladivostok)
                .await
                .unwrap()
        );
        assert_eq!(storage.read_of(&query).await.unwrap(), Read::Hours);
        // Nor is a bucket of other whole hours, in any zone.
        assert!(storage.use_zone(chrono_tz::Europe::Moscow).await.unwrap());
        query.bounds[1] += Duration::hours(1);
        assert_eq!(storage.read_of(&query).await.unwrap(), Read::Hours);
    }
}
