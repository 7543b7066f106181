//! The write path of the PostgreSQL backend: a whole batch of submissions in one transaction and a handful
//! of statements.
//!
//! The group-commit writer hands in hundreds of submissions at a time; every table gets one
//! `INSERT ... SELECT FROM UNNEST` with one array per column: its text is the same whatever the batch's size,
//! so each connection prepares it once, and a big batch binds no more values than a small one. Ids are taken
//! up front from the tables' identity sequences (`nextval`, one round trip for the batch), which never hands
//! one id to two transactions, whichever instance runs them. Duplicates are decided before anything is
//! written: against the ledger (one `= ANY` query per source, one query for the idempotency keys) and within
//! the batch, by key and content hash; a known key with other content is another message, kept under its
//! content key.
//!
//! Another instance may record the same ledger key or claim the same idempotency key between that read and
//! this transaction's insert. The unique constraints on `messages (source, ledger_key)` and on
//! `idempotency_keys` make the later insert fail (PostgreSQL waits for the first transaction to end before
//! deciding), the whole batch rolls back, and the caller plans it again: the second time the read sees the
//! committed record, and the submission is a duplicate or a replay. Counterparties are looked up by INN, and
//! the missing ones created with `INSERT ... ON CONFLICT (inn) DO NOTHING`, INNs in sorted order so that two
//! batches never wait on each other in a cycle.

use std::collections::{HashMap, HashSet};

use chrono::Utc;
use serde_json::Value;
use sqlx::PgConnection;

use super::ledger::read_raw;
use super::{Error, Result, dec_text, json_text, ms};
use leadgate_domain::lead::LeadEventKind;
use leadgate_domain::ledger::Outcome;
use leadgate_domain::payload::{ExtraWork, OrderLine, Payload};
use leadgate_domain::techcard::Figures;
use leadgate_domain::warning::Warning;
use leadgate_storage::{
    CounterpartyRef, Disposition, IdempotencyClaim, LeadDraft, LedgerEntry, NewLeadEvent,
    SourceRef, StoredRaw, Submission, SubmitOutcome, WebhookEventType, content_hash,
};

/// One column of rows, as an array to bind for `UNNEST`.
fn column<'a, T, U>(rows: &'a [T], value: impl Fn(&'a T) -> U) -> Vec<U> {
    rows.iter().map(value).collect()
}

/// `n` new ids of `table` from its identity sequence, in the order they were drawn.
pub(super) async fn new_ids(
    conn: &mut PgConnection,
    table: &'static str,
    n: usize,
) -> Result<Vec<i64>> {
    if n == 0 {
        return Ok(Vec::new());
    }
    Ok(sqlx::query_scalar(
        "SELECT nextval(pg_get_serial_sequence($1, 'id')) FROM generate_series(1, $2)",
    )
    .bind(table)
    .bind(i64::try_from(n).unwrap_or(i64::MAX))
    .fetch_all(&mut *conn)
    .await?)
}

/// One new id of `table`.
async fn new_id(conn: &mut PgConnection, table: &'static str) -> Result<i64> {
    Ok(
        sqlx::query_scalar("SELECT nextval(pg_get_serial_sequence($1, 'id'))")
            .bind(table)
            .fetch_one(&mut *conn)
            .await?,
    )
}

fn source_ids(source: &SourceRef) -> (Option<i64>, Option<i64>) {
    match *source {
        SourceRef::Collector { id } => (Some(id), None),
        SourceRef::Http { id } => (None, Some(id)),
        SourceRef::File => (None, None),
    }
}

/// A lead to insert with its id.
pub(super) struct NewLead<'a> {
    pub id: i64,
    pub draft: &'a LeadDraft,
    pub entry: &'a LedgerEntry,
}

/// A ledger row to insert with its id.
struct NewMessage<'a> {
    id: i64,
    entry: &'a LedgerEntry,
    /// The key the record is kept under: the entry's own, or its Message-ID plus its content hash when the
    /// ledger holds that Message-ID with other content.
    ledger_key: Option<&'a str>,
    outcome: Outcome,
    reason: Option<&'a str>,
    lead_id: Option<i64>,
    /// For a duplicate: the record it repeats.
    duplicate_of: Option<i64>,
}

