//! The web UI's lead lists in PostgreSQL (part of the [`leadgate_storage::Leads`] aggregate): the inbox, its
//! pulse, the calendar views' days and the calendar feed, as light [`LeadSummary`] rows.
//!
//! Lists read only the columns they show, and every list is a keyset walk of an index:
//! `id < cursor ORDER BY id DESC`, never `OFFSET`. A text search is a substring of the folded search text,
//! which the index of its trigrams in the lead's calendar serves; in the inbox it narrows each run.

use chrono::{DateTime, Utc};
use sqlx::{PgPool, Postgres, QueryBuilder};
use tokio::sync::OnceCell;

use super::{
    Result, from_ms, ms, parse_enum, push_lead_contains, push_lead_search, search_calendars,
};
use leadgate_domain::lead::{Channel, LeadKind, LeadStatus};
use leadgate_domain::payload::Contact;
use leadgate_storage::{
    AssigneeFilter, DaySlot, InboxPage, InboxPulse, InboxQuery, LeadSearch, LeadSummary,
    PageRequest, SearchKey,
};

/// The columns of a [`LeadSummary`], without `SELECT`, so a query can add its own.
macro_rules! summary_columns {
    () => {
        "l.id, l.calendar_id, c.name AS calendar_name, l.kind, l.status, l.subject, l.description,
        l.contact_person, l.phone, l.phone_e164, l.email, l.inn, cp.name AS cp_name, l.starts_at, l.received_at,
        l.updated_at, l.channel, l.external_number, u.login AS assignee_login"
    };
}

/// The joins a [`LeadSummary`] reads.
macro_rules! summary_from {
    () => {
        " FROM leads l
        JOIN calendars c ON c.id = l.calendar_id
        LEFT JOIN counterparties cp ON cp.id = l.counterparty_id
        LEFT JOIN users u ON u.id = l.assignee_id"
    };
}

const SUMMARY_SELECT: &str = concat!("SELECT ", summary_columns!(), summary_from!());

/// A row of [`SUMMARY_SELECT`].
#[derive(sqlx::FromRow)]
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

/// A summary with the day of the calendar view it belongs to.
#[derive(sqlx::FromRow)]
struct DayRow {
    #[sqlx(flatten)]
    summary: SummaryRow,
    day: i64,
}

fn summaries(rows: Vec<SummaryRow>) -> Result<Vec<LeadSummary>> {
    rows.into_iter().map(SummaryRow::into_summary).collect()
}

/// Appends the calendar test: `= id` for one calendar (so a per-calendar index can serve it), nothing for
/// every calendar, `= ANY(...)` for several. (`_indexable` is the SQLite backend's planner hint, which
/// PostgreSQL's planner does not need.)
fn push_calendars(q: &mut QueryBuilder<Postgres>, calendars: Option<&[i64]>, _indexable: bool) {
    match calendars {
        None => {}
        Some([one]) => {
            q.push(" AND l.calendar_id = ").push_bind(*one);
        }
        Some(many) => {
            q.push(" AND l.calendar_id = ANY(")
                .push_bind(many.to_vec())
                .push(")");
        }
    }
}

pub(super) async fn inbox(
    pool: &PgPool,
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
    if let Some(search) = search {
        let ids = search_runs(pool, q, &runs, limit + 1, search).await?;
        let leads =
            summaries_by_id(pool, &ids.iter().map(|&(_, id)| id).collect::<Vec<_>>()).await?;
        return Ok(InboxPage::from_ids(&ids, leads, limit));
    }
    let mut found = Vec::new();
    for &(in_new, after) in &runs {
        let want = limit + 1 - found.len();
        let mut b = QueryBuilder::<Postgres>::new(SUMMARY_SELECT);
        b.push(" WHERE 1 = 1");
        push_run(&mut b, q, in_new, after);
        // Every limit is written into the statement as a number, never bound: PostgreSQL cannot estimate a
        // generic plan's `LIMIT $n`, so it planned the statement again at every execution (0.5–0.7 ms at a
        // million leads, three times what running it took). One text for both runs: the second takes `want`.
        b.push(format_args!(" ORDER BY l.id DESC LIMIT {}", limit + 1));
        let rows: Vec<SummaryRow> = b.build_query_as().fetch_all(pool).await?;
        for row in rows.into_iter().take(want) {
            found.push((in_new, row.into_summary()?));
        }
        if found.len() > limit {
            break;
        }
    }
    Ok(InboxPage::from_runs(found, limit))
}

