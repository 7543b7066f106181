//! The records that cross the storage boundary: what the intake pipeline hands in and what the API reads out.
//!
//! Views hold what leadgate shows, embedding the domain's own types (a lead's [`Contact`] and
//! [`OrderLine`]s) rather than copies of their fields. They know nothing of JSON or of the API: the HTTP
//! API answers with its own types, made from these (the application's `http::dto`).

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use leadgate_domain::account::Role;
use leadgate_domain::collector::{AfterImport, Protocol, SubjectFilter, TlsMode};
use leadgate_domain::lead::{Channel, LeadKind, LeadStatus};
use leadgate_domain::ledger::Outcome;
use leadgate_domain::payload::{Contact, OrderLine, Payload};
use leadgate_domain::warning::Warning;

/// Who delivered a message: a collector, an HTTP source, or a file given to the CLI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceRef {
    /// A mail collector.
    Collector {
        /// Collector id.
        id: i64,
    },
    /// An HTTP source.
    Http {
        /// Source id.
        id: i64,
    },
    /// `leadgate import FILE`.
    File,
}

impl SourceRef {
    /// The ledger's source key: `collector:<id>`, `http:<id>` or `file`.
    pub fn key(&self) -> String {
        match self {
            SourceRef::Collector { id } => format!("collector:{id}"),
            SourceRef::Http { id } => format!("http:{id}"),
            SourceRef::File => "file".to_owned(),
        }
    }

    /// The channel this source belongs to.
    pub fn channel(&self) -> Channel {
        match self {
            SourceRef::Collector { .. } => Channel::Mail,
            SourceRef::Http { .. } => Channel::Http,
            SourceRef::File => Channel::File,
        }
    }
}

/// The ledger half of a submission: where the message came from and its raw bytes.
#[derive(Debug, Clone)]
pub struct LedgerEntry {
    /// Who delivered it.
    pub source: SourceRef,
    /// Dedup key within the source (Message-ID, UIDVALIDITY+UID, UIDL); `None` for HTTP requests.
    pub ledger_key: Option<String>,
    /// Where this copy sits in the mailbox (UIDVALIDITY:UID or UIDL), so a rescan recognises it without
    /// downloading it, and a second copy of one Message-ID is recorded as a duplicate once.
    pub mailbox_key: Option<String>,
    /// The Message-ID header, when there is one.
    pub message_id: Option<String>,
    /// The number after the keyword in the subject.
    pub external_number: Option<String>,
    /// When leadgate received it.
    pub received_at: DateTime<Utc>,
    /// The raw message or request body (kept for imported and rejected ones).
    pub raw: StoredRaw,
    /// `message/rfc822` for mail, the request's content type for HTTP.
    pub content_type: String,
    /// The hex SHA-256 of the message as received ([`content_hash`]): a message whose key the ledger holds
    /// with other content is a different message. `None` when nothing was received (a message too large to
    /// download) or the channel does not deduplicate (HTTP).
    pub content_hash: Option<String>,
}

/// The hex SHA-256 of a message's bytes, as the ledger keeps it.
pub fn content_hash(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// How stored raw bytes are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RawCodec {
    /// As received.
    #[default]
    Identity,
    /// One zstd frame.
    Zstd,
}

leadgate_domain::vocabulary!(RawCodec, "raw codec", {
    Identity => "identity",
    Zstd => "zstd",
});

/// zstd level 1 with one context per thread: making a context costs more than compressing a small message.
fn compress(bytes: &[u8]) -> Option<Vec<u8>> {
    thread_local! {
        static COMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Compressor<'static>>> =
            std::cell::RefCell::new(zstd::bulk::Compressor::new(1).ok());
    }
    COMPRESSOR.with_borrow_mut(|c| c.as_mut()?.compress(bytes).ok())
}