/// Finds or creates the counterparties of these leads (one per distinct valid INN; the first lead in the
/// batch names a new one), adds their phones and e-mails, and returns them by INN.
pub(super) async fn counterparties(
    conn: &mut PgConnection,
    payloads: &[&Payload],
) -> Result<HashMap<String, CounterpartyRef>> {
    let now = ms(Utc::now());
    let mut first: Vec<(&str, &'static str, String)> = Vec::new();
    let mut seen = HashSet::new();
    for payload in payloads {
        if let Some(inn) = payload.inn.as_ref().and_then(|i| i.valid())
            && seen.insert(inn.as_str())
        {
            let name = inn.new_counterparty_name(payload.contact.person.as_deref());
            first.push((inn.as_str(), inn.kind().as_str(), name));
        }
    }
    // Sorted, so that concurrent batches take the INNs' index entries in one order and never deadlock.
    first.sort_by(|a, b| a.0.cmp(b.0));
    let mut found = HashMap::with_capacity(first.len());
    let inns: Vec<&str> = first.iter().map(|(inn, _, _)| *inn).collect();
    known_counterparties(conn, &inns, &mut found).await?;
    let missing: Vec<&(&str, &'static str, String)> = first
        .iter()
        .filter(|(inn, _, _)| !found.contains_key(*inn))
        .collect();
    if !missing.is_empty() {
        let created: Vec<(i64, String, String)> = sqlx::query_as(
            "INSERT INTO counterparties (inn, inn_kind, name, created_at)
             SELECT inn, inn_kind, name, $4
             FROM UNNEST($1::text[], $2::text[], $3::text[]) AS c(inn, inn_kind, name)
             ON CONFLICT (inn) DO NOTHING
             RETURNING id, inn, name",
        )
        .bind(column(&missing, |(inn, _, _)| *inn))
        .bind(column(&missing, |(_, kind, _)| *kind))
        .bind(column(&missing, |(_, _, name)| name.as_str()))
        .bind(now)
        .fetch_all(&mut *conn)
        .await?;
        for (id, inn, name) in created {
            found.insert(inn.clone(), CounterpartyRef { id, inn, name });
        }
        // Another transaction created the rest while this one waited on their INNs; a new statement sees
        // what it committed.
        let raced: Vec<&str> = missing
            .iter()
            .map(|(inn, _, _)| *inn)
            .filter(|inn| !found.contains_key(*inn))
            .collect();
        known_counterparties(conn, &raced, &mut found).await?;
    }
    let mut contacts: Vec<(i64, &'static str, String)> = Vec::new();
    for p in payloads {
        let Some(party) = p
            .inn
            .as_ref()
            .and_then(|i| i.valid())
            .and_then(|inn| found.get(inn.as_str()))
        else {
            continue;
        };
        contacts.extend(
            p.contact
                .customer_contacts()
                .map(|(kind, value)| (party.id, kind, value)),
        );
    }
    contacts.sort_unstable();
    contacts.dedup();
    if !contacts.is_empty() {
        sqlx::query(
            "INSERT INTO counterparty_contacts (counterparty_id, kind, value)
             SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[])
             ON CONFLICT DO NOTHING",
        )
        .bind(column(&contacts, |(id, _, _)| *id))
        .bind(column(&contacts, |(_, kind, _)| *kind))
        .bind(column(&contacts, |(_, _, value)| value.as_str()))
        .execute(&mut *conn)
        .await?;
    }
    Ok(found)
}

/// Adds the counterparties with these INNs that exist to `found`.
async fn known_counterparties(
    conn: &mut PgConnection,
    inns: &[&str],
    found: &mut HashMap<String, CounterpartyRef>,
) -> Result<()> {
    if inns.is_empty() {
        return Ok(());
    }
    let rows: Vec<(i64, String, String)> =
        sqlx::query_as("SELECT id, inn, name FROM counterparties WHERE inn = ANY($1)")
            .bind(inns)
            .fetch_all(&mut *conn)
            .await?;
    for (id, inn, name) in rows {
        found.insert(inn.clone(), CounterpartyRef { id, inn, name });
    }
    Ok(())
}

/// A batch of leads as one array per column, for `INSERT ... SELECT FROM UNNEST`: the statement's text is
/// the same whatever the batch's size, so each connection prepares it once, and no batch nears the limit on
/// bound values.
#[derive(Default)]
struct LeadColumns<'a> {
    id: Vec<i64>,
    calendar_id: Vec<i64>,
    kind: Vec<&'a str>,
    subject: Vec<Option<&'a str>>,
    occurred_at: Vec<Option<i64>>,
    received_at: Vec<i64>,
    description: Vec<Option<&'a str>>,
    contact_person: Vec<Option<&'a str>>,
    phone: Vec<Option<&'a str>>,
    phone_e164: Vec<Option<&'a str>>,
    email: Vec<Option<&'a str>>,
    inn: Vec<Option<&'a str>>,
    counterparty_id: Vec<Option<i64>>,
    layout_files: Vec<String>,
    warnings: Vec<String>,
    channel: Vec<&'a str>,
    collector_id: Vec<Option<i64>>,
    http_source_id: Vec<Option<i64>>,
    message_id: Vec<Option<&'a str>>,
    external_number: Vec<Option<&'a str>>,
    search_text: Vec<String>,
    /// Each lead's [`crate::search_keys`] as an array's text (`{1,2,3}`): `UNNEST` cannot take an array of
    /// arrays of different lengths.
    search_keys: Vec<String>,
    utm_source: Vec<Option<&'a str>>,
    utm_medium: Vec<Option<&'a str>>,
    utm_campaign: Vec<Option<&'a str>>,
    page_url: Vec<Option<&'a str>>,
    referrer: Vec<Option<&'a str>>,
}

impl<'a> LeadColumns<'a> {
    fn push(&mut self, lead: &NewLead<'a>, counterparty_id: Option<i64>) -> Result<()> {
        let p: &'a Payload = &lead.draft.payload;
        let entry = lead.entry;
        let warnings: Vec<&Warning> = p
            .warnings
            .iter()
            .chain(lead.draft.extra_warnings.iter())
            .collect();
        let (collector_id, http_source_id) = source_ids(&entry.source);
        self.id.push(lead.id);
        self.calendar_id.push(lead.draft.calendar_id);
        self.kind.push(p.kind().as_str());
        self.subject.push(p.subject.as_deref());
        self.occurred_at.push(p.occurred_at.map(ms));
        self.received_at.push(ms(entry.received_at));
        self.description.push(p.description.as_deref());
        self.contact_person.push(p.contact.person.as_deref());
        self.phone.push(p.contact.phone.as_deref());
        self.phone_e164.push(p.contact.phone_e164.as_deref());
        self.email.push(p.contact.email.as_deref());
        self.inn.push(p.inn.as_ref().map(|i| i.raw()));
        self.counterparty_id.push(counterparty_id);
        self.layout_files.push(json_text(&p.layout_files)?);
        self.warnings.push(json_text(&warnings)?);
        self.channel.push(entry.source.channel().as_str());
        self.collector_id.push(collector_id);
        self.http_source_id.push(http_source_id);
        self.message_id.push(entry.message_id.as_deref());
        self.external_number.push(entry.external_number.as_deref());
        let search_text = leadgate_storage::search_text(p, entry.external_number.as_deref());
        let keys: Vec<String> = leadgate_storage::search_keys(lead.draft.calendar_id, &search_text)
            .iter()
            .map(i32::to_string)
            .collect();
        self.search_keys.push(format!("{{{}}}", keys.join(",")));
        self.search_text.push(search_text);
        self.utm_source.push(p.campaign.utm_source.as_deref());
        self.utm_medium.push(p.campaign.utm_medium.as_deref());
        self.utm_campaign.push(p.campaign.utm_campaign.as_deref());
        self.page_url.push(p.campaign.page_url.as_deref());
        self.referrer.push(p.campaign.referrer.as_deref());
        Ok(())
    }

    async fn insert(self, conn: &mut PgConnection, updated_at: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO leads (id, calendar_id, kind, subject, occurred_at, received_at, starts_at, description,
                 contact_person, phone, phone_e164, email, inn, counterparty_id, layout_files, warnings, channel,
                 collector_id, http_source_id, message_id, external_number, search_text, search_keys,
                 updated_at, utm_source, utm_medium, utm_campaign, page_url, referrer)
             SELECT id, calendar_id, kind, subject, occurred_at, received_at, COALESCE(occurred_at, received_at),
                 description, contact_person, phone, phone_e164, email, inn, counterparty_id, layout_files,
                 warnings, channel, collector_id, http_source_id, message_id, external_number, search_text,
                 search_keys::int4[], $27, utm_source, utm_medium, utm_campaign, page_url, referrer
             FROM UNNEST($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::bigint[],
                 $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::bigint[],
                 $14::text[], $15::text[], $16::text[], $17::bigint[], $18::bigint[], $19::text[], $20::text[],
                 $21::text[], $22::text[], $23::text[], $24::text[], $25::text[], $26::text[], $28::text[])
                 AS l(id, calendar_id, kind, subject, occurred_at, received_at, description, contact_person,
                      phone, phone_e164, email, inn, counterparty_id, layout_files, warnings, channel,
                      collector_id, http_source_id, message_id, external_number, search_text, utm_source,
                      utm_medium, utm_campaign, page_url, referrer, search_keys)",
        )
        .bind(self.id)
        .bind(self.calendar_id)
        .bind(self.kind)
        .bind(self.subject)
        .bind(self.occurred_at)
        .bind(self.received_at)
        .bind(self.description)
        .bind(self.contact_person)
        .bind(self.phone)
        .bind(self.phone_e164)
        .bind(self.email)
        .bind(self.inn)
        .bind(self.counterparty_id)
        .bind(self.layout_files)
        .bind(self.warnings)
        .bind(self.channel)
        .bind(self.collector_id)
        .bind(self.http_source_id)
        .bind(self.message_id)
        .bind(self.external_number)
        .bind(self.search_text)
        .bind(self.utm_source)
        .bind(self.utm_medium)
        .bind(self.utm_campaign)
        .bind(self.page_url)
        .bind(self.referrer)
        .bind(updated_at)
        .bind(self.search_keys)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }
}

