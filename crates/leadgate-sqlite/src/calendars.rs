//! Calendars and HTTP sources in SQLite.

use async_trait::async_trait;
use chrono::Utc;

use super::accounts::upsert_user_in;
use super::{Result, SqliteStorage, conflict_on_unique, from_json, from_ms, json_text, ms};
use leadgate_storage::{
    self as storage, CalendarView, Calendars, HttpSourceRecord, HttpSourceView,
};

/// A calendar with its owner's login.
#[derive(sqlx::FromRow)]
struct CalendarRow {
    id: i64,
    name: String,
    #[sqlx(rename = "login")]
    owner: Option<String>,
    color: String,
}

/// An HTTP source as intake reads it: id, name, calendar id and name, CORS origins (JSON), whether it forms
/// tech cards. A tuple, because two columns are called `name`.
type SourceRow = (i64, String, i64, String, String, bool);

/// An HTTP source as the administration page lists it: the columns of a [`SourceRow`], then whether it has a
/// token and when it was made.
type SourceListRow = (i64, String, i64, String, String, bool, bool, i64);

fn source_record(
    (id, name, calendar_id, calendar_name, cors, auto_tech_cards): SourceRow,
) -> Result<HttpSourceRecord> {
    Ok(HttpSourceRecord {
        id,
        name,
        calendar_id,
        calendar_name,
        cors_origins: from_json("cors_origins", &cors)?,
        auto_tech_cards,
    })
}

impl SqliteStorage {
    async fn calendars_in(&self) -> Result<Vec<CalendarView>> {
        let rows: Vec<CalendarRow> = sqlx::query_as(
            "SELECT c.id, c.name, u.login, c.color FROM calendars c LEFT JOIN users u ON u.id = c.owner_id ORDER BY c.id",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| CalendarView {
                id: r.id,
                name: r.name,
                owner: r.owner,
                color: r.color,
            })
            .collect())
    }

    async fn create_calendar_in(
        &self,
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
        .fetch_one(&self.writer)
        .await
        .map_err(|e| conflict_on_unique(e, format!("calendar {name:?} exists already")))
    }

    async fn upsert_calendar_in(&self, name: &str, owner: Option<&str>) -> Result<i64> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let owner_id = match owner {
            Some(login) => Some(upsert_user_in(&mut tx, login, None, None).await?),
            None => None,
        };
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO calendars (name, owner_id, created_at) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO UPDATE SET owner_id = excluded.owner_id RETURNING id",
        )
        .bind(name)
        .bind(owner_id)
        .bind(ms(Utc::now()))
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn http_sources_in(&self) -> Result<Vec<HttpSourceView>> {
        let rows: Vec<SourceListRow> = sqlx::query_as(
            "SELECT s.id, s.name, s.calendar_id, c.name, s.cors_origins, s.auto_tech_cards,
                    s.token_hash IS NOT NULL, s.created_at
             FROM http_sources s JOIN calendars c ON c.id = s.calendar_id ORDER BY s.name",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(
                |(
                    id,
                    name,
                    calendar_id,
                    calendar_name,
                    cors,
                    auto_tech_cards,
                    active,
                    created_at,
                )| {
                    Ok(HttpSourceView {
                        source: source_record((
                            id,
                            name,
                            calendar_id,
                            calendar_name,
                            cors,
                            auto_tech_cards,
                        ))?,
                        active,
                        created_at: from_ms(created_at)?,
                    })
                },
            )
            .collect()
    }

    /// The source matching `clause` (on `s`, with one `$1`).
    async fn source_where(
        &self,
        clause: &'static str,
        key: String,
    ) -> Result<Option<HttpSourceRecord>> {
        let sql = format!(
            "SELECT s.id, s.name, s.calendar_id, c.name, s.cors_origins, s.auto_tech_cards
             FROM http_sources s JOIN calendars c ON c.id = s.calendar_id WHERE {clause}"
        );
        let row: Option<SourceRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        row.map(source_record).transpose()
    }

    async fn create_http_source_in(
        &self,
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
        .fetch_one(&self.writer)
        .await
        .map_err(|e| conflict_on_unique(e, format!("HTTP source {name:?} exists already")))
    }

    async fn upsert_http_source_in(
        &self,
        source: &HttpSourceRecord,
        token_hash: Option<&str>,
    ) -> Result<i64> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO http_sources (name, calendar_id, token_hash, cors_origins, auto_tech_cards, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (name) DO UPDATE SET calendar_id = excluded.calendar_id,
                 token_hash = COALESCE(excluded.token_hash, http_sources.token_hash),
                 cors_origins = excluded.cors_origins, auto_tech_cards = excluded.auto_tech_cards
             RETURNING id",
        )
        .bind(&source.name)
        .bind(source.calendar_id)
        .bind(token_hash)
        .bind(json_text(&source.cors_origins)?)
        .bind(source.auto_tech_cards)
        .bind(ms(Utc::now()))
        .fetch_one(&self.writer)
        .await?;
        Ok(id)
    }

    async fn revoke_http_source_in(&self, id: i64) -> Result<bool> {
        let done = sqlx::query("UPDATE http_sources SET token_hash = NULL WHERE id = $1")
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}

#[async_trait]
impl Calendars for SqliteStorage {
    async fn calendars(&self) -> storage::Result<Vec<CalendarView>> {
        Ok(self.calendars_in().await?)
    }

    async fn create_calendar(
        &self,
        name: &str,
        owner_id: Option<i64>,
        color: &str,
    ) -> storage::Result<i64> {
        Ok(self.create_calendar_in(name, owner_id, color).await?)
    }

    async fn upsert_calendar(&self, name: &str, owner: Option<&str>) -> storage::Result<i64> {
        Ok(self.upsert_calendar_in(name, owner).await?)
    }

    async fn http_sources(&self) -> storage::Result<Vec<HttpSourceView>> {
        Ok(self.http_sources_in().await?)
    }

    async fn http_source(&self, id: i64) -> storage::Result<Option<HttpSourceRecord>> {
        Ok(self
            .source_where("s.id = CAST($1 AS INTEGER)", id.to_string())
            .await?)
    }

    async fn http_source_by_token(
        &self,
        token_hash: &str,
    ) -> storage::Result<Option<HttpSourceRecord>> {
        Ok(self
            .source_where("s.token_hash = $1", token_hash.to_owned())
            .await?)
    }

    async fn create_http_source(
        &self,
        name: &str,
        calendar_id: i64,
        token_hash: &str,
    ) -> storage::Result<i64> {
        Ok(self
            .create_http_source_in(name, calendar_id, token_hash)
            .await?)
    }

    async fn upsert_http_source(
        &self,
        source: &HttpSourceRecord,
        token_hash: Option<&str>,
    ) -> storage::Result<i64> {
        Ok(self.upsert_http_source_in(source, token_hash).await?)
    }

    async fn revoke_http_source(&self, id: i64) -> storage::Result<bool> {
        Ok(self.revoke_http_source_in(id).await?)
    }
}