/// Appends the tests of one run of the inbox (`in_new`: its new leads, else the others) after the lead
/// `after`: calendars, status, kind, period and assignee.
fn push_run(b: &mut QueryBuilder<Postgres>, q: &InboxQuery, in_new: bool, after: Option<i64>) {
    push_calendars(b, q.calendars.as_deref(), false);
    push_status(b, q, in_new);
    push_kind_and_period(b, q);
    if let Some(after) = after {
        b.push(" AND l.id < ").push_bind(after);
    }
}

/// Appends the status test of one run: the filter's status, else new or not new.
fn push_status(b: &mut QueryBuilder<Postgres>, q: &InboxQuery, in_new: bool) {
    match q.status {
        Some(status) => b.push(" AND l.status = ").push_bind(status.as_str()),
        None if in_new => b.push(" AND l.status = 'new'"),
        None => b.push(" AND l.status <> 'new'"),
    };
}

/// How many of a run's newest leads a search tests itself before it leaves the rest to the planner.
const SEARCH_WALK: usize = 500;

/// A search whose key at most this many of the newest leads sampled in the viewer's calendars hold
/// ([`LeadSearch::sampled_in`]) reads its matches from the index at once: about one lead in a thousand or
/// fewer lately, too few for a walk of the newest to fill a page.
const SPARSE_IN_SAMPLE: usize = 2;

/// The newest `want` leads of the `runs` (each from its cursor) that hold `search`, run by run: each lead's id
/// with whether it is of the run of new leads.
///
/// The planner chooses between walking a run in id order, testing each lead, and reading the trigram
/// index's matches and sorting them, by how common the fragment is overall. It cannot know where the matches
/// are: a fragment whose leads are all in calendars the viewer may not see (a surname of another branch's
/// customers) is common overall, so it walked the whole run, a million leads (about 2 s). So each run's
/// `SEARCH_WALK` newest leads are tested first; when they hold the page (or are the whole run), that is the
/// answer. When they hold some matches, the older ones are the planner's to find, as before. When they hold
/// none, the matches are too sparse in the run for a walk, and the older ones come from the index (which
/// carries the calendar, so matches the viewer may not see stay in it), sorted (`l.id + 0`: an order no index
/// gives, so the plan cannot be a walk). When the runs of new leads and of the others both have no match
/// among their newest, one such statement reads the rest of both: one index read instead of two (a phone
/// fragment's short trigrams, common to every phone, are most of a search's time). A key the sample of the
/// newest leads holds (almost) nowhere in the viewer's calendars ([`SPARSE_IN_SAMPLE`]) skips the walks when
/// the index can serve it (three characters or more): its matches come from the index at once, in one
/// statement for all runs. The statements that ask the index are unnamed, planned for their own fragment every
/// time; a walk's plan does not depend on the fragment, and it is prepared.
async fn search_runs(
    pool: &PgPool,
    q: &InboxQuery,
    runs: &[(bool, Option<i64>)],
    want: usize,
    search: &LeadSearch,
) -> Result<Vec<(bool, i64)>> {
    // Read when a statement first asks the index, at most once per request: a page the walks fill needs none.
    let calendars = OnceCell::new();
    let calendars =
        || calendars.get_or_try_init(|| search_calendars(pool, search, q.calendars.as_deref()));
    let rare_lately = search.sampled_in(q.calendars.as_deref()) <= SPARSE_IN_SAMPLE;
    if rare_lately && !search.trigrams.is_empty() {
        return search_rest(pool, q, runs, want, search, calendars().await?, true).await;
    }
    let mut ids: Vec<(bool, i64)> = Vec::new();
    let mut walked_ahead = None;
    for (i, &(in_new, after)) in runs.iter().enumerate() {
        let need = want - ids.len();
        let walk = match walked_ahead.take() {
            Some(walk) => walk,
            None => walk_run(pool, q, in_new, after, &search.key).await?,
        };
        ids.extend(walk.hits.iter().take(need).map(|&id| (in_new, id)));
        let Some(oldest) = walk.oldest.filter(|_| walk.hits.len() < need) else {
            if ids.len() == want {
                break;
            }
            continue;
        };
        let sparse = walk.hits.is_empty();
        if sparse && let Some(&(next_new, next_after)) = runs.get(i + 1) {
            let next = walk_run(pool, q, next_new, next_after, &search.key).await?;
            if let Some(next_oldest) = next.oldest.filter(|_| next.hits.is_empty()) {
                let rest = [(in_new, Some(oldest)), (next_new, Some(next_oldest))];
                ids.extend(
                    search_rest(pool, q, &rest, need, search, calendars().await?, true).await?,
                );
                break;
            }
            walked_ahead = Some(next);
        }
        let rest = [(in_new, Some(oldest))];
        ids.extend(
            search_rest(
                pool,
                q,
                &rest,
                need - walk.hits.len(),
                search,
                calendars().await?,
                sparse,
            )
            .await?,
        );
        if ids.len() == want {
            break;
        }
    }
    Ok(ids)
}

