//! The write path of the SQLite backend: a whole batch of submissions in a handful of statements.
//!
//! The group-commit writer hands in hundreds of submissions at a time. Inserting them row by row costs a
//! round trip to SQLite's worker thread per statement (about a dozen per lead); here every table gets one
//! multi-row `INSERT` per chunk instead. Ids are assigned up front (`MAX(id) + 1`), which is safe because the
//! whole batch runs inside `BEGIN IMMEDIATE`: no other writer can take an id meanwhile. Duplicates are
//! decided before anything is written: against the ledger (one `IN` query per source) and within the batch,
//! by key and content hash; a known key with other content is another message, kept under its content key.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use chrono::Utc;
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

use super::leads::form_cards;
use super::ledger::read_raw;
use super::{Result, dec_text, json_text, ms};
use leadgate_domain::lead::LeadEventKind;
use leadgate_domain::ledger::Outcome;
use leadgate_domain::payload::Payload;
use leadgate_domain::warning::Warning;
use leadgate_storage::{
    CounterpartyRef, Disposition, LeadDraft, LedgerEntry, NewLeadEvent, SourceRef, StoredRaw,
    Submission, SubmitOutcome, WebhookEventType, content_hash,
};

/// Rows per multi-row `INSERT` (SQLite allows 32,766 bound values; the widest table binds 22 per row).
const CHUNK: usize = 200;

async fn next_id(conn: &mut SqliteConnection, table: &'static str) -> Result<i64> {
    let sql = format!("SELECT COALESCE(MAX(id), 0) + 1 FROM {table}");
    Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .fetch_one(&mut *conn)
        .await?)
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
    conn: &mut SqliteConnection,
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
    let mut found = HashMap::with_capacity(first.len());
    for chunk in first.chunks(CHUNK) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO counterparties (inn, inn_kind, name, created_at) ",
        );
        q.push_values(chunk, |mut b, (inn, kind, name)| {
            b.push_bind(*inn)
                .push_bind(*kind)
                .push_bind(name.as_str())
                .push_bind(now);
        });
        q.push(" ON CONFLICT (inn) DO NOTHING");
        q.build().execute(&mut *conn).await?;
        let mut q =
            QueryBuilder::<Sqlite>::new("SELECT id, inn, name FROM counterparties WHERE inn IN (");
        let mut sep = q.separated(", ");
        for (inn, _, _) in chunk {
            sep.push_bind(*inn);
        }
        q.push(")");
        let rows: Vec<(i64, String, String)> = q.build_query_as().fetch_all(&mut *conn).await?;
        for (id, inn, name) in rows {
            found.insert(inn.clone(), CounterpartyRef { id, inn, name });
        }
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
    for chunk in contacts.chunks(CHUNK) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO counterparty_contacts (counterparty_id, kind, value) ",
        );
        q.push_values(chunk, |mut b, (id, kind, value)| {
            b.push_bind(*id).push_bind(*kind).push_bind(value.as_str());
        });
        q.push(" ON CONFLICT DO NOTHING");
        q.build().execute(&mut *conn).await?;
    }
    Ok(found)
}

/// The computed columns of one lead, owned so a query can borrow them.
struct LeadRow {
    layout: String,
    warnings: String,
    search: String,
}