/// A raw message or request body in the form the ledger keeps it.
///
/// Raw bytes are most of the database, and the site mail they come from compresses to about half, so one
/// of up to [`StoredRaw::COMPRESS_UP_TO`] bytes is compressed (zstd, level 1) where it is made: on the
/// channel's own threads, never inside the single writer's transaction. A larger one (a big attachment,
/// usually already compressed) is kept as it is, so compressing never holds a second copy of a big message.
#[derive(Debug, Clone, Default)]
pub struct StoredRaw {
    bytes: Vec<u8>,
    codec: RawCodec,
    len: usize,
}

/// Stored raw bytes that do not decode: the database was altered or damaged.
#[derive(Debug, thiserror::Error)]
#[error("stored raw bytes ({codec:?}) do not decode to {len} bytes: {reason}")]
pub struct RawDecodeError {
    codec: RawCodec,
    len: usize,
    reason: String,
}

impl StoredRaw {
    /// The largest body that is compressed.
    pub const COMPRESS_UP_TO: usize = 1 << 20;

    /// Takes received bytes, compressing them when they are small enough and it makes them smaller.
    pub fn new(bytes: Vec<u8>) -> Self {
        let len = bytes.len();
        if (64..=Self::COMPRESS_UP_TO).contains(&len)
            && let Some(compressed) = compress(&bytes)
            && compressed.len() < len
        {
            return Self {
                bytes: compressed,
                codec: RawCodec::Zstd,
                len,
            };
        }
        Self {
            bytes,
            codec: RawCodec::Identity,
            len,
        }
    }

    /// Stored bytes as read back, with their codec and the original length.
    pub fn from_stored(bytes: Vec<u8>, codec: RawCodec, len: usize) -> Self {
        Self { bytes, codec, len }
    }

    /// The bytes as stored.
    pub fn stored(&self) -> &[u8] {
        &self.bytes
    }

    /// How [`StoredRaw::stored`] is encoded.
    pub fn codec(&self) -> RawCodec {
        self.codec
    }

    /// The original length.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no bytes at all.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bytes as received.
    ///
    /// # Errors
    /// The stored bytes do not decode to the recorded length.
    pub fn into_original(self) -> Result<Vec<u8>, RawDecodeError> {
        let failed = |reason: String| RawDecodeError {
            codec: self.codec,
            len: self.len,
            reason,
        };
        let original = match self.codec {
            RawCodec::Identity => self.bytes,
            // Only bodies up to COMPRESS_UP_TO are compressed; a larger recorded length is damage, and is
            // not handed to the decoder as the size of its buffer.
            RawCodec::Zstd if self.len > Self::COMPRESS_UP_TO => {
                return Err(failed("longer than any compressed body".to_owned()));
            }
            RawCodec::Zstd => {
                zstd::bulk::decompress(&self.bytes, self.len).map_err(|e| failed(e.to_string()))?
            }
        };
        if original.len() != self.len {
            return Err(failed(format!("got {} bytes", original.len())));
        }
        Ok(original)
    }
}

/// What to do with a submission.
#[derive(Debug, Clone)]
pub enum Disposition {
    /// File a lead.
    Lead(Box<LeadDraft>),
    /// Record a rejection with its reason.
    Rejected {
        /// Human-readable reason, shown in quarantine.
        reason: String,
    },
    /// Record that the message was not for leadgate.
    Skipped {
        /// Why.
        reason: String,
    },
}

/// A parsed payload with where it goes.
#[derive(Debug, Clone)]
pub struct LeadDraft {
    /// The parsed payload.
    pub payload: Payload,
    /// Target calendar.
    pub calendar_id: i64,
    /// Form tech cards right away.
    pub auto_tech_cards: bool,
    /// Warnings from outside the payload (charset replacement and the like), added to the payload's.
    pub extra_warnings: Vec<Warning>,
}

/// An Idempotency-Key claimed together with the lead.
#[derive(Debug, Clone)]
pub struct IdempotencyClaim {
    /// The HTTP source.
    pub http_source_id: i64,
    /// The key as sent.
    pub key: String,
    /// SHA-256 of the body, to tell a replay from a conflicting reuse.
    pub body_hash: String,
}

