//! Erasing a person's data on request (152-ФЗ): find everything held about one phone, e-mail or INN, and
//! erase or anonymise it in one step, leaving an audit record without the data itself. The UI, the API and
//! the command line all come here.
//!
//! Leads, counterparties and contacts are matched by their columns in storage. A rejected or discarded
//! ledger record has no lead to compare, so its raw bytes are read here, the way the channel read them (the
//! mail's attachment decoded from its charset, a JSON body from UTF-8 or Windows-1251), and searched for
//! the value. What erasing means is described in the SQLite backend (`leadgate_sqlite`'s `personal_data` module) and
//! in the README.

use tracing::{info, instrument};

use leadgate_domain::ledger::Outcome;
use leadgate_domain::personal_data::PersonDataQuery;
use leadgate_storage::{
    ErasureActor, ErasureRecord, PageRequest, PersonalDataFound, RawMessage, Storage, StorageError,
};

/// Ledger records read per page while searching raw bytes.
const PAGE: u32 = 200;

/// Everything held about the value.
///
/// # Errors
/// Database errors.
#[instrument(skip_all, fields(kind = query.kind().as_str()))]
pub async fn find(
    storage: &dyn Storage,
    query: &PersonDataQuery,
) -> Result<PersonalDataFound, StorageError> {
    let mentioned = mentioning(storage, query).await?;
    storage.find_personal_data(query, &mentioned).await
}

/// Erases everything held about the value and returns the audit record.
///
/// # Errors
/// Database errors; nothing is erased then.
#[instrument(skip_all, fields(kind = query.kind().as_str(), by = %actor.login))]
pub async fn erase(
    storage: &dyn Storage,
    query: &PersonDataQuery,
    actor: &ErasureActor,
) -> Result<ErasureRecord, StorageError> {
    let mentioned = mentioning(storage, query).await?;
    let record = storage
        .erase_personal_data(query, &mentioned, actor)
        .await?;
    info!(
        erasure = record.id,
        leads = record.lead_ids.len(),
        messages = record.message_ids.len(),
        counterparties = record.counterparty_ids.len(),
        contacts = record.contacts,
        "personal data erased"
    );
    Ok(record)
}

/// Rejected and discarded ledger records without a lead whose raw bytes mention the value.
async fn mentioning(
    storage: &dyn Storage,
    query: &PersonDataQuery,
) -> Result<Vec<i64>, StorageError> {
    let mut found = Vec::new();
    for outcome in [Outcome::Rejected, Outcome::Discarded] {
        let mut cursor = None;
        loop {
            let page = storage
                .messages(
                    Some(outcome),
                    PageRequest {
                        limit: PAGE,
                        cursor,
                    },
                )
                .await?;
            for message in page
                .items
                .iter()
                .filter(|m| m.has_raw && m.lead_id.is_none())
            {
                let Some(raw) = storage.message_raw(message.id).await? else {
                    continue;
                };
                let query = query.clone();
                // Decoding a mail is CPU work: off the async threads.
                let hit = tokio::task::spawn_blocking(move || mentions(&query, &raw))
                    .await
                    .unwrap_or(false);
                if hit {
                    found.push(message.id);
                }
            }
            cursor = page.next.and_then(|n| n.parse().ok());
            if cursor.is_none() {
                break;
            }
        }
    }
    Ok(found)
}

/// Whether the raw bytes of a ledger record mention the value: as they are, and as the channel decodes them.
fn mentions(query: &PersonDataQuery, raw: &RawMessage) -> bool {
    if query.mentioned_in(&String::from_utf8_lossy(&raw.bytes)) {
        return true;
    }
    if raw.content_type.starts_with("message/") {
        // Read under the default attachment limit, so one huge record costs no more here than in a collector.
        let limit = crate::config::Limits::default().max_body_bytes;
        let (_, payload) =
            leadgate_mail::extract::read(&raw.bytes, encoding_rs::WINDOWS_1251, limit);
        payload.is_ok_and(|p| query.mentioned_in(&p.text))
    } else {
        std::str::from_utf8(&raw.bytes).is_err()
            && query.mentioned_in(&encoding_rs::WINDOWS_1251.decode(&raw.bytes).0)
    }
}
