//! A manager's changes to a lead, shared by the lead page and the API: corrections of its fields, its order
//! lines, its tech cards' status and its second submissions.
//!
//! Every value is read by the domain's own payload reader, exactly as the intake reads it (the phone
//! normalised, the e-mail checked, the INN validated, a line's numbers read leniently with its `Сумма`
//! checked), and its warnings replace the ones the lead had for that field. The lead's ledger record (the raw
//! message or request) is never touched: storage changes the lead only, and the timeline keeps the old
//! values. The caller checks that the user may see the lead.

use serde_json::{Map, Value};
use tracing::info;

use super::{ApiError, AppState};
use leadgate_domain::payload::{self, OrderLine};
use leadgate_domain::techcard::TechCardStatus;
use leadgate_domain::warning::{Warning, WarningCode};
use leadgate_storage::{
    CardStatusOutcome, DuplicateOutcome, FieldChange, LeadEdit, LeadView, LineChange, LinesChanged,
    TechCardView,
};

/// The fields a manager corrects, as typed: blank clears a field, an absent one stays as it is.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
pub struct EditFields {
    /// Тема.
    pub subject: Option<String>,
    /// Описание.
    pub description: Option<String>,
    /// Контактное лицо.
    pub person: Option<String>,
    /// Телефон, in any form; normalised to E.164 when valid.
    pub phone: Option<String>,
    /// E-mail.
    pub email: Option<String>,
    /// ИНН; a valid one links the lead to its counterparty (created when new).
    pub inn: Option<String>,
}

/// The warnings a correction re-checks: they describe the fields, not the payload's shape.
const FIELD_WARNINGS: [WarningCode; 4] = [
    WarningCode::InvalidPhone,
    WarningCode::InvalidEmail,
    WarningCode::InvalidInn,
    WarningCode::NoContactDetails,
];

/// The edit of `lead` that `fields` make, read as the intake reads a payload.
pub fn edit_of(lead: &LeadView, fields: &EditFields, by: i64) -> LeadEdit {
    let c = &lead.contact;
    let or_now = |new: &Option<String>, now: &Option<String>| new.clone().or_else(|| now.clone());
    let (contact, mut warnings) = payload::read_contact(
        or_now(&fields.person, &c.person).as_deref(),
        or_now(&fields.phone, &c.phone).as_deref(),
        or_now(&fields.email, &c.email).as_deref(),
    );
    let (inn, inn_warnings) = payload::read_inn(or_now(&fields.inn, &lead.inn).as_deref());
    warnings.extend(inn_warnings);
    let kept = lead
        .warnings
        .iter()
        .filter(|w| !FIELD_WARNINGS.contains(&w.code))
        .cloned();
    LeadEdit {
        subject: payload::read_text(or_now(&fields.subject, &lead.subject).as_deref()),
        description: payload::read_text(or_now(&fields.description, &lead.description).as_deref()),
        contact,
        inn,
        warnings: kept.chain(warnings).collect(),
        by,
    }
}

/// Corrects a lead; returns the fields that changed.
///
/// # Errors
/// `NotFound`, database errors.
pub async fn edit(
    state: &AppState,
    lead: &LeadView,
    fields: &EditFields,
    by: i64,
) -> Result<Vec<FieldChange>, ApiError> {
    let edit = edit_of(lead, fields, by);
    let changed = state
        .storage
        .edit_lead(lead.id, &edit)
        .await?
        .ok_or(ApiError::NotFound("lead"))?;
    if !changed.is_empty() {
        state.intake.announce(lead.id, crate::live::Change::Updated);
        let fields: Vec<&str> = changed.iter().map(|c| c.field.as_str()).collect();
        info!(lead_id = lead.id, user_id = by, ?fields, "lead corrected");
    }
    Ok(changed)
}

/// A line's version as an edit form carries it: its values' digest. A form opened before a colleague changed
/// the line carries another, and its save is refused rather than undoing that change.
pub fn line_version(line: &OrderLine) -> String {
    use sha2::{Digest, Sha256};
    let values = serde_json::to_vec(line).unwrap_or_default();
    hex::encode(&Sha256::digest(&values)[..12])
}

/// An order line as an object with the keys of a line of `Товары`, read as the intake reads one; `position`
/// only names the line in the warnings.
pub fn line_of(position: u32, object: &Map<String, Value>) -> (OrderLine, Vec<Warning>) {
    payload::read_line(position, object)
}

