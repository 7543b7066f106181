//! Finding and erasing one person's data (152-ФЗ) in the PostgreSQL backend.
//!
//! Matching is done in two steps: SQL narrows the rows (an exact match on the canonical column, plus the few
//! rows whose stored text is not in canonical form), and [`PersonDataQuery`] decides on each, so a phone sent
//! as `8 (925) 642-42-90` and an e-mail in capitals are found as surely as the canonical ones.
//!
//! What erasing means:
//! - a lead is anonymised, not deleted (the shop's statistics keep its calendar, kind, status, dates, goods
//!   and tech cards): subject, description, contact person, phones, e-mail, INN, layout file URLs, warnings
//!   and the searchable text are blanked, extra works lose their free-text description, the managers'
//!   comments on it and its follow-ups' notes are blanked, the old values its history kept go, the link to its
//!   counterparty goes, and `erased_at` is set;
//! - a ledger record loses its raw bytes (the original message can no longer be downloaded or reprocessed);
//!   a rejected one becomes discarded. Its ledger key stays, so the same mail still in the mailbox is known
//!   and never imported again;
//! - a counterparty with the INN asked for, or an individual entrepreneur (12-digit INN) of an erased lead,
//!   is deleted with its contacts; an organisation of an erased lead that was named after the person is
//!   renamed to its INN; the person's phones and e-mails are deleted from every counterparty;
//! - the search indexes follow the rows (GIN and trigram entries of the old values go with them); the old
//!   row versions stay in the table files until autovacuum reclaims them.

use std::collections::{BTreeSet, HashSet};

use async_trait::async_trait;
use chrono::Utc;
use sqlx::{PgConnection, Postgres, QueryBuilder};
use tracing::instrument;

use super::{Error, PgStorage, Result, from_json, from_ms, json_text, ms};
use leadgate_domain::personal_data::{PersonDataQuery, QueryKind};
use leadgate_storage::{
    self as storage, CounterpartyRef, ErasureActor, ErasureRecord, PersonalData, PersonalDataFound,
    PersonalLead,
};

/// Ids bound per `IN (...)` list.
const CHUNK: usize = 500;

/// The reason a ledger record of erased data shows instead of its old one.
pub const ERASED_REASON: &str = "personal data erased on request";

