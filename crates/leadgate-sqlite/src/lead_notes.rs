//! The SQLite side of [`LeadNotes`]: the `lead_comments` and `follow_ups` tables (migration 0018). Each
//! change is one write transaction with the lead's history entry.

use std::collections::HashSet;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

use super::{Edge, Error, SqliteStorage, from_ms, ms, rows_in_one};
use leadgate_domain::lead::LeadEventKind;
use leadgate_storage::{
    CommentView, FollowUpView, LeadNotes, NewComment, NewFollowUp, NewLeadEvent, Result,
};

/// A comment, its columns in this order (a lead's are read with [`rows_in_one`]).
#[derive(sqlx::FromRow, serde::Deserialize)]
struct CommentRow {
    id: i64,
    lead_id: i64,
    author_id: i64,
    author_login: String,
    author_name: String,
    body: String,
    created_at: i64,
}

impl CommentRow {
    fn into_view(self) -> Result<CommentView, Error> {
        Ok(CommentView {
            id: self.id,
            lead_id: self.lead_id,
            author_id: self.author_id,
            author_login: self.author_login,
            author_name: self.author_name,
            body: self.body,
            created_at: from_ms(self.created_at)?,
        })
    }
}

const COMMENT_SELECT: &str = "SELECT c.id, c.lead_id, c.author_id, u.login AS author_login,
        u.display_name AS author_name, c.body, c.created_at
     FROM lead_comments c JOIN users u ON u.id = c.author_id";

/// A follow-up, its columns in this order (a lead's are read with [`rows_in_one`]).
#[derive(sqlx::FromRow, serde::Deserialize)]
struct FollowUpRow {
    id: i64,
    lead_id: i64,
    calendar_id: i64,
    lead_subject: Option<String>,
    owner_id: i64,
    owner_login: String,
    owner_name: String,
    due_at: i64,
    note: String,
    created_by_login: String,
    created_at: i64,
    done_at: Option<i64>,
    done_by_login: Option<String>,
}

impl FollowUpRow {
    fn into_view(self) -> Result<FollowUpView, Error> {
        Ok(FollowUpView {
            id: self.id,
            lead_id: self.lead_id,
            calendar_id: self.calendar_id,
            lead_subject: self.lead_subject,
            owner_id: self.owner_id,
            owner_login: self.owner_login,
            owner_name: self.owner_name,
            due_at: from_ms(self.due_at)?,
            note: self.note,
            created_by_login: self.created_by_login,
            created_at: from_ms(self.created_at)?,
            done_at: self.done_at.map(from_ms).transpose()?,
            done_by_login: self.done_by_login,
        })
    }
}

const FOLLOW_UP_SELECT: &str =
    "SELECT f.id, f.lead_id, l.calendar_id, l.subject AS lead_subject, f.owner_id,
        o.login AS owner_login, o.display_name AS owner_name, f.due_at, f.note,
        p.login AS created_by_login, f.created_at, f.done_at, d.login AS done_by_login
     FROM follow_ups f
     JOIN leads l ON l.id = f.lead_id
     JOIN users o ON o.id = f.owner_id
     JOIN users p ON p.id = f.created_by
     LEFT JOIN users d ON d.id = f.done_by";

async fn lead_exists(conn: &mut SqliteConnection, lead_id: i64) -> Result<bool, Error> {
    let found: Option<i64> = sqlx::query_scalar("SELECT id FROM leads WHERE id = $1")
        .bind(lead_id)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(found.is_some())
}

async fn require_user(conn: &mut SqliteConnection, user_id: i64) -> Result<(), Error> {
    let found: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(&mut *conn)
        .await?;
    match found {
        Some(_) => Ok(()),
        None => Err(Error::NotFound {
            what: "user",
            key: user_id.to_string(),
        }),
    }
}

async fn follow_up_in(conn: &mut SqliteConnection, id: i64) -> Result<Option<FollowUpView>, Error> {
    let sql = format!("{FOLLOW_UP_SELECT} WHERE f.id = $1");
    let row: Option<FollowUpRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    row.map(FollowUpRow::into_view).transpose()
}

