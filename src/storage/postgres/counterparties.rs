//! Counterparties in PostgreSQL (part of the [`crate::storage::Leads`] aggregate): the API's list by INN,
//! one counterparty, and the web UI's search by INN prefix or name words (full-text GIN indexes), each
//! narrowed to what a user's calendars show.

use std::collections::HashMap;

use sqlx::{Postgres, QueryBuilder};

use super::{PgStorage, Result, page_of, push_calendar_ids};
use crate::storage::{CounterpartyView, Page, PageRequest};

/// A counterparty as stored, without its contacts.
#[derive(sqlx::FromRow)]
pub(super) struct CounterpartyRow {
    pub(super) id: i64,
    pub(super) inn: String,
    pub(super) inn_kind: String,
    pub(super) name: String,
}

/// A phone or e-mail of a counterparty.
#[derive(sqlx::FromRow)]
struct ContactRow {
    counterparty_id: i64,
    kind: String,
    value: String,
}

/// Appends the visibility test of a counterparty whose id is `c.id`: some lead of it is in one of these
/// calendars (nothing for `None`, every calendar). The leads are found through their counterparty index.
fn push_counterparty_visible(q: &mut QueryBuilder<Postgres>, calendars: Option<&[i64]>) {
    if let Some(calendars) = calendars {
        q.push(" AND EXISTS (SELECT 1 FROM leads l WHERE l.counterparty_id = c.id");
        push_calendar_ids(q, calendars);
        q.push(")");
    }
}

/// Counterparties with their phones and e-mails, the contacts of all of them loaded in one query. With
/// `calendars`, only the contacts that a lead of one of these calendars brought.
pub(super) async fn views(
    storage: &PgStorage,
    rows: Vec<CounterpartyRow>,
    calendars: Option<&[i64]>,
) -> Result<Vec<CounterpartyView>> {
    let mut contacts: HashMap<i64, (Vec<String>, Vec<String>)> = HashMap::new();
    if !rows.is_empty() {
        let mut q = QueryBuilder::<Postgres>::new(
            "SELECT cc.counterparty_id, cc.kind, cc.value FROM counterparty_contacts cc
             WHERE cc.counterparty_id = ANY(",
        );
        q.push_bind(rows.iter().map(|row| row.id).collect::<Vec<_>>())
            .push(")");
        if let Some(calendars) = calendars {
            // A contact is stored as the intake wrote it: the phone in E.164, else as sent; the e-mail
            // as sent.
            q.push(
                " AND (cc.entered_by IS NOT NULL OR EXISTS (SELECT 1 FROM leads l WHERE l.counterparty_id = cc.counterparty_id
                 AND CASE cc.kind WHEN 'phone' THEN COALESCE(l.phone_e164, l.phone) = cc.value
                     ELSE l.email = cc.value END",
            );
            push_calendar_ids(&mut q, calendars);
            // A contact a manager typed is the counterparty's own, seen by whoever sees it.
            q.push("))");
        }
        q.push(" ORDER BY cc.id");
        let found: Vec<ContactRow> = q.build_query_as().fetch_all(&storage.pool).await?;
        for c in found {
            let (phones, emails) = contacts.entry(c.counterparty_id).or_default();
            if c.kind == "phone" {
                phones.push(c.value)
            } else {
                emails.push(c.value)
            }
        }
    }
    Ok(rows
        .into_iter()
        .map(|row| {
            let (phones, emails) = contacts.remove(&row.id).unwrap_or_default();
            CounterpartyView {
                id: row.id,
                inn: row.inn,
                inn_kind: row.inn_kind,
                name: row.name,
                phones,
                emails,
            }
        })
        .collect())
}

/// See [`crate::storage::Leads::counterparties`].
pub(super) async fn list(
    storage: &PgStorage,
    inn: Option<&str>,
    calendars: Option<&[i64]>,
    page: PageRequest,
) -> Result<Page<CounterpartyView>> {
    let mut q = QueryBuilder::<Postgres>::new(
        "SELECT c.id, c.inn, c.inn_kind, c.name FROM counterparties c WHERE 1 = 1",
    );
    if let Some(inn) = inn {
        q.push(" AND c.inn = ").push_bind(inn.replace(' ', ""));
    }
    push_counterparty_visible(&mut q, calendars);
    if let Some(cursor) = page.cursor {
        q.push(" AND c.id < ").push_bind(cursor);
    }
    q.push(" ORDER BY c.id DESC LIMIT ")
        .push_bind(i64::from(page.limit) + 1);
    let rows: Vec<CounterpartyRow> = q.build_query_as().fetch_all(&storage.pool).await?;
    let items = views(storage, rows, calendars).await?;
    Ok(page_of(items, page.limit, |c| c.id))
}

/// See [`crate::storage::Leads::counterparty`].
pub(super) async fn one(
    storage: &PgStorage,
    id: i64,
    calendars: Option<&[i64]>,
) -> Result<Option<CounterpartyView>> {
    let mut b = QueryBuilder::<Postgres>::new(
        "SELECT c.id, c.inn, c.inn_kind, c.name FROM counterparties c WHERE c.id = ",
    );
    b.push_bind(id);
    push_counterparty_visible(&mut b, calendars);
    let row: Option<CounterpartyRow> = b.build_query_as().fetch_optional(&storage.pool).await?;
    Ok(views(storage, row.into_iter().collect(), calendars)
        .await?
        .pop())
}

/// A `tsquery` that matches texts having words that start with each word of `query`: every word is quoted
/// as a lexeme (so no tsquery syntax from the user survives) and made a prefix.
fn prefix_tsquery(query: &str) -> Option<String> {
    let terms: Vec<String> = query
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| format!("'{}':*", w.to_lowercase().replace('\'', "''")))
        .collect();
    (!terms.is_empty()).then(|| terms.join(" & "))
}

