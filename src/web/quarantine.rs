//! Quarantine: rejected messages with their reason, the raw message shown safely, and discarding.
//!
//! The raw message is whatever a stranger sent, so it is only ever shown as text: decoded as UTF-8 with
//! replacement characters, HTML-escaped by the template into a `<pre>`, under a CSP that forbids inline
//! script. Downloading it gives `application/octet-stream` as an attachment, which no browser renders.
//! Reprocessing runs the same code as `POST /api/v1/messages/{id}/reprocess`. Administrators only, like the
//! ledger in the read API.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tracing::{info, instrument};

use super::session::{AdminViewer, CsrfForm, NoFields, Viewer};
use super::{Layout, fmt, timezone};
use crate::app::{ApiError, AppState};
use leadgate_domain::ledger::Outcome;
use leadgate_storage::{MessageView, PageRequest};

/// How much of a raw message the page shows; the download has all of it.
pub const SHOWN_BYTES: usize = 256 * 1024;

/// A ledger record, written out.
#[derive(Debug, Clone)]
pub struct MessageRow {
    /// Id.
    pub id: i64,
    /// When it arrived.
    pub when: String,
    /// Channel and collector or source.
    pub source: String,
    /// External number.
    pub number: String,
    /// Why it was rejected.
    pub reason: String,
    /// Russian outcome.
    pub outcome: &'static str,
    /// Still rejected (can be discarded).
    pub is_rejected: bool,
}