/// Order lines as one array per column (see [`LeadColumns`]).
#[derive(Default)]
struct LineColumns<'a> {
    id: Vec<i64>,
    lead_id: Vec<i64>,
    position: Vec<i64>,
    nomenclature: Vec<Option<&'a str>>,
    machine_code: Vec<Option<&'a str>>,
    resolution: Vec<Option<&'a str>>,
    material: Vec<Option<&'a str>>,
    material_code: Vec<Option<&'a str>>,
    width: Vec<Option<String>>,
    height: Vec<Option<String>>,
    quantity: Vec<Option<String>>,
    price: Vec<Option<String>>,
    amount: Vec<Option<String>>,
    is_service: Vec<bool>,
}

impl<'a> LineColumns<'a> {
    fn push(&mut self, lead_id: i64, id: i64, line: &'a OrderLine) {
        self.id.push(id);
        self.lead_id.push(lead_id);
        self.position.push(i64::from(line.position));
        self.nomenclature.push(line.nomenclature.as_deref());
        self.machine_code.push(line.machine_code.as_deref());
        self.resolution.push(line.resolution.as_deref());
        self.material.push(line.material.as_deref());
        self.material_code.push(line.material_code.as_deref());
        self.width.push(dec_text(line.width));
        self.height.push(dec_text(line.height));
        self.quantity.push(dec_text(line.quantity));
        self.price.push(dec_text(line.price));
        self.amount.push(dec_text(line.amount));
        self.is_service.push(line.is_service);
    }

    async fn insert(self, conn: &mut PgConnection) -> Result<()> {
        if self.id.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO order_lines (id, lead_id, position, nomenclature, machine_code, resolution, material,
                 material_code, width, height, quantity, price, amount, is_service)
             SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[],
                 $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[],
                 $14::boolean[])",
        )
        .bind(self.id)
        .bind(self.lead_id)
        .bind(self.position)
        .bind(self.nomenclature)
        .bind(self.machine_code)
        .bind(self.resolution)
        .bind(self.material)
        .bind(self.material_code)
        .bind(self.width)
        .bind(self.height)
        .bind(self.quantity)
        .bind(self.price)
        .bind(self.amount)
        .bind(self.is_service)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }
}

/// Extra works as one array per column (see [`LeadColumns`]).
#[derive(Default)]
struct WorkColumns<'a> {
    line_id: Vec<i64>,
    position: Vec<i64>,
    kind: Vec<Option<&'a str>>,
    quantity: Vec<Option<String>>,
    description: Vec<Option<&'a str>>,
}

impl<'a> WorkColumns<'a> {
    fn push(&mut self, line_id: i64, position: i64, work: &'a ExtraWork) {
        self.line_id.push(line_id);
        self.position.push(position);
        self.kind.push(work.kind.as_deref());
        self.quantity.push(dec_text(work.quantity));
        self.description.push(work.description.as_deref());
    }

