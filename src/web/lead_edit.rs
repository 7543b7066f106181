//! The lead page's forms for a manager's changes: correcting the lead's fields, adding, changing and removing
//! its order lines, moving a tech card on, and answering a duplicate hint. Each form carries the CSRF token
//! and is refused, like the page itself, for a lead in a calendar the viewer may not see.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::{Map, Value};
use tracing::instrument;

use super::lead::{visible_card, visible_lead};
use super::session::{CsrfForm, NoFields, Viewer};
use crate::app::lead_edits::{self, EditFields, LineAction};
use crate::app::{ApiError, AppState};
use leadgate_domain::payload::OrderLine;
use leadgate_domain::techcard::TechCardStatus;
use leadgate_storage::DuplicateHint;

/// The correction form: every field as typed (blank clears it).
#[derive(Debug, serde::Deserialize)]
pub struct EditForm {
    subject: String,
    description: String,
    person: String,
    phone: String,
    email: String,
    inn: String,
    // The values the form was shown with (hidden fields; absent in a form from before they were sent):
    // only what the manager changed is written, so a form opened before a colleague's correction does not
    // undo it.
    #[serde(default)]
    was_subject: Option<String>,
    #[serde(default)]
    was_description: Option<String>,
    #[serde(default)]
    was_person: Option<String>,
    #[serde(default)]
    was_phone: Option<String>,
    #[serde(default)]
    was_email: Option<String>,
    #[serde(default)]
    was_inn: Option<String>,
}

impl EditForm {
    /// Each field: its label on the lead page, the value posted and the value the form was shown with.
    fn fields(&self) -> [(&'static str, &String, Option<&String>); 6] {
        [
            ("Тема", &self.subject, self.was_subject.as_ref()),
            ("Описание", &self.description, self.was_description.as_ref()),
            ("Контактное лицо", &self.person, self.was_person.as_ref()),
            ("Телефон", &self.phone, self.was_phone.as_ref()),
            ("E-mail", &self.email, self.was_email.as_ref()),
            ("ИНН", &self.inn, self.was_inn.as_ref()),
        ]
    }

    /// The fields the manager changed on the form (every one, for a form without the values it was shown
    /// with), labelled as on the lead page: what a refused form shows back.
    fn typed(&self) -> Vec<(&'static str, String)> {
        self.fields()
            .into_iter()
            .filter(|(_, posted, shown)| shown.is_none_or(|shown| !same(posted, shown)))
            .map(|(label, posted, _)| (label, posted.clone()))
            .collect()
    }
}

/// Whether two texts of the form are the same: a browser sends a textarea's lines with CRLF, the stored text
/// may have LF, and spaces around a value are not kept.
fn same(a: &str, b: &str) -> bool {
    a.replace("\r\n", "\n").trim() == b.replace("\r\n", "\n").trim()
}

/// A field of the edit form: `None` when the manager left it as shown, else the new value. A field that was
/// changed both here and, since the form was shown, by someone else is a conflict: neither is lost silently.
fn edited(
    field: &'static str,
    posted: &str,
    shown: Option<&String>,
    now: Option<&str>,
) -> Result<Option<String>, &'static str> {
    match shown {
        None => Ok(Some(posted.to_owned())),
        Some(shown) if same(posted, shown) => Ok(None),
        Some(shown) if !same(shown, now.unwrap_or_default()) => Err(field),
        Some(_) => Ok(Some(posted.to_owned())),
    }
}

/// The fields of `form` its manager changed, against `lead` as it is now ([`edited`]); the name of a field
/// changed by someone else too.
fn edited_fields(
    form: &EditForm,
    lead: &leadgate_storage::LeadView,
) -> Result<EditFields, &'static str> {
    let c = &lead.contact;
    let edit = |(label, posted, shown): (&'static str, &String, Option<&String>),
                now: &Option<String>| {
        edited(label, posted, shown, now.as_deref())
    };
    let [subject, description, person, phone, email, inn] = form.fields();
    Ok(EditFields {
        subject: edit(subject, &lead.subject)?,
        description: edit(description, &lead.description)?,
        person: edit(person, &c.person)?,
        phone: edit(phone, &c.phone)?,
        email: edit(email, &c.email)?,
        inn: edit(inn, &lead.inn)?,
    })
}