/// One unit for [`super::Ledger::submit_batch`].
#[derive(Debug, Clone)]
pub struct Submission {
    /// The ledger record.
    pub ledger: LedgerEntry,
    /// What to store.
    pub disposition: Disposition,
    /// Optional idempotency key (HTTP only).
    pub idempotency: Option<IdempotencyClaim>,
}

impl Submission {
    /// A lead filed into `calendar_id` as it came: no tech cards formed on arrival, no warnings beside the
    /// payload's own, no idempotency key (what the contract suite and the tests file; the intake builds its
    /// own disposition, with its source's rules).
    pub fn lead(ledger: LedgerEntry, payload: Payload, calendar_id: i64) -> Self {
        Self {
            ledger,
            disposition: Disposition::Lead(Box::new(LeadDraft {
                payload,
                calendar_id,
                auto_tech_cards: false,
                extra_warnings: Vec::new(),
            })),
            idempotency: None,
        }
    }
}

/// What storage did with one submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubmitOutcome {
    /// A lead was filed.
    Imported {
        /// Ledger record id.
        message_id: i64,
        /// The new lead.
        lead_id: i64,
        /// The counterparty found or created by INN.
        counterparty: Option<CounterpartyRef>,
    },
    /// The ledger already held this message: nothing new was stored.
    Duplicate {
        /// The lead of the earlier record, if it made one.
        lead_id: Option<i64>,
    },
    /// The rejection was recorded.
    Rejected {
        /// Ledger record id.
        message_id: i64,
    },
    /// The skip was recorded.
    Skipped {
        /// Ledger record id.
        message_id: i64,
    },
    /// The Idempotency-Key was used before with the same body: here is the lead it made.
    IdempotentReplay {
        /// The earlier lead.
        lead_id: i64,
    },
    /// The Idempotency-Key was used before with a different body.
    IdempotencyConflict,
}

/// What [`super::Ledger::import_for_message`] found inside its transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reimport {
    /// The record was still rejected: this lead was filed for it.
    Imported {
        /// The new lead.
        lead_id: i64,
    },
    /// Another call resolved the record first (a double click, the UI and the API at once): nothing was
    /// written.
    AlreadyResolved {
        /// Its outcome now.
        outcome: Outcome,
        /// Its lead, when it was imported.
        lead_id: Option<i64>,
    },
}

/// `{id, name}` of a calendar, as embedded in a lead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarRef {
    /// Calendar id.
    pub id: i64,
    /// Calendar name.
    pub name: String,
}

/// A calendar.
#[derive(Debug, Clone)]
pub struct CalendarView {
    /// Calendar id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Owner's login; `None` for a common calendar.
    pub owner: Option<String>,
    /// Display colour.
    pub color: String,
}

impl CalendarView {
    /// Whether a user may see this calendar, its leads and what they bring (tech cards, counterparties,
    /// contacts): administrators see every calendar, managers the common ones and their own personal ones.
    pub fn visible_to(&self, login: &str, role: Role) -> bool {
        role == Role::Admin || self.owner.as_deref().is_none_or(|o| o == login)
    }
}

/// The calendars a user may see, in the form the storage filters take: `None` for an administrator (every
/// calendar, including ones made later), else the ids of the calendars [`CalendarView::visible_to`] allows.
pub fn visible_calendar_ids(
    calendars: &[CalendarView],
    login: &str,
    role: Role,
) -> Option<Vec<i64>> {
    (role != Role::Admin).then(|| {
        calendars
            .iter()
            .filter(|c| c.visible_to(login, role))
            .map(|c| c.id)
            .collect()
    })
}

/// `{id, inn, name}` of a counterparty, as embedded in a lead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CounterpartyRef {
    /// Counterparty id.
    pub id: i64,
    /// INN.
    pub inn: String,
    /// Name.
    pub name: String,
}

/// Where a lead came from.
#[derive(Debug, Clone)]
pub struct SourceView {
    /// `mail`, `http` or `file`.
    pub channel: Channel,
    /// Collector name (mail).
    pub collector: Option<String>,
    /// HTTP source name (http).
    pub http_source: Option<String>,
    /// Message-ID.
    pub message_id: Option<String>,
    /// External number from the subject.
    pub external_number: Option<String>,
}

