//! The API's JSON: what the handlers answer and read, with the OpenAPI schemas `/openapi.json` publishes
//! (SPEC "Lead JSON", "Lists and message records").
//!
//! Storage and the domain know nothing of the API: each type here is made from the record or domain value
//! it shows (`From`), so the JSON the API promises is written down in this one file. The conversions take
//! the source apart field by field, so a field added to a record does not build until this file says
//! whether the API shows it.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use leadgate_domain::lead::{Channel, LeadKind, LeadStatus};
use leadgate_domain::payload::{Contact, ExtraWork, OrderLine};
use leadgate_domain::warning::Warning;
use leadgate_storage as storage;

/// Outcome of one message in the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A lead was made from it.
    Imported,
    /// The ledger already held it.
    Duplicate,
    /// Looked at, not for leadgate (no keyword as a whole word).
    Skipped,
    /// For leadgate, but unusable; the raw message is kept for reprocessing.
    Rejected,
    /// A rejected message an administrator threw away (kept in the ledger).
    Discarded,
}

impl From<leadgate_domain::ledger::Outcome> for Outcome {
    fn from(o: leadgate_domain::ledger::Outcome) -> Self {
        match o {
            leadgate_domain::ledger::Outcome::Imported => Self::Imported,
            leadgate_domain::ledger::Outcome::Duplicate => Self::Duplicate,
            leadgate_domain::ledger::Outcome::Skipped => Self::Skipped,
            leadgate_domain::ledger::Outcome::Rejected => Self::Rejected,
            leadgate_domain::ledger::Outcome::Discarded => Self::Discarded,
        }
    }
}

/// `{id, name}` of a calendar, as embedded in a lead.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct CalendarRef {
    /// Calendar id.
    pub id: i64,
    /// Calendar name.
    pub name: String,
}

impl From<storage::CalendarRef> for CalendarRef {
    fn from(storage::CalendarRef { id, name }: storage::CalendarRef) -> Self {
        Self { id, name }
    }
}

/// A calendar.
#[derive(Debug, Clone, Serialize, ToSchema)]
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

impl From<storage::CalendarView> for CalendarView {
    fn from(
        storage::CalendarView {
            id,
            name,
            owner,
            color,
        }: storage::CalendarView,
    ) -> Self {
        Self {
            id,
            name,
            owner,
            color,
        }
    }
}

/// Contact details of a lead.
#[derive(Debug, Clone, Serialize, ToSchema, Default)]
pub struct ContactView {
    /// Contact person.
    pub person: Option<String>,
    /// Phone as sent.
    pub phone: Option<String>,
    /// Phone in E.164, when it parsed.
    pub phone_e164: Option<String>,
    /// E-mail.
    pub email: Option<String>,
}

impl From<Contact> for ContactView {
    fn from(
        Contact {
            person,
            phone,
            phone_e164,
            email,
        }: Contact,
    ) -> Self {
        Self {
            person,
            phone,
            phone_e164,
            email,
        }
    }
}

/// `{id, inn, name}` of a counterparty, as embedded in a lead.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct CounterpartyRef {
    /// Counterparty id.
    pub id: i64,
    /// INN.
    pub inn: String,
    /// Name.
    pub name: String,
}

impl From<storage::CounterpartyRef> for CounterpartyRef {
    fn from(storage::CounterpartyRef { id, inn, name }: storage::CounterpartyRef) -> Self {
        Self { id, inn, name }
    }
}

/// An extra (post-press) work of a line.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ExtraWorkView {
    /// Kind of work (ВидРаботы).
    pub kind: Option<String>,
    /// Quantity.
    #[schema(value_type = Option<String>)]
    pub quantity: Option<Decimal>,
    /// Description.
    pub description: Option<String>,
}

impl From<ExtraWork> for ExtraWorkView {
    fn from(
        ExtraWork {
            kind,
            quantity,
            description,
        }: ExtraWork,
    ) -> Self {
        Self {
            kind,
            quantity,
            description,
        }
    }
}

