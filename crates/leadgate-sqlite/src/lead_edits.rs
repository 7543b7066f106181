//! [`LeadEdits`] in the SQLite backend: a manager's corrections of a lead, its order lines, its tech cards'
//! status and its second submissions, each in one `BEGIN IMMEDIATE` transaction with its timeline entries.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::SqliteConnection;

use super::write::counterparties;
use super::{Edge, Result, SqliteStorage, dec_text, json_text, ms};
use leadgate_domain::payload::{Campaign, OrderLine, Payload};
use leadgate_domain::techcard::TechCardStatus;
use leadgate_domain::warning::Warning;
use leadgate_storage::{
    CardStatusOutcome, DuplicateHint, DuplicateOutcome, FieldChange, LeadEdit, LeadEdits,
    LineChange, LinesChanged, duplicate_window_start,
};

/// The fields of a lead a manager corrects, as stored.
#[derive(sqlx::FromRow)]
struct EditRow {
    subject: Option<String>,
    description: Option<String>,
    contact_person: Option<String>,
    phone: Option<String>,
    email: Option<String>,
    inn: Option<String>,
    counterparty_id: Option<i64>,
    external_number: Option<String>,
    calendar_id: i64,
}

/// The fields that differ, old and new.
fn changes(old: &EditRow, edit: &LeadEdit) -> Vec<FieldChange> {
    let c = &edit.contact;
    [
        ("subject", &old.subject, edit.subject.clone()),
        ("description", &old.description, edit.description.clone()),
        ("contact_person", &old.contact_person, c.person.clone()),
        ("phone", &old.phone, c.phone.clone()),
        ("email", &old.email, c.email.clone()),
        (
            "inn",
            &old.inn,
            edit.inn.as_ref().map(|i| i.raw().to_owned()),
        ),
    ]
    .into_iter()
    .filter(|(_, old, new)| *old != new)
    .map(|(field, old, new)| FieldChange {
        field: field.to_owned(),
        old: old.clone(),
        new,
    })
    .collect()
}

/// The payload fields of an edited lead, for the intake's counterparty and search helpers.
fn edited_payload(edit: &LeadEdit) -> Payload {
    Payload {
        subject: edit.subject.clone(),
        occurred_at: None,
        description: edit.description.clone(),
        inn: edit.inn.clone(),
        contact: edit.contact.clone(),
        layout_files: Vec::new(),
        lines: Vec::new(),
        campaign: Campaign::default(),
        warnings: Vec::new(),
    }
}