    async fn insert(self, conn: &mut PgConnection) -> Result<()> {
        if self.line_id.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO extra_works (line_id, position, kind, quantity, description)
             SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[])",
        )
        .bind(self.line_id)
        .bind(self.position)
        .bind(self.kind)
        .bind(self.quantity)
        .bind(self.description)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }
}

/// Inserts leads with their lines and extra works (and tech cards where asked), finding or creating their
/// counterparties, one statement per table. `line_ids` holds a new id for each order line of the leads, in
/// order (ids left over go unused). Returns each lead's counterparty, in order.
pub(super) async fn insert_leads(
    conn: &mut PgConnection,
    leads: &[NewLead<'_>],
    line_ids: &[i64],
) -> Result<Vec<Option<CounterpartyRef>>> {
    if leads.is_empty() {
        return Ok(Vec::new());
    }
    let payloads: Vec<&Payload> = leads.iter().map(|l| &l.draft.payload).collect();
    let parties = counterparties(conn, &payloads).await?;
    let party_of = |lead: &NewLead<'_>| {
        lead.draft
            .payload
            .inn
            .as_ref()
            .and_then(|i| i.valid())
            .and_then(|inn| parties.get(inn.as_str()))
            .cloned()
    };
    let mut columns = LeadColumns::default();
    for lead in leads {
        columns.push(lead, party_of(lead).map(|c| c.id))?;
    }
    columns.insert(conn, ms(Utc::now())).await?;
    let mut line_ids = line_ids.iter().copied();
    let mut lines = LineColumns::default();
    let mut works = WorkColumns::default();
    let mut carded = Vec::new();
    for lead in leads {
        for line in &lead.draft.payload.lines {
            let line_id = line_ids
                .next()
                .ok_or_else(|| Error::Corrupt("too few order line ids".into()))?;
            lines.push(lead.id, line_id, line);
            if lead.draft.auto_tech_cards && line.needs_tech_card() {
                carded.push((lead.id, line_id, line));
            }
            for (i, work) in line.extra_works.iter().enumerate() {
                works.push(line_id, i64::try_from(i + 1).unwrap_or(i64::MAX), work);
            }
        }
    }
    lines.insert(conn).await?;
    works.insert(conn).await?;
    // What new leads set off besides their own rows, asked in one query, so that a shop using none of it
    // pays one round trip for the three (each step asks again for what it needs).
    let (rules, webhooks, notifications): (bool, bool, bool) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM calendars WHERE assignment_rule <> 'none'),
                EXISTS (SELECT 1 FROM webhooks WHERE enabled = TRUE),
                EXISTS (SELECT 1 FROM calendar_notify_addresses)
                    OR EXISTS (SELECT 1 FROM calendars WHERE notify_owner = TRUE)",
    )
    .fetch_one(&mut *conn)
    .await?;
    // The calendars' assignment rules, in this same transaction.
    if rules {
        let filed: Vec<(i64, i64)> = leads.iter().map(|l| (l.id, l.draft.calendar_id)).collect();
        super::assignment::assign_new_leads(conn, &filed).await?;
    }
    // Cards formed on arrival are in the lead's history too (only for sources that form them).
    form_new_cards(conn, &mut carded).await?;
    let ids: Vec<i64> = leads.iter().map(|l| l.id).collect();
    // The webhooks' outbox, in this same transaction: a committed lead always has its deliveries queued.
    if webhooks {
        super::webhooks::queue_events(conn, WebhookEventType::LeadCreated, &ids, Utc::now())
            .await?;
    }
    // The e-mail notifications' outbox, likewise.
    if notifications {
        super::notifications::queue_notifications(conn, &ids, Utc::now()).await?;
    }
    Ok(leads.iter().map(party_of).collect())
}

/// Forms the tech cards of new leads' produced lines (`(lead id, line id, line)`, for sources that form them
/// on arrival) in one statement, and records each lead's cards in its history in one more: what
/// [`super::leads::form_cards`] does for one lead at a time. The lines are new, so no card of theirs exists
/// yet and each card gets its plain number, `{lead}-{position}`.
async fn form_new_cards(
    conn: &mut PgConnection,
    lines: &mut [(i64, i64, &OrderLine)],
) -> Result<()> {
    if lines.is_empty() {
        return Ok(());
    }
    // A lead's cards in the order of its lines' positions, the leads by id (the order they were filed in).
    lines.sort_by_key(|(lead_id, _, line)| (*lead_id, line.position));
    let numbers: Vec<String> = lines
        .iter()
        .map(|(lead_id, _, line)| format!("{lead_id}-{}", line.position))
        .collect();
    let figures: Vec<Figures> = lines.iter().map(|(_, _, line)| line.figures()).collect();
    let formed: Vec<String> = sqlx::query_scalar(
        "INSERT INTO tech_cards (number, lead_id, line_id, area_per_piece, total_area, perimeter, created_at)
         SELECT number, lead_id, line_id, area_per_piece, total_area, perimeter, $7
         FROM UNNEST($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[])
             AS c(number, lead_id, line_id, area_per_piece, total_area, perimeter)
         ON CONFLICT DO NOTHING
         RETURNING number",
    )
    .bind(&numbers)
    .bind(column(lines, |(lead_id, _, _)| *lead_id))
    .bind(column(lines, |(_, line_id, _)| *line_id))
    .bind(column(&figures, |f| dec_text(f.area_per_piece)))
    .bind(column(&figures, |f| dec_text(f.total_area)))
    .bind(column(&figures, |f| dec_text(f.perimeter)))
    .bind(ms(Utc::now()))
    .fetch_all(&mut *conn)
    .await?;
    let formed: HashSet<String> = formed.into_iter().collect();
    let mut events: Vec<NewLeadEvent> = Vec::new();
    for ((lead_id, _, _), number) in lines.iter().zip(numbers) {
        if !formed.contains(&number) {
            continue;
        }
        match events.last_mut() {
            Some(event) if event.lead_id == *lead_id => {
                if let Some(Value::Array(cards)) = event.detail.get_mut("cards") {
                    cards.push(Value::String(number));
                }
            }
            _ => events.push(
                NewLeadEvent::new(*lead_id, None, LeadEventKind::TechCardsFormed)
                    .with("cards", vec![number]),
            ),
        }
    }
    super::history::record_all(conn, &events).await
}