/// An order line.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LineView {
    /// 1-based position.
    pub position: i64,
    /// Item name.
    pub nomenclature: Option<String>,
    /// Machine code.
    pub machine_code: Option<String>,
    /// Print resolution.
    pub resolution: Option<String>,
    /// Material.
    pub material: Option<String>,
    /// Material code.
    pub material_code: Option<String>,
    /// Width, m.
    #[schema(value_type = Option<String>)]
    pub width: Option<Decimal>,
    /// Height, m.
    #[schema(value_type = Option<String>)]
    pub height: Option<Decimal>,
    /// Quantity.
    #[schema(value_type = Option<String>)]
    pub quantity: Option<Decimal>,
    /// Price.
    #[schema(value_type = Option<String>)]
    pub price: Option<Decimal>,
    /// Amount.
    #[schema(value_type = Option<String>)]
    pub amount: Option<Decimal>,
    /// A service line (no tech card).
    pub is_service: bool,
    /// Extra works.
    pub extra_works: Vec<ExtraWorkView>,
}

impl From<OrderLine> for LineView {
    fn from(
        OrderLine {
            position,
            nomenclature,
            machine_code,
            resolution,
            material,
            material_code,
            width,
            height,
            quantity,
            price,
            amount,
            is_service,
            extra_works,
        }: OrderLine,
    ) -> Self {
        Self {
            position: position.into(),
            nomenclature,
            machine_code,
            resolution,
            material,
            material_code,
            width,
            height,
            quantity,
            price,
            amount,
            is_service,
            extra_works: extra_works.into_iter().map(Into::into).collect(),
        }
    }
}

/// Where a lead came from.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SourceView {
    /// `mail`, `http` or `file`.
    #[schema(value_type = String)]
    pub channel: Channel,
    /// Collector name (mail).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub collector: Option<String>,
    /// HTTP source name (http).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_source: Option<String>,
    /// Message-ID.
    pub message_id: Option<String>,
    /// External number from the subject.
    pub external_number: Option<String>,
}

impl From<storage::SourceView> for SourceView {
    fn from(
        storage::SourceView {
            channel,
            collector,
            http_source,
            message_id,
            external_number,
        }: storage::SourceView,
    ) -> Self {
        Self {
            channel,
            collector,
            http_source,
            message_id,
            external_number,
        }
    }
}

/// A lead in the API's shape (SPEC "Lead JSON").
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LeadView {
    /// Lead id.
    pub id: i64,
    /// `contact` or `order`.
    #[schema(value_type = String)]
    pub kind: LeadKind,
    /// `new`, `in_progress`, `done`, `rejected`.
    #[schema(value_type = String)]
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
    pub contact: ContactView,
    /// INN as sent.
    pub inn: Option<String>,
    /// The counterparty found or created by INN.
    pub counterparty: Option<CounterpartyRef>,
    /// Layout file URLs.
    pub layout_files: Vec<String>,
    /// Order lines.
    pub lines: Vec<LineView>,
    /// Origin.
    pub source: SourceView,
    /// Warnings found while parsing.
    #[schema(value_type = Vec<Object>)]
    pub warnings: Vec<Warning>,
    /// Login of the assignee.
    pub assignee: Option<String>,
    /// Where the visitor came from, as the site sent it.
    pub campaign: CampaignView,
    /// The lead a manager marked this one a second submission of (it has left the inbox).
    pub duplicate_of: Option<i64>,
}

/// Where the visitor came from: the optional campaign fields of the payload (`null`: not sent).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CampaignView {
    /// `utm_source`.
    pub utm_source: Option<String>,
    /// `utm_medium`.
    pub utm_medium: Option<String>,
    /// `utm_campaign`.
    pub utm_campaign: Option<String>,
    /// The page the lead was sent from.
    pub page_url: Option<String>,
    /// The page the visitor came from.
    pub referrer: Option<String>,
}

