//! The SQLite side of the web UI's storage methods: users, sessions, the sign-in rate limit, and the
//! summary queries behind the inbox, the calendar views and the counterparty pages.
//!
//! Kept out of the parent module so the intake's transactions and the UI's read paths can be read (and
//! merged) apart. Lists read only the columns they show, and every list is a keyset walk of an index:
//! `id < cursor ORDER BY id DESC`, never `OFFSET`. Where several calendars are selected, the calendar test
//! is written `+l.calendar_id IN (...)`: the unary plus keeps SQLite from choosing the per-calendar index,
//! which cannot deliver rows in id or time order across several calendars and would make it sort every
//! matching row; walking the id or time index and filtering stops after one page.

use chrono::{DateTime, Utc};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool};

use super::{from_ms, ms, parse_enum};
use crate::storage::{
    ApiTokenView, CounterpartyView, DaySlot, HttpSourceView, InboxCursor, InboxPage, InboxPulse,
    InboxQuery, LeadSummary, LoginAttempt, LoginLimits, LoginReservation, NewSession, Page,
    PageRequest, Result, SessionCheck, SessionRecord, StorageError, UserCredentials, UserRecord,
    UserView,
};
use leadgate_domain::account::Role;
use leadgate_domain::lead::{Channel, LeadKind, LeadStatus};

fn role(text: &str) -> Result<Role> {
    text.parse()
        .map_err(|_| StorageError::Corrupt(format!("role {text:?}")))
}

/// A unique-constraint failure becomes a `Conflict` with this message; anything else stays a database error.
fn conflict_on_unique(e: sqlx::Error, message: String) -> StorageError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StorageError::Conflict(message),
        _ => StorageError::Database(e),
    }
}

pub(super) async fn user_credentials(
    pool: &SqlitePool,
    login: &str,
) -> Result<Option<UserCredentials>> {
    let row: Option<(i64, String, String, Option<String>, bool)> = sqlx::query_as(
        "SELECT id, login, role, password_hash, disabled_at IS NOT NULL FROM users WHERE login = $1",
    )
    .bind(login)
    .fetch_optional(pool)
    .await?;
    row.map(|(id, login, r, password_hash, disabled)| {
        Ok(UserCredentials {
            id,
            login,
            role: role(&r)?,
            password_hash,
            disabled,
        })
    })
    .transpose()
}

const USER_SELECT: &str =
    "SELECT id, login, display_name, role, password_hash IS NOT NULL AS has_password,
        ics_secret_hash IS NOT NULL AS has_ics, disabled_at IS NOT NULL AS disabled, created_at FROM users";

fn user_from_row(row: &SqliteRow) -> Result<UserView> {
    let r: String = row.try_get("role")?;
    Ok(UserView {
        id: row.try_get("id")?,
        login: row.try_get("login")?,
        display_name: row.try_get("display_name")?,
        role: role(&r)?,
        has_password: row.try_get("has_password")?,
        has_ics_secret: row.try_get("has_ics")?,
        disabled: row.try_get("disabled")?,
        created_at: from_ms(row.try_get("created_at")?)?,
    })
}

pub(super) async fn user(pool: &SqlitePool, id: i64) -> Result<Option<UserView>> {
    let sql = format!("{USER_SELECT} WHERE id = $1");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(pool)
        .await?
        .as_ref()
        .map(user_from_row)
        .transpose()
}

pub(super) async fn users(pool: &SqlitePool) -> Result<Vec<UserView>> {
    let sql = format!("{USER_SELECT} ORDER BY login");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .fetch_all(pool)
        .await?
        .iter()
        .map(user_from_row)
        .collect()
}

pub(super) async fn create_user(
    pool: &SqlitePool,
    login: &str,
    display_name: &str,
    role: Role,
    password_hash: Option<&str>,
) -> Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO users (login, display_name, role, password_hash, created_at) VALUES ($1, $2, $3, $4, $5)
         RETURNING id",
    )
    .bind(login)
    .bind(display_name)
    .bind(role.as_str())
    .bind(password_hash)
    .bind(ms(Utc::now()))
    .fetch_one(pool)
    .await
    .map_err(|e| conflict_on_unique(e, format!("user {login:?} exists already")))
}