async fn edit_in(
    conn: &mut SqliteConnection,
    id: i64,
    edit: &LeadEdit,
) -> Result<Option<Vec<FieldChange>>> {
    let old: Option<EditRow> = sqlx::query_as(
        "SELECT subject, description, contact_person, phone, email, inn, counterparty_id, external_number,
             calendar_id
         FROM leads WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(old) = old else {
        return Ok(None);
    };
    let changed = changes(&old, edit);
    if changed.is_empty() {
        return Ok(Some(changed));
    }
    let payload = edited_payload(edit);
    // The intake's own find-or-create: a valid INN finds its counterparty or creates it, and the lead's
    // phone and e-mail become its contacts.
    let parties = counterparties(conn, &[&payload]).await?;
    let inn_changed = changed.iter().any(|c| c.field == "inn");
    let counterparty = match edit.inn.as_ref().and_then(|i| i.valid()) {
        Some(inn) => parties.get(inn.as_str()).map(|c| c.id),
        // A lead linked by hand (it has no INN) keeps its link while its INN stays as it was.
        None if !inn_changed => old.counterparty_id,
        None => None,
    };
    let now = ms(Utc::now());
    let search_text = leadgate_storage::search_text(&payload, old.external_number.as_deref());
    sqlx::query(
        "UPDATE leads SET subject = $1, description = $2, contact_person = $3, phone = $4, phone_e164 = $5,
             email = $6, inn = $7, counterparty_id = $8, warnings = $9, search_text = $10, updated_at = $11
         WHERE id = $12",
    )
    .bind(edit.subject.as_deref())
    .bind(edit.description.as_deref())
    .bind(edit.contact.person.as_deref())
    .bind(edit.contact.phone.as_deref())
    .bind(edit.contact.phone_e164.as_deref())
    .bind(edit.contact.email.as_deref())
    .bind(edit.inn.as_ref().map(|i| i.raw()))
    .bind(counterparty)
    .bind(json_text(&edit.warnings)?)
    .bind(&search_text)
    .bind(now)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    // The trigger deleted the lead's old search keys.
    super::write::index_search_keys(conn, &[(id, old.calendar_id, &search_text)]).await?;
    super::edit_history::edited(conn, id, edit.by, &changed).await?;
    Ok(Some(changed))
}

/// Inserts one line (with its extra works) at `position`.
async fn insert_line(
    conn: &mut SqliteConnection,
    lead_id: i64,
    position: u32,
    line: &OrderLine,
) -> Result<()> {
    let line_id: i64 = sqlx::query_scalar(
        "INSERT INTO order_lines (lead_id, position, nomenclature, machine_code, resolution, material,
             material_code, width, height, quantity, price, amount, is_service)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id",
    )
    .bind(lead_id)
    .bind(i64::from(position))
    .bind(line.nomenclature.as_deref())
    .bind(line.machine_code.as_deref())
    .bind(line.resolution.as_deref())
    .bind(line.material.as_deref())
    .bind(line.material_code.as_deref())
    .bind(dec_text(line.width))
    .bind(dec_text(line.height))
    .bind(dec_text(line.quantity))
    .bind(dec_text(line.price))
    .bind(dec_text(line.amount))
    .bind(line.is_service)
    .fetch_one(&mut *conn)
    .await?;
    for (i, work) in (1i64..).zip(&line.extra_works) {
        sqlx::query(
            "INSERT INTO extra_works (line_id, position, kind, quantity, description)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(line_id)
        .bind(i)
        .bind(work.kind.as_deref())
        .bind(dec_text(work.quantity))
        .bind(work.description.as_deref())
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// What the timeline says of a line.
#[derive(sqlx::FromRow)]
struct SummaryRow {
    nomenclature: Option<String>,
    width: Option<String>,
    height: Option<String>,
    quantity: Option<String>,
    amount: Option<String>,
    is_service: bool,
}

/// The line at `line_id` written out for the timeline.
async fn summary_of(conn: &mut SqliteConnection, line_id: i64) -> Result<String> {
    let row: SummaryRow = sqlx::query_as(
        "SELECT nomenclature, width, height, quantity, amount, is_service FROM order_lines WHERE id = $1",
    )
    .bind(line_id)
    .fetch_one(&mut *conn)
    .await?;
    let SummaryRow {
        nomenclature,
        width,
        height,
        quantity,
        amount,
        is_service,
    } = row;
    let line = OrderLine {
        position: 0,
        nomenclature,
        machine_code: None,
        resolution: None,
        material: None,
        material_code: None,
        width: super::dec("width", width)?,
        height: super::dec("height", height)?,
        quantity: super::dec("quantity", quantity)?,
        price: None,
        amount: super::dec("amount", amount)?,
        is_service,
        extra_works: Vec::new(),
    };
    Ok(super::edit_history::line_summary(&line))
}

/// Takes the line away: deleted when it has no tech card, otherwise kept for its cards (which go stale),
/// with its position freed. Returns the stale cards.
async fn take_line_away(conn: &mut SqliteConnection, line_id: i64, now: i64) -> Result<Vec<i64>> {
    let cards: Vec<i64> = sqlx::query_scalar("SELECT id FROM tech_cards WHERE line_id = $1")
        .bind(line_id)
        .fetch_all(&mut *conn)
        .await?;
    if cards.is_empty() {
        sqlx::query("DELETE FROM extra_works WHERE line_id = $1")
            .bind(line_id)
            .execute(&mut *conn)
            .await?;
        sqlx::query("DELETE FROM order_lines WHERE id = $1")
            .bind(line_id)
            .execute(&mut *conn)
            .await?;
        return Ok(cards);
    }
    sqlx::query(
        "UPDATE order_lines SET removed_at = $1, removed_position = position, position = -id WHERE id = $2",
    )
    .bind(now)
    .bind(line_id)
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE tech_cards SET stale_at = $1 WHERE line_id = $2 AND stale_at IS NULL")
        .bind(now)
        .bind(line_id)
        .execute(&mut *conn)
        .await?;
    Ok(cards)
}

async fn change_lines_in(
    conn: &mut SqliteConnection,
    lead_id: i64,
    change: &LineChange,
    warnings: &[Warning],
    by: i64,
) -> Result<Option<LinesChanged>> {
    let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM leads WHERE id = $1")
        .bind(lead_id)
        .fetch_optional(&mut *conn)
        .await?;
    if exists.is_none() {
        return Ok(None);
    }
    let now = ms(Utc::now());
    let line_at = |position: u32| {
        sqlx::query_scalar::<_, i64>(
            "SELECT id FROM order_lines WHERE lead_id = $1 AND position = $2 AND removed_at IS NULL",
        )
        .bind(lead_id)
        .bind(i64::from(position))
    };
    let (position, stale_cards, old, new) = match change {
        LineChange::Add(line) => {
            let last: i64 = sqlx::query_scalar(
                "SELECT COALESCE(MAX(position), 0) FROM order_lines WHERE lead_id = $1 AND removed_at IS NULL",
            )
            .bind(lead_id)
            .fetch_one(&mut *conn)
            .await?;
            let position = u32::try_from(last.saturating_add(1)).unwrap_or(u32::MAX);
            insert_line(conn, lead_id, position, line).await?;
            let new = super::edit_history::line_summary(line);
            (position, Vec::new(), None, Some(new))
        }
        LineChange::Edit { position, line } => {
            let Some(line_id) = line_at(*position).fetch_optional(&mut *conn).await? else {
                return Ok(None);
            };
            let old = summary_of(conn, line_id).await?;
            let stale = take_line_away(conn, line_id, now).await?;
            insert_line(conn, lead_id, *position, line).await?;
            let new = super::edit_history::line_summary(line);
            (*position, stale, Some(old), Some(new))
        }
        LineChange::Remove { position } => {
            let Some(line_id) = line_at(*position).fetch_optional(&mut *conn).await? else {
                return Ok(None);
            };
            let old = summary_of(conn, line_id).await?;
            let stale = take_line_away(conn, line_id, now).await?;
            (*position, stale, Some(old), None)
        }
    };
    // An order while it has lines, a contact lead without, as the payload's kind is decided.
    sqlx::query(
        "UPDATE leads SET warnings = $1, updated_at = $2,
             kind = CASE WHEN EXISTS (SELECT 1 FROM order_lines
                                      WHERE lead_id = $3 AND removed_at IS NULL) THEN 'order' ELSE 'contact' END
         WHERE id = $3",
    )
    .bind(json_text(&warnings)?)
    .bind(now)
    .bind(lead_id)
    .execute(&mut *conn)
    .await?;
    super::edit_history::lines_changed(conn, lead_id, by, position, old, new, &stale_cards).await?;
    Ok(Some(LinesChanged {
        position,
        stale_cards,
    }))
}

/// What the hint of a second submission compares, of the lead it is for.
#[derive(sqlx::FromRow)]
struct HintRow {
    id: i64,
    phone_e164: Option<String>,
    email: Option<String>,
    inn: Option<String>,
    external_number: Option<String>,
    subject: Option<String>,
    received_at: i64,
    duplicate_of: Option<i64>,
    duplicate_dismissed: bool,
}

/// A lead's value of a hint key, trimmed; `None` when it has none.
fn key_value<'a>(lead: &'a HintRow, key: &str) -> Option<&'a str> {
    let value = match key {
        "phone" => lead.phone_e164.as_deref(),
        "email" => lead.email.as_deref(),
        _ => lead.inn.as_deref(),
    };
    value.map(str::trim).filter(|v| !v.is_empty())
}

/// The test that an earlier lead `o` has the key's value `value` (an expression).
fn key_test(key: &str, value: &str) -> String {
    match key {
        "phone" => format!("o.phone_e164 = {value}"),
        "email" => format!("o.email = {value} COLLATE NOCASE"),
        _ => format!("o.inn = {value}"),
    }
}

/// What else a match shares, as the statements name it.
fn matched_by(by: &str) -> &'static str {
    if by == "external_number" {
        "external_number"
    } else {
        "subject"
    }
}