/// The matches among a run's `SEARCH_WALK` newest leads, newest first, and the oldest lead walked when the
/// run goes on past them.
struct Walk {
    hits: Vec<i64>,
    oldest: Option<i64>,
}

/// Tests the `SEARCH_WALK` newest leads of one run (`in_new`), after the lead `after`, for `key`.
async fn walk_run(
    pool: &PgPool,
    q: &InboxQuery,
    in_new: bool,
    after: Option<i64>,
    key: &SearchKey,
) -> Result<Walk> {
    let mut b = QueryBuilder::<Postgres>::new("SELECT l.id, ");
    push_lead_contains(&mut b, key);
    b.push(" FROM leads l WHERE 1 = 1");
    push_run(&mut b, q, in_new, after);
    b.push(format_args!(" ORDER BY l.id DESC LIMIT {SEARCH_WALK}"));
    // Prepared once per connection, as the inbox's own statements: the key is tested in the select list, so the
    // plan (the run's newest leads by id) is the same whatever the fragment. Parsing and planning it for every
    // search cost about half as much as running it.
    let walked: Vec<(i64, bool)> = b.build_query_as().fetch_all(pool).await?;
    Ok(Walk {
        hits: walked
            .iter()
            .filter(|(_, hit)| *hit)
            .map(|(id, _)| *id)
            .collect(),
        oldest: walked
            .last()
            .filter(|_| walked.len() == SEARCH_WALK)
            .map(|(id, _)| *id),
    })
}

/// The newest `limit` leads holding `search` in the `runs`, each before its lead if any: the planner's choice of
/// plan, or, for matches too `sparse` for a walk, the index's matches sorted. Several runs (the new leads
/// and the others, with no status filter) come in their order, new first.
async fn search_rest(
    pool: &PgPool,
    q: &InboxQuery,
    runs: &[(bool, Option<i64>)],
    limit: usize,
    search: &LeadSearch,
    calendars: &[i64],
    sparse: bool,
) -> Result<Vec<(bool, i64)>> {
    let mut b = QueryBuilder::<Postgres>::new("SELECT l.id, l.status = 'new' FROM leads l WHERE ");
    push_lead_search(&mut b, search, calendars);
    let order = if sparse { "l.id + 0" } else { "l.id" };
    match runs {
        [(in_new, before)] => {
            push_run(&mut b, q, *in_new, *before);
            b.push(format_args!(" ORDER BY {order} DESC LIMIT {limit}"));
        }
        _ => {
            push_calendars(&mut b, q.calendars.as_deref(), false);
            push_kind_and_period(&mut b, q);
            for (i, &(in_new, before)) in runs.iter().enumerate() {
                b.push(if i == 0 { " AND ((1 = 1" } else { " OR (1 = 1" });
                push_status(&mut b, q, in_new);
                if let Some(before) = before {
                    b.push(" AND l.id < ").push_bind(before);
                }
                b.push(")");
            }
            b.push(format_args!(
                ") ORDER BY l.status = 'new' DESC, {order} DESC LIMIT {limit}"
            ));
        }
    }
    let rows: Vec<(i64, bool)> = b.build_query_as().persistent(false).fetch_all(pool).await?;
    // One run is that run, whatever status a filter names; several are told apart by status.
    let one = (runs.len() == 1).then(|| runs[0].0);
    Ok(rows
        .into_iter()
        .map(|(id, is_new)| (one.unwrap_or(is_new), id))
        .collect())
}