impl SqliteStorage {
    async fn add_comment_in(&self, c: &NewComment) -> Result<Option<CommentView>, Error> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        if !lead_exists(&mut tx, c.lead_id).await? {
            return Ok(None);
        }
        require_user(&mut tx, c.author_id).await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO lead_comments (lead_id, author_id, body, created_at) VALUES ($1, $2, $3, $4)
             RETURNING id",
        )
        .bind(c.lead_id)
        .bind(c.author_id)
        .bind(&c.body)
        .bind(ms(c.at))
        .fetch_one(&mut *tx)
        .await?;
        let entry = NewLeadEvent {
            at: c.at,
            ..NewLeadEvent::new(c.lead_id, Some(c.author_id), LeadEventKind::CommentAdded)
                .with("comment_id", id)
        };
        super::history::record(&mut tx, &entry).await?;
        let sql = format!("{COMMENT_SELECT} WHERE c.id = $1");
        let row: CommentRow = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        row.into_view().map(Some)
    }

    async fn plan_follow_up_in(&self, f: &NewFollowUp) -> Result<Option<FollowUpView>, Error> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        if !lead_exists(&mut tx, f.lead_id).await? {
            return Ok(None);
        }
        require_user(&mut tx, f.owner_id).await?;
        require_user(&mut tx, f.created_by).await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO follow_ups (lead_id, owner_id, due_at, note, created_by, created_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(f.lead_id)
        .bind(f.owner_id)
        .bind(ms(f.due_at))
        .bind(&f.note)
        .bind(f.created_by)
        .bind(ms(f.at))
        .fetch_one(&mut *tx)
        .await?;
        let view = follow_up_in(&mut tx, id).await?;
        if let Some(v) = &view {
            let entry = NewLeadEvent {
                at: f.at,
                ..NewLeadEvent::new(
                    f.lead_id,
                    Some(f.created_by),
                    LeadEventKind::FollowUpPlanned,
                )
                .with("follow_up_id", id)
                .with("due_at", v.due_at.to_rfc3339())
                .with("owner", v.owner_login.clone())
            };
            super::history::record(&mut tx, &entry).await?;
        }
        tx.commit().await?;
        Ok(view)
    }

    async fn complete_follow_up_in(
        &self,
        id: i64,
        by: i64,
        at: DateTime<Utc>,
    ) -> Result<Option<FollowUpView>, Error> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let done = sqlx::query(
            "UPDATE follow_ups SET done_at = $1, done_by = $2 WHERE id = $3 AND done_at IS NULL",
        )
        .bind(ms(at))
        .bind(by)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let view = follow_up_in(&mut tx, id).await?;
        // Only the change records an entry: one done already is left as it was.
        if let Some(v) = view.as_ref().filter(|_| done.rows_affected() > 0) {
            let entry = NewLeadEvent {
                at,
                ..NewLeadEvent::new(v.lead_id, Some(by), LeadEventKind::FollowUpDone)
                    .with("follow_up_id", id)
            };
            super::history::record(&mut tx, &entry).await?;
        }
        tx.commit().await?;
        Ok(view)
    }

    async fn follow_ups_where(
        &self,
        build: impl FnOnce(&mut QueryBuilder<Sqlite>),
    ) -> Result<Vec<FollowUpView>, Error> {
        let mut b = QueryBuilder::<Sqlite>::new(FOLLOW_UP_SELECT);
        b.push(" WHERE ");
        build(&mut b);
        let rows: Vec<FollowUpRow> = b.build_query_as().fetch_all(&self.pool).await?;
        rows.into_iter().map(FollowUpRow::into_view).collect()
    }
}

#[async_trait]
impl LeadNotes for SqliteStorage {
    async fn add_comment(&self, comment: &NewComment) -> Result<Option<CommentView>> {
        self.add_comment_in(comment).await.edge()
    }

