//! The web UI's lead lists in SQLite (part of the [`leadgate_storage::Leads`] aggregate): the inbox, its
//! pulse, the calendar views' days and the calendar feed, as light [`LeadSummary`] rows.
//!
//! Lists read only the columns they show, and every list is a keyset walk of an index:
//! `id < cursor ORDER BY id DESC`, never `OFFSET`. Where several calendars are selected, the calendar test
//! is written `+l.calendar_id IN (...)`: the unary plus keeps SQLite from choosing the per-calendar index,
//! which cannot deliver rows in id or time order across several calendars and would make it sort every
//! matching row; walking the id or time index and filtering stops after one page.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool};

use super::{
    Result, from_ms, lead_search_keys, ms, parse_enum, push_lead_contains, search_calendars,
};
use leadgate_domain::lead::{Channel, LeadKind, LeadStatus};
use leadgate_domain::payload::Contact;
use leadgate_storage::{
    AssigneeFilter, DaySlot, InboxPage, InboxPulse, InboxQuery, LeadSearch, LeadSummary,
    PageRequest,
};

/// The columns of a [`LeadSummary`], without `SELECT`, so a query can add its own.
macro_rules! summary_columns {
    () => {
        "l.id, l.calendar_id, c.name AS calendar_name, l.kind, l.status, l.subject, l.description,
        l.contact_person, l.phone, l.phone_e164, l.email, l.inn, cp.name AS cp_name, l.starts_at, l.received_at,
        l.updated_at, l.channel, l.external_number, u.login AS assignee_login"
    };
}

/// The values of [`summary_columns`] without their names, in [`SummaryRow`]'s order: a summary as
/// `json_array(...)`, which serde reads as a [`SummaryRow`].
macro_rules! summary_values {
    () => {
        "l.id, l.calendar_id, c.name, l.kind, l.status, l.subject, l.description, l.contact_person, l.phone,
        l.phone_e164, l.email, l.inn, cp.name, l.starts_at, l.received_at, l.updated_at, l.channel,
        l.external_number, u.login"
    };
}

/// The joins a [`LeadSummary`] reads. `CROSS JOIN` is SQLite's way of fixing the join order: leads are
/// always walked first, by the index the WHERE clause picks, and calendars looked up per row; otherwise the
/// planner may start from the (tiny) calendars table and then sort every lead of the chosen calendars.
macro_rules! summary_from {
    () => {
        " FROM leads l
        CROSS JOIN calendars c ON c.id = l.calendar_id
        LEFT JOIN counterparties cp ON cp.id = l.counterparty_id
        LEFT JOIN users u ON u.id = l.assignee_id"
    };
}

const SUMMARY_SELECT: &str = concat!("SELECT ", summary_columns!(), summary_from!());

/// The joins of a [`LeadSummary`] found through the trigram index: the index's matches first, in its order.
const SEARCH_FROM: &str = " FROM leads_fts
        CROSS JOIN leads l ON l.id = leads_fts.rowid
        CROSS JOIN calendars c ON c.id = l.calendar_id
        LEFT JOIN counterparties cp ON cp.id = l.counterparty_id
        LEFT JOIN users u ON u.id = l.assignee_id";

/// A row of [`SUMMARY_SELECT`], or a `json_array` of [`summary_values`].
#[derive(sqlx::FromRow, serde::Deserialize)]
struct SummaryRow {
    id: i64,
    calendar_id: i64,
    calendar_name: String,
    kind: String,
    status: String,
    subject: Option<String>,
    description: Option<String>,
    contact_person: Option<String>,
    phone: Option<String>,
    phone_e164: Option<String>,
    email: Option<String>,
    inn: Option<String>,
    cp_name: Option<String>,
    starts_at: i64,
    received_at: i64,
    updated_at: i64,
    channel: String,
    external_number: Option<String>,
    assignee_login: Option<String>,
}