/// The inbox's filters beside status and calendar: kind, period and assignee.
fn push_kind_and_period(b: &mut QueryBuilder<Postgres>, q: &InboxQuery) {
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

pub(super) async fn inbox_pulse(pool: &PgPool, calendars: Option<&[i64]>) -> Result<InboxPulse> {
    if calendars.is_some_and(<[i64]>::is_empty) {
        return Ok(InboxPulse {
            latest_id: 0,
            new_count: 0,
        });
    }
    // One statement, with the calendar ids written in ([`super::id_list`]): each connection plans it once per
    // viewer's calendars. With the calendars bound as an array, PostgreSQL planned it again at every execution
    // (0.3 ms a page at a million leads, nearly as much as running it).
    //
    // Every lead arrives new, so the newest new lead is what tells that something arrived; it comes from the
    // (status, calendar_id, id) index alone.
    //
    // Counted up to the cap: a count of every new lead reads the whole run of them in the index, which at a
    // million leads costs more than the rest of the page. A lead marked a second submission of another has left
    // the inbox and is not counted. Newest first, each walk an index's alone, which carries `duplicate_of`
    // (migration 0020) and ends at the cap: `leads_by_status` for every calendar, `leads_by_status_calendar`
    // for each of a viewer's, one calendar after another until the cap is reached. (Walking the primary key
    // and testing each lead's row, the count was the costliest statement of an inbox page.) With no order,
    // where most leads are new, PostgreSQL chose a sequential scan that stops at the cap; a synchronised scan
    // may then start amid a long run of leads that are not new (a year of done ones, say) and read through
    // it: about a second at a million leads, for one page in a hundred.
    let cap = InboxPulse::NEW_COUNT_CAP;
    let new_leads = "SELECT 1 FROM leads l WHERE l.status = 'new' AND l.duplicate_of IS NULL";
    let (in_calendars, capped) = match calendars {
        None => (
            String::new(),
            format!("{new_leads} ORDER BY l.id DESC LIMIT {cap}"),
        ),
        Some(ids) => {
            let list = super::id_list(ids);
            (
                format!(" AND l.calendar_id IN ({list})"),
                format!(
                    "SELECT 1 FROM unnest(ARRAY[{list}]::bigint[]) AS c(id) CROSS JOIN LATERAL
                     ({new_leads} AND l.calendar_id = c.id ORDER BY l.id DESC LIMIT {cap}) AS w LIMIT {cap}"
                ),
            )
        }
    };
    let sql = format!(
        "SELECT (SELECT COALESCE(MAX(l.id), 0) FROM leads l WHERE l.status = 'new'{in_calendars}),
                (SELECT COUNT(*) FROM ({capped}) AS capped)"
    );
    let (latest_id, new_count): (i64, i64) = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .fetch_one(pool)
        .await?;
    Ok(InboxPulse {
        latest_id,
        new_count,
    })
}

pub(super) async fn calendar_days(
    pool: &PgPool,
    calendars: &[i64],
    bounds: &[DateTime<Utc>],
    per_day: u32,
) -> Result<Vec<DaySlot>> {
    let days = bounds.len().saturating_sub(1);
    let mut slots = vec![DaySlot::default(); days];
    if days == 0 || calendars.is_empty() {
        return Ok(slots);
    }
    // The days come as arrays and each is one row of `unnest`, so a statement is planned once however many
    // days the view has: one subquery per day, written out, took 20–35 ms to plan at a million leads, against
    // about 0.1 ms each to run.
    let lows: Vec<i64> = bounds[..days].iter().map(|b| ms(*b)).collect();
    let highs: Vec<i64> = bounds[1..].iter().map(|b| ms(*b)).collect();
    // Counts: for each day a range walk of the (calendar, time) index cut at the exact day bounds (so days of
    // 23 or 25 hours in a zone with daylight saving are right), that stops at the cap.
    let mut b = QueryBuilder::<Postgres>::new(
        "SELECT d.day - 1, (SELECT COUNT(*) FROM (SELECT 1 FROM leads l
             WHERE l.starts_at >= d.lo AND l.starts_at < d.hi",
    );
    push_calendars(&mut b, Some(calendars), true);
    // Limits are written in, not bound, so that the statements keep one plan (see `inbox`).
    b.push(format_args!(
        " LIMIT {}) AS capped) FROM unnest(",
        DaySlot::COUNT_CAP
    ))
    .push_bind(&lows)
    .push("::BIGINT[], ")
    .push_bind(&highs)
    .push("::BIGINT[]) WITH ORDINALITY AS d(lo, hi, day)");
    let counts: Vec<(i64, i64)> = b.build_query_as().fetch_all(pool).await?;
    for (day, count) in counts {
        if let Some(slot) = usize::try_from(day).ok().and_then(|d| slots.get_mut(d)) {
            slot.count = count;
        }
    }
    if per_day == 0 {
        return Ok(slots);
    }
    // The first events of each day that has any: a LIMITed index walk per day.
    let busy: Vec<usize> = (0..days).filter(|d| slots[*d].count > 0).collect();
    if busy.is_empty() {
        return Ok(slots);
    }
    let numbers: Vec<i64> = busy.iter().map(|&d| d as i64).collect();
    let lows: Vec<i64> = busy.iter().map(|&d| lows[d]).collect();
    let highs: Vec<i64> = busy.iter().map(|&d| highs[d]).collect();
    let mut b = QueryBuilder::<Postgres>::new("SELECT s.*, d.day FROM unnest(");
    b.push_bind(numbers)
        .push("::BIGINT[], ")
        .push_bind(lows)
        .push("::BIGINT[], ")
        .push_bind(highs)
        .push("::BIGINT[]) AS d(day, lo, hi) CROSS JOIN LATERAL (SELECT ")
        .push(summary_columns!())
        .push(summary_from!())
        .push(" WHERE l.starts_at >= d.lo AND l.starts_at < d.hi");
    push_calendars(&mut b, Some(calendars), false);
    b.push(format_args!(
        " ORDER BY l.starts_at, l.id LIMIT {per_day}) AS s ORDER BY d.day, s.starts_at, s.id"
    ));
    let rows: Vec<DayRow> = b.build_query_as().fetch_all(pool).await?;
    for row in rows {
        if let Some(slot) = usize::try_from(row.day).ok().and_then(|d| slots.get_mut(d)) {
            slot.events.push(row.summary.into_summary()?);
        }
    }
    Ok(slots)
}

pub(super) async fn calendar_feed(
    pool: &PgPool,
    calendar_id: i64,
    from: DateTime<Utc>,
    limit: u32,
) -> Result<Vec<LeadSummary>> {
    // The limit is written in, not bound, so that the statement keeps one plan (see `inbox`).
    let sql = format!(
        "{SUMMARY_SELECT} WHERE l.calendar_id = $1 AND l.starts_at >= $2
         ORDER BY l.starts_at DESC, l.id DESC LIMIT {limit}"
    );
    let rows: Vec<SummaryRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(calendar_id)
        .bind(ms(from))
        .fetch_all(pool)
        .await?;
    summaries(rows)
}

pub(super) async fn leads_of_counterparty(
    pool: &PgPool,
    counterparty_id: i64,
    limit: u32,
) -> Result<Vec<LeadSummary>> {
    let sql =
        format!("{SUMMARY_SELECT} WHERE l.counterparty_id = $1 ORDER BY l.id DESC LIMIT {limit}");
    let rows: Vec<SummaryRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(counterparty_id)
        .fetch_all(pool)
        .await?;
    summaries(rows)
}

/// One lead as the lists show it (for the live pages), if it exists.
pub(super) async fn summary(pool: &PgPool, id: i64) -> Result<Option<LeadSummary>> {
    let sql = format!("{SUMMARY_SELECT} WHERE l.id = $1");
    let row: Option<SummaryRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(pool)
        .await?;
    row.map(SummaryRow::into_summary).transpose()
}

/// The leads with these ids that exist, as [`summary`] reads each (in no particular order).
pub(super) async fn summaries_by_id(pool: &PgPool, ids: &[i64]) -> Result<Vec<LeadSummary>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!("{SUMMARY_SELECT} WHERE l.id = ANY($1)");
    let rows: Vec<SummaryRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(ids)
        .fetch_all(pool)
        .await?;
    rows.into_iter().map(SummaryRow::into_summary).collect()
}