    async fn comments_of_lead(&self, lead_id: i64) -> Result<Vec<CommentView>> {
        let mut rows: Vec<CommentRow> = rows_in_one(
            &self.pool,
            &format!("{COMMENT_SELECT} WHERE c.lead_id = $1"),
            "id, lead_id, author_id, author_login, author_name, body, created_at",
            lead_id,
            "a lead's comments",
        )
        .await
        .edge()?;
        rows.sort_unstable_by_key(|row| row.id);
        rows.into_iter()
            .map(CommentRow::into_view)
            .collect::<Result<_, _>>()
            .edge()
    }

    async fn plan_follow_up(&self, follow_up: &NewFollowUp) -> Result<Option<FollowUpView>> {
        self.plan_follow_up_in(follow_up).await.edge()
    }

    async fn complete_follow_up(
        &self,
        id: i64,
        by: i64,
        at: DateTime<Utc>,
    ) -> Result<Option<FollowUpView>> {
        self.complete_follow_up_in(id, by, at).await.edge()
    }

    async fn follow_up(&self, id: i64) -> Result<Option<FollowUpView>> {
        let mut conn = self.pool.acquire().await.edge()?;
        follow_up_in(&mut conn, id).await.edge()
    }

    async fn follow_ups_of_lead(&self, lead_id: i64) -> Result<Vec<FollowUpView>> {
        let mut rows: Vec<FollowUpRow> = rows_in_one(
            &self.pool,
            &format!("{FOLLOW_UP_SELECT} WHERE f.lead_id = $1"),
            "id, lead_id, calendar_id, lead_subject, owner_id, owner_login, owner_name, due_at, note, \
             created_by_login, created_at, done_at, done_by_login",
            lead_id,
            "a lead's follow-ups",
        )
        .await
        .edge()?;
        rows.sort_unstable_by_key(|row| (row.due_at, row.id));
        rows.into_iter()
            .map(FollowUpRow::into_view)
            .collect::<Result<_, _>>()
            .edge()
    }

    async fn follow_ups_of_owner(
        &self,
        owner_id: i64,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        calendars: Option<&[i64]>,
        limit: u32,
    ) -> Result<Vec<FollowUpView>> {
        if calendars.is_some_and(<[i64]>::is_empty) {
            return Ok(Vec::new());
        }
        self.follow_ups_where(|b| {
            b.push("f.owner_id = ")
                .push_bind(owner_id)
                .push(" AND f.due_at >= ")
                .push_bind(ms(from))
                .push(" AND f.due_at < ")
                .push_bind(ms(to));
            if let Some(calendars) = calendars {
                b.push(" AND l.calendar_id IN (");
                let mut list = b.separated(", ");
                for c in calendars {
                    list.push_bind(*c);
                }
                b.push(")");
            }
            b.push(" ORDER BY f.due_at, f.id LIMIT ")
                .push_bind(i64::from(limit));
        })
        .await
        .edge()
    }

    async fn follow_ups_falling_due(
        &self,
        after: DateTime<Utc>,
        upto: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<FollowUpView>> {
        self.follow_ups_where(|b| {
            b.push("f.done_at IS NULL AND f.due_at > ")
                .push_bind(ms(after))
                .push(" AND f.due_at <= ")
                .push_bind(ms(upto))
                .push(" ORDER BY f.due_at, f.id LIMIT ")
                .push_bind(i64::from(limit));
        })
        .await
        .edge()
    }

    async fn leads_with_overdue_follow_ups(
        &self,
        lead_ids: &[i64],
        now: DateTime<Utc>,
    ) -> Result<HashSet<i64>> {
        if lead_ids.is_empty() {
            return Ok(HashSet::new());
        }
        let mut b = QueryBuilder::<Sqlite>::new(
            "SELECT DISTINCT lead_id FROM follow_ups WHERE done_at IS NULL AND due_at < ",
        );
        b.push_bind(ms(now)).push(" AND lead_id IN (");
        let mut list = b.separated(", ");
        for id in lead_ids {
            list.push_bind(*id);
        }
        b.push(")");
        let ids: Vec<i64> = b.build_query_scalar().fetch_all(&self.pool).await.edge()?;
        Ok(ids.into_iter().collect())
    }
}