impl SummaryRow {
    fn into_summary(self) -> Result<LeadSummary> {
        Ok(LeadSummary {
            id: self.id,
            calendar_id: self.calendar_id,
            calendar_name: self.calendar_name,
            kind: parse_enum::<LeadKind>("kind", &self.kind)?,
            status: parse_enum::<LeadStatus>("status", &self.status)?,
            subject: self.subject,
            description: self.description,
            contact: Contact {
                person: self.contact_person,
                phone: self.phone,
                phone_e164: self.phone_e164,
                email: self.email,
            },
            inn: self.inn,
            counterparty_name: self.cp_name,
            starts_at: from_ms(self.starts_at)?,
            received_at: from_ms(self.received_at)?,
            updated_at: from_ms(self.updated_at)?,
            channel: parse_enum::<Channel>("channel", &self.channel)?,
            external_number: self.external_number,
            assignee: self.assignee_login,
        })
    }
}

fn summaries(rows: Vec<SummaryRow>) -> Result<Vec<LeadSummary>> {
    rows.into_iter().map(SummaryRow::into_summary).collect()
}

/// Appends the calendar test: `= id` for one calendar (so a per-calendar index can serve it), nothing for
/// every calendar, and for several either a plain `IN` (`indexable`, for counts that an index covers) or a
/// planner-opaque `+calendar_id IN (...)` for walks that must come out in id or time order (module docs).
fn push_calendars(q: &mut QueryBuilder<Sqlite>, calendars: Option<&[i64]>, indexable: bool) {
    match calendars {
        None => {}
        Some([one]) => {
            q.push(" AND l.calendar_id = ").push_bind(*one);
        }
        Some(many) => {
            q.push(if indexable {
                " AND l.calendar_id IN ("
            } else {
                " AND +l.calendar_id IN ("
            });
            let mut sep = q.separated(", ");
            for id in many {
                sep.push_bind(*id);
            }
            q.push(")");
        }
    }
}

pub(super) async fn inbox(
    pool: &SqlitePool,
    q: &InboxQuery,
    search: Option<&LeadSearch>,
) -> Result<InboxPage> {
    if q.calendars.as_ref().is_some_and(Vec::is_empty) {
        return Ok(InboxPage {
            items: Vec::new(),
            next: None,
        });
    }
    let limit = q.limit.clamp(1, PageRequest::MAX_LIMIT) as usize;
    let runs = q.runs();
    let calendars = match search {
        Some(search) => search_calendars(pool, search, q.calendars.as_deref()).await?,
        None => Cow::Borrowed(&[][..]),
    };
    if let Some(search) = search.filter(|_| runs == [(true, None), (false, None)]) {
        let found = search_both_runs(pool, q, search, &calendars, limit + 1).await?;
        return Ok(InboxPage::from_runs(found, limit));
    }
    let mut found: Vec<(bool, LeadSummary)> = Vec::new();
    for (in_new, after) in runs {
        let want = limit + 1 - found.len();
        let mut run = inbox_run(q, search, &calendars, in_new, after, want);
        let rows: Vec<SummaryRow> = run.build_query_as().fetch_all(pool).await?;
        for row in rows {
            found.push((in_new, row.into_summary()?));
        }
        if found.len() > limit {
            break;
        }
    }
    Ok(InboxPage::from_runs(found, limit))
}

/// The statement of one run of the inbox (`in_new`: its new leads, else the others), after the lead `after`,
/// at most `want` leads.
///
/// A search of three characters or more walks the trigram index's matches newest first (FTS5 hands them out
/// in rowid order, lazily): a common fragment fills the page from its first matches, a rare one reads its few
/// matches; never every match sorted. The `LIKE` then decides each, as for a shorter fragment.
fn inbox_run(
    q: &InboxQuery,
    search: Option<&LeadSearch>,
    calendars: &[i64],
    in_new: bool,
    after: Option<i64>,
    want: usize,
) -> QueryBuilder<Sqlite> {
    let (mut b, id) = inbox_leads(q, search, calendars, summary_columns!());
    match q.status {
        Some(status) => b.push(" AND l.status = ").push_bind(status.as_str()),
        None if in_new => b.push(" AND l.status = 'new'"),
        None => b.push(" AND l.status <> 'new'"),
    };
    if let Some(after) = after {
        b.push(format!(" AND {id} < ")).push_bind(after);
    }
    b.push(format!(" ORDER BY {id} DESC LIMIT "))
        .push_bind(i64::try_from(want).unwrap_or(i64::MAX));
    b
}