/// The most raw bytes bound as one value: raw bytes are stored in `message_raw_parts` in parts of at most
/// this size (as in SQLite), so the driver never copies a whole big message at once.
pub(super) const RAW_PART: usize = 1 << 20;

/// Raw bytes are kept for imported and rejected messages, for download and reprocessing.
fn kept_raw<'a>(m: &NewMessage<'a>) -> Option<&'a StoredRaw> {
    (matches!(m.outcome, Outcome::Imported | Outcome::Rejected) && !m.entry.raw.is_empty())
        .then_some(&m.entry.raw)
}

/// Inserts ledger records with their raw bytes: one statement for the records, and one for the raw parts
/// per [`RAW_PART`] bytes.
async fn insert_messages(conn: &mut PgConnection, messages: &[NewMessage<'_>]) -> Result<()> {
    if messages.is_empty() {
        return Ok(());
    }
    let raws: Vec<Option<&StoredRaw>> = messages.iter().map(kept_raw).collect();
    let sources: Vec<(Option<i64>, Option<i64>)> =
        column(messages, |m| source_ids(&m.entry.source));
    sqlx::query(
        "INSERT INTO messages (id, channel, source, collector_id, http_source_id, ledger_key, mailbox_key,
             message_id, external_number, outcome, reason, lead_id, raw_codec, raw_size, content_type,
             received_at, content_hash, duplicate_of)
         SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::text[],
             $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::bigint[], $13::text[],
             $14::bigint[], $15::text[], $16::bigint[], $17::text[], $18::bigint[])",
    )
    .bind(column(messages, |m| m.id))
    .bind(column(messages, |m| m.entry.source.channel().as_str()))
    .bind(column(messages, |m| m.entry.source.key()))
    .bind(column(&sources, |s| s.0))
    .bind(column(&sources, |s| s.1))
    .bind(column(messages, |m| m.ledger_key))
    .bind(column(messages, |m| m.entry.mailbox_key.as_deref()))
    .bind(column(messages, |m| m.entry.message_id.as_deref()))
    .bind(column(messages, |m| m.entry.external_number.as_deref()))
    .bind(column(messages, |m| m.outcome.as_str()))
    .bind(column(messages, |m| m.reason))
    .bind(column(messages, |m| m.lead_id))
    .bind(column(&raws, |raw| raw.map(|raw| raw.codec().as_str())))
    .bind(column(&raws, |raw| {
        raw.map(|raw| i64::try_from(raw.len()).unwrap_or(i64::MAX))
    }))
    .bind(column(messages, |m| {
        kept_raw(m).map(|_| m.entry.content_type.as_str())
    }))
    .bind(column(messages, |m| ms(m.entry.received_at)))
    .bind(column(messages, |m| m.entry.content_hash.as_deref()))
    .bind(column(messages, |m| m.duplicate_of))
    .execute(&mut *conn)
    .await?;
    let raws: Vec<(i64, &StoredRaw)> = messages
        .iter()
        .filter_map(|m| Some((m.id, kept_raw(m)?)))
        .collect();
    insert_raw_parts(conn, &raws).await
}

/// Inserts records' raw bytes in parts of at most [`RAW_PART`] bytes, up to that many bytes a statement.
pub(super) async fn insert_raw_parts(
    conn: &mut PgConnection,
    raws: &[(i64, &StoredRaw)],
) -> Result<()> {
    let parts: Vec<(i64, i64, &[u8])> = raws
        .iter()
        .flat_map(|&(id, raw)| {
            (0i64..)
                .zip(raw.stored().chunks(RAW_PART))
                .map(move |(seq, part)| (id, seq, part))
        })
        .collect();
    let mut rest = parts.as_slice();
    while !rest.is_empty() {
        // Up to RAW_PART bytes a statement (but at least one part).
        let (mut n, mut bytes) = (0, 0);
        while n < rest.len() && (n == 0 || bytes + rest[n].2.len() <= RAW_PART) {
            bytes += rest[n].2.len();
            n += 1;
        }
        let (chunk, tail) = rest.split_at(n);
        sqlx::query(
            "INSERT INTO message_raw_parts (message_id, seq, bytes)
             SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::bytea[])",
        )
        .bind(column(chunk, |(id, _, _)| *id))
        .bind(column(chunk, |(_, seq, _)| *seq))
        .bind(column(chunk, |(_, _, part)| *part))
        .execute(&mut *conn)
        .await?;
        rest = tail;
    }
    Ok(())
}

/// What the ledger holds under one (source, key): the content hash of the record, `None` when it has none
/// (recorded before hashes were kept, and its raw message not kept either, or nothing was downloaded).
type Recorded = HashMap<(String, String), Option<String>>;