/// `POST /leads/{id}/edit`: corrects the lead's subject, description and contact details.
#[instrument(skip_all, fields(lead_id = id, user = %viewer.login))]
pub async fn edit(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(viewer, form): CsrfForm<EditForm>,
) -> Result<Response, ApiError> {
    let lead = visible_lead(&state, &viewer, id).await?;
    let fields = match edited_fields(&form, &lead) {
        Ok(fields) => fields,
        Err(field) => {
            return Ok(super::conflict_page(
                format!(
                    "Поле «{field}» изменил кто-то другой после того, как вы открыли форму. Ничего не \
                     сохранено: вернитесь к заявке, проверьте, что там теперь, и внесите исправление снова."
                ),
                format!("/leads/{id}"),
                form.typed(),
            ));
        }
    };
    lead_edits::edit(&state, &lead, &fields, viewer.user_id).await?;
    Ok(Redirect::to(&format!("/leads/{id}")).into_response())
}

/// An order line as the form sends it: the fields of a line of `Товары`, as typed.
#[derive(Debug, serde::Deserialize)]
pub struct LineForm {
    nomenclature: String,
    #[serde(default)]
    machine_code: String,
    #[serde(default)]
    resolution: String,
    #[serde(default)]
    material: String,
    #[serde(default)]
    material_code: String,
    #[serde(default)]
    width: String,
    #[serde(default)]
    height: String,
    #[serde(default)]
    quantity: String,
    #[serde(default)]
    price: String,
    #[serde(default)]
    amount: String,
    /// The checkbox: present when ticked.
    service: Option<String>,
    /// The version of the line the form was shown with (an edit form's; absent in a form from before it was
    /// sent).
    #[serde(default)]
    version: Option<String>,
}

impl LineForm {
    /// The form's filled-in fields, labelled by their keys in `Товары`: what a refused form shows back.
    fn typed(&self) -> Vec<(&'static str, String)> {
        let mut typed: Vec<_> = self
            .fields()
            .into_iter()
            .filter(|(_, value)| !value.trim().is_empty())
            .map(|(key, value)| (key, value.clone()))
            .collect();
        if self.service.is_some() {
            typed.push(("Услуга", "да".to_owned()));
        }
        typed
    }