/// `SELECT columns` of the leads the inbox query `q` shows, whatever their status, without an order: its
/// search, calendars, kind, period and assignee. Returns the statement and the expression of the lead's id
/// that walks them newest first (the trigram index's rowid for a search it serves).
fn inbox_leads(
    q: &InboxQuery,
    search: Option<&LeadSearch>,
    calendars: &[i64],
    columns: &str,
) -> (QueryBuilder<Sqlite>, &'static str) {
    let trigrams = search.and_then(|s| lead_search_keys(s, calendars));
    let id = if trigrams.is_some() {
        "leads_fts.rowid"
    } else {
        "l.id"
    };
    let mut b = QueryBuilder::<Sqlite>::new("SELECT ");
    b.push(columns);
    match trigrams {
        Some(trigrams) => {
            b.push(SEARCH_FROM)
                .push(" WHERE leads_fts MATCH ")
                .push_bind(trigrams);
        }
        None => {
            b.push(summary_from!()).push(" WHERE 1 = 1");
        }
    }
    if let Some(search) = search {
        b.push(" AND ");
        push_lead_contains(&mut b, &search.key);
    }
    push_calendars(&mut b, q.calendars.as_deref(), false);
    push_kind_and_period(&mut b, q);
    (b, id)
}

/// The first page of an inbox search over both runs (no status filter), as the newest `want` leads of the new
/// leads' run and then of the others', each with whether it is new.
///
/// Run by run, a fragment whose new leads do not fill the page read every match twice: all of them in the
/// run of new leads, then again from the newest in the others' (a surname whose leads are all in calendars
/// the viewer may not see, or a phone fragment: every match read and none shown, twice). One walk of the
/// matches newest first serves both: it keeps the new ones, and the others' first `want`, and stops once the
/// new ones fill the page.
async fn search_both_runs(
    pool: &SqlitePool,
    q: &InboxQuery,
    search: &LeadSearch,
    calendars: &[i64],
    want: usize,
) -> Result<Vec<(bool, LeadSummary)>> {
    let mut b = both_runs_walk(q, search, calendars);
    let mut walk = b.build_query_as::<RunRow>().fetch(pool);
    let (mut new, mut others) = (Vec::new(), Vec::new());
    while let Some(row) = walk.try_next().await? {
        if row.in_new {
            new.push((true, row.summary.into_summary()?));
            if new.len() == want {
                break;
            }
        } else if others.len() < want {
            others.push((false, row.summary.into_summary()?));
        }
    }
    new.extend(others);
    new.truncate(want);
    Ok(new)
}

/// The statement of [`search_both_runs`]: every lead the query shows, newest first, with whether it is new.
fn both_runs_walk(q: &InboxQuery, search: &LeadSearch, calendars: &[i64]) -> QueryBuilder<Sqlite> {
    let (mut b, id) = inbox_leads(
        q,
        Some(search),
        calendars,
        concat!(summary_columns!(), ", l.status = 'new' AS in_new"),
    );
    b.push(format!(" ORDER BY {id} DESC"));
    b
}

/// A summary with whether the lead is new (the run it belongs to).
#[derive(sqlx::FromRow)]
struct RunRow {
    #[sqlx(flatten)]
    summary: SummaryRow,
    in_new: bool,
}

/// The inbox's filters beside status and calendar: kind, period and assignee.
fn push_kind_and_period(b: &mut QueryBuilder<Sqlite>, q: &InboxQuery) {
    super::push_kind_and_period(b, q.kind, q.from, q.to);
    // A lead marked a second submission of another has left the inbox.
    b.push(" AND l.duplicate_of IS NULL");
    match q.assignee {
        Some(AssigneeFilter::Unassigned) => {
            b.push(" AND l.assignee_id IS NULL");
        }
        Some(AssigneeFilter::User(id)) => {
            b.push(" AND l.assignee_id = ").push_bind(id);
        }
        None => {}
    }
    if let Some(now) = q.overdue_at {
        b.push(
            " AND EXISTS (SELECT 1 FROM follow_ups f WHERE f.lead_id = l.id AND f.done_at IS NULL \
             AND f.due_at < ",
        )
        .push_bind(super::ms(now))
        .push(")");
    }
}