pub(super) async fn update_user(
    pool: &SqlitePool,
    id: i64,
    role: Option<Role>,
    password_hash: Option<&str>,
) -> Result<()> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let done = sqlx::query(
        "UPDATE users SET role = COALESCE($1, role), password_hash = COALESCE($2, password_hash) WHERE id = $3",
    )
    .bind(role.map(Role::as_str))
    .bind(password_hash)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(StorageError::NotFound {
            what: "user",
            key: id.to_string(),
        });
    }
    if password_hash.is_some() {
        // A new password takes away everything the old one may have given out.
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE api_tokens SET revoked_at = $2
             WHERE user_id = $1 AND revoked_at IS NULL AND name <> 'configured'",
        )
        .bind(id)
        .bind(ms(Utc::now()))
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE users SET ics_secret_hash = NULL WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

pub(super) async fn set_user_disabled(pool: &SqlitePool, id: i64, disabled: bool) -> Result<bool> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let done = sqlx::query(
        "UPDATE users SET disabled_at = CASE WHEN $2 THEN COALESCE(disabled_at, $3) END WHERE id = $1",
    )
    .bind(id)
    .bind(disabled)
    .bind(ms(Utc::now()))
    .execute(&mut *tx)
    .await?;
    if disabled {
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(done.rows_affected() > 0)
}

pub(super) async fn provision_configured_token(
    pool: &SqlitePool,
    token: Option<(i64, &str)>,
) -> Result<()> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let now = ms(Utc::now());
    let token_hash = token.map(|(_, hash)| hash);
    if let Some((user_id, hash)) = token {
        sqlx::query(
            "INSERT INTO api_tokens (user_id, name, token_hash, created_at) VALUES ($1, 'configured', $2, $3)
             ON CONFLICT (token_hash) DO UPDATE SET user_id = excluded.user_id, name = 'configured',
                 revoked_at = NULL",
        )
        .bind(user_id)
        .bind(hash)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query(
        "UPDATE api_tokens SET revoked_at = $1
         WHERE name = 'configured' AND revoked_at IS NULL AND token_hash IS NOT $2",
    )
    .bind(now)
    .bind(token_hash)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn api_tokens(pool: &SqlitePool) -> Result<Vec<ApiTokenView>> {
    let rows: Vec<(i64, String, String, i64, Option<i64>)> = sqlx::query_as(
        "SELECT t.id, u.login, t.name, t.created_at, t.revoked_at FROM api_tokens t
         JOIN users u ON u.id = t.user_id ORDER BY t.id DESC",
    )
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|(id, owner, name, created, revoked)| {
            Ok(ApiTokenView {
                id,
                owner,
                name,
                created_at: from_ms(created)?,
                revoked_at: revoked.map(from_ms).transpose()?,
            })
        })
        .collect()
}

pub(super) async fn revoke_api_token(pool: &SqlitePool, id: i64) -> Result<bool> {
    let done =
        sqlx::query("UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
            .bind(id)
            .bind(ms(Utc::now()))
            .execute(pool)
            .await?;
    Ok(done.rows_affected() > 0)
}

pub(super) async fn create_session(pool: &SqlitePool, s: &NewSession) -> Result<()> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
        .bind(ms(s.created_at))
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, expires_at, last_seen_at)
         VALUES ($1, $2, $3, $4, $5, $4)",
    )
    .bind(&s.id_hash)
    .bind(s.user_id)
    .bind(&s.csrf_token)
    .bind(ms(s.created_at))
    .bind(ms(s.expires_at))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn session(
    pool: &SqlitePool,
    id_hash: &str,
    check: SessionCheck,
) -> Result<Option<SessionRecord>> {
    let row: Option<(i64, String, String, String, String, i64)> = sqlx::query_as(
        "SELECT u.id, u.login, u.display_name, u.role, s.csrf_token, s.last_seen_at
         FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.id_hash = $1 AND s.expires_at > $2 AND s.last_seen_at > $3 AND u.disabled_at IS NULL",
    )
    .bind(id_hash)
    .bind(ms(check.now))
    .bind(ms(check.idle_since))
    .fetch_optional(pool)
    .await?;
    row.map(|(user_id, login, display_name, r, csrf_token, last_seen)| {
        Ok(SessionRecord {
            user_id,
            login,
            display_name,
            role: role(&r)?,
            csrf_token,
            last_seen_at: from_ms(last_seen)?,
        })
    })
    .transpose()
}