/// See [`crate::storage::Leads::search_counterparties`].
pub(super) async fn search(
    storage: &PgStorage,
    query: &str,
    calendars: Option<&[i64]>,
    page: PageRequest,
) -> Result<Page<CounterpartyView>> {
    let query = query.trim();
    let digits: String = query.chars().filter(|c| !c.is_whitespace()).collect();
    let mut b = QueryBuilder::<Postgres>::new(
        "SELECT id, inn, inn_kind, name FROM counterparties c WHERE 1 = 1",
    );
    if !query.is_empty() {
        if !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()) {
            // Digits only: an INN prefix, a range of the `text_pattern_ops` index on inn (digits hold no
            // LIKE metacharacters).
            b.push(" AND c.inn LIKE ").push_bind(format!("{digits}%"));
        } else if let Some(prefixes) = prefix_tsquery(query) {
            // Words of the name (or the INN) starting with the query's words, as the SQLite backend's FTS5
            // index finds them; and, through the russian configuration, the name's words in another
            // grammatical case ("Иванову" finds "Иванов"). Each is a GIN index of the migration.
            b.push(" AND (to_tsvector('simple', c.name || ' ' || c.inn) @@ to_tsquery('simple', ")
                .push_bind(prefixes)
                .push(") OR to_tsvector('russian', c.name) @@ plainto_tsquery('russian', ")
                .push_bind(query.to_owned())
                .push("))");
        }
    }
    push_counterparty_visible(&mut b, calendars);
    if let Some(cursor) = page.cursor {
        b.push(" AND c.id < ").push_bind(cursor);
    }
    b.push(" ORDER BY c.id DESC LIMIT ")
        .push_bind(i64::from(page.limit) + 1);
    let rows: Vec<CounterpartyRow> = b.build_query_as().fetch_all(&storage.pool).await?;
    let items = views(storage, rows, calendars).await?;
    Ok(page_of(items, page.limit, |c| c.id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tsquery_quotes_every_word_and_makes_it_a_prefix() {
        assert_eq!(
            prefix_tsquery("Прилеп  \"ООО\" OR x* d'Arc").as_deref(),
            Some("'прилеп':* & 'ооо':* & 'or':* & 'x':* & 'd':* & 'arc':*")
        );
        assert_eq!(prefix_tsquery(" ,; "), None);
    }
}
