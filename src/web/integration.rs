//! `GET /admin/integration` (administrators): how a shop's website sends its leads here, with this leadgate's
//! own address and its HTTP sources and mail collectors filled in. The same instructions as
//! `docs/site-integration.md`; the examples are the files under `docs/examples/`, compiled in, with the
//! placeholder address replaced by this leadgate's.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};

use super::Layout;
use super::session::{self, AdminViewer};
use crate::app::{ApiError, AppState};
use leadgate_storage::HttpSourceView;

/// The address the examples under `docs/examples/` use for leadgate.
const PLACEHOLDER_URL: &str = "https://leads.shop.example";

/// The examples, as `(title, file name, text)`.
const EXAMPLES: &[(&str, &str, &str)] = &[
    (
        "Письмом: PHP и PHPMailer",
        "mail-phpmailer.php",
        include_str!("../../docs/examples/mail-phpmailer.php"),
    ),
    (
        "По HTTP: PHP и curl",
        "http-curl.php",
        include_str!("../../docs/examples/http-curl.php"),
    ),
    (
        "По HTTP из браузера: форма",
        "form.html",
        include_str!("../../docs/examples/form.html"),
    ),
    (
        "По HTTP из браузера: скрипт формы",
        "leadgate-form.js",
        include_str!("../../docs/examples/leadgate-form.js"),
    ),
    (
        "По HTTP: Python",
        "http_urllib.py",
        include_str!("../../docs/examples/http_urllib.py"),
    ),
];

/// One example with this leadgate's address in it.
pub struct Example {
    /// What it shows.
    pub title: &'static str,
    /// Its file under `docs/examples/`.
    pub file: &'static str,
    /// Its text.
    pub code: String,
}

/// A mail collector as the page names it.
pub struct MailboxRow {
    /// Collector name.
    pub name: String,
    /// The mailbox's login and server.
    pub mailbox: String,
    /// The subject keyword.
    pub keyword: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin_integration.html")]
struct IntegrationPage {
    layout: Layout,
    base: String,
    schema_url: String,
    sources: Vec<HttpSourceView>,
    mailboxes: Vec<MailboxRow>,
    examples: Vec<Example>,
}

/// This leadgate's address as the administrator's browser reached it: the `Host` header (when it is a plain
/// host name or address) and the scheme the request came over, else the configured listen address.
fn base_url(state: &AppState, headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        })
        .map_or_else(|| state.settings.server.listen.to_string(), str::to_owned);
    let scheme = if session::is_https(headers) {
        "https"
    } else {
        "http"
    };
    format!("{scheme}://{host}")
}

/// `GET /admin/integration`.
pub async fn page(
    State(state): State<AppState>,
    AdminViewer(viewer): AdminViewer,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let base = base_url(&state, &headers);
    let mailboxes = state
        .storage
        .collectors(false)
        .await?
        .into_iter()
        .map(|c| MailboxRow {
            mailbox: format!("{} ({}:{})", c.username, c.host, c.port),
            name: c.name,
            keyword: c.keyword,
        })
        .collect();
    let examples = EXAMPLES
        .iter()
        .map(|(title, file, code)| Example {
            title,
            file,
            code: code.replace(PLACEHOLDER_URL, &base),
        })
        .collect();
    let page = IntegrationPage {
        layout: Layout::new(&viewer, "admin"),
        schema_url: format!("{base}{}", crate::app::FORMAT_SCHEMA_PATH),
        base,
        sources: state.storage.http_sources().await?,
        mailboxes,
        examples,
    };
    Ok(page.into_response())
}