/// A lead with everything the API and the lead page show of it (SPEC "Lead JSON").
#[derive(Debug, Clone)]
pub struct LeadView {
    /// Lead id.
    pub id: i64,
    /// `contact` or `order`.
    pub kind: LeadKind,
    /// `new`, `in_progress`, `done`, `rejected`.
    pub status: LeadStatus,
    /// Calendar.
    pub calendar: CalendarRef,
    /// Subject (Тема).
    pub subject: Option<String>,
    /// Дата of the payload.
    pub occurred_at: Option<DateTime<Utc>>,
    /// Receipt time.
    pub received_at: DateTime<Utc>,
    /// Description.
    pub description: Option<String>,
    /// Contact details.
    pub contact: Contact,
    /// INN as sent.
    pub inn: Option<String>,
    /// The counterparty found or created by INN.
    pub counterparty: Option<CounterpartyRef>,
    /// Layout file URLs.
    pub layout_files: Vec<String>,
    /// Order lines.
    pub lines: Vec<OrderLine>,
    /// Origin.
    pub source: SourceView,
    /// Warnings found while parsing.
    pub warnings: Vec<Warning>,
    /// Login of the assignee.
    pub assignee: Option<String>,
    /// Where the visitor came from (UTM tags, page, referrer), as the site sent it.
    pub campaign: leadgate_domain::payload::Campaign,
    /// The lead a manager marked this one a second submission of.
    pub duplicate_of: Option<i64>,
}

/// Filters of the lead list.
#[derive(Debug, Clone, Default)]
pub struct LeadFilter {
    /// Calendar id or name.
    pub calendar: Option<String>,
    /// Status.
    pub status: Option<LeadStatus>,
    /// Kind.
    pub kind: Option<LeadKind>,
    /// Start of period (inclusive), RFC 3339.
    pub from: Option<DateTime<Utc>>,
    /// End of period (exclusive), RFC 3339.
    pub to: Option<DateTime<Utc>>,
    /// Text search over subject, names, phone, INN, e-mail, external number ([`crate::SearchKey`] folds it).
    pub search: Option<String>,
}

/// Paging request: `limit` (at most 500) and an opaque `cursor`.
#[derive(Debug, Clone, Copy)]
pub struct PageRequest {
    /// Items per page.
    pub limit: u32,
    /// Continue after this cursor.
    pub cursor: Option<i64>,
}

impl PageRequest {
    /// The largest page.
    pub const MAX_LIMIT: u32 = 500;
}

/// A page of items and the cursor of the next one.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Cursor of the next page, `null` at the end.
    pub next: Option<String>,
}

/// Changes to a lead.
#[derive(Debug, Clone, Default)]
pub struct LeadPatch {
    /// New status.
    pub status: Option<LeadStatus>,
    /// New assignee login; `""` clears it.
    pub assignee: Option<String>,
    /// The user making the change. The first change of status or assignee is recorded on the lead as its
    /// first manager action (when and by whom), for the response time report.
    pub by: Option<i64>,
}

/// A tech card.
#[derive(Debug, Clone)]
pub struct TechCardView {
    /// Id.
    pub id: i64,
    /// Number shown on the printed card.
    pub number: String,
    /// The lead.
    pub lead_id: i64,
    /// The line's position in the lead.
    pub line_position: i64,
    /// Status.
    pub status: String,
    /// The line changed or was removed after the card was formed: the card shows what it was formed from.
    pub stale: bool,
    /// The line it was made from.
    pub line: OrderLine,
    /// W×H, m².
    pub area_per_piece: Option<Decimal>,
    /// W×H×quantity, m².
    pub total_area: Option<Decimal>,
    /// 2(W+H), m.
    pub perimeter: Option<Decimal>,
}

