//! [`CounterpartyEdits`] in the PostgreSQL backend. Where SQLite's one writer keeps a check and its write
//! together, a row lock does here: linking a lead locks it first, so two managers linking it at once (on
//! one instance or two) link it once.

use async_trait::async_trait;
use chrono::Utc;

use super::{Edge, PgStorage, ms};
use leadgate_storage::{
    ContactKind, CounterpartyContact, CounterpartyEdits, LinkOutcome, Result, StorageError,
};

/// The counterparty side of a lead, for linking.
#[derive(sqlx::FromRow)]
struct LeadLinkRow {
    counterparty_id: Option<i64>,
    phone: Option<String>,
    phone_e164: Option<String>,
    email: Option<String>,
}

#[async_trait]
impl CounterpartyEdits for PgStorage {
    async fn rename_counterparty(&self, id: i64, name: &str) -> Result<bool> {
        let done = sqlx::query("UPDATE counterparties SET name = $1 WHERE id = $2")
            .bind(name)
            .bind(id)
            .execute(&self.pool)
            .await
            .edge()?;
        Ok(done.rows_affected() > 0)
    }

    async fn add_counterparty_contact(
        &self,
        id: i64,
        contact: &CounterpartyContact,
        entered_by: i64,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await.edge()?;
        // The counterparty stays while its contact is added (a concurrent erasure waits, or goes first).
        let exists: Option<i64> =
            sqlx::query_scalar("SELECT id FROM counterparties WHERE id = $1 FOR KEY SHARE")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await
                .edge()?;
        if exists.is_none() {
            return Err(StorageError::NotFound {
                what: "counterparty",
                key: id.to_string(),
            });
        }
        // An e-mail the counterparty has in other letter case is the same address: that one is confirmed.
        let stored: Option<String> = match contact.kind {
            ContactKind::Email => sqlx::query_scalar(
                r#"SELECT value FROM counterparty_contacts
                 WHERE counterparty_id = $1 AND kind = 'email'
                 AND lower(value COLLATE "C") = lower($2 COLLATE "C") ORDER BY id LIMIT 1"#,
            )
            .bind(id)
            .bind(&contact.value)
            .fetch_optional(&mut *tx)
            .await
            .edge()?,
            ContactKind::Phone => None,
        };
        // A contact a lead brought and a manager now confirms becomes visible to everyone who sees the
        // counterparty, like one the manager typed.
        let done = sqlx::query(
            "INSERT INTO counterparty_contacts (counterparty_id, kind, value, entered_by)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (counterparty_id, kind, value) DO UPDATE SET entered_by = excluded.entered_by
             WHERE counterparty_contacts.entered_by IS NULL",
        )
        .bind(id)
        .bind(contact.kind.as_str())
        .bind(stored.as_deref().unwrap_or(&contact.value))
        .bind(entered_by)
        .execute(&mut *tx)
        .await
        .edge()?;
        tx.commit().await.edge()?;
        Ok(done.rows_affected() > 0)
    }

    async fn remove_counterparty_contact(
        &self,
        id: i64,
        contact: &CounterpartyContact,
        calendars: Option<&[i64]>,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await.edge()?;
        if let Some(calendars) = calendars {
            // Brought by a lead the viewer may not see: only the manager's confirmation goes.
            let kept = sqlx::query(
                "UPDATE counterparty_contacts cc SET entered_by = NULL
                 WHERE cc.counterparty_id = $1 AND cc.kind = $2 AND cc.value = $3
                 AND EXISTS (SELECT 1 FROM leads l WHERE l.counterparty_id = cc.counterparty_id
                     AND CASE cc.kind WHEN 'phone' THEN COALESCE(l.phone_e164, l.phone) ELSE l.email END = cc.value
                     AND l.calendar_id <> ALL($4))",
            )
            .bind(id)
            .bind(contact.kind.as_str())
            .bind(&contact.value)
            .bind(calendars)
            .execute(&mut *tx)
            .await
            .edge()?;
            if kept.rows_affected() > 0 {
                tx.commit().await.edge()?;
                return Ok(true);
            }
        }
        let done = sqlx::query(
            "DELETE FROM counterparty_contacts WHERE counterparty_id = $1 AND kind = $2 AND value = $3",
        )
        .bind(id)
        .bind(contact.kind.as_str())
        .bind(&contact.value)
        .execute(&mut *tx)
        .await
        .edge()?;
        tx.commit().await.edge()?;
        Ok(done.rows_affected() > 0)
    }

    async fn counterparties_by_contact(
        &self,
        phone_e164: Option<&str>,
        email: Option<&str>,
        limit: u32,
    ) -> Result<Vec<i64>> {
        let phone = phone_e164.map(str::trim).filter(|p| !p.is_empty());
        let email = email.map(str::trim).filter(|e| !e.is_empty());
        if phone.is_none() && email.is_none() {
            return Ok(Vec::new());
        }
        // E-mails match with their ASCII letters in any case, as SQLite's NOCASE compares them: `lower` under
        // the "C" collation folds only ASCII (an index of migration 0002 serves it).
        sqlx::query_scalar(
            "SELECT DISTINCT counterparty_id FROM counterparty_contacts
             WHERE (kind = 'phone' AND value = $1)
                OR (kind = 'email' AND lower(value COLLATE \"C\") = lower($2 COLLATE \"C\"))
             ORDER BY counterparty_id DESC LIMIT $3",
        )
        .bind(phone)
        .bind(email)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .edge()
    }

    async fn link_lead_to_counterparty(
        &self,
        lead_id: i64,
        counterparty_id: i64,
    ) -> Result<LinkOutcome> {
        let mut tx = self.pool.begin().await.edge()?;
        let lead: Option<LeadLinkRow> = sqlx::query_as(
            "SELECT counterparty_id, phone, phone_e164, email FROM leads WHERE id = $1 FOR UPDATE",
        )
        .bind(lead_id)
        .fetch_optional(&mut *tx)
        .await
        .edge()?;
        let Some(lead) = lead else {
            return Ok(LinkOutcome::NotFound);
        };
        if lead.counterparty_id.is_some() {
            return Ok(LinkOutcome::AlreadyLinked);
        }
        let party: Option<i64> =
            sqlx::query_scalar("SELECT id FROM counterparties WHERE id = $1 FOR KEY SHARE")
                .bind(counterparty_id)
                .fetch_optional(&mut *tx)
                .await
                .edge()?;
        if party.is_none() {
            return Ok(LinkOutcome::NotFound);
        }
        sqlx::query(
            "UPDATE leads SET counterparty_id = $1, updated_at = $2
             WHERE id = $3 AND counterparty_id IS NULL",
        )
        .bind(counterparty_id)
        .bind(ms(Utc::now()))
        .bind(lead_id)
        .execute(&mut *tx)
        .await
        .edge()?;
        // As the intake stores them: the phone in E.164, else as sent; the e-mail as sent.
        let contacts = [
            ("phone", lead.phone_e164.or(lead.phone)),
            ("email", lead.email),
        ];
        for (kind, value) in contacts {
            let Some(value) = value.filter(|v| !v.trim().is_empty()) else {
                continue;
            };
            sqlx::query(
                "INSERT INTO counterparty_contacts (counterparty_id, kind, value) VALUES ($1, $2, $3)
                 ON CONFLICT DO NOTHING",
            )
            .bind(counterparty_id)
            .bind(kind)
            .bind(value)
            .execute(&mut *tx)
            .await
            .edge()?;
        }
        tx.commit().await.edge()?;
        Ok(LinkOutcome::Linked)
    }
}
