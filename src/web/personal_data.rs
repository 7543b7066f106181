//! Erasing a person's data on request (152-ФЗ), for administrators: search by a phone, an e-mail or an INN,
//! see everything that would be erased, confirm (a CSRF-protected form), and see the audit of past erasures.
//! The work is [`crate::personal_data`], as for the API and the command line.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::session::{AdminViewer, CsrfForm, Viewer};
use super::{Layout, fmt, timezone};
use crate::app::{ApiError, AppState};
use leadgate_domain::personal_data::PersonDataQuery;
use leadgate_storage::{ErasureActor, ErasureRecord, PersonalDataFound};

/// Audit records shown under the form.
const AUDIT_SHOWN: u32 = 20;

/// The search form: which kind of value, and the value.
#[derive(Debug, Default, Deserialize)]
pub struct PersonForm {
    kind: Option<String>,
    value: Option<String>,
}

impl PersonForm {
    /// `None` for an empty form; the query or the reason it is not one.
    fn query(&self) -> Option<Result<PersonDataQuery, String>> {
        let value = self
            .value
            .as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())?;
        let parsed = match self.kind.as_deref() {
            Some("email") => PersonDataQuery::email(value),
            Some("inn") => PersonDataQuery::inn(value),
            _ => PersonDataQuery::phone(value),
        };
        Some(parsed.map_err(|e| match e {
            leadgate_domain::personal_data::QueryError::NotAPhone => {
                "Это не номер телефона.".to_owned()
            }
            leadgate_domain::personal_data::QueryError::NotAnEmail => {
                "Это не адрес e-mail.".to_owned()
            }
            _ => "ИНН — 10 или 12 цифр.".to_owned(),
        }))
    }
}

/// One audit record, written out.
#[derive(Debug, Clone)]
pub struct AuditRow {
    /// Record id.
    pub id: i64,
    /// When.
    pub when: String,
    /// Who and through what.
    pub actor: String,
    /// What kind of value was asked for, in Russian.
    pub kind: &'static str,
    /// Anonymised leads.
    pub leads: String,
    /// Stripped ledger records.
    pub messages: String,
    /// Deleted counterparties.
    pub counterparties: String,
    /// Renamed counterparties and deleted contacts.
    pub others: String,
}

fn kind_word(kind: &str) -> &'static str {
    match kind {
        "phone" => "телефон",
        "email" => "e-mail",
        _ => "ИНН",
    }
}

fn ids(ids: &[i64]) -> String {
    if ids.is_empty() {
        return "—".to_owned();
    }
    let list: Vec<String> = ids.iter().map(i64::to_string).collect();
    format!("{}: {}", ids.len(), list.join(", "))
}

impl AuditRow {
    fn new(r: &ErasureRecord, tz: chrono_tz::Tz) -> Self {
        let channel = match r.channel.as_str() {
            "ui" => "интерфейс",
            "api" => "API",
            _ => "командная строка",
        };
        Self {
            id: r.id,
            when: fmt::datetime(r.erased_at, tz),
            actor: format!("{} ({channel})", r.actor),
            kind: kind_word(&r.query_kind),
            leads: ids(&r.lead_ids),
            messages: ids(&r.message_ids),
            counterparties: ids(&r.counterparty_ids),
            others: format!(
                "переименовано контрагентов: {}, удалено контактов: {}",
                r.renamed_counterparties, r.contacts
            ),
        }
    }
}