/// A counterparty with its contacts.
#[derive(Debug, Clone)]
pub struct CounterpartyView {
    /// Id.
    pub id: i64,
    /// INN.
    pub inn: String,
    /// `organisation` (10 digits) or `individual` (12).
    pub inn_kind: String,
    /// Name.
    pub name: String,
    /// Phones.
    pub phones: Vec<String>,
    /// E-mails.
    pub emails: Vec<String>,
}

/// A ledger record (SPEC "message record").
#[derive(Debug, Clone)]
pub struct MessageView {
    /// Id.
    pub id: i64,
    /// Channel.
    pub channel: Channel,
    /// Collector name (mail).
    pub collector: Option<String>,
    /// HTTP source name.
    pub http_source: Option<String>,
    /// Message-ID.
    pub message_id: Option<String>,
    /// External number.
    pub external_number: Option<String>,
    /// Outcome.
    pub outcome: Outcome,
    /// Why (for rejected, skipped, duplicate).
    pub reason: Option<String>,
    /// The lead it made.
    pub lead_id: Option<i64>,
    /// When it arrived.
    pub received_at: DateTime<Utc>,
    /// Whether the raw message is kept.
    pub has_raw: bool,
    /// Collector id (mail), for reprocessing with its settings.
    pub collector_id: Option<i64>,
    /// HTTP source id, for reprocessing with its settings.
    pub http_source_id: Option<i64>,
    /// Where its collector found it (`UIDVALIDITY:UID` or the UIDL), for finding it there again.
    pub mailbox_key: Option<String>,
}

/// The raw bytes of a ledger record.
#[derive(Debug, Clone)]
pub struct RawMessage {
    /// The bytes.
    pub bytes: Vec<u8>,
    /// Their content type.
    pub content_type: String,
}

/// Who erased personal data, and through which door.
#[derive(Debug, Clone)]
pub struct ErasureActor {
    /// The administrator's user id (`None`: the command line).
    pub user_id: Option<i64>,
    /// The administrator's login, or `command line`.
    pub login: String,
    /// `ui`, `api` or `cli`.
    pub channel: &'static str,
}

/// A lead found for an erasure request (shown in the preview).
#[derive(Debug, Clone)]
pub struct PersonalLead {
    /// Lead id.
    pub id: i64,
    /// Receipt.
    pub received_at: DateTime<Utc>,
    /// Contact person.
    pub contact_person: Option<String>,
    /// Subject (Тема).
    pub subject: Option<String>,
}

/// Everything leadgate holds about one phone, e-mail or INN: what an erasure would erase.
#[derive(Debug, Clone, Default)]
pub struct PersonalDataFound {
    /// Leads whose contact, e-mail or INN is the person's: they are anonymised.
    pub leads: Vec<PersonalLead>,
    /// Ledger records of those leads, and rejected or discarded ones whose raw bytes mention the value:
    /// their raw bytes are deleted.
    pub message_ids: Vec<i64>,
    /// Counterparties deleted: the one with this INN, and individual entrepreneurs of the person's leads.
    pub counterparties: Vec<CounterpartyRef>,
    /// Organisations of the person's leads that were named after the person: renamed to their INN.
    pub renamed_counterparty_ids: Vec<i64>,
    /// Counterparty phones and e-mails deleted (the person's, and all of a deleted counterparty).
    pub contacts: usize,
}

impl PersonalDataFound {
    /// Nothing is held.
    pub fn is_empty(&self) -> bool {
        self.leads.is_empty()
            && self.message_ids.is_empty()
            && self.counterparties.is_empty()
            && self.renamed_counterparty_ids.is_empty()
            && self.contacts == 0
    }
}

/// The audit record of one erasure: what, when and by whom, never the erased values themselves.
#[derive(Debug, Clone)]
pub struct ErasureRecord {
    /// Record id.
    pub id: i64,
    /// When.
    pub erased_at: DateTime<Utc>,
    /// The administrator's login, or `command line`.
    pub actor: String,
    /// `ui`, `api` or `cli`.
    pub channel: String,
    /// `phone`, `email` or `inn`: the kind of value asked for (the value is not kept).
    pub query_kind: String,
    /// Anonymised leads.
    pub lead_ids: Vec<i64>,
    /// Ledger records whose raw bytes were deleted.
    pub message_ids: Vec<i64>,
    /// Deleted counterparties.
    pub counterparty_ids: Vec<i64>,
    /// Counterparties renamed to their INN.
    pub renamed_counterparties: i64,
    /// Deleted counterparty phones and e-mails.
    pub contacts: i64,
}

