//! The UI's static files, compiled into the binary, and the per-calendar colour stylesheet.
//!
//! The Content-Security-Policy forbids inline scripts and styles, so the one script and the stylesheet are
//! served from leadgate itself, and calendar colours (which administrators choose) come as a generated
//! stylesheet of `.cal-<id>` classes rather than `style=` attributes. Colours are checked to be `#rrggbb`
//! before they are written, so nothing else can reach the CSS.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::app::{ApiError, AppState};
use leadgate_storage::CalendarView;

const CSS: &str = include_str!("assets/app.css");
const JS: &str = include_str!("assets/app.js");
const ICON: &str = include_str!("assets/favicon.svg");

/// The colour new calendars get when none is chosen (the schema's default).
pub const DEFAULT_COLOUR: &str = "#3b82f6";

/// Distinct colours for calendars left at the default, picked by id so that they differ.
pub const PALETTE: [&str; 8] = [
    "#2563eb", "#16a34a", "#d97706", "#9333ea", "#dc2626", "#0891b2", "#db2777", "#65a30d",
];

/// Whether a string is a `#rrggbb` colour.
pub fn is_colour(s: &str) -> bool {
    s.len() == 7 && s.starts_with('#') && s[1..].chars().all(|c| c.is_ascii_hexdigit())
}

/// The colour a calendar is shown in.
pub fn colour_of(calendar: &CalendarView) -> String {
    if is_colour(&calendar.color) && !calendar.color.eq_ignore_ascii_case(DEFAULT_COLOUR) {
        calendar.color.to_ascii_lowercase()
    } else {
        let i = usize::try_from(calendar.id.rem_euclid(PALETTE.len() as i64)).unwrap_or(0);
        PALETTE[i].to_owned()
    }
}

/// `GET /static/app.css`.
pub async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        CSS,
    )
        .into_response()
}

/// `GET /static/app.js`.
pub async fn js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        JS,
    )
        .into_response()
}

/// `GET /favicon.ico` and `GET /static/favicon.svg`: the tab's icon (browsers ask for the first on every
/// page that names none; an SVG serves both).
pub async fn icon() -> Response {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        ICON,
    )
        .into_response()
}

/// `GET /static/calendars.css`: `.cal-<id> { --cal: #rrggbb }` for every calendar.
pub async fn calendar_colours(State(state): State<AppState>) -> Result<Response, ApiError> {
    let mut css = String::new();
    for calendar in state.storage.calendars().await? {
        css.push_str(&format!(
            ".cal-{} {{ --cal: {}; }}\n",
            calendar.id,
            colour_of(&calendar)
        ));
    }
    Ok((
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        css,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hex_colours_reach_the_stylesheet() {
        assert!(is_colour("#a1B2c3"));
        for bad in ["red", "#12345", "#1234567", "#12345g", "#fff;}body{x"] {
            assert!(!is_colour(bad), "{bad}");
        }
        let c = CalendarView {
            id: 3,
            name: "x".into(),
            owner: None,
            color: "</style>".into(),
        };
        assert!(is_colour(&colour_of(&c)));
    }
}
