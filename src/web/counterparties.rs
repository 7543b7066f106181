//! Counterparties: a searchable list (INN prefix, or words of the name in any case) and a page with
//! contacts and leads.
//!
//! A customer is as private as the leads that brought them: a manager finds, opens and reads the contacts of
//! a counterparty only through leads in calendars they may see (common ones and their own personal ones),
//! and one known only from another manager's personal calendar is "not found", like a page that does not
//! exist. Phone and e-mail links are made only from plausible values, as on the lead page.
//!
//! Managers name a counterparty (a new organisation is called by its INN until they do) and keep its
//! contacts: whoever may open the page may change it, and nobody else may, so every change first loads the
//! counterparty as the viewer sees it. A phone is kept in E.164, as the intake keeps it, so that leads
//! without an INN find their customer by it; a contact is removed only when the viewer sees it.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tracing::{info, instrument};

use super::fmt::LeadRow;
use super::lead::{mailto_href, tel_href};
use super::session::{CsrfForm, Viewer, calendar_scope, visible_calendars};
use super::{Layout, timezone};
use crate::app::{ApiError, AppState};
use leadgate_storage::{ContactKind, CounterpartyContact, CounterpartyView, PageRequest};

#[derive(Template, WebTemplate)]
#[template(path = "counterparties.html")]
struct ListPage {
    layout: Layout,
    q: String,
    items: Vec<CounterpartyView>,
    next_url: Option<String>,
}

/// `?q=&cursor=` of the list.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    q: Option<String>,
    cursor: Option<String>,
}

/// `GET /counterparties`.
#[instrument(skip_all)]
pub async fn list(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(p): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let q = p.q.unwrap_or_default().trim().to_owned();
    let cursor = crate::app::parse_cursor(p.cursor.as_deref())?;
    let scope = calendar_scope(&state, &viewer).await?;
    let page = state
        .storage
        .search_counterparties(&q, scope.as_deref(), PageRequest { limit: 50, cursor })
        .await?;
    let next_url = page.next.map(|n| {
        format!(
            "/counterparties?{}",
            serde_urlencoded::to_string([("q", q.as_str()), ("cursor", n.as_str())])
                .unwrap_or_default()
        )
    });
    Ok(ListPage {
        layout: Layout::new(&viewer, "counterparties"),
        q,
        items: page.items,
        next_url,
    }
    .into_response())
}

/// A phone or e-mail of the page: the text as stored, and a link only when the value is plausible.
#[derive(Debug, Clone)]
pub struct ContactLink {
    /// The value shown.
    pub text: String,
    /// `tel:` or `mailto:` target.
    pub href: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "counterparty.html")]
struct CounterpartyPage {
    layout: Layout,
    c: CounterpartyView,
    kind: &'static str,
    phones: Vec<ContactLink>,
    emails: Vec<ContactLink>,
    leads: Vec<LeadRow>,
    /// What went wrong with the last change, shown above the forms.
    error: Option<String>,
    /// The name typed (kept when the change was refused).
    name_input: String,
    /// The contact typed (kept when the change was refused).
    contact_input: String,
    /// Its kind: `phone` or `email`.
    contact_kind: String,
}

/// Loads a counterparty as the viewer sees it: `NotFound` unless one of its leads is in a calendar they may
/// see.
async fn visible_counterparty(
    state: &AppState,
    viewer: &Viewer,
    id: i64,
) -> Result<CounterpartyView, ApiError> {
    Ok(scoped_counterparty(state, viewer, id).await?.0)
}

/// [`visible_counterparty`], with the viewer's calendars it was read in (`None`: every one).
async fn scoped_counterparty(
    state: &AppState,
    viewer: &Viewer,
    id: i64,
) -> Result<(CounterpartyView, Option<Vec<i64>>), ApiError> {
    let scope = calendar_scope(state, viewer).await?;
    let view = state
        .storage
        .counterparty(id, scope.as_deref())
        .await?
        .ok_or(ApiError::NotFound("counterparty"))?;
    Ok((view, scope))
}

/// The page, with an error and the typed values when a change was refused.
async fn render(
    state: &AppState,
    viewer: &Viewer,
    id: i64,
    status: StatusCode,
    refused: Option<(String, &ChangeForm)>,
) -> Result<Response, ApiError> {
    let c = visible_counterparty(state, viewer, id).await?;
    let visible = visible_calendars(state, viewer).await?;
    let tz = timezone(state);
    let leads = state
        .storage
        .leads_of_counterparty(id, 200)
        .await?
        .iter()
        .filter(|l| visible.iter().any(|v| v.id == l.calendar_id))
        .map(|l| LeadRow::new(l, tz))
        .collect();
    let kind = if c.inn_kind == "individual" {
        "Физлицо / ИП (12 цифр)"
    } else {
        "Организация (10 цифр)"
    };
    let phones = c
        .phones
        .iter()
        .map(|p| ContactLink {
            text: p.clone(),
            href: tel_href(None, Some(p)),
        })
        .collect();
    let emails = c
        .emails
        .iter()
        .map(|e| ContactLink {
            text: e.clone(),
            href: mailto_href(Some(e)),
        })
        .collect();
    let (error, form) = match refused {
        Some((message, form)) => (Some(message), Some(form)),
        None => (None, None),
    };
    let page = CounterpartyPage {
        layout: Layout::new(viewer, "counterparties"),
        name_input: form
            .and_then(|f| f.name.clone())
            .unwrap_or_else(|| c.name.clone()),
        contact_input: form.and_then(|f| f.value.clone()).unwrap_or_default(),
        contact_kind: form
            .and_then(|f| f.kind.clone())
            .unwrap_or_else(|| "phone".to_owned()),
        c,
        kind,
        phones,
        emails,
        leads,
        error,
    };
    Ok((status, page).into_response())
}