impl From<leadgate_domain::payload::Campaign> for CampaignView {
    fn from(c: leadgate_domain::payload::Campaign) -> Self {
        Self {
            utm_source: c.utm_source,
            utm_medium: c.utm_medium,
            utm_campaign: c.utm_campaign,
            page_url: c.page_url,
            referrer: c.referrer,
        }
    }
}

impl From<storage::LeadView> for LeadView {
    fn from(
        storage::LeadView {
            id,
            kind,
            status,
            calendar,
            subject,
            occurred_at,
            received_at,
            description,
            contact,
            inn,
            counterparty,
            layout_files,
            lines,
            source,
            warnings,
            assignee,
            campaign,
            duplicate_of,
        }: storage::LeadView,
    ) -> Self {
        Self {
            id,
            kind,
            status,
            calendar: calendar.into(),
            subject,
            occurred_at,
            received_at,
            description,
            contact: contact.into(),
            inn,
            counterparty: counterparty.map(Into::into),
            layout_files,
            lines: lines.into_iter().map(Into::into).collect(),
            source: source.into(),
            warnings,
            assignee,
            campaign: campaign.into(),
            duplicate_of,
        }
    }
}

/// Filters of the lead list.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
pub struct LeadFilter {
    /// Calendar id or name.
    pub calendar: Option<String>,
    /// Status.
    #[param(value_type = Option<String>)]
    pub status: Option<LeadStatus>,
    /// Kind.
    #[param(value_type = Option<String>)]
    pub kind: Option<LeadKind>,
    /// Start of period (inclusive), RFC 3339.
    pub from: Option<DateTime<Utc>>,
    /// End of period (exclusive), RFC 3339.
    pub to: Option<DateTime<Utc>>,
    /// Text search over subject, names, phone, INN, e-mail, external number: a fragment, in any case; spaces,
    /// hyphens, dots and brackets count on neither side, so a phone is found however it was written.
    pub search: Option<String>,
}

impl From<LeadFilter> for storage::LeadFilter {
    fn from(
        LeadFilter {
            calendar,
            status,
            kind,
            from,
            to,
            search,
        }: LeadFilter,
    ) -> Self {
        Self {
            calendar,
            status,
            kind,
            from,
            to,
            search,
        }
    }
}

/// A page of items and the cursor of the next one.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Cursor of the next page, `null` at the end.
    pub next: Option<String>,
}

impl<T, S: Into<T>> From<storage::Page<S>> for Page<T> {
    fn from(storage::Page { items, next }: storage::Page<S>) -> Self {
        Self {
            items: items.into_iter().map(Into::into).collect(),
            next,
        }
    }
}

/// Changes to a lead.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct LeadPatch {
    /// New status.
    #[schema(value_type = Option<String>)]
    pub status: Option<LeadStatus>,
    /// New assignee login; `""` clears it.
    pub assignee: Option<String>,
}

impl From<LeadPatch> for storage::LeadPatch {
    fn from(LeadPatch { status, assignee }: LeadPatch) -> Self {
        Self {
            status,
            assignee,
            by: None,
        }
    }
}

/// A tech card.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TechCardView {
    /// Id.
    pub id: i64,
    /// Number shown on the printed card.
    pub number: String,
    /// The lead.
    pub lead_id: i64,
    /// The line's position in the lead.
    pub line_position: i64,
    /// Status: `new`, `in_production` or `done`.
    pub status: String,
    /// The line changed or was removed after the card was formed: the card shows what it was formed from.
    pub stale: bool,
    /// The line it was made from.
    pub line: LineView,
    /// W×H, m².
    #[schema(value_type = Option<String>)]
    pub area_per_piece: Option<Decimal>,
    /// W×H×quantity, m².
    #[schema(value_type = Option<String>)]
    pub total_area: Option<Decimal>,
    /// 2(W+H), m.
    #[schema(value_type = Option<String>)]
    pub perimeter: Option<Decimal>,
}