pub(super) async fn touch_session(
    pool: &SqlitePool,
    id_hash: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    sqlx::query("UPDATE sessions SET last_seen_at = $2 WHERE id_hash = $1")
        .bind(id_hash)
        .bind(ms(now))
        .execute(pool)
        .await?;
    Ok(())
}

pub(super) async fn delete_session(pool: &SqlitePool, id_hash: &str) -> Result<()> {
    sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
        .bind(id_hash)
        .execute(pool)
        .await?;
    Ok(())
}

/// The number of recorded attempts of one key in the window, and the latest.
async fn attempts_of(
    conn: &mut sqlx::SqliteConnection,
    scope: &str,
    key: &str,
    since: DateTime<Utc>,
) -> Result<(i64, Option<i64>)> {
    Ok(sqlx::query_as(
        "SELECT COUNT(*), MAX(at) FROM login_attempts WHERE scope = $1 AND key = $2 AND at >= $3",
    )
    .bind(scope)
    .bind(key)
    .bind(ms(since))
    .fetch_one(&mut *conn)
    .await?)
}

pub(super) async fn reserve_login_attempt(
    pool: &SqlitePool,
    attempt: &LoginAttempt,
    limits: &LoginLimits,
) -> Result<LoginReservation> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    sqlx::query("DELETE FROM login_attempts WHERE at < $1")
        .bind(ms(attempt.window_start))
        .execute(&mut *tx)
        .await?;
    let mut retry_after = chrono::Duration::zero();
    for (scope, key, free) in [
        ("login", &attempt.login_key, limits.free_per_login),
        ("address", &attempt.address, limits.free_per_address),
    ] {
        let (failures, latest) = attempts_of(&mut tx, scope, key, attempt.window_start).await?;
        if let Some(latest) = latest
            && let Some(wait) = limits.wait(free, failures, from_ms(latest)?, attempt.at)
        {
            retry_after = retry_after.max(wait);
        }
    }
    if retry_after > chrono::Duration::zero() {
        return Ok(LoginReservation::Refused { retry_after });
    }
    sqlx::query("INSERT INTO login_attempts (scope, key, at) VALUES ('login', $1, $2)")
        .bind(&attempt.login_key)
        .bind(ms(attempt.at))
        .execute(&mut *tx)
        .await?;
    let address_attempt: i64 = sqlx::query_scalar(
        "INSERT INTO login_attempts (scope, key, at) VALUES ('address', $1, $2) RETURNING id",
    )
    .bind(&attempt.address)
    .bind(ms(attempt.at))
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(LoginReservation::Granted { address_attempt })
}

pub(super) async fn clear_login_attempts(
    pool: &SqlitePool,
    login_key: &str,
    address_attempt: i64,
) -> Result<()> {
    sqlx::query("DELETE FROM login_attempts WHERE (scope = 'login' AND key = $1) OR id = $2")
        .bind(login_key)
        .bind(address_attempt)
        .execute(pool)
        .await?;
    Ok(())
}

pub(super) async fn set_ics_secret(pool: &SqlitePool, user_id: i64, hash: &str) -> Result<()> {
    sqlx::query("UPDATE users SET ics_secret_hash = $1 WHERE id = $2")
        .bind(hash)
        .bind(user_id)
        .execute(pool)
        .await?;
    Ok(())
}