/// `(id, phone, phone_e164, email, inn)` of a lead.
type LeadContacts = (
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// What the preview shows of a lead.
#[derive(sqlx::FromRow)]
struct LeadFound {
    id: i64,
    received_at: i64,
    contact_person: Option<String>,
    subject: Option<String>,
    counterparty_id: Option<i64>,
}

/// An erasure audit record as stored.
#[derive(sqlx::FromRow)]
struct ErasureRow {
    id: i64,
    erased_at: i64,
    actor: String,
    channel: String,
    query_kind: String,
    renamed_counterparties: i64,
    contacts: i64,
    lead_ids: String,
    message_ids: String,
    counterparty_ids: String,
}

/// Leads holding the person's value, with their phone and e-mail (for the contacts they left behind).
async fn matching_leads(
    conn: &mut PgConnection,
    query: &PersonDataQuery,
) -> Result<Vec<LeadContacts>> {
    // The candidates; the query decides.
    let sql = match query.kind() {
        QueryKind::Phone => {
            "SELECT id, phone, phone_e164, email, inn FROM leads
             WHERE phone_e164 = $1 OR (phone_e164 IS NULL AND phone IS NOT NULL)"
        }
        // Addresses with letters beyond ASCII are all candidates: the query decides how they fold.
        QueryKind::Email => {
            "SELECT id, phone, phone_e164, email, inn FROM leads
             WHERE lower(trim(email)) = $1 OR email ~ '[^ -~]'"
        }
        QueryKind::Inn => {
            "SELECT id, phone, phone_e164, email, inn FROM leads WHERE inn = $1 OR inn ~ '[^0-9]'"
        }
    };
    let rows: Vec<LeadContacts> = sqlx::query_as(sql)
        .bind(query.value())
        .fetch_all(&mut *conn)
        .await?;
    Ok(rows
        .into_iter()
        .filter(|(_, phone, e164, email, inn)| match query.kind() {
            QueryKind::Phone => e164
                .as_deref()
                .or(phone.as_deref())
                .is_some_and(|p| query.is_phone(p)),
            QueryKind::Email => email.as_deref().is_some_and(|e| query.is_email(e)),
            QueryKind::Inn => inn.as_deref().is_some_and(|i| query.is_inn(i)),
        })
        .collect())
}

fn push_ids(q: &mut QueryBuilder<Postgres>, ids: &[i64]) {
    q.push("(");
    let mut sep = q.separated(", ");
    for id in ids {
        sep.push_bind(*id);
    }
    q.push(")");
}

/// Finds everything held about the value; see [`PersonalData::find_personal_data`]. Also returns
/// the ids of the contacts to delete.
async fn find(
    conn: &mut PgConnection,
    query: &PersonDataQuery,
    mentioned: &[i64],
) -> Result<(PersonalDataFound, Vec<i64>)> {
    let leads = matching_leads(conn, query).await?;
    let lead_ids: Vec<i64> = leads.iter().map(|(id, ..)| *id).collect();

    let mut found = PersonalDataFound::default();
    let mut linked: BTreeSet<i64> = BTreeSet::new();
    let mut persons: HashSet<String> = HashSet::new();
    for chunk in lead_ids.chunks(CHUNK) {
        let mut q = QueryBuilder::<Postgres>::new(
            "SELECT id, received_at, contact_person, subject, counterparty_id FROM leads WHERE id IN ",
        );
        push_ids(&mut q, chunk);
        let rows: Vec<LeadFound> = q.build_query_as().fetch_all(&mut *conn).await?;
        for row in rows {
            let person = row.contact_person;
            if let Some(p) = person.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
                persons.insert(p.to_owned());
            }
            if let Some(cp) = row.counterparty_id {
                linked.insert(cp);
            }
            found.leads.push(PersonalLead {
                id: row.id,
                received_at: from_ms(row.received_at)?,
                contact_person: person,
                subject: row.subject,
            });
        }
    }
    found.leads.sort_by_key(|l| l.id);

    // Counterparties: deleted (this INN; individual entrepreneurs of the leads) or renamed.
    let mut deleted: Vec<CounterpartyRef> = Vec::new();
    if query.kind() == QueryKind::Inn {
        let rows: Vec<(i64, String, String)> =
            sqlx::query_as("SELECT id, inn, name FROM counterparties WHERE inn = $1")
                .bind(query.value())
                .fetch_all(&mut *conn)
                .await?;
        deleted.extend(
            rows.into_iter()
                .map(|(id, inn, name)| CounterpartyRef { id, inn, name }),
        );
    }
    let linked: Vec<i64> = linked.into_iter().collect();
    for chunk in linked.chunks(CHUNK) {
        let mut q = QueryBuilder::<Postgres>::new(
            "SELECT id, inn, inn_kind, name FROM counterparties WHERE id IN ",
        );
        push_ids(&mut q, chunk);
        let rows: Vec<(i64, String, String, String)> =
            q.build_query_as().fetch_all(&mut *conn).await?;
        for (id, inn, kind, name) in rows {
            if deleted.iter().any(|c| c.id == id) {
                continue;
            }
            if kind == "individual" {
                deleted.push(CounterpartyRef { id, inn, name });
            } else if persons.contains(name.trim()) {
                found.renamed_counterparty_ids.push(id);
            }
        }
    }
    deleted.sort_by_key(|c| c.id);
    let deleted_ids: HashSet<i64> = deleted.iter().map(|c| c.id).collect();

    // Contacts: all of a deleted counterparty; the value asked for, anywhere; and on the leads' counterparties,
    // the phones and e-mails those leads carried.
    let mut contacts: BTreeSet<i64> = BTreeSet::new();
    // Compared as a customer's contacts are kept (an e-mail in lower case): the lead keeps it as sent.
    let left_by_leads: HashSet<String> = leads
        .iter()
        .flat_map(|(_, phone, e164, email, _)| [phone, e164, email])
        .filter_map(|v| v.as_deref())
        .map(|v| v.trim().to_lowercase())
        .collect();
    let rows: Vec<(i64, i64, String, String)> = match query.kind() {
        QueryKind::Phone => {
            sqlx::query_as(
                "SELECT id, counterparty_id, kind, value FROM counterparty_contacts WHERE kind = 'phone'",
            )
            .fetch_all(&mut *conn)
            .await?
        }
        QueryKind::Email => {
            sqlx::query_as(
                "SELECT id, counterparty_id, kind, value FROM counterparty_contacts
                 WHERE kind = 'email' AND (lower(trim(value)) = $1 OR value ~ '[^ -~]')",
            )
            .bind(query.value())
            .fetch_all(&mut *conn)
            .await?
        }
        QueryKind::Inn => Vec::new(),
    };
    for (id, _, kind, value) in rows {
        let hit = if kind == "phone" {
            query.is_phone(&value)
        } else {
            query.is_email(&value)
        };
        if hit {
            contacts.insert(id);
        }
    }
    let owners: Vec<i64> = deleted_ids
        .iter()
        .copied()
        .chain(linked.iter().copied())
        .collect();
    for chunk in owners.chunks(CHUNK) {
        let mut q = QueryBuilder::<Postgres>::new(
            "SELECT id, counterparty_id, value FROM counterparty_contacts WHERE counterparty_id IN ",
        );
        push_ids(&mut q, chunk);
        let rows: Vec<(i64, i64, String)> = q.build_query_as().fetch_all(&mut *conn).await?;
        for (id, owner, value) in rows {
            if deleted_ids.contains(&owner) || left_by_leads.contains(&value.trim().to_lowercase())
            {
                contacts.insert(id);
            }
        }
    }

    // Ledger records: those of the leads, and the mentioned ones that still exist.
    let mut messages: BTreeSet<i64> = BTreeSet::new();
    for chunk in lead_ids.chunks(CHUNK) {
        let mut q = QueryBuilder::<Postgres>::new("SELECT id FROM messages WHERE lead_id IN ");
        push_ids(&mut q, chunk);
        let rows: Vec<(i64,)> = q.build_query_as().fetch_all(&mut *conn).await?;
        messages.extend(rows.into_iter().map(|(id,)| id));
    }
    for chunk in mentioned.chunks(CHUNK) {
        let mut q = QueryBuilder::<Postgres>::new("SELECT id FROM messages WHERE id IN ");
        push_ids(&mut q, chunk);
        let rows: Vec<(i64,)> = q.build_query_as().fetch_all(&mut *conn).await?;
        messages.extend(rows.into_iter().map(|(id,)| id));
    }

    found.message_ids = messages.into_iter().collect();
    found.counterparties = deleted;
    found.contacts = contacts.len();
    Ok((found, contacts.into_iter().collect()))
}