/// The lead's warnings with those of the line at `position` replaced by `new`.
fn warnings_with_line(lead: &LeadView, position: u32, new: Vec<Warning>) -> Vec<Warning> {
    let prefix = payload::line_field(position);
    let of_line = |w: &Warning| {
        w.field
            .strip_prefix(&prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
    };
    lead.warnings
        .iter()
        .filter(|w| !of_line(w))
        .cloned()
        .chain(new)
        .collect()
}

/// What a change to the lines was asked as: add, edit at a position, or remove at a position.
#[derive(Debug, Clone, Copy)]
pub enum LineAction {
    /// A new last line.
    Add,
    /// The line at this position.
    Edit(u32),
    /// Remove the line at this position.
    Remove(u32),
}

/// Whether a line as sent fills in nothing: every value null, blank, `false` or an empty list.
fn is_blank(object: &Map<String, Value>) -> bool {
    object.values().all(|v| match v {
        Value::Null | Value::Bool(false) => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::Bool(true) | Value::Number(_) => false,
    })
}

/// Adds, edits or removes a line of the lead (`object` is the line for add and edit). Returns what changed
/// and the line's warnings.
///
/// # Errors
/// `NotFound` for a position without a line; `Rejected` (`empty_line`) for a line that fills in nothing;
/// database errors.
pub async fn change_line(
    state: &AppState,
    lead: &LeadView,
    action: LineAction,
    object: Option<&Map<String, Value>>,
    by: i64,
) -> Result<(LinesChanged, Vec<Warning>), ApiError> {
    let empty = Map::new();
    let object = object.unwrap_or(&empty);
    if !matches!(action, LineAction::Remove(_)) && is_blank(object) {
        // An empty line would turn a contact lead into an order of nothing.
        return Err(ApiError::Rejected {
            code: "empty_line",
            message: "the line has no field filled in: give at least Номенклатура".to_owned(),
        });
    }
    let next = lead
        .lines
        .iter()
        .map(|l| l.position)
        .max()
        .unwrap_or(0)
        .saturating_add(1);
    let (change, position, line_warnings) = match action {
        LineAction::Add => {
            let (line, w) = line_of(next, object);
            (LineChange::Add(line), next, w)
        }
        LineAction::Edit(position) => {
            let (line, w) = line_of(position, object);
            (LineChange::Edit { position, line }, position, w)
        }
        LineAction::Remove(position) => (LineChange::Remove { position }, position, Vec::new()),
    };
    let warnings = warnings_with_line(lead, position, line_warnings.clone());
    let changed = state
        .storage
        .change_order_lines(lead.id, &change, &warnings, by)
        .await?
        .ok_or(ApiError::NotFound("order line"))?;
    state.intake.announce(lead.id, crate::live::Change::Updated);
    info!(
        lead_id = lead.id,
        user_id = by,
        position = changed.position,
        stale_cards = changed.stale_cards.len(),
        "order lines changed"
    );
    Ok((changed, line_warnings))
}

/// Moves a tech card to `to`, which must be the status after the one it has.
///
/// # Errors
/// `NotFound`; `Busy` (409) when `to` is not the card's next status (another manager moved it meanwhile,
/// or a step is skipped); database errors.
pub async fn advance_card(
    state: &AppState,
    card: &TechCardView,
    to: TechCardStatus,
    by: i64,
) -> Result<TechCardView, ApiError> {
    let from: TechCardStatus = card.status.parse().map_err(|_| {
        ApiError::Busy(format!(
            "the tech card's status {:?} is unknown",
            card.status
        ))
    })?;
    if from.next() != Some(to) {
        return Err(ApiError::Busy(format!(
            "a tech card moves new → in_production → done; this one is {from}"
        )));
    }
    match state
        .storage
        .set_tech_card_status(card.id, from, to, by)
        .await?
        .ok_or(ApiError::NotFound("tech card"))?
    {
        CardStatusOutcome::Changed(card) => {
            state
                .intake
                .announce(card.lead_id, crate::live::Change::Updated);
            info!(tech_card = card.id, user_id = by, status = %to, "tech card status changed");
            Ok(*card)
        }
        CardStatusOutcome::Refused { now } => Err(ApiError::Busy(format!(
            "the tech card is {now} now; reload it"
        ))),
    }
}

/// Marks the lead a duplicate of `of` (its current hint) or dismisses that hint.
///
/// # Errors
/// `NotFound` when `of` is not the lead's hint; database errors.
pub async fn resolve_duplicate(
    state: &AppState,
    lead_id: i64,
    of: i64,
    is_duplicate: bool,
    by: i64,
) -> Result<(), ApiError> {
    let outcome = if is_duplicate {
        state.storage.mark_duplicate(lead_id, of, by).await?
    } else {
        state.storage.dismiss_duplicate(lead_id, of, by).await?
    };
    match outcome {
        DuplicateOutcome::Done => {
            state.intake.announce(lead_id, crate::live::Change::Updated);
            info!(
                lead_id,
                of,
                is_duplicate,
                user_id = by,
                "duplicate hint resolved"
            );
            Ok(())
        }
        DuplicateOutcome::NotFound => Err(ApiError::NotFound("duplicate hint")),
    }
}
