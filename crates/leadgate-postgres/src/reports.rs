//! [`Reports`] in the PostgreSQL backend.
//!
//! Every query joins a small table of the buckets (`WITH b (i, lo, hi) AS (VALUES ...)`) to the rows by time,
//! so each bucket is one range walk of a time index (`leads_by_received`, which also carries the columns the
//! lead reports group and filter by, `messages_by_received`, `collector_runs_by_start`) and the database does
//! all the counting: the order value is summed as `numeric` (exact), and the response times' median and 90th
//! percentile are `percentile_disc` (nearest rank), per manager, per calendar and in total in one pass
//! (`GROUPING SETS`).

use std::collections::HashMap;
use std::str::FromStr;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;
use sqlx::{Postgres, QueryBuilder};

use super::{Error, PgStorage, Result, ms, push_calendar_ids};
use leadgate_domain::lead::Channel;
use leadgate_storage::{
    self as storage, HealthBucket, LeadSeries, OrdersBucket, OutcomeBucket, ReportQuery,
    ReportSource, Reports, ResponseReport, ResponseStat, SeriesCount,
};

/// `WITH b (i, lo, hi) AS (VALUES ...)`: the buckets as a table.
fn push_buckets(q: &mut QueryBuilder<Postgres>, bounds: &[DateTime<Utc>]) {
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

/// The leads received in the buckets, with the report's filters: `FROM b JOIN leads l ... WHERE ...`.
fn push_leads_from(q: &mut QueryBuilder<Postgres>, query: &ReportQuery, joins: &str) {
    q.push(" FROM b JOIN leads l ON l.received_at >= b.lo AND l.received_at < b.hi ");
    q.push(joins);
    q.push(" WHERE TRUE");
    push_lead_filters(q, query);
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

/// One group of the response times: per manager (`by_manager`), per calendar (`by_calendar`) or the total
/// (neither).
#[derive(sqlx::FromRow)]
struct ResponseRow {
    by_manager: bool,
    by_calendar: bool,
    first_action_by: Option<i64>,
    calendar_id: Option<i64>,
    answered: i64,
    median_secs: Option<i64>,
    p90_secs: Option<i64>,
    late: i64,
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
        let mut q = QueryBuilder::<Postgres>::new("");
        push_buckets(&mut q, &query.bounds);
        q.push(format!("SELECT b.i AS i, {key} AS key, COUNT(*) AS n"));
        push_leads_from(&mut q, query, joins);
        q.push(format!(" GROUP BY b.i, {key}"));
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
        let mut q = QueryBuilder::<Postgres>::new("");
        push_buckets(&mut q, &query.bounds);
        q.push(
            "SELECT b.i AS i, COUNT(*) FILTER (WHERE l.kind = 'order') AS orders,
                 COUNT(*) FILTER (WHERE l.kind = 'contact') AS contacts,
                 SUM(v.value) FILTER (WHERE l.kind = 'order')::text AS value",
        );
        push_leads_from(
            &mut q,
            query,
            "LEFT JOIN LATERAL (SELECT SUM(ol.amount::numeric) AS value FROM order_lines ol
                 WHERE ol.lead_id = l.id AND ol.amount IS NOT NULL AND ol.removed_at IS NULL) v ON TRUE",
        );
        q.push(" GROUP BY b.i");
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
        let mut q = QueryBuilder::<Postgres>::new("");
        push_buckets(&mut q, &query.bounds);
        q.push(
            "SELECT b.i AS i,
                 COUNT(*) FILTER (WHERE l.status = 'new') AS new,
                 COUNT(*) FILTER (WHERE l.status = 'in_progress') AS in_progress,
                 COUNT(*) FILTER (WHERE l.status = 'done') AS done,
                 COUNT(*) FILTER (WHERE l.status = 'rejected') AS rejected",
        );
        push_leads_from(&mut q, query, "");
        q.push(" GROUP BY b.i");
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
        let mut rows: Vec<ResponseRow> = Vec::new();
        let mut unanswered: Vec<(i64, i64)> = Vec::new();
        if buckets(query) > 0 {
            // Answered leads: time to the first action in whole seconds (never negative), its median and 90th
            // percentile by nearest rank, per manager, per calendar and over all of them.
            let mut q = QueryBuilder::<Postgres>::new("");
            push_buckets(&mut q, &query.bounds);
            q.push(
                ", t AS (SELECT l.calendar_id, l.first_action_by,
                     GREATEST(l.first_action_at - l.received_at, 0) AS took",
            );
            push_leads_from(&mut q, query, "");
            q.push(" AND l.first_action_at IS NOT NULL) ");
            q.push(
                "SELECT GROUPING(first_action_by) = 0 AS by_manager,
                     GROUPING(calendar_id) = 0 AS by_calendar, first_action_by, calendar_id,
                     COUNT(*) AS answered,
                     (percentile_disc(0.5) WITHIN GROUP (ORDER BY took / 1000))::bigint AS median_secs,
                     (percentile_disc(0.9) WITHIN GROUP (ORDER BY took / 1000))::bigint AS p90_secs,
                     COUNT(*) FILTER (WHERE took > ",
            )
            .push_bind(threshold_ms)
            .push(
                ") AS late FROM t GROUP BY GROUPING SETS ((first_action_by), (calendar_id), ())",
            );
            rows = q.build_query_as().fetch_all(&self.pool).await?;
            // Leads still new and unanswered past the threshold, counted per calendar. Leads acted on before
            // the first action was recorded are neither: what happened to them first is not known.
            let mut q = QueryBuilder::<Postgres>::new("");
            push_buckets(&mut q, &query.bounds);
            q.push("SELECT l.calendar_id, COUNT(*)");
            push_leads_from(&mut q, query, "");
            q.push(" AND l.first_action_at IS NULL AND l.status = 'new' AND l.received_at < ")
                .push_bind(now_ms - threshold_ms);
            q.push(" GROUP BY l.calendar_id");
            unanswered = q.build_query_as().fetch_all(&self.pool).await?;
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

        let stat = |id: Option<i64>, name: String, r: &ResponseRow| ResponseStat {
            id,
            name,
            answered: r.answered,
            median_secs: r.median_secs,
            p90_secs: r.p90_secs,
            late: r.late,
        };
        let empty = |id: Option<i64>, name: String| ResponseStat {
            id,
            name,
            answered: 0,
            median_secs: None,
            p90_secs: None,
            late: 0,
        };
        let mut managers = Vec::new();
        let mut calendars: HashMap<i64, ResponseStat> = HashMap::new();
        let mut total = empty(None, String::new());
        for r in &rows {
            match (r.by_manager, r.by_calendar) {
                // Actions recorded without a user are in their calendar and the total only.
                (true, _) => {
                    if let Some(id) = r.first_action_by {
                        let name = logins.get(&id).cloned().unwrap_or_else(|| id.to_string());
                        managers.push(stat(Some(id), name, r));
                    }
                }
                (false, true) => {
                    if let Some(id) = r.calendar_id {
                        let name = calendar_names
                            .get(&id)
                            .cloned()
                            .unwrap_or_else(|| id.to_string());
                        calendars.insert(id, stat(Some(id), name, r));
                    }
                }
                (false, false) => total = stat(None, String::new(), r),
            }
        }
        for (calendar_id, count) in unanswered {
            calendars
                .entry(calendar_id)
                .or_insert_with(|| {
                    let name = calendar_names
                        .get(&calendar_id)
                        .cloned()
                        .unwrap_or_else(|| calendar_id.to_string());
                    empty(Some(calendar_id), name)
                })
                .late += count;
            total.late += count;
        }
        managers.sort_by(|a, b| a.name.cmp(&b.name));
        let mut calendars: Vec<ResponseStat> = calendars.into_values().collect();
        calendars.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(ResponseReport {
            managers,
            calendars,
            total,
        })
    }

    async fn health_report(&self, query: &ReportQuery) -> Result<Vec<HealthBucket>> {
        let len = buckets(query);
        let mut out = vec![HealthBucket::default(); len];
        if len == 0 {
            return Ok(out);
        }
        let mut q = QueryBuilder::<Postgres>::new("");
        push_buckets(&mut q, &query.bounds);
        q.push(
            "SELECT b.i AS i,
                 COUNT(*) FILTER (WHERE m.outcome = 'imported') AS imported,
                 COUNT(*) FILTER (WHERE m.outcome = 'duplicate') AS duplicates,
                 COUNT(*) FILTER (WHERE m.outcome = 'skipped') AS skipped,
                 COUNT(*) FILTER (WHERE m.outcome IN ('rejected', 'discarded')) AS quarantined
             FROM b JOIN messages m ON m.received_at >= b.lo AND m.received_at < b.hi WHERE TRUE",
        );
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
        q.push(" GROUP BY b.i");
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
            let mut q = QueryBuilder::<Postgres>::new("");
            push_buckets(&mut q, &query.bounds);
            q.push(
                "SELECT b.i AS i, COUNT(*) AS runs, COUNT(*) FILTER (WHERE r.error IS NOT NULL) AS failed
                 FROM b JOIN collector_runs r ON r.started_at >= b.lo AND r.started_at < b.hi
                 WHERE TRUE",
            );
            if let Some(ReportSource::Collector(id)) = query.source {
                q.push(" AND r.collector_id = ").push_bind(id);
            }
            q.push(" GROUP BY b.i");
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
}
