//! The PostgreSQL side of [`LayoutFileStore`]: the `layout_files` table, whose rows the database itself
//! queues when a lead with layout files is inserted. Several instances may run downloaders on one
//! database: a claim skips the rows another claim holds, so no file is handed out twice.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{Edge, PgStorage, from_ms, ms};
use leadgate_storage::{
    DownloadedFile, LayoutFileContent, LayoutFileJob, LayoutFileState, LayoutFileStore,
    LayoutFileView, Result, StorageError,
};

#[derive(sqlx::FromRow)]
struct JobRow {
    id: i64,
    lead_id: i64,
    url: String,
    attempts: i64,
}

#[derive(sqlx::FromRow)]
struct ViewRow {
    id: i64,
    lead_id: i64,
    position: i64,
    url: String,
    state: String,
    attempts: i64,
    error: Option<String>,
    next_attempt_at: i64,
    file_name: Option<String>,
    content_type: Option<String>,
    size: Option<i64>,
    fetched_at: Option<i64>,
}

impl ViewRow {
    fn into_view(self) -> Result<LayoutFileView> {
        let state: LayoutFileState = self.state.parse().map_err(|_| {
            StorageError::from(super::Error::Corrupt(format!(
                "layout_files.state = {:?}",
                self.state
            )))
        })?;
        Ok(LayoutFileView {
            id: self.id,
            lead_id: self.lead_id,
            position: self.position,
            url: self.url,
            state,
            attempts: u32::try_from(self.attempts).unwrap_or(u32::MAX),
            error: self.error,
            next_attempt_at: match state {
                LayoutFileState::Pending => Some(from_ms(self.next_attempt_at).edge()?),
                _ => None,
            },
            file_name: self.file_name,
            content_type: self.content_type,
            size: self.size.and_then(|s| u64::try_from(s).ok()),
            fetched_at: self.fetched_at.map(from_ms).transpose().edge()?,
        })
    }
}

#[derive(sqlx::FromRow)]
struct ContentRow {
    file_name: Option<String>,
    content_type: Option<String>,
    content: Option<Vec<u8>>,
}

#[async_trait]
impl LayoutFileStore for PgStorage {
    async fn claim_layout_files(
        &self,
        now: DateTime<Utc>,
        lease: std::time::Duration,
        limit: u32,
    ) -> Result<Vec<LayoutFileJob>> {
        let lease = chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::hours(1));
        let rows: Vec<JobRow> = sqlx::query_as(
            "WITH due AS (
                 SELECT id, next_attempt_at AS due_at FROM layout_files
                 WHERE state = 'pending' AND next_attempt_at <= $2
                 ORDER BY next_attempt_at, id LIMIT $3
                 FOR UPDATE SKIP LOCKED
             ), claimed AS (
                 UPDATE layout_files f SET attempts = f.attempts + 1, next_attempt_at = $1
                 FROM due WHERE f.id = due.id
                 RETURNING f.id, f.lead_id, f.url, f.attempts, due.due_at
             )
             SELECT id, lead_id, url, attempts FROM claimed ORDER BY due_at, id",
        )
        .bind(ms(now + lease))
        .bind(ms(now))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .edge()?;
        Ok(rows
            .into_iter()
            .map(|r| LayoutFileJob {
                id: r.id,
                lead_id: r.lead_id,
                url: r.url,
                attempts: u32::try_from(r.attempts).unwrap_or(u32::MAX),
            })
            .collect())
    }

    async fn store_layout_file(
        &self,
        id: i64,
        file: &DownloadedFile,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let size = i64::try_from(file.bytes.len())
            .map_err(|_| StorageError::Conflict("the file is too large".to_owned()))?;
        sqlx::query(
            "UPDATE layout_files SET state = 'stored', error = NULL, file_name = $1, content_type = $2,
                    size = $3, content = $4, fetched_at = $5
             WHERE id = $6",
        )
        .bind(&file.file_name)
        .bind(&file.content_type)
        .bind(size)
        .bind(&file.bytes)
        .bind(ms(now))
        .bind(id)
        .execute(&self.pool)
        .await
        .edge()?;
        Ok(())
    }

    async fn layout_file_failed(
        &self,
        id: i64,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<()> {
        let (state, next) = match retry_at {
            Some(at) => ("pending", ms(at)),
            None => ("failed", 0),
        };
        sqlx::query(
            "UPDATE layout_files SET state = $1, error = $2, next_attempt_at = $3
             WHERE id = $4 AND state = 'pending'",
        )
        .bind(state)
        .bind(error)
        .bind(next)
        .bind(id)
        .execute(&self.pool)
        .await
        .edge()?;
        Ok(())
    }

    async fn layout_files_of_lead(&self, lead_id: i64) -> Result<Vec<LayoutFileView>> {
        let rows: Vec<ViewRow> = sqlx::query_as(
            "SELECT id, lead_id, position, url, state, attempts, error, next_attempt_at, file_name,
                    content_type, size, fetched_at
             FROM layout_files WHERE lead_id = $1 ORDER BY position",
        )
        .bind(lead_id)
        .fetch_all(&self.pool)
        .await
        .edge()?;
        rows.into_iter().map(ViewRow::into_view).collect()
    }

    async fn layout_file_content(
        &self,
        lead_id: i64,
        file_id: i64,
    ) -> Result<Option<LayoutFileContent>> {
        let row: Option<ContentRow> = sqlx::query_as(
            "SELECT file_name, content_type, content FROM layout_files
             WHERE id = $1 AND lead_id = $2 AND state = 'stored'",
        )
        .bind(file_id)
        .bind(lead_id)
        .fetch_optional(&self.pool)
        .await
        .edge()?;
        Ok(row.and_then(|r| {
            Some(LayoutFileContent {
                file_name: r.file_name.unwrap_or_default(),
                content_type: r
                    .content_type
                    .unwrap_or_else(|| "application/octet-stream".to_owned()),
                bytes: r.content?,
            })
        }))
    }
}