impl From<storage::TechCardView> for TechCardView {
    fn from(
        storage::TechCardView {
            id,
            number,
            lead_id,
            line_position,
            status,
            stale,
            line,
            area_per_piece,
            total_area,
            perimeter,
        }: storage::TechCardView,
    ) -> Self {
        Self {
            id,
            number,
            lead_id,
            line_position,
            status,
            stale,
            line: line.into(),
            area_per_piece,
            total_area,
            perimeter,
        }
    }
}

/// A counterparty with its contacts.
#[derive(Debug, Clone, Serialize, ToSchema)]
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

impl From<storage::CounterpartyView> for CounterpartyView {
    fn from(
        storage::CounterpartyView {
            id,
            inn,
            inn_kind,
            name,
            phones,
            emails,
        }: storage::CounterpartyView,
    ) -> Self {
        Self {
            id,
            inn,
            inn_kind,
            name,
            phones,
            emails,
        }
    }
}

/// A ledger record (SPEC "message record").
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MessageView {
    /// Id.
    pub id: i64,
    /// Channel.
    #[schema(value_type = String)]
    pub channel: Channel,
    /// Collector name (mail).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub collector: Option<String>,
    /// HTTP source name.
    #[serde(skip_serializing_if = "Option::is_none")]
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
}

impl From<storage::MessageView> for MessageView {
    fn from(
        storage::MessageView {
            id,
            channel,
            collector,
            http_source,
            message_id,
            external_number,
            outcome,
            reason,
            lead_id,
            received_at,
            has_raw,
            // Internal: which settings reprocessing uses.
            collector_id: _,
            http_source_id: _,
            mailbox_key: _,
        }: storage::MessageView,
    ) -> Self {
        Self {
            id,
            channel,
            collector,
            http_source,
            message_id,
            external_number,
            outcome: outcome.into(),
            reason,
            lead_id,
            received_at,
            has_raw,
        }
    }
}

/// A lead found for an erasure request (shown in the preview).
#[derive(Debug, Clone, Serialize, ToSchema)]
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

impl From<storage::PersonalLead> for PersonalLead {
    fn from(
        storage::PersonalLead {
            id,
            received_at,
            contact_person,
            subject,
        }: storage::PersonalLead,
    ) -> Self {
        Self {
            id,
            received_at,
            contact_person,
            subject,
        }
    }
}

/// Everything leadgate holds about one phone, e-mail or INN: what an erasure would erase.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
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

impl From<storage::PersonalDataFound> for PersonalDataFound {
    fn from(
        storage::PersonalDataFound {
            leads,
            message_ids,
            counterparties,
            renamed_counterparty_ids,
            contacts,
        }: storage::PersonalDataFound,
    ) -> Self {
        Self {
            leads: leads.into_iter().map(Into::into).collect(),
            message_ids,
            counterparties: counterparties.into_iter().map(Into::into).collect(),
            renamed_counterparty_ids,
            contacts,
        }
    }
}

/// The audit record of one erasure: what, when and by whom, never the erased values themselves.
#[derive(Debug, Clone, Serialize, ToSchema)]
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

impl From<storage::ErasureRecord> for ErasureRecord {
    fn from(
        storage::ErasureRecord {
            id,
            erased_at,
            actor,
            channel,
            query_kind,
            lead_ids,
            message_ids,
            counterparty_ids,
            renamed_counterparties,
            contacts,
        }: storage::ErasureRecord,
    ) -> Self {
        Self {
            id,
            erased_at,
            actor,
            channel,
            query_kind,
            lead_ids,
            message_ids,
            counterparty_ids,
            renamed_counterparties,
            contacts,
        }
    }
}

/// IMAP or POP3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// IMAP4rev1.
    Imap,
    /// POP3.
    Pop3,
}

impl From<leadgate_domain::collector::Protocol> for Protocol {
    fn from(p: leadgate_domain::collector::Protocol) -> Self {
        match p {
            leadgate_domain::collector::Protocol::Imap => Self::Imap,
            leadgate_domain::collector::Protocol::Pop3 => Self::Pop3,
        }
    }
}

