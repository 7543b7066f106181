//! Records the configuration file manages (the `managed_by_file` columns).

use async_trait::async_trait;
use chrono::Utc;
use sqlx::{SqliteConnection, SqlitePool};

use super::{Result, SqliteStorage, json_text, ms};
use leadgate_storage::{self as storage, FileManaged, FileRecords, ManagedByFile, Retired};

#[async_trait]
impl FileManaged for SqliteStorage {
    async fn manage_by_file(&self, declared: &FileRecords) -> storage::Result<Retired> {
        Ok(manage_by_file(&self.writer, declared).await?)
    }

    async fn claim_declared(&self, declared: &FileRecords) -> storage::Result<()> {
        Ok(claim_declared(&self.writer, declared).await?)
    }

    async fn managed_by_file(&self) -> storage::Result<ManagedByFile> {
        Ok(managed_by_file(&self.pool).await?)
    }

    async fn set_http_source_cors(&self, id: i64, origins: &[String]) -> storage::Result<bool> {
        Ok(set_http_source_cors(&self.writer, id, origins).await?)
    }
}

/// Marks the declared records the file's.
async fn mark_declared(conn: &mut SqliteConnection, declared: &FileRecords) -> Result<()> {
    for (table, names) in [
        ("collectors", &declared.collectors),
        ("http_sources", &declared.http_sources),
        ("calendars", &declared.calendars),
    ] {
        // The table's name is one of the three above.
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE {table} SET managed_by_file = 1
             WHERE name IN (SELECT value FROM json_each($1)) AND managed_by_file = 0"
        )))
        .bind(json_text(names)?)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

async fn claim_declared(writer: &SqlitePool, declared: &FileRecords) -> Result<()> {
    let mut conn = writer.acquire().await?;
    mark_declared(&mut conn, declared).await
}

pub(super) async fn manage_by_file(writer: &SqlitePool, declared: &FileRecords) -> Result<Retired> {
    let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;
    let collectors = json_text(&declared.collectors)?;
    let sources = json_text(&declared.http_sources)?;
    let calendars = json_text(&declared.calendars)?;
    let mut retired = Retired::default();
    mark_declared(&mut tx, declared).await?;
    retired.collectors = sqlx::query_scalar(
        "UPDATE collectors SET deleted = 1, updated_at = $2
         WHERE managed_by_file = 1 AND deleted = 0 AND name NOT IN (SELECT value FROM json_each($1))
         RETURNING name",
    )
    .bind(&collectors)
    .bind(ms(Utc::now()))
    .fetch_all(&mut *tx)
    .await?;

    retired.http_sources = sqlx::query_scalar(
        "UPDATE http_sources SET token_hash = NULL
         WHERE managed_by_file = 1 AND token_hash IS NOT NULL
           AND name NOT IN (SELECT value FROM json_each($1))
         RETURNING name",
    )
    .bind(&sources)
    .fetch_all(&mut *tx)
    .await?;

    // A calendar that holds leads, or that a source or collector names, is handed over to the UI with them;
    // one nothing refers to is deleted.
    retired.calendars_released = sqlx::query_scalar(
        "UPDATE calendars SET managed_by_file = 0
         WHERE managed_by_file = 1 AND name NOT IN (SELECT value FROM json_each($1))
           AND (EXISTS (SELECT 1 FROM leads l WHERE l.calendar_id = calendars.id)
             OR EXISTS (SELECT 1 FROM http_sources s WHERE s.calendar_id = calendars.id)
             OR EXISTS (SELECT 1 FROM collectors c WHERE c.calendar_id = calendars.id))
         RETURNING name",
    )
    .bind(&calendars)
    .fetch_all(&mut *tx)
    .await?;
    retired.calendars_deleted = sqlx::query_scalar(
        "DELETE FROM calendars
         WHERE managed_by_file = 1 AND name NOT IN (SELECT value FROM json_each($1))
         RETURNING name",
    )
    .bind(&calendars)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(retired)
}

pub(super) async fn managed_by_file(pool: &SqlitePool) -> Result<ManagedByFile> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT 'calendar', id FROM calendars WHERE managed_by_file = 1
         UNION ALL SELECT 'source', id FROM http_sources WHERE managed_by_file = 1
         UNION ALL SELECT 'collector', id FROM collectors WHERE managed_by_file = 1",
    )
    .fetch_all(pool)
    .await?;
    let mut managed = ManagedByFile::default();
    for (kind, id) in rows {
        match kind.as_str() {
            "calendar" => managed.calendars.insert(id),
            "source" => managed.http_sources.insert(id),
            _ => managed.collectors.insert(id),
        };
    }
    Ok(managed)
}

pub(super) async fn set_http_source_cors(
    writer: &SqlitePool,
    id: i64,
    origins: &[String],
) -> Result<bool> {
    let done = sqlx::query("UPDATE http_sources SET cors_origins = $2 WHERE id = $1")
        .bind(id)
        .bind(json_text(&origins)?)
        .execute(writer)
        .await?;
    Ok(done.rows_affected() > 0)
}