/// Inserts leads with their lines and extra works (and tech cards where asked), finding or creating their
/// counterparties. Returns each lead's counterparty, in order.
pub(super) async fn insert_leads(
    conn: &mut SqliteConnection,
    leads: &[NewLead<'_>],
) -> Result<Vec<Option<CounterpartyRef>>> {
    if leads.is_empty() {
        return Ok(Vec::new());
    }
    let payloads: Vec<&Payload> = leads.iter().map(|l| &l.draft.payload).collect();
    let parties = counterparties(conn, &payloads).await?;
    let now = ms(Utc::now());
    let mut computed = Vec::with_capacity(leads.len());
    for lead in leads {
        let p: &Payload = &lead.draft.payload;
        let warnings: Vec<&Warning> = p
            .warnings
            .iter()
            .chain(lead.draft.extra_warnings.iter())
            .collect();
        computed.push(LeadRow {
            layout: json_text(&p.layout_files)?,
            warnings: json_text(&warnings)?,
            search: leadgate_storage::search_text(p, lead.entry.external_number.as_deref()),
        });
    }
    let party_of = |lead: &NewLead<'_>| {
        lead.draft
            .payload
            .inn
            .as_ref()
            .and_then(|i| i.valid())
            .and_then(|inn| parties.get(inn.as_str()))
            .cloned()
    };
    let rows: Vec<(&NewLead<'_>, &LeadRow)> = leads.iter().zip(&computed).collect();
    for chunk in rows.chunks(CHUNK) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO leads (id, calendar_id, kind, subject, occurred_at, received_at, starts_at, description,
                 contact_person, phone, phone_e164, email, inn, counterparty_id, layout_files, warnings, channel,
                 collector_id, http_source_id, message_id, external_number, search_text, updated_at,
                 utm_source, utm_medium, utm_campaign, page_url, referrer) ",
        );
        q.push_values(chunk, |mut b, (lead, row)| {
            let p = &lead.draft.payload;
            let received = ms(lead.entry.received_at);
            let occurred = p.occurred_at.map(ms);
            let (collector_id, http_source_id) = source_ids(&lead.entry.source);
            b.push_bind(lead.id)
                .push_bind(lead.draft.calendar_id)
                .push_bind(p.kind().as_str())
                .push_bind(p.subject.as_deref())
                .push_bind(occurred)
                .push_bind(received)
                .push_bind(occurred.unwrap_or(received))
                .push_bind(p.description.as_deref())
                .push_bind(p.contact.person.as_deref())
                .push_bind(p.contact.phone.as_deref())
                .push_bind(p.contact.phone_e164.as_deref())
                .push_bind(p.contact.email.as_deref())
                .push_bind(p.inn.as_ref().map(|i| i.raw()))
                .push_bind(party_of(lead).map(|c| c.id))
                .push_bind(row.layout.as_str())
                .push_bind(row.warnings.as_str())
                .push_bind(lead.entry.source.channel().as_str())
                .push_bind(collector_id)
                .push_bind(http_source_id)
                .push_bind(lead.entry.message_id.as_deref())
                .push_bind(lead.entry.external_number.as_deref())
                .push_bind(row.search.as_str())
                .push_bind(now)
                .push_bind(p.campaign.utm_source.as_deref())
                .push_bind(p.campaign.utm_medium.as_deref())
                .push_bind(p.campaign.utm_campaign.as_deref())
                .push_bind(p.campaign.page_url.as_deref())
                .push_bind(p.campaign.referrer.as_deref());
        });
        q.build().execute(&mut *conn).await?;
    }
    let keyed: Vec<(i64, i64, &str)> = rows
        .iter()
        .map(|(lead, row)| (lead.id, lead.draft.calendar_id, row.search.as_str()))
        .collect();
    index_search_keys(conn, &keyed).await?;
    let mut next_line = next_id(conn, "order_lines").await?;
    let mut lines = Vec::new();
    let mut works = Vec::new();
    for lead in leads {
        for line in &lead.draft.payload.lines {
            let line_id = next_line;
            next_line += 1;
            lines.push((lead.id, line_id, line));
            for (i, work) in line.extra_works.iter().enumerate() {
                works.push((line_id, i64::try_from(i + 1).unwrap_or(i64::MAX), work));
            }
        }
    }
    for chunk in lines.chunks(CHUNK) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO order_lines (id, lead_id, position, nomenclature, machine_code, resolution, material,
                 material_code, width, height, quantity, price, amount, is_service) ",
        );
        q.push_values(chunk, |mut b, (lead_id, line_id, line)| {
            b.push_bind(*line_id)
                .push_bind(*lead_id)
                .push_bind(i64::from(line.position))
                .push_bind(line.nomenclature.as_deref())
                .push_bind(line.machine_code.as_deref())
                .push_bind(line.resolution.as_deref())
                .push_bind(line.material.as_deref())
                .push_bind(line.material_code.as_deref())
                .push_bind(dec_text(line.width))
                .push_bind(dec_text(line.height))
                .push_bind(dec_text(line.quantity))
                .push_bind(dec_text(line.price))
                .push_bind(dec_text(line.amount))
                .push_bind(line.is_service);
        });
        q.build().execute(&mut *conn).await?;
    }
    for chunk in works.chunks(CHUNK) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO extra_works (line_id, position, kind, quantity, description) ",
        );
        q.push_values(chunk, |mut b, (line_id, position, work)| {
            b.push_bind(*line_id)
                .push_bind(*position)
                .push_bind(work.kind.as_deref())
                .push_bind(dec_text(work.quantity))
                .push_bind(work.description.as_deref());
        });
        q.build().execute(&mut *conn).await?;
    }
    // The calendars' assignment rules, in this same transaction.
    let filed: Vec<(i64, i64)> = leads.iter().map(|l| (l.id, l.draft.calendar_id)).collect();
    super::assignment::assign_new_leads(conn, &filed).await?;
    // Cards formed on arrival are in the lead's history too (only for sources that form them).
    for lead in leads.iter().filter(|l| l.draft.auto_tech_cards) {
        let formed = form_cards(conn, lead.id).await?;
        if !formed.is_empty() {
            super::history::record(
                conn,
                &NewLeadEvent::new(lead.id, None, LeadEventKind::TechCardsFormed)
                    .with("cards", formed),
            )
            .await?;
        }
    }
    // The webhooks' outbox, in this same transaction: a committed lead always has its deliveries queued.
    let (first, last) = leads.iter().fold((i64::MAX, i64::MIN), |(lo, hi), l| {
        (lo.min(l.id), hi.max(l.id))
    });
    super::webhooks::queue_events(
        &mut *conn,
        WebhookEventType::LeadCreated,
        first,
        last,
        Utc::now(),
    )
    .await?;
    // The e-mail notifications' outbox, likewise.
    super::notifications::queue_notifications(&mut *conn, first, last, Utc::now()).await?;
    Ok(leads.iter().map(party_of).collect())
}