/// What a collector does with a message after its lead is committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AfterImport {
    /// Leave it as it is (the default).
    Keep,
    /// Set `\Seen` (IMAP).
    Seen,
    /// Move it to `move_to` (IMAP).
    Move,
    /// Delete it.
    Delete,
}

impl From<leadgate_domain::collector::AfterImport> for AfterImport {
    fn from(a: leadgate_domain::collector::AfterImport) -> Self {
        match a {
            leadgate_domain::collector::AfterImport::Keep => Self::Keep,
            leadgate_domain::collector::AfterImport::Seen => Self::Seen,
            leadgate_domain::collector::AfterImport::Move => Self::Move,
            leadgate_domain::collector::AfterImport::Delete => Self::Delete,
        }
    }
}

/// Who decides which new IMAP messages hold the keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SubjectFilter {
    /// The server (`UID SEARCH SUBJECT`): mail without the keyword is never downloaded (the default).
    Server,
    /// leadgate: it reads the subject of every new message (its header fields only) and judges it itself,
    /// for servers whose SEARCH does not decode RFC 2047.
    Local,
}

impl From<leadgate_domain::collector::SubjectFilter> for SubjectFilter {
    fn from(f: leadgate_domain::collector::SubjectFilter) -> Self {
        match f {
            leadgate_domain::collector::SubjectFilter::Server => Self::Server,
            leadgate_domain::collector::SubjectFilter::Local => Self::Local,
        }
    }
}

/// A mail collector as stored (SPEC "Collectors"). The password is never stored, only where to read it.
#[derive(Debug, Clone, Serialize, ToSchema)]
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
    #[schema(value_type = String)]
    pub tls: leadgate_domain::collector::TlsMode,
    /// Extra CA certificate file.
    #[schema(value_type = Option<String>)]
    pub ca_file: Option<std::path::PathBuf>,
    /// Skip certificate verification (warns).
    pub insecure_skip_verify: bool,
    /// Login.
    pub username: String,
    /// Environment variable with the password.
    pub password_env: Option<String>,
    /// File with the password.
    #[schema(value_type = Option<String>)]
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
    /// IMAP push (IDLE) switched on.
    pub push: bool,
}

impl From<storage::CollectorRecord> for CollectorRecord {
    fn from(
        storage::CollectorRecord {
            id,
            name,
            protocol,
            host,
            port,
            tls,
            ca_file,
            insecure_skip_verify,
            username,
            password_env,
            password_file,
            folder,
            keyword,
            subject_filter,
            calendar_id,
            default_charset,
            after_import,
            move_to,
            failed_folder,
            delete_after_days,
            auto_tech_cards,
            deleted,
            push,
        }: storage::CollectorRecord,
    ) -> Self {
        Self {
            id,
            name,
            protocol: protocol.into(),
            host,
            port,
            tls,
            ca_file,
            insecure_skip_verify,
            username,
            password_env,
            password_file,
            folder,
            keyword,
            subject_filter: subject_filter.into(),
            calendar_id,
            default_charset,
            after_import: after_import.into(),
            move_to,
            failed_folder,
            delete_after_days,
            auto_tech_cards,
            deleted,
            push,
        }
    }
}

/// One run of one collector.
#[derive(Debug, Clone, Default, Serialize, ToSchema, PartialEq, Eq)]
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

impl From<storage::RunCounts> for RunCounts {
    fn from(
        storage::RunCounts {
            imported,
            duplicate,
            skipped,
            rejected,
        }: storage::RunCounts,
    ) -> Self {
        Self {
            imported,
            duplicate,
            skipped,
            rejected,
        }
    }
}

/// The last run of a collector.
#[derive(Debug, Clone, Serialize, ToSchema)]
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

impl From<storage::RunView> for RunView {
    fn from(
        storage::RunView {
            started_at,
            finished_at,
            counts,
            error,
        }: storage::RunView,
    ) -> Self {
        Self {
            started_at,
            finished_at,
            counts: counts.into(),
            error,
        }
    }
}