    /// The typed fields with their keys in `Товары`.
    fn fields(&self) -> [(&'static str, &String); 10] {
        [
            ("Номенклатура", &self.nomenclature),
            ("СтанокКод", &self.machine_code),
            ("Разрешение", &self.resolution),
            ("Материал", &self.material),
            ("МатериалКод", &self.material_code),
            ("Ширина", &self.width),
            ("Высота", &self.height),
            ("Количество", &self.quantity),
            ("Цена", &self.price),
            ("Сумма", &self.amount),
        ]
    }

    /// The line as an object with the keys of `Товары`, so the domain reads it as the intake would. Extra
    /// works are not on the form: an edited line keeps those of the line it replaces.
    fn object(&self, keep: Option<&OrderLine>) -> Map<String, Value> {
        let mut object = Map::new();
        for (key, value) in self.fields() {
            object.insert(key.to_owned(), Value::String(value.clone()));
        }
        object.insert("Услуга".to_owned(), Value::Bool(self.service.is_some()));
        if let Some(line) = keep.filter(|l| !l.extra_works.is_empty()) {
            let works = line
                .extra_works
                .iter()
                .map(|w| {
                    let text = |s: &Option<String>| s.clone().map_or(Value::Null, Value::String);
                    serde_json::json!({
                        "ВидРаботы": text(&w.kind),
                        "Количество": w.quantity.map_or(Value::Null, |q| Value::String(q.normalize().to_string())),
                        "Описание": text(&w.description),
                    })
                })
                .collect();
            object.insert("ДополнительныеРаботы".to_owned(), Value::Array(works));
        }
        object
    }
}

/// `POST /leads/{id}/lines`: adds an order line (a contact lead becomes an order).
#[instrument(skip_all, fields(lead_id = id, user = %viewer.login))]
pub async fn add_line(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(viewer, form): CsrfForm<LineForm>,
) -> Result<Response, ApiError> {
    let lead = visible_lead(&state, &viewer, id).await?;
    let object = form.object(None);
    lead_edits::change_line(
        &state,
        &lead,
        LineAction::Add,
        Some(&object),
        viewer.user_id,
    )
    .await?;
    Ok(Redirect::to(&format!("/leads/{id}#lines")).into_response())
}

/// `POST /leads/{id}/lines/{position}`: replaces an order line (its tech card, if formed, goes stale).
#[instrument(skip_all, fields(lead_id = id, user = %viewer.login))]
pub async fn edit_line(
    State(state): State<AppState>,
    Path((id, position)): Path<(i64, u32)>,
    CsrfForm(viewer, form): CsrfForm<LineForm>,
) -> Result<Response, ApiError> {
    let lead = visible_lead(&state, &viewer, id).await?;
    let current = lead.lines.iter().find(|l| l.position == position);
    if let (Some(shown), Some(line)) = (form.version.as_deref(), current)
        && shown != lead_edits::line_version(line)
    {
        return Ok(super::conflict_page(
            format!(
                "Строку {position} изменил кто-то другой после того, как вы открыли форму. Ничего не \
                 сохранено: вернитесь к заявке, проверьте строку и внесите изменение снова."
            ),
            format!("/leads/{id}#lines"),
            form.typed(),
        ));
    }
    let object = form.object(current);
    lead_edits::change_line(
        &state,
        &lead,
        LineAction::Edit(position),
        Some(&object),
        viewer.user_id,
    )
    .await?;
    Ok(Redirect::to(&format!("/leads/{id}#lines")).into_response())
}

/// `POST /leads/{id}/lines/{position}/remove`.
#[instrument(skip_all, fields(lead_id = id, user = %viewer.login))]
pub async fn remove_line(
    State(state): State<AppState>,
    Path((id, position)): Path<(i64, u32)>,
    CsrfForm(viewer, NoFields {}): CsrfForm<NoFields>,
) -> Result<Response, ApiError> {
    let lead = visible_lead(&state, &viewer, id).await?;
    lead_edits::change_line(
        &state,
        &lead,
        LineAction::Remove(position),
        None,
        viewer.user_id,
    )
    .await?;
    Ok(Redirect::to(&format!("/leads/{id}#lines")).into_response())
}

/// The status a tech card moves to.
#[derive(Debug, serde::Deserialize)]
pub struct CardStatusForm {
    status: TechCardStatus,
}

/// `POST /tech-cards/{id}/status`: new → in production → done.
#[instrument(skip_all, fields(tech_card = id, user = %viewer.login))]
pub async fn card_status(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(viewer, form): CsrfForm<CardStatusForm>,
) -> Result<Response, ApiError> {
    let (card, _) = visible_card(&state, &viewer, id).await?;
    lead_edits::advance_card(&state, &card, form.status, viewer.user_id).await?;
    Ok(Redirect::to(&format!("/tech-cards/{id}")).into_response())
}

/// The answer to a duplicate hint.
#[derive(Debug, serde::Deserialize)]
pub struct DuplicateForm {
    /// The earlier lead of the hint.
    of: i64,
    /// `yes`: a duplicate; anything else dismisses the hint.
    duplicate: String,
}

/// The hint the viewer sees for a lead: an earlier lead in a calendar they may see.
///
/// # Errors
/// Database errors.
pub async fn hint_for(
    state: &AppState,
    viewer: &Viewer,
    lead_id: i64,
) -> Result<Option<DuplicateHint>, ApiError> {
    let scope = super::session::calendar_scope(state, viewer).await?;
    Ok(state
        .storage
        .duplicate_hint(lead_id, scope.as_deref())
        .await?)
}

/// `POST /leads/{id}/duplicate`: marks the lead a duplicate of its hint (it leaves the inbox) or dismisses
/// the hint, or undoes the marking.
#[instrument(skip_all, fields(lead_id = id, user = %viewer.login))]
pub async fn duplicate(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(viewer, form): CsrfForm<DuplicateForm>,
) -> Result<Response, ApiError> {
    let lead = visible_lead(&state, &viewer, id).await?;
    let is_duplicate = form.duplicate == "yes";
    // The hint the viewer sees is answered; a marking is undone ("Не дубль" beside it).
    let undo = !is_duplicate && lead.duplicate_of == Some(form.of);
    if !undo
        && hint_for(&state, &viewer, id)
            .await?
            .is_none_or(|h| h.of != form.of)
    {
        return Err(ApiError::NotFound("duplicate hint"));
    }
    lead_edits::resolve_duplicate(&state, id, form.of, is_duplicate, viewer.user_id).await?;
    Ok(Redirect::to(&format!("/leads/{id}")).into_response())
}
