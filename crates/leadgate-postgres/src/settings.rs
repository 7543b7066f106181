//! [`SettingsStore`] in the PostgreSQL backend.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::Utc;

use super::{Edge, PgStorage, ms};
use leadgate_storage::{Result, SettingsStore};

#[derive(sqlx::FromRow)]
struct SettingRow {
    key: String,
    value: String,
}

#[async_trait]
impl SettingsStore for PgStorage {
    async fn stored_settings(&self) -> Result<HashMap<String, String>> {
        let rows: Vec<SettingRow> = sqlx::query_as("SELECT key, value FROM settings")
            .fetch_all(&self.pool)
            .await
            .edge()?;
        Ok(rows.into_iter().map(|r| (r.key, r.value)).collect())
    }

    async fn save_settings(&self, values: &[(&str, Option<&str>)], by: Option<i64>) -> Result<()> {
        let mut tx = self.pool.begin().await.edge()?;
        let now = ms(Utc::now());
        for (key, value) in values {
            match value {
                Some(value) => {
                    sqlx::query(
                        "INSERT INTO settings (key, value, updated_at, updated_by) VALUES ($1, $2, $3, $4)
                         ON CONFLICT (key) DO UPDATE SET value = excluded.value,
                             updated_at = excluded.updated_at, updated_by = excluded.updated_by",
                    )
                    .bind(*key)
                    .bind(*value)
                    .bind(now)
                    .bind(by)
                    .execute(&mut *tx)
                    .await
                    .edge()?;
                }
                None => {
                    sqlx::query("DELETE FROM settings WHERE key = $1")
                        .bind(*key)
                        .execute(&mut *tx)
                        .await
                        .edge()?;
                }
            }
        }
        tx.commit().await.edge()?;
        Ok(())
    }
}