/// Writes the search index's keys (`leads_fts`, SQLite migration 0026) of the leads `(id, calendar, search
/// text)` just inserted: every trigram of the text in the lead's calendar
/// ([`leadgate_storage::search_keys`]), in hexadecimal, one word each. The migration's trigger keys a lead
/// whose text or calendar changes, with the same formula in SQL; leadgate keys the leads it inserts itself,
/// since in SQL the keys cost over ten times the index write itself (`sqlite3` shell, 100,000 leads: 14.5 s
/// against about 1 s).
pub(super) async fn index_search_keys(
    conn: &mut SqliteConnection,
    leads: &[(i64, i64, &str)],
) -> Result<()> {
    for chunk in leads.chunks(CHUNK) {
        let mut q = QueryBuilder::<Sqlite>::new("INSERT INTO leads_fts (rowid, keys) ");
        q.push_values(chunk, |mut b, &(id, calendar, text)| {
            let mut words = String::with_capacity(9 * text.len());
            for key in leadgate_storage::search_keys(calendar, text) {
                // Writing to a `String` cannot fail.
                let _ = write!(words, "{key:x} ");
            }
            b.push_bind(id).push_bind(words);
        });
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// The most raw bytes bound as one value: raw bytes are stored in `message_raw_parts` in parts of at most
/// this size (migrations 0004 and 0005), so neither SQLite nor its driver ever copies a whole big message.
pub(super) const RAW_PART: usize = 1 << 20;

/// Raw bytes are kept for imported and rejected messages, for download and reprocessing.
fn kept_raw<'a>(m: &NewMessage<'a>) -> Option<&'a StoredRaw> {
    (matches!(m.outcome, Outcome::Imported | Outcome::Rejected) && !m.entry.raw.is_empty())
        .then_some(&m.entry.raw)
}