impl MessageRow {
    fn new(m: &MessageView, tz: chrono_tz::Tz) -> Self {
        let source = match (&m.collector, &m.http_source) {
            (Some(c), _) => format!("{} · {c}", fmt::channel(m.channel)),
            (_, Some(s)) => format!("{} · {s}", fmt::channel(m.channel)),
            _ => fmt::channel(m.channel).to_owned(),
        };
        Self {
            id: m.id,
            when: fmt::datetime(m.received_at, tz),
            source,
            number: m.external_number.clone().unwrap_or_default(),
            reason: m.reason.clone().unwrap_or_default(),
            outcome: fmt::outcome(m.outcome),
            is_rejected: m.outcome == Outcome::Rejected,
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "quarantine.html")]
struct ListPage {
    layout: Layout,
    rows: Vec<MessageRow>,
    next_url: Option<String>,
}

/// `?cursor=` of the list.
#[derive(Debug, Deserialize)]
pub struct CursorQuery {
    cursor: Option<String>,
}

/// `GET /quarantine`.
#[instrument(skip_all)]
pub async fn list(
    State(state): State<AppState>,
    AdminViewer(viewer): AdminViewer,
    Query(q): Query<CursorQuery>,
) -> Result<Response, ApiError> {
    let cursor = crate::app::parse_cursor(q.cursor.as_deref())?;
    let page = state
        .storage
        .messages(Some(Outcome::Rejected), PageRequest { limit: 50, cursor })
        .await?;
    let tz = timezone(&state);
    Ok(ListPage {
        layout: Layout::new(&viewer, "quarantine"),
        rows: page.items.iter().map(|m| MessageRow::new(m, tz)).collect(),
        next_url: page.next.map(|n| format!("/quarantine?cursor={n}")),
    }
    .into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "quarantine_message.html")]
struct MessagePage {
    layout: Layout,
    notice: Option<String>,
    message: MessageRow,
    message_id: String,
    lead_id: Option<i64>,
    raw: Option<String>,
    truncated: bool,
    size: usize,
}

/// `GET /quarantine/{id}`: one record with its raw message as escaped text.
#[instrument(skip_all, fields(message = id))]
pub async fn page(
    State(state): State<AppState>,
    AdminViewer(viewer): AdminViewer,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    message_page(&state, &viewer, id, None).await
}

async fn message_page(
    state: &AppState,
    viewer: &Viewer,
    id: i64,
    notice: Option<String>,
) -> Result<Response, ApiError> {
    let message = state
        .storage
        .message(id)
        .await?
        .ok_or(ApiError::NotFound("message"))?;
    let raw = state.storage.message_raw(id).await?;
    let size = raw.as_ref().map_or(0, |r| r.bytes.len());
    let truncated = size > SHOWN_BYTES;
    let raw = raw.map(|r| {
        let shown = &r.bytes[..r.bytes.len().min(SHOWN_BYTES)];
        if crate::intake::mail::is_mail(&r.content_type) {
            return String::from_utf8_lossy(shown).into_owned();
        }
        // A site's body is shown as the intake read it: its declared charset, else UTF-8 when it is, else
        // Windows-1251.
        let charset = crate::intake::declared_charset(&r.content_type);
        leadgate_domain::charset::decode(shown, charset.as_deref(), encoding_rs::WINDOWS_1251).text
    });
    Ok(MessagePage {
        layout: Layout::new(viewer, "quarantine"),
        notice,
        message: MessageRow::new(&message, timezone(state)),
        message_id: message.message_id.clone().unwrap_or_default(),
        lead_id: message.lead_id,
        raw,
        truncated,
        size,
    }
    .into_response())
}

/// `GET /quarantine/{id}/raw`: the raw message as an attachment.
pub async fn raw(
    State(state): State<AppState>,
    AdminViewer(_viewer): AdminViewer,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    let raw = state
        .storage
        .message_raw(id)
        .await?
        .ok_or(ApiError::NotFound("raw message"))?;
    Ok(super::lead::download(
        raw.bytes,
        &raw.content_type,
        &format!("message-{id}"),
    ))
}

/// `POST /quarantine/{id}/discard`: keeps the record in the ledger as discarded, with its reason.
pub async fn discard(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(viewer, NoFields {}): CsrfForm<NoFields>,
) -> Result<Response, ApiError> {
    viewer.require_admin()?;
    let message = state
        .storage
        .message(id)
        .await?
        .ok_or(ApiError::NotFound("message"))?;
    if message.outcome == Outcome::Rejected {
        state
            .storage
            .resolve_message(id, Outcome::Discarded, message.reason.as_deref(), None)
            .await?;
        info!(message = id, user = %viewer.login, "quarantined message discarded");
    }
    Ok(Redirect::to("/quarantine").into_response())
}

/// `POST /quarantine/{id}/reprocess`: runs the raw message through its channel's rules and the pipeline
/// again ([`crate::intake::reprocess::reprocess`], as the API does). A lead opens its page, also when the message was
/// imported already (a double click); a message that is still rejected stays here with its new reason.
#[instrument(skip_all, fields(message = id))]
pub async fn reprocess(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(viewer, NoFields {}): CsrfForm<NoFields>,
) -> Result<Response, ApiError> {
    use crate::intake::reprocess::{ReprocessError, Reprocessed};
    viewer.require_admin()?;
    let done = crate::intake::reprocess::reprocess(
        state.storage.as_ref(),
        &state.intake,
        &state.settings,
        state.job.env(),
        id,
        Some(viewer.user_id),
    )
    .await;
    info!(message = id, user = %viewer.login, ok = done.is_ok(), "reprocessed from quarantine");
    match done {
        // A second click (or the API first) finds the lead filed already: the same page as the first click.
        Ok(Reprocessed::Imported { lead_id })
        | Err(ReprocessError::AlreadyImported { lead_id }) => {
            Ok(Redirect::to(&format!("/leads/{lead_id}")).into_response())
        }
        Ok(Reprocessed::Rejected { reason }) => {
            let notice = format!("Снова отклонено: {reason}");
            message_page(&state, &viewer, id, Some(notice)).await
        }
        Err(ReprocessError::NotFound) => Err(ApiError::NotFound("message")),
        Err(
            e @ (ReprocessError::NotRejected(_)
            | ReprocessError::NoRaw
            | ReprocessError::Mailbox(_)),
        ) => message_page(&state, &viewer, id, Some(e.to_string())).await,
        Err(ReprocessError::Storage(e)) => Err(e.into()),
    }
}