/// The ledger's records under these (source, key) pairs, with their content hashes. A record from before
/// hashes were kept whose raw message is kept gets its hash now, so it is compared by content too.
async fn recorded_keys(conn: &mut PgConnection, wanted: &[(String, &str)]) -> Result<Recorded> {
    let mut by_source: HashMap<&str, Vec<&str>> = HashMap::new();
    for (source, key) in wanted {
        by_source.entry(source.as_str()).or_default().push(key);
    }
    let mut recorded = HashMap::new();
    let mut unhashed = Vec::new();
    for (source, keys) in &by_source {
        let rows: Vec<(i64, String, Option<String>, bool)> = sqlx::query_as(
            "SELECT id, ledger_key, content_hash, raw_codec IS NOT NULL FROM messages
             WHERE source = $1 AND ledger_key = ANY($2)",
        )
        .bind(*source)
        .bind(keys)
        .fetch_all(&mut *conn)
        .await?;
        for (id, key, hash, has_raw) in rows {
            if hash.is_none() && has_raw {
                unhashed.push((id, (source.to_string(), key.clone())));
            }
            recorded.insert((source.to_string(), key), hash);
        }
    }
    for (id, at) in unhashed {
        let Some(raw) = read_raw(conn, id).await? else {
            continue;
        };
        let hash = content_hash(&raw.bytes);
        sqlx::query("UPDATE messages SET content_hash = $1 WHERE id = $2")
            .bind(&hash)
            .bind(id)
            .execute(&mut *conn)
            .await?;
        recorded.insert(at, Some(hash));
    }
    Ok(recorded)
}

/// Whether a record with content hash `held` is the message with hash `new`. Without a hash on either
/// side, the key alone decides, as it did before hashes were kept.
fn same_content(held: Option<&str>, new: Option<&str>) -> bool {
    match (held, new) {
        (Some(held), Some(new)) => held == new,
        _ => true,
    }
}

/// The key of a message whose Message-ID the ledger holds with other content.
fn content_key(key: &str, hash: &str) -> String {
    format!("{key} sha256:{hash}")
}

/// Records a second copy of an already-recorded message (the record under `key`) as a duplicate, once per
/// mailbox position, and returns the lead of the first copy and the new record's id, if it made one.
async fn record_duplicate(
    conn: &mut PgConnection,
    entry: &LedgerEntry,
    key: &str,
) -> Result<(Option<i64>, Option<i64>)> {
    let source = entry.source.key();
    let earlier: Option<(i64, Option<i64>)> =
        sqlx::query_as("SELECT id, lead_id FROM messages WHERE source = $1 AND ledger_key = $2")
            .bind(&source)
            .bind(key)
            .fetch_optional(&mut *conn)
            .await?;
    if let Some(mailbox_key) = entry.mailbox_key.as_deref() {
        let seen: Option<i64> =
            sqlx::query_scalar("SELECT id FROM messages WHERE source = $1 AND mailbox_key = $2")
                .bind(&source)
                .bind(mailbox_key)
                .fetch_optional(&mut *conn)
                .await?;
        if seen.is_none() {
            let reason = format!(
                "already recorded as message {}",
                earlier.map_or(0, |(id, _)| id)
            );
            let id = new_id(conn, "messages").await?;
            let row = NewMessage {
                id,
                entry,
                ledger_key: None,
                outcome: Outcome::Duplicate,
                reason: Some(&reason),
                lead_id: None,
                duplicate_of: earlier.map(|(id, _)| id),
            };
            insert_messages(conn, std::slice::from_ref(&row)).await?;
            return Ok((earlier.and_then(|(_, lead)| lead), Some(id)));
        }
    }
    Ok((earlier.and_then(|(_, lead)| lead), None))
}

/// What became of a submission before anything is written.
enum Plan {
    Done(SubmitOutcome),
    /// Same Idempotency-Key as submission `first` earlier in this batch.
    SameKeyAs {
        first: usize,
        same_body: bool,
    },
    /// The same message as the record under this key.
    Duplicate(String),
    Write {
        message_id: i64,
        lead_id: Option<i64>,
        /// The key to record it under.
        ledger_key: Option<String>,
    },
}

/// Where the ledger, or an earlier submission of the batch, holds a message under its key.
enum KeyPlan {
    /// Nowhere: record it under this key (`None`: no key at all).
    New(Option<String>),
    /// Here, with the same content: a duplicate of that record.
    Same(String),
}

/// Decides a keyed message's key: its own when neither the ledger nor the batch so far holds it; its own
/// plus its content hash when they hold its own key with other content. `recorded` must hold the ledger's
/// records under both keys.
fn plan_key(
    source: &str,
    key: &str,
    hash: Option<&str>,
    recorded: &Recorded,
    in_batch: &Recorded,
) -> KeyPlan {
    let held = |key: &str| {
        let at = (source.to_owned(), key.to_owned());
        recorded.get(&at).or_else(|| in_batch.get(&at)).cloned()
    };
    let own = match held(key) {
        None => return KeyPlan::New(Some(key.to_owned())),
        Some(held) => held,
    };
    // Without a hash on either side the key decides, so past here there is a hash.
    let Some(hash) = hash.filter(|hash| !same_content(own.as_deref(), Some(hash))) else {
        return KeyPlan::Same(key.to_owned());
    };
    let other = content_key(key, hash);
    match held(&other) {
        None => KeyPlan::New(Some(other)),
        Some(held) if same_content(held.as_deref(), Some(hash)) => KeyPlan::Same(other),
        // Only a Message-ID made to look like another's content key gets here: the message is kept
        // unkeyed (its mailbox position still stops it being downloaded again).
        Some(_) => KeyPlan::New(None),
    }
}

/// New ids for a batch, drawn from the tables' identity sequences in one round trip, each list in the order
/// drawn.
struct BatchIds {
    messages: Vec<i64>,
    leads: Vec<i64>,
    lines: Vec<i64>,
}

impl BatchIds {
    async fn take(
        conn: &mut PgConnection,
        messages: usize,
        leads: usize,
        lines: usize,
    ) -> Result<Self> {
        let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        let (messages, leads, lines) = sqlx::query_as(
            "SELECT ARRAY(SELECT nextval(pg_get_serial_sequence('messages', 'id'))
                          FROM generate_series(1, $1) ORDER BY 1),
                    ARRAY(SELECT nextval(pg_get_serial_sequence('leads', 'id'))
                          FROM generate_series(1, $2) ORDER BY 1),
                    ARRAY(SELECT nextval(pg_get_serial_sequence('order_lines', 'id'))
                          FROM generate_series(1, $3) ORDER BY 1)",
        )
        .bind(count(messages))
        .bind(count(leads))
        .bind(count(lines))
        .fetch_one(&mut *conn)
        .await?;
        Ok(Self {
            messages,
            leads,
            lines,
        })
    }
}