async fn insert_messages(conn: &mut SqliteConnection, messages: &[NewMessage<'_>]) -> Result<()> {
    let rows: Vec<(&NewMessage<'_>, String)> =
        messages.iter().map(|m| (m, m.entry.source.key())).collect();
    for chunk in rows.chunks(CHUNK) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO messages (id, channel, source, collector_id, http_source_id, ledger_key, mailbox_key,
                 message_id, external_number, outcome, reason, lead_id, raw_codec, raw_size, content_type,
                 received_at, content_hash, duplicate_of) ",
        );
        q.push_values(chunk, |mut b, (m, source)| {
            let (collector_id, http_source_id) = source_ids(&m.entry.source);
            let raw = kept_raw(m);
            b.push_bind(m.id)
                .push_bind(m.entry.source.channel().as_str())
                .push_bind(source.as_str())
                .push_bind(collector_id)
                .push_bind(http_source_id)
                .push_bind(m.ledger_key)
                .push_bind(m.entry.mailbox_key.as_deref())
                .push_bind(m.entry.message_id.as_deref())
                .push_bind(m.entry.external_number.as_deref())
                .push_bind(m.outcome.as_str())
                .push_bind(m.reason)
                .push_bind(m.lead_id)
                .push_bind(raw.map(|raw| raw.codec().as_str()))
                .push_bind(raw.map(|raw| i64::try_from(raw.len()).unwrap_or(i64::MAX)))
                .push_bind(raw.map(|_| m.entry.content_type.as_str()))
                .push_bind(ms(m.entry.received_at))
                .push_bind(m.entry.content_hash.as_deref())
                .push_bind(m.duplicate_of);
        });
        q.build().execute(&mut *conn).await?;
    }
    let raws: Vec<(i64, &StoredRaw)> = messages
        .iter()
        .filter_map(|m| Some((m.id, kept_raw(m)?)))
        .collect();
    insert_raw_parts(conn, &raws).await
}

/// Inserts records' raw bytes in parts of at most [`RAW_PART`] bytes, up to [`CHUNK`] rows and that many
/// bytes a statement.
pub(super) async fn insert_raw_parts(
    conn: &mut SqliteConnection,
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
        // Up to CHUNK rows and RAW_PART bytes a statement (but at least one part).
        let (mut n, mut bytes) = (0, 0);
        while n < rest.len().min(CHUNK) && (n == 0 || bytes + rest[n].2.len() <= RAW_PART) {
            bytes += rest[n].2.len();
            n += 1;
        }
        let (chunk, tail) = rest.split_at(n);
        let mut q =
            QueryBuilder::<Sqlite>::new("INSERT INTO message_raw_parts (message_id, seq, bytes) ");
        q.push_values(chunk, |mut b, (id, seq, part)| {
            b.push_bind(*id).push_bind(*seq).push_bind(*part);
        });
        q.build().execute(&mut *conn).await?;
        rest = tail;
    }
    Ok(())
}

/// What the ledger holds under one (source, key): the content hash of the record, `None` when it has none
/// (recorded before hashes were kept, and its raw message not kept either, or nothing was downloaded).
type Recorded = HashMap<(String, String), Option<String>>;

/// The ledger's records under these (source, key) pairs, with their content hashes. A record from before
/// hashes were kept whose raw message is kept gets its hash now, so it is compared by content too.
async fn recorded_keys(conn: &mut SqliteConnection, wanted: &[(String, &str)]) -> Result<Recorded> {
    let mut by_source: HashMap<&str, Vec<&str>> = HashMap::new();
    for (source, key) in wanted {
        by_source.entry(source.as_str()).or_default().push(key);
    }
    let mut recorded = HashMap::new();
    let mut unhashed = Vec::new();
    for (source, keys) in &by_source {
        for chunk in keys.chunks(CHUNK) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "SELECT id, ledger_key, content_hash, raw_codec IS NOT NULL FROM messages WHERE source = ",
            );
            q.push_bind(*source).push(" AND ledger_key IN (");
            let mut sep = q.separated(", ");
            for key in chunk {
                sep.push_bind(*key);
            }
            q.push(")");
            let rows: Vec<(i64, String, Option<String>, bool)> =
                q.build_query_as().fetch_all(&mut *conn).await?;
            for (id, key, hash, has_raw) in rows {
                if hash.is_none() && has_raw {
                    unhashed.push((id, (source.to_string(), key.clone())));
                }
                recorded.insert((source.to_string(), key), hash);
            }
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
/// mailbox position, and returns the lead of the first copy.
async fn record_duplicate(
    conn: &mut SqliteConnection,
    entry: &LedgerEntry,
    key: &str,
) -> Result<Option<i64>> {
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
            let id = next_id(conn, "messages").await?;
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
        }
    }
    Ok(earlier.and_then(|(_, lead)| lead))
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

