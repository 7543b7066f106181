//! Calendars and HTTP sources in PostgreSQL. Upserts by name are one `INSERT ... ON CONFLICT` each, so
//! instances starting together on one database never trip over each other.

use async_trait::async_trait;
use chrono::Utc;

use super::accounts::upsert_user_in;
use super::{PgStorage, Result, conflict_on_unique, from_json, from_ms, json_text, ms};
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

/// An HTTP source as intake reads it.
#[derive(sqlx::FromRow)]
struct SourceRow {
    id: i64,
    name: String,
    calendar_id: i64,
    calendar_name: String,
    cors_origins: String,
    auto_tech_cards: bool,
}

impl SourceRow {
    fn into_record(self) -> Result<HttpSourceRecord> {
        Ok(HttpSourceRecord {
            id: self.id,
            name: self.name,
            calendar_id: self.calendar_id,
            calendar_name: self.calendar_name,
            cors_origins: from_json("cors_origins", &self.cors_origins)?,
            auto_tech_cards: self.auto_tech_cards,
        })
    }
}

/// An HTTP source as the administration page lists it.
#[derive(sqlx::FromRow)]
struct SourceListRow {
    #[sqlx(flatten)]
    source: SourceRow,
    active: bool,
    created_at: i64,
}

/// The columns of a [`SourceRow`], from `http_sources s JOIN calendars c`.
const SOURCE_COLUMNS: &str = "s.id, s.name, s.calendar_id, c.name AS calendar_name, s.cors_origins, \
     s.auto_tech_cards";

impl PgStorage {
    async fn calendars_in(&self) -> Result<Vec<CalendarView>> {
        let rows: Vec<CalendarRow> = sqlx::query_as(
            "SELECT c.id, c.name, u.login, c.color FROM calendars c LEFT JOIN users u ON u.id = c.owner_id
             ORDER BY c.id",
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
        .fetch_one(&self.pool)
        .await
        .map_err(|e| conflict_on_unique(e, format!("calendar {name:?} exists already")))
    }

    async fn upsert_calendar_in(&self, name: &str, owner: Option<&str>) -> Result<i64> {
        let mut tx = self.pool.begin().await?;
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
        let sql = format!(
            "SELECT {SOURCE_COLUMNS}, s.token_hash IS NOT NULL AS active, s.created_at
             FROM http_sources s JOIN calendars c ON c.id = s.calendar_id ORDER BY s.name"
        );
        let rows: Vec<SourceListRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter()
            .map(|row| {
                Ok(HttpSourceView {
                    source: row.source.into_record()?,
                    active: row.active,
                    created_at: from_ms(row.created_at)?,
                })
            })
            .collect()
    }

    async fn http_source_in(&self, id: i64) -> Result<Option<HttpSourceRecord>> {
        let sql = format!(
            "SELECT {SOURCE_COLUMNS} FROM http_sources s JOIN calendars c ON c.id = s.calendar_id
             WHERE s.id = $1"
        );
        let row: Option<SourceRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(SourceRow::into_record).transpose()
    }

    async fn http_source_by_token_in(&self, token_hash: &str) -> Result<Option<HttpSourceRecord>> {
        let sql = format!(
            "SELECT {SOURCE_COLUMNS} FROM http_sources s JOIN calendars c ON c.id = s.calendar_id
             WHERE s.token_hash = $1"
        );
        let row: Option<SourceRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await?;
        row.map(SourceRow::into_record).transpose()
    }

    async fn create_http_source_in(
        &self,
        name: &str,
        calendar_id: i64,
        token_hash: &str,
    ) -> Result<i64> {
        sqlx::query_scalar(
            "INSERT INTO http_sources (name, calendar_id, token_hash, created_at) VALUES ($1, $2, $3, $4)
             RETURNING id",
        )
        .bind(name)
        .bind(calendar_id)
        .bind(token_hash)
        .bind(ms(Utc::now()))
        .fetch_one(&self.pool)
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
        .fetch_one(&self.pool)
        .await?;
        Ok(id)
    }

    async fn revoke_http_source_in(&self, id: i64) -> Result<bool> {
        let done = sqlx::query("UPDATE http_sources SET token_hash = NULL WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}

#[async_trait]
impl Calendars for PgStorage {
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
        Ok(self.http_source_in(id).await?)
    }

    async fn http_source_by_token(
        &self,
        token_hash: &str,
    ) -> storage::Result<Option<HttpSourceRecord>> {
        Ok(self.http_source_by_token_in(token_hash).await?)
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