/// An HTTP source as stored.
#[derive(Debug, Clone)]
pub struct HttpSourceRecord {
    /// Id (0 when not stored yet).
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// Calendar its leads go to.
    pub calendar_id: i64,
    /// That calendar's name (read only).
    pub calendar_name: String,
    /// Origins allowed by CORS.
    pub cors_origins: Vec<String>,
    /// Form tech cards automatically.
    pub auto_tech_cards: bool,
}

/// A user as stored.
#[derive(Debug, Clone)]
pub struct UserRecord {
    /// Id.
    pub id: i64,
    /// Login.
    pub login: String,
    /// Role.
    pub role: Role,
}

/// A mail collector as stored (SPEC "Collectors"). The password is never stored, only where to read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectorRecord {
    /// Id (0 before it is stored).
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// IMAP or POP3.
    pub protocol: Protocol,
    /// Server host.
    pub host: String,
    /// Server port.
    pub port: u16,
    /// `implicit`, `starttls` or `none`.
    pub tls: TlsMode,
    /// Extra CA certificate file.
    pub ca_file: Option<std::path::PathBuf>,
    /// Skip certificate verification (warns).
    pub insecure_skip_verify: bool,
    /// Login.
    pub username: String,
    /// Environment variable with the password.
    pub password_env: Option<String>,
    /// File with the password.
    pub password_file: Option<std::path::PathBuf>,
    /// IMAP folder.
    pub folder: String,
    /// Subject keyword.
    pub keyword: String,
    /// Who judges the subjects of new IMAP messages.
    pub subject_filter: SubjectFilter,
    /// Target calendar.
    pub calendar_id: i64,
    /// Charset for attachments that declare none and are not UTF-8.
    pub default_charset: String,
    /// After-import action.
    pub after_import: AfterImport,
    /// Folder for `move`.
    pub move_to: Option<String>,
    /// Folder for rejected messages.
    pub failed_folder: Option<String>,
    /// Retention in days.
    pub delete_after_days: Option<u32>,
    /// Form tech cards automatically.
    pub auto_tech_cards: bool,
    /// Marked for deletion.
    pub deleted: bool,
    /// IMAP: keep an IDLE connection and import new mail as it comes (when the server offers IDLE).
    pub push: bool,
}

impl CollectorRecord {
    /// The subject keyword when none is configured.
    pub const DEFAULT_KEYWORD: &'static str = "ORDER";
    /// The IMAP folder when none is configured.
    pub const DEFAULT_FOLDER: &'static str = "INBOX";
    /// The charset of attachments that declare none and are not UTF-8, when none is configured.
    pub const DEFAULT_CHARSET: &'static str = "windows-1251";
    /// The port a new collector form proposes (IMAP over TLS).
    pub const DEFAULT_PORT: u16 = 993;
    /// How the connection is secured when nothing is configured: TLS from the first byte.
    pub const DEFAULT_TLS: leadgate_domain::collector::TlsMode =
        leadgate_domain::collector::TlsMode::Implicit;