/// Records a batch of submissions; see [`leadgate_storage::Ledger::submit_batch`].
pub(super) async fn submit_all(
    conn: &mut SqliteConnection,
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
    let (mut next_message, mut next_lead) = (
        next_id(conn, "messages").await?,
        next_id(conn, "leads").await?,
    );
    for (i, s) in batch.iter().enumerate() {
        if let Some(claim) = &s.idempotency {
            let earlier: Option<(String, i64)> = sqlx::query_as(
                "SELECT body_hash, lead_id FROM idempotency_keys WHERE http_source_id = $1 AND key = $2",
            )
            .bind(claim.http_source_id)
            .bind(&claim.key)
            .fetch_optional(&mut *conn)
            .await?;
            if let Some((hash, lead_id)) = earlier {
                plans.push(Plan::Done(if hash == claim.body_hash {
                    SubmitOutcome::IdempotentReplay { lead_id }
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
        let lead_id = matches!(s.disposition, Disposition::Lead(_)).then(|| {
            next_lead += 1;
            next_lead - 1
        });
        plans.push(Plan::Write {
            message_id: next_message,
            lead_id,
            ledger_key,
        });
        next_message += 1;
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
    let parties = insert_leads(conn, &leads).await?;
    let party_of: HashMap<i64, Option<CounterpartyRef>> =
        leads.iter().map(|l| l.id).zip(parties).collect();
    insert_messages(conn, &messages).await?;

    let claims: Vec<(&Submission, i64)> = batch
        .iter()
        .zip(&plans)
        .filter_map(|(s, plan)| match plan {
            Plan::Write {
                lead_id: Some(lead_id),
                ..
            } if s.idempotency.is_some() => Some((s, *lead_id)),
            _ => None,
        })
        .collect();
    let now = ms(Utc::now());
    for chunk in claims.chunks(CHUNK) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO idempotency_keys (http_source_id, key, body_hash, lead_id, created_at) ",
        );
        q.push_values(chunk, |mut b, (s, lead_id)| {
            if let Some(claim) = &s.idempotency {
                b.push_bind(claim.http_source_id)
                    .push_bind(claim.key.as_str())
                    .push_bind(claim.body_hash.as_str())
                    .push_bind(*lead_id)
                    .push_bind(now);
            }
        });
        q.build().execute(&mut *conn).await?;
    }

    let mut outcomes = Vec::with_capacity(batch.len());
    for (i, plan) in plans.iter().enumerate() {
        let outcome = match plan {
            Plan::Done(outcome) => outcome.clone(),
            Plan::Duplicate(key) => SubmitOutcome::Duplicate {
                lead_id: record_duplicate(conn, &batch[i].ledger, key).await?,
            },
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
    Ok(outcomes)
}

/// Files a lead for an existing ledger record (reprocessing) and marks the record imported; the lead's history
/// records the reprocessing, by `by`.
pub(super) async fn import_for_message(
    conn: &mut SqliteConnection,
    message_id: i64,
    entry: &LedgerEntry,
    draft: &LeadDraft,
    by: Option<i64>,
) -> Result<i64> {
    let id = next_id(conn, "leads").await?;
    insert_leads(conn, &[NewLead { id, draft, entry }]).await?;
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