/// The earliest lead before `lead` in the window that shares `key` with it and its external number or
/// subject: one walk of the key's (key, received_at) index.
async fn earliest_match(
    conn: &mut SqliteConnection,
    lead: &HintRow,
    key: &'static str,
    calendars: Option<&[i64]>,
) -> Result<Option<(i64, i64, &'static str)>> {
    let Some(value) = key_value(lead, key) else {
        return Ok(None);
    };
    // Calendar ids are integers, written into the statement as such.
    let scope = calendars.map_or_else(String::new, |ids| {
        let ids: Vec<String> = ids.iter().map(i64::to_string).collect();
        format!(" AND o.calendar_id IN ({})", ids.join(", "))
    });
    let sql = format!(
        "SELECT o.id, o.received_at,
             CASE WHEN o.external_number IS NOT NULL AND o.external_number = $4 THEN 'external_number' ELSE 'subject' END
         FROM leads o
         WHERE {} AND o.received_at >= $2 AND o.received_at <= $3 AND o.id < $5
           AND o.duplicate_of IS NULL
           AND ((o.external_number IS NOT NULL AND o.external_number = $4)
                OR (o.subject IS NOT NULL AND o.subject = $6)){scope}
         ORDER BY o.received_at, o.id LIMIT 1",
        key_test(key, "$1")
    );
    let received = DateTime::<Utc>::from_timestamp_millis(lead.received_at).unwrap_or_default();
    let found: Option<(i64, i64, String)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(value)
        .bind(ms(duplicate_window_start(received)))
        .bind(lead.received_at)
        .bind(lead.external_number.as_deref())
        .bind(lead.id)
        .bind(lead.subject.as_deref())
        .fetch_optional(&mut *conn)
        .await?;
    Ok(found.map(|(id, at, by)| (id, at, matched_by(&by))))
}