    /// A collector with every setting at its default: [`Self::DEFAULT_TLS`], the folder
    /// [`Self::DEFAULT_FOLDER`], the keyword [`Self::DEFAULT_KEYWORD`] judged by the server, the charset
    /// [`Self::DEFAULT_CHARSET`], mail kept after import, no password binding, not stored yet (id 0) and in
    /// no calendar yet (0).
    pub fn new(
        name: impl Into<String>,
        protocol: Protocol,
        host: impl Into<String>,
        port: u16,
        username: impl Into<String>,
    ) -> Self {
        Self {
            id: 0,
            name: name.into(),
            protocol,
            host: host.into(),
            port,
            tls: Self::DEFAULT_TLS,
            ca_file: None,
            insecure_skip_verify: false,
            username: username.into(),
            password_env: None,
            password_file: None,
            folder: Self::DEFAULT_FOLDER.to_owned(),
            keyword: Self::DEFAULT_KEYWORD.to_owned(),
            subject_filter: SubjectFilter::default(),
            calendar_id: 0,
            default_charset: Self::DEFAULT_CHARSET.to_owned(),
            after_import: AfterImport::default(),
            move_to: None,
            failed_folder: None,
            delete_after_days: None,
            auto_tech_cards: false,
            deleted: false,
            push: true,
        }
    }
}

/// One run of one collector.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunCounts {
    /// Leads made.
    pub imported: u64,
    /// Already in the ledger.
    pub duplicate: u64,
    /// Not for leadgate.
    pub skipped: u64,
    /// Rejected (kept for reprocessing).
    pub rejected: u64,
}

/// The last run of a collector.
#[derive(Debug, Clone)]
pub struct RunView {
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it ended; `None` while running (or if the process died).
    pub finished_at: Option<DateTime<Utc>>,
    /// Counts per outcome.
    pub counts: RunCounts,
    /// What stopped it, if anything.
    pub error: Option<String>,
}

/// Where an IMAP scan stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanState {
    /// UIDVALIDITY of the folder when last scanned.
    pub uid_validity: u32,
    /// Highest UID looked at.
    pub last_uid: u32,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn site_mail_is_stored_compressed_and_comes_back_byte_for_byte() {
        let mail = include_bytes!("../../../tests/fixtures/mail/phpmailer_cp1251.eml").to_vec();
        let stored = StoredRaw::new(mail.clone());
        assert_eq!(stored.codec(), RawCodec::Zstd);
        assert!(stored.stored().len() < mail.len());
        assert_eq!(stored.len(), mail.len());
        let back = StoredRaw::from_stored(stored.stored().to_vec(), stored.codec(), stored.len());
        assert_eq!(back.into_original().unwrap(), mail);
    }

    #[test]
    fn bytes_that_do_not_shrink_or_are_too_big_are_kept_as_they_are() {
        let tiny = b"{}".to_vec();
        assert_eq!(StoredRaw::new(tiny).codec(), RawCodec::Identity);
        // Noise (xorshift) does not compress.
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let noise: Vec<u8> = (0..4096)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state.to_le_bytes()[0]
            })
            .collect();
        let stored = StoredRaw::new(noise.clone());
        assert_eq!(stored.codec(), RawCodec::Identity);
        assert_eq!(stored.stored(), noise.as_slice());
        let big = vec![b'a'; StoredRaw::COMPRESS_UP_TO + 1];
        let stored = StoredRaw::new(big.clone());
        assert_eq!(stored.codec(), RawCodec::Identity);
        assert_eq!(stored.into_original().unwrap(), big);
    }

    #[test]
    fn damaged_stored_bytes_are_an_error_not_a_panic() {
        let stored = StoredRaw::new(vec![b'x'; 1000]);
        let mut bytes = stored.stored().to_vec();
        bytes.truncate(bytes.len() / 2);
        assert!(
            StoredRaw::from_stored(bytes, RawCodec::Zstd, 1000)
                .into_original()
                .is_err()
        );
        assert!(
            StoredRaw::from_stored(vec![1, 2, 3], RawCodec::Identity, 4)
                .into_original()
                .is_err()
        );
        assert!(
            StoredRaw::from_stored(stored.stored().to_vec(), RawCodec::Zstd, usize::MAX)
                .into_original()
                .is_err()
        );
    }

    proptest! {
        #[test]
        fn any_bytes_round_trip(bytes in proptest::collection::vec(any::<u8>(), 0..5000)) {
            let stored = StoredRaw::new(bytes.clone());
            let back = StoredRaw::from_stored(stored.stored().to_vec(), stored.codec(), stored.len());
            prop_assert_eq!(back.into_original().unwrap(), bytes);
        }
    }
}