/// Runs `head` (a statement ending in `WHERE <column>`) with ` IN (ids)`, for every chunk of ids.
async fn for_ids(conn: &mut PgConnection, head: &str, ids: &[i64]) -> Result<()> {
    for_ids_closing(conn, head, ids, "").await
}

/// As [`for_ids`], with `close` after the ids (`")"` for a `head` that ends inside a subquery).
async fn for_ids_closing(
    conn: &mut PgConnection,
    head: &str,
    ids: &[i64],
    close: &str,
) -> Result<()> {
    for chunk in ids.chunks(CHUNK) {
        let mut q = QueryBuilder::<Postgres>::new(head);
        q.push(" IN ");
        push_ids(&mut q, chunk);
        q.push(close);
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// Erases what [`find`] finds and writes the audit record; the caller holds the write transaction.
async fn erase(
    conn: &mut PgConnection,
    query: &PersonDataQuery,
    mentioned: &[i64],
    actor: &ErasureActor,
) -> Result<ErasureRecord> {
    let (found, contact_ids) = find(conn, query, mentioned).await?;
    let now = Utc::now();
    let at = ms(now);
    let lead_ids: Vec<i64> = found.leads.iter().map(|l| l.id).collect();
    let counterparty_ids: Vec<i64> = found.counterparties.iter().map(|c| c.id).collect();

    // `at` is a number, never text from outside.
    let anonymise = format!(
        "UPDATE leads SET subject = NULL, description = NULL, contact_person = NULL, phone = NULL,
             phone_e164 = NULL, email = NULL, inn = NULL, counterparty_id = NULL, layout_files = '[]',
             warnings = '[]', message_id = NULL, search_text = '', page_url = NULL, referrer = NULL,
             erased_at = {at}, updated_at = {at}
         WHERE id"
    );
    for_ids(conn, &anonymise, &lead_ids).await?;
    for (head, close) in storage::ERASED_LEAD_TEXTS {
        for_ids_closing(conn, head, &lead_ids, close).await?;
    }

    for_ids(
        conn,
        "DELETE FROM message_raw_parts WHERE message_id",
        &found.message_ids,
    )
    .await?;
    let strip = format!(
        "UPDATE messages SET raw_codec = NULL, raw_size = NULL, content_type = NULL,
             outcome = CASE outcome WHEN 'rejected' THEN 'discarded' ELSE outcome END,
             reason = CASE WHEN outcome IN ('rejected', 'discarded') THEN '{ERASED_REASON}' ELSE reason END,
             erased_at = {at}
         WHERE id"
    );
    for_ids(conn, &strip, &found.message_ids).await?;

    for_ids(
        conn,
        "UPDATE leads SET counterparty_id = NULL WHERE counterparty_id",
        &counterparty_ids,
    )
    .await?;
    for_ids(
        conn,
        "DELETE FROM counterparty_contacts WHERE id",
        &contact_ids,
    )
    .await?;
    for_ids(
        conn,
        "DELETE FROM counterparty_contacts WHERE counterparty_id",
        &counterparty_ids,
    )
    .await?;
    for_ids(
        conn,
        "DELETE FROM counterparties WHERE id",
        &counterparty_ids,
    )
    .await?;
    for_ids(
        conn,
        "UPDATE counterparties SET name = 'ИНН ' || inn WHERE id",
        &found.renamed_counterparty_ids,
    )
    .await?;

    let record = ErasureRecord {
        id: 0,
        erased_at: from_ms(at)?,
        actor: actor.login.clone(),
        channel: actor.channel.to_owned(),
        query_kind: query.kind().as_str().to_owned(),
        lead_ids,
        message_ids: found.message_ids,
        counterparty_ids,
        renamed_counterparties: i64::try_from(found.renamed_counterparty_ids.len())
            .unwrap_or(i64::MAX),
        contacts: i64::try_from(found.contacts).unwrap_or(i64::MAX),
    };
    let count = |v: &[i64]| i64::try_from(v.len()).unwrap_or(i64::MAX);
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO personal_data_erasures (erased_at, user_id, actor, channel, query_kind, leads, messages,
             counterparties, renamed_counterparties, contacts, lead_ids, message_ids, counterparty_ids)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id",
    )
    .bind(at)
    .bind(actor.user_id)
    .bind(&record.actor)
    .bind(&record.channel)
    .bind(&record.query_kind)
    .bind(count(&record.lead_ids))
    .bind(count(&record.message_ids))
    .bind(count(&record.counterparty_ids))
    .bind(record.renamed_counterparties)
    .bind(record.contacts)
    .bind(json_text(&record.lead_ids)?)
    .bind(json_text(&record.message_ids)?)
    .bind(json_text(&record.counterparty_ids)?)
    .fetch_one(&mut *conn)
    .await?;
    Ok(ErasureRecord { id, ..record })
}

/// The latest audit records, newest first.
async fn erasures(conn: &mut PgConnection, limit: u32) -> Result<Vec<ErasureRecord>> {
    let rows: Vec<ErasureRow> = sqlx::query_as(
        "SELECT id, erased_at, actor, channel, query_kind, renamed_counterparties, contacts, lead_ids,
             message_ids, counterparty_ids
         FROM personal_data_erasures ORDER BY id DESC LIMIT $1",
    )
    .bind(i64::from(limit))
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter()
        .map(|row| {
            Ok(ErasureRecord {
                id: row.id,
                erased_at: from_ms(row.erased_at)?,
                actor: row.actor,
                channel: row.channel,
                query_kind: row.query_kind,
                lead_ids: from_json("lead_ids", &row.lead_ids)?,
                message_ids: from_json("message_ids", &row.message_ids)?,
                counterparty_ids: from_json("counterparty_ids", &row.counterparty_ids)?,
                renamed_counterparties: row.renamed_counterparties,
                contacts: row.contacts,
            })
        })
        .collect()
}

impl PgStorage {
    async fn erase_personal_data_in(
        &self,
        query: &PersonDataQuery,
        mentioned: &[i64],
        actor: &ErasureActor,
    ) -> Result<ErasureRecord> {
        let mut tx = self.pool.begin().await?;
        let record = erase(&mut tx, query, mentioned, actor).await?;
        tx.commit().await?;
        Ok(record)
    }
}

#[async_trait]
impl PersonalData for PgStorage {
    async fn find_personal_data(
        &self,
        query: &PersonDataQuery,
        mentioned: &[i64],
    ) -> storage::Result<PersonalDataFound> {
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        Ok(find(&mut conn, query, mentioned).await?.0)
    }

    #[instrument(skip_all, fields(kind = query.kind().as_str(), channel = actor.channel))]
    async fn erase_personal_data(
        &self,
        query: &PersonDataQuery,
        mentioned: &[i64],
        actor: &ErasureActor,
    ) -> storage::Result<ErasureRecord> {
        Ok(self.erase_personal_data_in(query, mentioned, actor).await?)
    }

    async fn personal_data_erasures(&self, limit: u32) -> storage::Result<Vec<ErasureRecord>> {
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        Ok(erasures(&mut conn, limit).await?)
    }
}