pub(super) async fn inbox_pulse(
    pool: &SqlitePool,
    calendars: Option<&[i64]>,
) -> Result<InboxPulse> {
    if calendars.is_some_and(<[i64]>::is_empty) {
        return Ok(InboxPulse {
            latest_id: 0,
            new_count: 0,
        });
    }
    // Every lead arrives new, so the newest new lead is what tells that something arrived; it comes from the
    // (status, calendar_id, id) index alone.
    let mut b = QueryBuilder::<Sqlite>::new(
        "SELECT COALESCE(MAX(l.id), 0) FROM leads l WHERE l.status = 'new'",
    );
    push_calendars(&mut b, calendars, true);
    let latest_id: i64 = b.build_query_scalar().fetch_one(pool).await?;
    // Counted up to the cap: a count of every new lead reads the whole run of them in the index, which at a
    // million leads costs more than the rest of the page. A lead marked a second submission of another has left
    // the inbox and is not counted; testing that reads each row counted, at most the cap's worth and the
    // (few) duplicates among them.
    let mut b = QueryBuilder::<Sqlite>::new(
        "SELECT COUNT(*) FROM (SELECT 1 FROM leads l WHERE l.status = 'new' AND l.duplicate_of IS NULL",
    );
    push_calendars(&mut b, calendars, true);
    b.push(" LIMIT ")
        .push_bind(InboxPulse::NEW_COUNT_CAP)
        .push(") AS capped");
    let new_count: i64 = b.build_query_scalar().fetch_one(pool).await?;
    Ok(InboxPulse {
        latest_id,
        new_count,
    })
}

pub(super) async fn calendar_days(
    pool: &SqlitePool,
    calendars: &[i64],
    bounds: &[DateTime<Utc>],
    per_day: u32,
) -> Result<Vec<DaySlot>> {
    let days = bounds.len().saturating_sub(1);
    let mut slots = vec![DaySlot::default(); days];
    if days == 0 || calendars.is_empty() {
        return Ok(slots);
    }
    // Counts: one statement of per-day subqueries, each a range walk of the (calendar, time) index cut at the
    // exact day bounds (so days of 23 or 25 hours in a zone with daylight saving are right), that stops at the
    // cap.
    let mut b = QueryBuilder::<Sqlite>::new("SELECT ");
    for day in 0..days {
        if day > 0 {
            b.push(", ");
        }
        b.push("(SELECT COUNT(*) FROM (SELECT 1 FROM leads l WHERE l.starts_at >= ")
            .push_bind(ms(bounds[day]))
            .push(" AND l.starts_at < ")
            .push_bind(ms(bounds[day + 1]));
        push_calendars(&mut b, Some(calendars), true);
        b.push(" LIMIT ")
            .push_bind(DaySlot::COUNT_CAP)
            .push(") AS capped)");
    }
    let row = b.build().fetch_one(pool).await?;
    for (day, slot) in slots.iter_mut().enumerate() {
        slot.count = row.try_get(day)?;
    }
    if per_day == 0 {
        return Ok(slots);
    }
    // The first events of each day that has any: one statement, one LIMITed index walk per day, its rows
    // handed over as one JSON array of `[summary, day]` (see `rows_in_one`: a month's hundred rows one by one
    // cost more than the statement).
    let busy: Vec<usize> = (0..days).filter(|d| slots[*d].count > 0).collect();
    if busy.is_empty() {
        return Ok(slots);
    }
    let mut b = QueryBuilder::<Sqlite>::new(
        "SELECT '[' || COALESCE(group_concat(event, ','), '') || ']' FROM (",
    );
    for (n, day) in busy.iter().enumerate() {
        if n > 0 {
            b.push(" UNION ALL ");
        }
        b.push("SELECT * FROM (SELECT json_array(json_array(")
            .push(summary_values!())
            .push("), ")
            .push(*day)
            .push(") AS event")
            .push(summary_from!())
            .push(" WHERE 1 = 1");
        push_calendars(&mut b, Some(calendars), false);
        b.push(" AND l.starts_at >= ")
            .push_bind(ms(bounds[*day]))
            .push(" AND l.starts_at < ")
            .push_bind(ms(bounds[*day + 1]))
            .push(" ORDER BY l.starts_at, l.id LIMIT ")
            .push_bind(i64::from(per_day))
            .push(")");
    }
    b.push(")");
    let json: String = b.build_query_scalar().fetch_one(pool).await?;
    let events: Vec<(SummaryRow, usize)> = serde_json::from_str(&json)
        .map_err(|e| super::Error::Corrupt(format!("calendar days: {e}")))?;
    for (summary, day) in events {
        if let Some(slot) = slots.get_mut(day) {
            slot.events.push(summary.into_summary()?);
        }
    }
    Ok(slots)
}