/// The idempotency keys of this batch that earlier requests claimed: their body hash and lead, by (HTTP
/// source, key). One query for the whole batch.
async fn claimed_keys(
    conn: &mut PgConnection,
    batch: &[Submission],
) -> Result<HashMap<(i64, String), (String, i64)>> {
    let claims: Vec<&IdempotencyClaim> = batch
        .iter()
        .filter_map(|s| s.idempotency.as_ref())
        .collect();
    if claims.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(i64, String, String, i64)> = sqlx::query_as(
        "SELECT i.http_source_id, i.key, i.body_hash, i.lead_id
         FROM idempotency_keys i
         JOIN UNNEST($1::bigint[], $2::text[]) AS w(http_source_id, key)
           ON i.http_source_id = w.http_source_id AND i.key = w.key",
    )
    .bind(column(&claims, |c| c.http_source_id))
    .bind(column(&claims, |c| c.key.as_str()))
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(source, key, hash, lead_id)| ((source, key), (hash, lead_id)))
        .collect())
}

/// Records a batch of submissions; see [`leadgate_storage::Ledger::submit_batch`].
pub(super) async fn submit_all(
    conn: &mut PgConnection,
    batch: &[Submission],
) -> Result<Vec<SubmitOutcome>> {
    let mut plans = Vec::with_capacity(batch.len());
    let mut claimed: HashMap<(i64, &str), (usize, &str)> = HashMap::new();
    let keyed: Vec<(String, &str, Option<&str>)> = batch
        .iter()
        .filter_map(|s| {
            let key = s.ledger.ledger_key.as_deref()?;
            Some((s.ledger.source.key(), key, s.ledger.content_hash.as_deref()))
        })
        .collect();
    let own: Vec<(String, &str)> = keyed.iter().map(|(s, k, _)| (s.clone(), *k)).collect();
    let mut recorded = recorded_keys(conn, &own).await?;
    // A key the ledger holds, or that comes twice in the batch, may be held with other content: then the
    // message is kept under its content key, which is looked up too.
    let mut times: HashMap<(&str, &str), usize> = HashMap::new();
    for (source, key, _) in &keyed {
        *times.entry((source.as_str(), *key)).or_default() += 1;
    }
    let others: Vec<(String, String)> = keyed
        .iter()
        .filter(|(source, key, _)| {
            times[&(source.as_str(), *key)] > 1
                || recorded.contains_key(&(source.clone(), (*key).to_owned()))
        })
        .filter_map(|(source, key, hash)| Some((source.clone(), content_key(key, (*hash)?))))
        .collect();
    let others: Vec<(String, &str)> = others
        .iter()
        .map(|(s, k)| (s.clone(), k.as_str()))
        .collect();
    recorded.extend(recorded_keys(conn, &others).await?);
    let mut in_batch: Recorded = HashMap::new();
    // Ids for every submission that may be written, and for its order lines; those of replays and
    // duplicates go unused.
    let lines_of_leads: Vec<usize> = batch
        .iter()
        .filter_map(|s| match &s.disposition {
            Disposition::Lead(draft) => Some(draft.payload.lines.len()),
            _ => None,
        })
        .collect();
    let ids = BatchIds::take(
        conn,
        batch.len(),
        lines_of_leads.len(),
        lines_of_leads.iter().sum(),
    )
    .await?;
    let mut message_ids = ids.messages.into_iter();
    let mut lead_ids = ids.leads.into_iter();
    let replayed = claimed_keys(conn, batch).await?;
    for (i, s) in batch.iter().enumerate() {
        if let Some(claim) = &s.idempotency {
            if let Some((hash, lead_id)) = replayed.get(&(claim.http_source_id, claim.key.clone()))
            {
                plans.push(Plan::Done(if *hash == claim.body_hash {
                    SubmitOutcome::IdempotentReplay { lead_id: *lead_id }
                } else {
                    SubmitOutcome::IdempotencyConflict
                }));
                continue;
            }
            let key = (claim.http_source_id, claim.key.as_str());
            if let Some((first, hash)) = claimed.get(&key) {
                plans.push(Plan::SameKeyAs {
                    first: *first,
                    same_body: *hash == claim.body_hash,
                });
                continue;
            }
            if matches!(s.disposition, Disposition::Lead(_)) {
                claimed.insert(key, (i, claim.body_hash.as_str()));
            }
        }
        let mut ledger_key = None;
        if let Some(key) = s.ledger.ledger_key.as_deref() {
            let source = s.ledger.source.key();
            let hash = s.ledger.content_hash.as_deref();
            match plan_key(&source, key, hash, &recorded, &in_batch) {
                KeyPlan::Same(key) => {
                    plans.push(Plan::Duplicate(key));
                    continue;
                }
                KeyPlan::New(key) => {
                    if let Some(key) = &key {
                        in_batch.insert((source, key.clone()), hash.map(str::to_owned));
                    }
                    ledger_key = key;
                }
            }
        }
        let lead_id = if matches!(s.disposition, Disposition::Lead(_)) {
            Some(
                lead_ids
                    .next()
                    .ok_or_else(|| Error::Corrupt("too few lead ids".into()))?,
            )
        } else {
            None
        };
        plans.push(Plan::Write {
            message_id: message_ids
                .next()
                .ok_or_else(|| Error::Corrupt("too few message ids".into()))?,
            lead_id,
            ledger_key,
        });
    }

    let mut leads = Vec::new();
    let mut messages = Vec::new();
    for (s, plan) in batch.iter().zip(&plans) {
        let Plan::Write {
            message_id,
            lead_id,
            ref ledger_key,
        } = *plan
        else {
            continue;
        };
        let (outcome, reason) = match &s.disposition {
            Disposition::Lead(draft) => {
                if let Some(id) = lead_id {
                    leads.push(NewLead {
                        id,
                        draft,
                        entry: &s.ledger,
                    });
                }
                (Outcome::Imported, None)
            }
            Disposition::Rejected { reason } => (Outcome::Rejected, Some(reason.as_str())),
            Disposition::Skipped { reason } => (Outcome::Skipped, Some(reason.as_str())),
        };
        messages.push(NewMessage {
            id: message_id,
            entry: &s.ledger,
            ledger_key: ledger_key.as_deref(),
            outcome,
            reason,
            lead_id,
            duplicate_of: None,
        });
    }
    // This transaction counts its leads and ledger records in the report rollups itself, last (`count_new`).
    sqlx::query("SELECT set_config('leadgate.intake_counts', 'on', true)")
        .execute(&mut *conn)
        .await?;
    let parties = insert_leads(conn, &leads, &ids.lines).await?;
    let party_of: HashMap<i64, Option<CounterpartyRef>> =
        leads.iter().map(|l| l.id).zip(parties).collect();
    insert_messages(conn, &messages).await?;

    let claims: Vec<(&IdempotencyClaim, i64)> = batch
        .iter()
        .zip(&plans)
        .filter_map(|(s, plan)| match (plan, &s.idempotency) {
            (
                Plan::Write {
                    lead_id: Some(lead_id),
                    ..
                },
                Some(claim),
            ) => Some((claim, *lead_id)),
            _ => None,
        })
        .collect();
    if !claims.is_empty() {
        sqlx::query(
            "INSERT INTO idempotency_keys (http_source_id, key, body_hash, lead_id, created_at)
             SELECT http_source_id, key, body_hash, lead_id, $5
             FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::bigint[])
                 AS k(http_source_id, key, body_hash, lead_id)",
        )
        .bind(column(&claims, |(c, _)| c.http_source_id))
        .bind(column(&claims, |(c, _)| c.key.as_str()))
        .bind(column(&claims, |(c, _)| c.body_hash.as_str()))
        .bind(column(&claims, |(_, lead_id)| *lead_id))
        .bind(ms(Utc::now()))
        .execute(&mut *conn)
        .await?;
    }

    let mut message_ids: Vec<i64> = messages.iter().map(|m| m.id).collect();
    let mut outcomes = Vec::with_capacity(batch.len());
    for (i, plan) in plans.iter().enumerate() {
        let outcome = match plan {
            Plan::Done(outcome) => outcome.clone(),
            Plan::Duplicate(key) => {
                let (lead_id, recorded) = record_duplicate(conn, &batch[i].ledger, key).await?;
                message_ids.extend(recorded);
                SubmitOutcome::Duplicate { lead_id }
            }
            Plan::SameKeyAs { first, same_body } => match (&plans[*first], same_body) {
                (
                    Plan::Write {
                        lead_id: Some(lead_id),
                        ..
                    },
                    true,
                ) => SubmitOutcome::IdempotentReplay { lead_id: *lead_id },
                _ => SubmitOutcome::IdempotencyConflict,
            },
            Plan::Write {
                message_id,
                lead_id,
                ..
            } => match (lead_id, &batch[i].disposition) {
                (Some(lead_id), _) => SubmitOutcome::Imported {
                    message_id: *message_id,
                    lead_id: *lead_id,
                    counterparty: party_of.get(lead_id).cloned().flatten(),
                },
                (None, Disposition::Skipped { .. }) => SubmitOutcome::Skipped {
                    message_id: *message_id,
                },
                (None, _) => SubmitOutcome::Rejected {
                    message_id: *message_id,
                },
            },
        };
        outcomes.push(outcome);
    }
    let lead_ids: Vec<i64> = leads.iter().map(|l| l.id).collect();
    count_new(conn, &lead_ids, &message_ids).await?;
    Ok(outcomes)
}

