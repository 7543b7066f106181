//! [`CounterpartyEdits`] in the SQLite backend.

use async_trait::async_trait;
use chrono::Utc;

use super::{Edge, SqliteStorage, ms, push_calendar_ids};
use leadgate_storage::{
    ContactKind, CounterpartyContact, CounterpartyEdits, LinkOutcome, Result, StorageError,
};
use sqlx::{QueryBuilder, Sqlite};

/// The counterparty side of a lead, for linking.
#[derive(sqlx::FromRow)]
struct LeadLinkRow {
    counterparty_id: Option<i64>,
    phone: Option<String>,
    phone_e164: Option<String>,
    email: Option<String>,
}

#[async_trait]
impl CounterpartyEdits for SqliteStorage {
    async fn rename_counterparty(&self, id: i64, name: &str) -> Result<bool> {
        let done = sqlx::query("UPDATE counterparties SET name = $1 WHERE id = $2")
            .bind(name)
            .bind(id)
            .execute(&self.writer)
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
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await.edge()?;
        let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM counterparties WHERE id = $1")
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
                "SELECT value FROM counterparty_contacts
                 WHERE counterparty_id = $1 AND kind = 'email' AND lower(value) = lower($2) ORDER BY id LIMIT 1",
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
        .await.edge()?;
        tx.commit().await.edge()?;
        Ok(done.rows_affected() > 0)
    }

    async fn remove_counterparty_contact(
        &self,
        id: i64,
        contact: &CounterpartyContact,
        calendars: Option<&[i64]>,
    ) -> Result<bool> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await.edge()?;
        if let Some(calendars) = calendars {
            // Brought by a lead the viewer may not see: only the manager's confirmation goes.
            let mut q = QueryBuilder::<Sqlite>::new(
                "UPDATE counterparty_contacts SET entered_by = NULL
                 WHERE counterparty_id = ",
            );
            q.push_bind(id)
                .push(" AND kind = ")
                .push_bind(contact.kind.as_str())
                .push(" AND value = ")
                .push_bind(&contact.value)
                .push(
                    " AND EXISTS (SELECT 1 FROM leads l WHERE l.counterparty_id = counterparty_contacts.counterparty_id
                     AND CASE counterparty_contacts.kind WHEN 'phone' THEN COALESCE(l.phone_e164, l.phone)
                         ELSE l.email END = counterparty_contacts.value AND NOT (1 = 1",
                );
            push_calendar_ids(&mut q, calendars);
            q.push("))");
            if q.build().execute(&mut *tx).await.edge()?.rows_affected() > 0 {
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
        .await.edge()?;
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
        Ok(sqlx::query_scalar(
            "SELECT DISTINCT counterparty_id FROM counterparty_contacts
             WHERE (kind = 'phone' AND value = $1) OR (kind = 'email' AND value = $2 COLLATE NOCASE)
             ORDER BY counterparty_id DESC LIMIT $3",
        )
        .bind(phone)
        .bind(email)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .edge()?)
    }

    async fn link_lead_to_counterparty(
        &self,
        lead_id: i64,
        counterparty_id: i64,
    ) -> Result<LinkOutcome> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await.edge()?;
        let lead: Option<LeadLinkRow> = sqlx::query_as(
            "SELECT counterparty_id, phone, phone_e164, email FROM leads WHERE id = $1",
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
        let party: Option<i64> = sqlx::query_scalar("SELECT id FROM counterparties WHERE id = $1")
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
            .await.edge()?;
        }
        tx.commit().await.edge()?;
        Ok(LinkOutcome::Linked)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::str::FromStr;

    use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

    use super::*;
    use crate::counterparties::{CounterpartyRow, views};
    use leadgate_storage::Leads;

    /// A database made by an earlier version, named its organisations after their contact person; the
    /// upgrade keeps every name, and the contacts stay as private as the leads that brought them.
    #[tokio::test]
    async fn counterparties_named_by_an_earlier_version_keep_their_names_after_the_upgrade() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("old.db").display());
        let options = SqliteConnectOptions::from_str(&url)
            .unwrap()
            .create_if_missing(true);
        let old = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .unwrap();
        sqlx::migrate!("./migrations")
            .run_to(8, &old)
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO counterparties (id, inn, inn_kind, name, created_at)
             VALUES (1, '7709745454', 'organisation', 'Прилепский Алексей Анатольевич', 0)",
        )
        .execute(&old)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO counterparty_contacts (counterparty_id, kind, value) VALUES (1, 'phone', '+79256424290')",
        )
        .execute(&old)
        .await
        .unwrap();
        old.close().await;

        let storage = SqliteStorage::connect(&url).await.unwrap();
        let party = storage.counterparty(1, None).await.unwrap().unwrap();
        assert_eq!(party.name, "Прилепский Алексей Анатольевич");
        assert_eq!(party.phones, vec!["+79256424290".to_owned()]);
        // No lead of any calendar brought the phone: a scoped viewer does not see it.
        let scoped = views(
            &storage,
            vec![CounterpartyRow {
                id: 1,
                inn: "7709745454".into(),
                inn_kind: "organisation".into(),
                name: party.name.clone(),
            }],
            Some(&[]),
        );
        assert!(scoped.await.unwrap()[0].phones.is_empty());
        assert_eq!(
            storage
                .counterparties_by_contact(Some("+79256424290"), None, 5)
                .await
                .unwrap(),
            vec![1]
        );
        assert!(
            storage
                .rename_counterparty(1, "ООО «Ромашка»")
                .await
                .unwrap()
        );
        assert_eq!(
            storage.counterparty(1, None).await.unwrap().unwrap().name,
            "ООО «Ромашка»"
        );
    }
}