pub(super) async fn user_by_ics_secret(
    pool: &SqlitePool,
    hash: &str,
) -> Result<Option<UserRecord>> {
    let row: Option<(i64, String, String)> = sqlx::query_as(
        "SELECT id, login, role FROM users WHERE ics_secret_hash = $1 AND disabled_at IS NULL",
    )
    .bind(hash)
    .fetch_optional(pool)
    .await?;
    row.map(|(id, login, r)| {
        Ok(UserRecord {
            id,
            login,
            role: role(&r)?,
        })
    })
    .transpose()
}

/// The columns of a [`LeadSummary`], without `SELECT`, so a query can add its own.
macro_rules! summary_columns {
    () => {
        "l.id, l.calendar_id, c.name AS calendar_name, l.kind, l.status, l.subject, l.description,
        l.contact_person, l.phone, l.phone_e164, l.email, l.inn, cp.name AS cp_name, l.starts_at, l.received_at,
        l.updated_at, l.channel, l.external_number, u.login AS assignee_login"
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

fn summary_from_row(row: &SqliteRow) -> Result<LeadSummary> {
    let kind: String = row.try_get("kind")?;
    let status: String = row.try_get("status")?;
    let channel: String = row.try_get("channel")?;
    Ok(LeadSummary {
        id: row.try_get("id")?,
        calendar_id: row.try_get("calendar_id")?,
        calendar_name: row.try_get("calendar_name")?,
        kind: parse_enum::<LeadKind>("kind", &kind)?,
        status: parse_enum::<LeadStatus>("status", &status)?,
        subject: row.try_get("subject")?,
        description: row.try_get("description")?,
        contact_person: row.try_get("contact_person")?,
        phone: row.try_get("phone")?,
        phone_e164: row.try_get("phone_e164")?,
        email: row.try_get("email")?,
        inn: row.try_get("inn")?,
        counterparty_name: row.try_get("cp_name")?,
        starts_at: from_ms(row.try_get("starts_at")?)?,
        received_at: from_ms(row.try_get("received_at")?)?,
        updated_at: from_ms(row.try_get("updated_at")?)?,
        channel: parse_enum::<Channel>("channel", &channel)?,
        external_number: row.try_get("external_number")?,
        assignee: row.try_get("assignee_login")?,
    })
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

/// `LIKE` pattern for a substring of the (already lower-cased) search text.
fn like_pattern(search: &str) -> String {
    let escaped = search
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

pub(super) async fn inbox(pool: &SqlitePool, q: &InboxQuery) -> Result<InboxPage> {
    if q.calendars.as_ref().is_some_and(Vec::is_empty) {
        return Ok(InboxPage {
            items: Vec::new(),
            next: None,
        });
    }
    let limit = q.limit.clamp(1, PageRequest::MAX_LIMIT) as usize;
    // The runs this query walks: new leads, then the others; a status filter leaves one of them.
    let runs: &[bool] = match q.status {
        Some(LeadStatus::New) => &[true],
        Some(_) => &[false],
        None => &[true, false],
    };
    let search = q.search.as_deref().map(str::trim).filter(|s| !s.is_empty());
    if let Some(search) = search {
        return inbox_search(pool, q, search, limit).await;
    }
    let mut found: Vec<(bool, LeadSummary)> = Vec::new();
    for &in_new in runs {
        let after = match q.cursor {
            Some(c) if c.in_new == in_new => Some(c.after_id),
            // The cursor is already past the run of new leads.
            Some(c) if in_new && !c.in_new => continue,
            _ => None,
        };
        let mut b = QueryBuilder::<Sqlite>::new(SUMMARY_SELECT);
        b.push(" WHERE 1 = 1");
        push_calendars(&mut b, q.calendars.as_deref(), false);
        match q.status {
            Some(status) => b.push(" AND l.status = ").push_bind(status.as_str()),
            None if in_new => b.push(" AND l.status = 'new'"),
            None => b.push(" AND l.status <> 'new'"),
        };
        push_kind_and_period(&mut b, q);
        if let Some(after) = after {
            b.push(" AND l.id < ").push_bind(after);
        }
        let want = limit + 1 - found.len();
        b.push(" ORDER BY l.id DESC LIMIT ")
            .push_bind(i64::try_from(want).unwrap_or(i64::MAX));
        for row in b.build().fetch_all(pool).await? {
            found.push((in_new, summary_from_row(&row)?));
        }
        if found.len() > limit {
            break;
        }
    }
    Ok(inbox_page(found, limit))
}

/// A page of at most `limit` leads from `found` (fetched with one extra row), with the cursor to the next
/// page when there is one.
fn inbox_page(mut found: Vec<(bool, LeadSummary)>, limit: usize) -> InboxPage {
    let next = if found.len() > limit {
        found.truncate(limit);
        found.last().map(|(in_new, lead)| InboxCursor {
            in_new: *in_new,
            after_id: lead.id,
        })
    } else {
        None
    };
    InboxPage {
        items: found.into_iter().map(|(_, lead)| lead).collect(),
        next,
    }
}

fn push_kind_and_period(b: &mut QueryBuilder<Sqlite>, q: &InboxQuery) {
    super::push_kind_and_period(b, q.kind, q.from, q.to);
}

/// A text search cannot use an index (a substring anywhere), so it is one pass over the table in id order
/// instead of the two runs: reading rows in storage order is cheaper than fetching every new lead through
/// the status index, and only the (few) matches are sorted into new-first order.
async fn inbox_search(
    pool: &SqlitePool,
    q: &InboxQuery,
    search: &str,
    limit: usize,
) -> Result<InboxPage> {
    let mut b = QueryBuilder::<Sqlite>::new("SELECT ");
    b.push(summary_columns!())
        .push(", l.status = 'new' AS in_new")
        .push(summary_from!())
        .push(" WHERE l.search_text LIKE ")
        .push_bind(like_pattern(search))
        .push(" ESCAPE '\\'");
    push_calendars(&mut b, q.calendars.as_deref(), false);
    if let Some(status) = q.status {
        // Unary plus: a scan in id order, not a walk of the status index (see above).
        b.push(" AND +l.status = ").push_bind(status.as_str());
    }
    push_kind_and_period(&mut b, q);
    if let Some(c) = q.cursor {
        // After the cursor: later in its run, or anywhere in the run after it.
        b.push(" AND (((l.status = 'new') = ")
            .push_bind(c.in_new)
            .push(" AND l.id < ")
            .push_bind(c.after_id)
            .push(if c.in_new {
                ") OR l.status <> 'new')"
            } else {
                "))"
            });
    }
    b.push(" ORDER BY (l.status = 'new') DESC, l.id DESC LIMIT ")
        .push_bind(i64::try_from(limit + 1).unwrap_or(i64::MAX));
    let rows = b.build().fetch_all(pool).await?;
    let mut found = Vec::with_capacity(rows.len());
    for row in &rows {
        let in_new: bool = row.try_get("in_new")?;
        found.push((in_new, summary_from_row(row)?));
    }
    Ok(inbox_page(found, limit))
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
    // Every lead arrives new, so the newest new lead is what tells that something arrived; both figures
    // come from the (status, calendar_id, id) index alone.
    let mut b = QueryBuilder::<Sqlite>::new(
        "SELECT COALESCE(MAX(l.id), 0) FROM leads l WHERE l.status = 'new'",
    );
    push_calendars(&mut b, calendars, true);
    let latest_id: i64 = b.build_query_scalar().fetch_one(pool).await?;
    let mut b = QueryBuilder::<Sqlite>::new("SELECT COUNT(*) FROM leads l WHERE l.status = 'new'");
    push_calendars(&mut b, calendars, true);
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
    // Counts: one statement of per-day subqueries, each a range count that the (calendar, time) index
    // covers, cut at the exact day bounds (so days of 23 or 25 hours in a zone with daylight saving are right).
    let mut b = QueryBuilder::<Sqlite>::new("SELECT ");
    for day in 0..days {
        if day > 0 {
            b.push(", ");
        }
        b.push("(SELECT COUNT(*) FROM leads l WHERE l.starts_at >= ")
            .push_bind(ms(bounds[day]))
            .push(" AND l.starts_at < ")
            .push_bind(ms(bounds[day + 1]));
        push_calendars(&mut b, Some(calendars), true);
        b.push(")");
    }
    let row = b.build().fetch_one(pool).await?;
    for (day, slot) in slots.iter_mut().enumerate() {
        slot.count = row.try_get(day)?;
    }
    if per_day == 0 {
        return Ok(slots);
    }
    // The first events of each day that has any: one statement, one LIMITed index walk per day.
    let busy: Vec<usize> = (0..days).filter(|d| slots[*d].count > 0).collect();
    if busy.is_empty() {
        return Ok(slots);
    }
    let mut b = QueryBuilder::<Sqlite>::new("");
    for (n, day) in busy.iter().enumerate() {
        if n > 0 {
            b.push(" UNION ALL ");
        }
        b.push("SELECT * FROM (SELECT ")
            .push(summary_columns!())
            .push(", ")
            .push(*day)
            .push(" AS day")
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
    for row in b.build().fetch_all(pool).await? {
        let day: i64 = row.try_get("day")?;
        if let Some(slot) = usize::try_from(day).ok().and_then(|d| slots.get_mut(d)) {
            slot.events.push(summary_from_row(&row)?);
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
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(calendar_id)
        .bind(ms(from))
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await?
        .iter()
        .map(summary_from_row)
        .collect()
}

pub(super) async fn leads_of_counterparty(
    pool: &SqlitePool,
    counterparty_id: i64,
    limit: u32,
) -> Result<Vec<LeadSummary>> {
    let sql = format!("{SUMMARY_SELECT} WHERE l.counterparty_id = $1 ORDER BY l.id DESC LIMIT $2");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(counterparty_id)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await?
        .iter()
        .map(summary_from_row)
        .collect()
}

pub(super) async fn counterparty(
    storage: &super::SqliteStorage,
    id: i64,
    calendars: Option<&[i64]>,
) -> Result<Option<CounterpartyView>> {
    let mut b = QueryBuilder::<Sqlite>::new(
        "SELECT c.id, c.inn, c.inn_kind, c.name FROM counterparties c WHERE c.id = ",
    );
    b.push_bind(id);
    super::push_counterparty_visible(&mut b, calendars);
    let row: Option<(i64, String, String, String)> =
        b.build_query_as().fetch_optional(storage.pool()).await?;
    Ok(storage
        .counterparty_views(row.into_iter().collect(), calendars)
        .await?
        .pop())
}

/// An FTS5 query that matches names having words that start with each word of `query`: every word is
/// quoted (so no FTS5 syntax from the user survives) and made a prefix.
fn fts_prefix_query(query: &str) -> Option<String> {
    let terms: Vec<String> = query
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| format!("\"{}\"*", w.replace('"', "\"\"")))
        .collect();
    (!terms.is_empty()).then(|| terms.join(" "))
}

pub(super) async fn search_counterparties(
    storage: &super::SqliteStorage,
    query: &str,
    calendars: Option<&[i64]>,
    page: PageRequest,
) -> Result<Page<CounterpartyView>> {
    let query = query.trim();
    let digits: String = query.chars().filter(|c| !c.is_whitespace()).collect();
    let mut b = QueryBuilder::<Sqlite>::new(
        "SELECT id, inn, inn_kind, name FROM counterparties c WHERE 1 = 1",
    );
    if !query.is_empty() {
        if !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()) {
            // Digits only: an INN prefix, served by the UNIQUE index on inn (GLOB is case-sensitive, so
            // SQLite can turn it into a range; digits hold no GLOB metacharacters).
            b.push(" AND c.inn GLOB ").push_bind(format!("{digits}*"));
        } else if let Some(fts) = fts_prefix_query(query) {
            b.push(" AND c.id IN (SELECT rowid FROM counterparties_fts WHERE counterparties_fts MATCH ")
                .push_bind(fts)
                .push(")");
        }
    }
    super::push_counterparty_visible(&mut b, calendars);
    if let Some(cursor) = page.cursor {
        b.push(" AND c.id < ").push_bind(cursor);
    }
    b.push(" ORDER BY c.id DESC LIMIT ")
        .push_bind(i64::from(page.limit) + 1);
    let rows: Vec<(i64, String, String, String)> =
        b.build_query_as().fetch_all(storage.pool()).await?;
    let items = storage.counterparty_views(rows, calendars).await?;
    Ok(super::page_of(items, page.limit, |c| c.id))
}

pub(super) async fn message_of_lead(pool: &SqlitePool, lead_id: i64) -> Result<Option<i64>> {
    Ok(
        sqlx::query_scalar("SELECT id FROM messages WHERE lead_id = $1 ORDER BY id LIMIT 1")
            .bind(lead_id)
            .fetch_optional(pool)
            .await?,
    )
}

pub(super) async fn http_sources(pool: &SqlitePool) -> Result<Vec<HttpSourceView>> {
    let rows: Vec<(i64, String, String, bool, String, i64)> = sqlx::query_as(
        "SELECT s.id, s.name, c.name, s.token_hash IS NOT NULL, s.cors_origins, s.created_at
         FROM http_sources s JOIN calendars c ON c.id = s.calendar_id ORDER BY s.name",
    )
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(
            |(id, name, calendar_name, active, cors, created_at)| -> Result<HttpSourceView> {
                Ok(HttpSourceView {
                    id,
                    name,
                    calendar_name,
                    active,
                    cors_origins: serde_json::from_str(&cors)
                        .map_err(|e| StorageError::Corrupt(e.to_string()))?,
                    created_at: from_ms(created_at)?,
                })
            },
        )
        .collect()
}

pub(super) async fn create_http_source(
    pool: &SqlitePool,
    name: &str,
    calendar_id: i64,
    token_hash: &str,
) -> Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO http_sources (name, calendar_id, token_hash, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(name)
    .bind(calendar_id)
    .bind(token_hash)
    .bind(ms(Utc::now()))
    .fetch_one(pool)
    .await
    .map_err(|e| conflict_on_unique(e, format!("HTTP source {name:?} exists already")))
}

pub(super) async fn revoke_http_source(pool: &SqlitePool, id: i64) -> Result<bool> {
    let done = sqlx::query("UPDATE http_sources SET token_hash = NULL WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() > 0)
}

pub(super) async fn create_calendar(
    pool: &SqlitePool,
    name: &str,
    owner_id: Option<i64>,
    color: &str,
) -> Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO calendars (name, owner_id, color, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(name)
    .bind(owner_id)
    .bind(color)
    .bind(ms(Utc::now()))
    .fetch_one(pool)
    .await
    .map_err(|e| conflict_on_unique(e, format!("calendar {name:?} exists already")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_fts_query_quotes_every_word_and_makes_it_a_prefix() {
        assert_eq!(
            fts_prefix_query("Прилеп  \"ООО\" OR x*").as_deref(),
            Some("\"Прилеп\"* \"ООО\"* \"OR\"* \"x\"*")
        );
        assert_eq!(fts_prefix_query(" ,; "), None);
    }

    #[test]
    fn an_inbox_cursor_round_trips_and_rejects_anything_else() {
        for c in [
            InboxCursor {
                in_new: true,
                after_id: 42,
            },
            InboxCursor {
                in_new: false,
                after_id: 7,
            },
        ] {
            assert_eq!(InboxCursor::decode(&c.encode()), Some(c));
        }
        assert_eq!(InboxCursor::decode("x1"), None);
        assert_eq!(InboxCursor::decode("n"), None);
        assert_eq!(InboxCursor::decode(""), None);
    }
}