pub(super) async fn calendar_feed(
    pool: &SqlitePool,
    calendar_id: i64,
    from: DateTime<Utc>,
    limit: u32,
) -> Result<Vec<LeadSummary>> {
    let sql = format!(
        "{SUMMARY_SELECT} WHERE l.calendar_id = $1 AND l.starts_at >= $2
         ORDER BY l.starts_at DESC, l.id DESC LIMIT $3"
    );
    let rows: Vec<SummaryRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(calendar_id)
        .bind(ms(from))
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await?;
    summaries(rows)
}

pub(super) async fn leads_of_counterparty(
    pool: &SqlitePool,
    counterparty_id: i64,
    limit: u32,
) -> Result<Vec<LeadSummary>> {
    let sql = format!("{SUMMARY_SELECT} WHERE l.counterparty_id = $1 ORDER BY l.id DESC LIMIT $2");
    let rows: Vec<SummaryRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(counterparty_id)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await?;
    summaries(rows)
}

/// One lead as the lists show it (for the live pages), if it exists.
pub(super) async fn summary(pool: &SqlitePool, id: i64) -> Result<Option<LeadSummary>> {
    let sql = format!("{SUMMARY_SELECT} WHERE l.id = $1");
    let row: Option<SummaryRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(pool)
        .await?;
    row.map(SummaryRow::into_summary).transpose()
}

/// The leads with these ids that exist, as [`summary`] reads each (in no particular order).
pub(super) async fn summaries_by_id(pool: &SqlitePool, ids: &[i64]) -> Result<Vec<LeadSummary>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!("{SUMMARY_SELECT} WHERE l.id IN (SELECT value FROM json_each($1))");
    let rows: Vec<SummaryRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(serde_json::to_string(ids).unwrap_or_default())
        .fetch_all(pool)
        .await?;
    rows.into_iter().map(SummaryRow::into_summary).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use leadgate_storage::CommonTrigrams;

    /// The plan of a statement, one line per step (parameters unbound: SQLite plans without them).
    async fn plan(pool: &SqlitePool, statement: QueryBuilder<Sqlite>) -> String {
        let sql = format!("EXPLAIN QUERY PLAN {}", statement.into_string());
        let steps: Vec<(i64, i64, i64, String)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .fetch_all(pool)
            .await
            .unwrap();
        steps
            .into_iter()
            .map(|(_, _, _, detail)| detail)
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// An inbox search (a surname that thousands of leads share, or a phone's digits) reads the trigram
    /// index's matches newest first and stops when the page is full: the plan of each run, and of the walk of
    /// both runs of a first page, walks `leads_fts` first and never sorts the matches.
    #[tokio::test]
    async fn an_inbox_search_walks_the_trigram_index_newest_first_without_sorting() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("inbox.db").display());
        let storage = crate::SqliteStorage::connect(&url).await.unwrap();
        for (fragment, calendars, status) in [
            ("Кузнецова", None, None),
            ("916 123", Some(vec![1, 2, 3]), None),
            ("916", Some(vec![2]), Some(LeadStatus::Done)),
        ] {
            let q = InboxQuery {
                calendars,
                status,
                search: Some(fragment.into()),
                limit: 50,
                ..InboxQuery::default()
            };
            let search = LeadSearch::new(q.search_key().unwrap(), &CommonTrigrams::default());
            // The viewer's calendars, or an administrator's four.
            let calendars = q.calendars.clone().unwrap_or_else(|| vec![1, 2, 3, 4]);
            let runs = [true, false].map(|in_new| {
                inbox_run(&q, Some(&search), &calendars, in_new, Some(1_000_000), 51)
            });
            for statement in runs
                .into_iter()
                .chain([both_runs_walk(&q, &search, &calendars)])
            {
                let plan = plan(&storage.pool, statement).await;
                assert!(
                    plan.lines()
                        .next()
                        .unwrap_or_default()
                        .contains("leads_fts VIRTUAL TABLE"),
                    "{fragment}: {plan}"
                );
                assert!(!plan.contains("TEMP B-TREE"), "{fragment}: {plan}");
            }
        }
    }
}
