//! Counterparties: a searchable list (INN prefix, or words of the name in any case) and a page with
//! contacts and leads.
//!
//! A customer is as private as the leads that brought them: a manager finds, opens and reads the contacts of
//! a counterparty only through leads in calendars they may see (common ones and their own personal ones),
//! and one known only from another manager's personal calendar is "not found", like a page that does not
//! exist. Phone and e-mail links are made only from plausible values, as on the lead page.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tracing::instrument;

use super::fmt::LeadRow;
use super::lead::{mailto_href, tel_href};
use super::session::{Viewer, calendar_scope, visible_calendars};
use super::{Layout, timezone};
use crate::app::{ApiError, AppState};
use crate::storage::{CounterpartyView, PageRequest};

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
}

/// `GET /counterparties/{id}`.
#[instrument(skip_all, fields(counterparty = id))]
pub async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    let scope = calendar_scope(&state, &viewer).await?;
    let c = state
        .storage
        .counterparty(id, scope.as_deref())
        .await?
        .ok_or(ApiError::NotFound("counterparty"))?;
    let visible = visible_calendars(&state, &viewer).await?;
    let tz = timezone(&state);
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
    Ok(CounterpartyPage {
        layout: Layout::new(&viewer, "counterparties"),
        c,
        kind,
        phones,
        emails,
        leads,
    }
    .into_response())
}