/// Counts the leads `leads`, inserted by this transaction with their lines, and the ledger records `messages`
/// it inserted, in the report rollups: the last statement of an intake batch (migrations 0018 and 0019). The
/// rollups' rows of their hour, which every writer's batch updates, stay locked from here to the commit
/// only, so another writer's batch is not held up behind this one's inserts.
async fn count_new(conn: &mut PgConnection, leads: &[i64], messages: &[i64]) -> Result<()> {
    if !leads.is_empty() || !messages.is_empty() {
        sqlx::query("SELECT lead_hours_add_new_leads($1), message_hours_add_new_messages($2)")
            .bind(leads)
            .bind(messages)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Files a lead for an existing ledger record (reprocessing) and marks the record imported; the lead's history
/// records the reprocessing, by `by`.
pub(super) async fn import_for_message(
    conn: &mut PgConnection,
    message_id: i64,
    entry: &LedgerEntry,
    draft: &LeadDraft,
    by: Option<i64>,
) -> Result<i64> {
    let id = new_id(conn, "leads").await?;
    let line_ids = new_ids(conn, "order_lines", draft.payload.lines.len()).await?;
    insert_leads(conn, &[NewLead { id, draft, entry }], &line_ids).await?;
    sqlx::query(
        "UPDATE messages SET outcome = 'imported', reason = NULL, lead_id = $1 WHERE id = $2",
    )
    .bind(id)
    .bind(message_id)
    .execute(&mut *conn)
    .await?;
    super::history::record(
        conn,
        &NewLeadEvent::new(id, by, LeadEventKind::Reprocessed).with("message_id", message_id),
    )
    .await?;
    Ok(id)
}