async fn hint_in(
    conn: &mut SqliteConnection,
    lead_id: i64,
    calendars: Option<&[i64]>,
) -> Result<Option<DuplicateHint>> {
    if calendars.is_some_and(<[i64]>::is_empty) {
        return Ok(None);
    }
    let lead: Option<HintRow> = sqlx::query_as(
        "SELECT id, phone_e164, email, inn, external_number, subject, received_at, duplicate_of,
             duplicate_dismissed FROM leads WHERE id = $1",
    )
    .bind(lead_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(lead) = lead.filter(|l| l.duplicate_of.is_none() && !l.duplicate_dismissed) else {
        return Ok(None);
    };
    let mut matches = Vec::new();
    for key in HINT_KEYS {
        if let Some(found) = earliest_match(conn, &lead, key, calendars).await? {
            matches.push((key, found));
        }
    }
    Ok(best_hint(matches))
}

/// The keys a second submission shares with its first, in the order a hint names them.
const HINT_KEYS: [&str; 3] = ["phone", "email", "inn"];

/// Leads whose hints one statement looks for (six parameters each, far below SQLite's limit).
const HINTS_PER_STATEMENT: usize = 500;

/// A key and the earliest lead it matched: `(key, (lead id, received at, what else matched))`.
type KeyMatch = (&'static str, (i64, i64, &'static str));