/// `GET /counterparties/{id}`.
#[instrument(skip_all, fields(counterparty = id))]
pub async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    render(&state, &viewer, id, StatusCode::OK, None).await
}

/// The longest counterparty name.
const MAX_NAME_CHARS: usize = 300;

/// The fields of the forms on a counterparty's page.
#[derive(Debug, Default, Deserialize)]
pub struct ChangeForm {
    /// New name (renaming).
    name: Option<String>,
    /// `phone` or `email` (contacts).
    kind: Option<String>,
    /// The contact (contacts).
    value: Option<String>,
}

/// A name a manager typed: trimmed, not empty, no control characters, at most [`MAX_NAME_CHARS`].
fn checked_name(name: &str) -> Result<String, String> {
    let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
    if name.is_empty() {
        return Err("Название не может быть пустым.".into());
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(format!("Название длиннее {MAX_NAME_CHARS} символов."));
    }
    if name.chars().any(char::is_control) {
        return Err("В названии есть управляющие символы.".into());
    }
    Ok(name)
}

/// A contact a manager typed, in the form it is stored in: a phone in E.164, an e-mail trimmed.
fn checked_contact(kind: Option<&str>, value: Option<&str>) -> Result<CounterpartyContact, String> {
    let value = value.unwrap_or_default().trim();
    match kind {
        Some("phone") => leadgate_domain::phone::to_e164(value)
            .map(|value| CounterpartyContact {
                kind: ContactKind::Phone,
                value,
            })
            .ok_or_else(|| {
                format!("«{value}» не похоже на номер телефона: укажите его полностью, например +7 916 123-45-67.")
            }),
        Some("email") if leadgate_domain::email::is_plausible(value) => Ok(CounterpartyContact {
            kind: ContactKind::Email,
            value: value.to_owned(),
        }),
        Some("email") => Err(format!(
            "«{value}» не похоже на адрес электронной почты."
        )),
        _ => Err("Выберите вид контакта: телефон или e-mail.".into()),
    }
}

/// `POST /counterparties/{id}/name`: names the counterparty.
#[instrument(skip_all, fields(counterparty = id))]
pub async fn rename(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(viewer, form): CsrfForm<ChangeForm>,
) -> Result<Response, ApiError> {
    visible_counterparty(&state, &viewer, id).await?;
    let name = match checked_name(form.name.as_deref().unwrap_or_default()) {
        Ok(name) => name,
        Err(message) => {
            return render(
                &state,
                &viewer,
                id,
                StatusCode::BAD_REQUEST,
                Some((message, &form)),
            )
            .await;
        }
    };
    if !state.storage.rename_counterparty(id, &name).await? {
        return Err(ApiError::NotFound("counterparty"));
    }
    info!(counterparty = id, user = %viewer.login, "counterparty renamed");
    Ok(Redirect::to(&format!("/counterparties/{id}")).into_response())
}

/// `POST /counterparties/{id}/contacts`: adds a phone or an e-mail.
#[instrument(skip_all, fields(counterparty = id))]
pub async fn add_contact(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(viewer, form): CsrfForm<ChangeForm>,
) -> Result<Response, ApiError> {
    visible_counterparty(&state, &viewer, id).await?;
    let contact = match checked_contact(form.kind.as_deref(), form.value.as_deref()) {
        Ok(contact) => contact,
        Err(message) => {
            return render(
                &state,
                &viewer,
                id,
                StatusCode::BAD_REQUEST,
                Some((message, &form)),
            )
            .await;
        }
    };
    state
        .storage
        .add_counterparty_contact(id, &contact, viewer.user_id)
        .await?;
    info!(counterparty = id, user = %viewer.login, kind = contact.kind.as_str(), "counterparty contact added");
    Ok(Redirect::to(&format!("/counterparties/{id}#contacts")).into_response())
}

/// `POST /counterparties/{id}/contacts/remove`: removes a phone or an e-mail the viewer sees.
#[instrument(skip_all, fields(counterparty = id))]
pub async fn remove_contact(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(viewer, form): CsrfForm<ChangeForm>,
) -> Result<Response, ApiError> {
    let (c, scope) = scoped_counterparty(&state, &viewer, id).await?;
    let value = form.value.clone().unwrap_or_default();
    let (kind, shown) = match form.kind.as_deref() {
        Some("phone") => (ContactKind::Phone, &c.phones),
        Some("email") => (ContactKind::Email, &c.emails),
        _ => return Err(ApiError::BadRequest("kind must be phone or email".into())),
    };
    if !shown.contains(&value) {
        return Err(ApiError::NotFound("contact"));
    }
    state
        .storage
        .remove_counterparty_contact(id, &CounterpartyContact { kind, value }, scope.as_deref())
        .await?;
    info!(counterparty = id, user = %viewer.login, kind = kind.as_str(), "counterparty contact removed");
    Ok(Redirect::to(&format!("/counterparties/{id}#contacts")).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typed_phone_is_kept_in_e164_and_nonsense_is_refused() {
        let c = checked_contact(Some("phone"), Some(" 8 (916) 123-45-67 "))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.value, "+79161234567");
        assert!(checked_contact(Some("phone"), Some("позвоните")).is_err());
        assert!(checked_contact(Some("email"), Some("ivan@mail,ru")).is_err());
        assert!(checked_contact(Some("fax"), Some("123")).is_err());
        assert_eq!(
            checked_name("  ООО   «Ромашка» ").as_deref(),
            Ok("ООО «Ромашка»")
        );
        assert!(checked_name("   ").is_err());
    }
}
