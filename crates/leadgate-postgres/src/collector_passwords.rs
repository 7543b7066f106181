//! The PostgreSQL side of [`CollectorPasswordStore`]: the `collector_passwords` table.

use async_trait::async_trait;
use chrono::Utc;

use super::{Edge, PgStorage, ms};
use leadgate_storage::Sealed;
use leadgate_storage::{CollectorPasswordStore, Result, StoredPassword};

#[derive(sqlx::FromRow)]
struct PasswordRow {
    bound_to: String,
    nonce: Vec<u8>,
    ciphertext: Vec<u8>,
}

#[async_trait]
impl CollectorPasswordStore for PgStorage {
    async fn set_collector_password(
        &self,
        collector_id: i64,
        password: &StoredPassword,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO collector_passwords (collector_id, bound_to, nonce, ciphertext, updated_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (collector_id) DO UPDATE SET bound_to = excluded.bound_to,
                 nonce = excluded.nonce, ciphertext = excluded.ciphertext, updated_at = excluded.updated_at",
        )
        .bind(collector_id)
        .bind(&password.bound_to)
        .bind(&password.sealed.nonce)
        .bind(&password.sealed.ciphertext)
        .bind(ms(Utc::now()))
        .execute(&self.pool)
        .await
        .edge()?;
        Ok(())
    }

    async fn collector_password(&self, collector_id: i64) -> Result<Option<StoredPassword>> {
        let row: Option<PasswordRow> = sqlx::query_as(
            "SELECT bound_to, nonce, ciphertext FROM collector_passwords WHERE collector_id = $1",
        )
        .bind(collector_id)
        .fetch_optional(&self.pool)
        .await
        .edge()?;
        Ok(row.map(|r| StoredPassword {
            bound_to: r.bound_to,
            sealed: Sealed {
                nonce: r.nonce,
                ciphertext: r.ciphertext,
            },
        }))
    }

    async fn clear_collector_password(&self, collector_id: i64) -> Result<bool> {
        let done = sqlx::query("DELETE FROM collector_passwords WHERE collector_id = $1")
            .bind(collector_id)
            .execute(&self.pool)
            .await
            .edge()?;
        Ok(done.rows_affected() > 0)
    }
}