/// The hint made of a lead's earliest match per key (in [`HINT_KEYS`] order): the earliest lead of them, with
/// every key that found that same lead.
fn best_hint(matches: impl IntoIterator<Item = KeyMatch>) -> Option<DuplicateHint> {
    let mut best: Option<(i64, i64, Vec<&'static str>)> = None;
    for (key, (id, at, by)) in matches {
        match &mut best {
            Some((best_id, _, matched)) if *best_id == id => matched.insert(matched.len() - 1, key),
            Some((best_id, best_at, _)) if (*best_at, *best_id) <= (at, id) => {}
            _ => best = Some((id, at, vec![key, by])),
        }
    }
    best.map(|(of, _, matched)| DuplicateHint { of, matched })
}

/// The hints of many leads (a page of the inbox) as [`hint_in`] finds each: one statement reads the leads,
/// and one per key finds every lead's earliest match (a walk of the key's index per lead, in a subquery),
/// instead of up to four statements per lead.
async fn hints_in(
    conn: &mut SqliteConnection,
    lead_ids: &[i64],
    calendars: Option<&[i64]>,
) -> Result<Vec<(i64, i64)>> {
    if lead_ids.is_empty() || calendars.is_some_and(<[i64]>::is_empty) {
        return Ok(Vec::new());
    }
    // Calendar ids are integers, written into the statement as such.
    let scope = calendars.map_or_else(String::new, |ids| {
        let ids: Vec<String> = ids.iter().map(i64::to_string).collect();
        format!(" AND o.calendar_id IN ({})", ids.join(", "))
    });
    let mut matches: std::collections::HashMap<i64, Vec<KeyMatch>> =
        std::collections::HashMap::new();
    for chunk in lead_ids.chunks(HINTS_PER_STATEMENT) {
        let mut q = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
            "SELECT id, phone_e164, email, inn, external_number, subject, received_at, duplicate_of,
                 duplicate_dismissed FROM leads WHERE id IN (",
        );
        let mut list = q.separated(", ");
        for id in chunk {
            list.push_bind(*id);
        }
        q.push(")");
        let leads: Vec<HintRow> = q.build_query_as().fetch_all(&mut *conn).await?;
        let leads: Vec<HintRow> = leads
            .into_iter()
            .filter(|l| l.duplicate_of.is_none() && !l.duplicate_dismissed)
            .collect();
        for key in HINT_KEYS {
            let with: Vec<(&HintRow, &str)> = leads
                .iter()
                .filter_map(|l| Some((l, key_value(l, key)?)))
                .collect();
            if with.is_empty() {
                continue;
            }
            let mut q = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
                "WITH k (lead_id, value, lo, hi, external_number, subject) AS (VALUES ",
            );
            let mut rows = q.separated(", ");
            for (lead, value) in &with {
                let received =
                    DateTime::<Utc>::from_timestamp_millis(lead.received_at).unwrap_or_default();
                rows.push("(")
                    .push_bind_unseparated(lead.id)
                    .push_unseparated(", ")
                    .push_bind_unseparated(*value)
                    .push_unseparated(", ")
                    .push_bind_unseparated(ms(duplicate_window_start(received)))
                    .push_unseparated(", ")
                    .push_bind_unseparated(lead.received_at)
                    .push_unseparated(", ")
                    .push_bind_unseparated(lead.external_number.as_deref())
                    .push_unseparated(", ")
                    .push_bind_unseparated(lead.subject.as_deref())
                    .push_unseparated(")");
            }
            q.push(format!(
                "), m AS (
                     SELECT k.lead_id, k.external_number, (
                         SELECT o.id FROM leads o
                         WHERE {} AND o.received_at >= k.lo AND o.received_at <= k.hi AND o.id < k.lead_id
                           AND o.duplicate_of IS NULL
                           AND ((o.external_number IS NOT NULL AND o.external_number = k.external_number)
                                OR (o.subject IS NOT NULL AND o.subject = k.subject)){scope}
                         ORDER BY o.received_at, o.id LIMIT 1) AS first_id
                     FROM k)
                 SELECT m.lead_id, f.id, f.received_at,
                     CASE WHEN f.external_number IS NOT NULL AND f.external_number = m.external_number
                          THEN 'external_number' ELSE 'subject' END
                 FROM m JOIN leads f ON f.id = m.first_id",
                key_test(key, "k.value")
            ));
            let found: Vec<(i64, i64, i64, String)> =
                q.build_query_as().fetch_all(&mut *conn).await?;
            for (lead_id, id, at, by) in found {
                matches
                    .entry(lead_id)
                    .or_default()
                    .push((key, (id, at, matched_by(&by))));
            }
        }
    }
    Ok(lead_ids
        .iter()
        .filter_map(|id| {
            let hint = best_hint(matches.get(id)?.iter().copied())?;
            Some((*id, hint.of))
        })
        .collect())
}