/// A found lead, written out.
#[derive(Debug, Clone)]
pub struct FoundLead {
    /// Id.
    pub id: i64,
    /// Received.
    pub when: String,
    /// Contact person.
    pub person: String,
    /// Subject.
    pub subject: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin_personal_data.html")]
struct PersonalDataPage {
    layout: Layout,
    kind: String,
    value: String,
    error: Option<String>,
    notice: Option<String>,
    /// The preview, when a search was made.
    found: Option<PersonalDataFound>,
    found_leads: Vec<FoundLead>,
    audit: Vec<AuditRow>,
}

async fn render(
    state: &AppState,
    viewer: &Viewer,
    status: StatusCode,
    form: &PersonForm,
    found: Option<PersonalDataFound>,
    error: Option<String>,
    notice: Option<String>,
) -> Result<Response, ApiError> {
    let tz = timezone(state);
    let audit = state
        .storage
        .personal_data_erasures(AUDIT_SHOWN)
        .await?
        .iter()
        .map(|r| AuditRow::new(r, tz))
        .collect();
    let found_leads = found
        .iter()
        .flat_map(|f| &f.leads)
        .map(|l| FoundLead {
            id: l.id,
            when: fmt::datetime(l.received_at, tz),
            person: l.contact_person.clone().unwrap_or_default(),
            subject: l.subject.clone().unwrap_or_default(),
        })
        .collect();
    let page = PersonalDataPage {
        layout: Layout::new(viewer, "admin"),
        kind: form.kind.clone().unwrap_or_else(|| "phone".to_owned()),
        value: form.value.clone().unwrap_or_default(),
        error,
        notice,
        found,
        found_leads,
        audit,
    };
    Ok((status, page).into_response())
}

/// `GET /admin/personal-data`: the search form and the audit of past erasures.
pub async fn page(
    State(state): State<AppState>,
    AdminViewer(viewer): AdminViewer,
) -> Result<Response, ApiError> {
    let empty = PersonForm::default();
    render(&state, &viewer, StatusCode::OK, &empty, None, None, None).await
}

/// `POST /admin/personal-data`: everything an erasure would erase, with the button that erases it. A POST,
/// so the value never appears in a URL (and so in a proxy's access log or the browser's history).
pub async fn find(
    State(state): State<AppState>,
    CsrfForm(viewer, form): CsrfForm<PersonForm>,
) -> Result<Response, ApiError> {
    viewer.require_admin()?;
    match form.query() {
        None => render(&state, &viewer, StatusCode::OK, &form, None, None, None).await,
        Some(Err(reason)) => {
            render(
                &state,
                &viewer,
                StatusCode::BAD_REQUEST,
                &form,
                None,
                Some(reason),
                None,
            )
            .await
        }
        Some(Ok(query)) => {
            let found = crate::personal_data::find(state.storage.as_ref(), &query).await?;
            render(
                &state,
                &viewer,
                StatusCode::OK,
                &form,
                Some(found),
                None,
                None,
            )
            .await
        }
    }
}

/// `POST /admin/personal-data/erase`: erases everything held about the value (found again at this moment)
/// and shows the audit record.
pub async fn erase(
    State(state): State<AppState>,
    CsrfForm(viewer, form): CsrfForm<PersonForm>,
) -> Result<Response, ApiError> {
    viewer.require_admin()?;
    let query = match form.query() {
        Some(Ok(query)) => query,
        Some(Err(reason)) => {
            return render(
                &state,
                &viewer,
                StatusCode::BAD_REQUEST,
                &form,
                None,
                Some(reason),
                None,
            )
            .await;
        }
        None => {
            let reason = "Укажите телефон, e-mail или ИНН.".to_owned();
            return render(
                &state,
                &viewer,
                StatusCode::BAD_REQUEST,
                &form,
                None,
                Some(reason),
                None,
            )
            .await;
        }
    };
    let actor = ErasureActor {
        user_id: Some(viewer.user_id),
        login: viewer.login.clone(),
        channel: "ui",
    };
    let record = crate::personal_data::erase(state.storage.as_ref(), &query, &actor).await?;
    let notice = format!(
        "Данные удалены (запись журнала № {}): обезличено заявок — {}, очищено писем и запросов — {}, \
         удалено контрагентов — {}, удалено контактов — {}.",
        record.id,
        record.lead_ids.len(),
        record.message_ids.len(),
        record.counterparty_ids.len(),
        record.contacts
    );
    // The value is not shown back: the form starts empty.
    render(
        &state,
        &viewer,
        StatusCode::OK,
        &PersonForm::default(),
        None,
        None,
        Some(notice),
    )
    .await
}