#[async_trait]
impl LeadEdits for SqliteStorage {
    async fn edit_lead(
        &self,
        id: i64,
        edit: &LeadEdit,
    ) -> leadgate_storage::Result<Option<Vec<FieldChange>>> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await.edge()?;
        let done = edit_in(&mut tx, id, edit).await.edge()?;
        tx.commit().await.edge()?;
        Ok(done)
    }

    async fn change_order_lines(
        &self,
        lead_id: i64,
        change: &LineChange,
        warnings: &[Warning],
        by: i64,
    ) -> leadgate_storage::Result<Option<LinesChanged>> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await.edge()?;
        let done = change_lines_in(&mut tx, lead_id, change, warnings, by)
            .await
            .edge()?;
        tx.commit().await.edge()?;
        Ok(done)
    }

    async fn set_tech_card_status(
        &self,
        id: i64,
        from: TechCardStatus,
        to: TechCardStatus,
        by: i64,
    ) -> leadgate_storage::Result<Option<CardStatusOutcome>> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await.edge()?;
        let now: Option<(String, i64, String)> =
            sqlx::query_as("SELECT status, lead_id, number FROM tech_cards WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await
                .edge()?;
        let Some((now, lead_id, number)) = now else {
            return Ok(None);
        };
        let now: TechCardStatus = super::parse_enum("status", &now).edge()?;
        if now != from {
            return Ok(Some(CardStatusOutcome::Refused { now }));
        }
        sqlx::query("UPDATE tech_cards SET status = $1 WHERE id = $2")
            .bind(to.as_str())
            .bind(id)
            .execute(&mut *tx)
            .await
            .edge()?;
        super::edit_history::tech_card_status_changed(&mut tx, lead_id, by, &number, from, to)
            .await
            .edge()?;
        tx.commit().await.edge()?;
        let card = leadgate_storage::Leads::tech_card(self, id).await?;
        Ok(card.map(|c| CardStatusOutcome::Changed(Box::new(c))))
    }

    async fn duplicate_hint(
        &self,
        lead_id: i64,
        calendars: Option<&[i64]>,
    ) -> leadgate_storage::Result<Option<DuplicateHint>> {
        let mut conn = self.pool.acquire().await.edge()?;
        hint_in(&mut conn, lead_id, calendars).await.edge()
    }

    async fn duplicate_hints(
        &self,
        lead_ids: &[i64],
        calendars: Option<&[i64]>,
    ) -> leadgate_storage::Result<Vec<(i64, i64)>> {
        let mut conn = self.pool.acquire().await.edge()?;
        hints_in(&mut conn, lead_ids, calendars).await.edge()
    }

    async fn mark_duplicate(
        &self,
        lead_id: i64,
        of: i64,
        by: i64,
    ) -> leadgate_storage::Result<DuplicateOutcome> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await.edge()?;
        let hint = hint_in(&mut tx, lead_id, None).await.edge()?;
        if hint.is_none_or(|h| h.of != of) {
            return Ok(DuplicateOutcome::NotFound);
        }
        sqlx::query("UPDATE leads SET duplicate_of = $1, updated_at = $2 WHERE id = $3")
            .bind(of)
            .bind(ms(Utc::now()))
            .bind(lead_id)
            .execute(&mut *tx)
            .await
            .edge()?;
        super::edit_history::duplicate_marked(&mut tx, lead_id, by, of)
            .await
            .edge()?;
        tx.commit().await.edge()?;
        Ok(DuplicateOutcome::Done)
    }

    async fn dismiss_duplicate(
        &self,
        lead_id: i64,
        of: i64,
        by: i64,
    ) -> leadgate_storage::Result<DuplicateOutcome> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await.edge()?;
        // A lead marked a duplicate of `of` is one no more.
        let undone = sqlx::query(
            "UPDATE leads SET duplicate_of = NULL, duplicate_dismissed = 1, updated_at = $1
             WHERE id = $2 AND duplicate_of = $3",
        )
        .bind(ms(Utc::now()))
        .bind(lead_id)
        .bind(of)
        .execute(&mut *tx)
        .await
        .edge()?;
        if undone.rows_affected() == 0 {
            let hint = hint_in(&mut tx, lead_id, None).await.edge()?;
            if hint.is_none_or(|h| h.of != of) {
                return Ok(DuplicateOutcome::NotFound);
            }
            sqlx::query("UPDATE leads SET duplicate_dismissed = 1, updated_at = $1 WHERE id = $2")
                .bind(ms(Utc::now()))
                .bind(lead_id)
                .execute(&mut *tx)
                .await
                .edge()?;
        }
        super::edit_history::duplicate_dismissed(&mut tx, lead_id, by, of)
            .await
            .edge()?;
        tx.commit().await.edge()?;
        Ok(DuplicateOutcome::Done)
    }
}
