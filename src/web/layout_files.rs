//! Layout files on the lead page and the printed tech card, and their downloads.
//!
//! Each `ФайлыМакета` URL is shown with what leadgate kept of it: an image's thumbnail (the image itself,
//! served by leadgate and sized by CSS) or the file's name, type and size, with a download link; or why the
//! download failed. The original URL is always shown too.
//!
//! The bytes came from a stranger's website, so they are never rendered as a page: a download is always
//! `application/octet-stream` with `Content-Disposition: attachment` and a safe file name, and a preview is
//! served only for bytes that are a PNG, JPEG, GIF or WebP image, with the type read from the bytes, never
//! from what the site claimed. `nosniff` and the UI's Content-Security-Policy hold for both.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tracing::instrument;

use super::session::Viewer;
use crate::app::{ApiError, AppState};
use crate::layout_files::fetch::image_type;
use leadgate_storage::{LayoutFileState, LayoutFileView};

/// A layout file as the pages show it.
#[derive(Debug, Clone)]
pub struct FileLink {
    /// The URL as the site sent it (only http and https URLs are shown as links).
    pub href: String,
    /// The last path segment, for display.
    pub name: String,
    /// What leadgate kept, once downloaded.
    pub kept: Option<KeptFile>,
    /// Where the download stands when nothing is kept: why it failed, or that it is coming.
    pub status: String,
}

/// A downloaded layout file.
#[derive(Debug, Clone)]
pub struct KeptFile {
    /// `/leads/{id}/files/{file}`: the download.
    pub download: String,
    /// `/leads/{id}/files/{file}/preview`, for images.
    pub preview: Option<String>,
    /// File name.
    pub name: String,
    /// Content type as the site declared it.
    pub content_type: String,
    /// Size, written out.
    pub size: String,
}

/// Only `http:` and `https:` URLs become links; anything else (`javascript:`, `data:`, `file:`) is dropped.
pub fn file_link(url: &str) -> Option<FileLink> {
    let lower = url.trim().to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) {
        return None;
    }
    let name = url
        .trim()
        .split(['?', '#'])
        .next()
        .and_then(|u| u.trim_end_matches('/').rsplit('/').next())
        .filter(|n| !n.is_empty() && !n.contains(':'))
        .unwrap_or(url)
        .to_owned();
    Some(FileLink {
        href: url.trim().to_owned(),
        name,
        kept: None,
        status: String::new(),
    })
}

/// The lead's layout file URLs, in order, each with what was downloaded of it.
pub fn file_links(lead_id: i64, urls: &[String], kept: &[LayoutFileView]) -> Vec<FileLink> {
    urls.iter()
        .enumerate()
        .filter_map(|(position, url)| {
            let mut link = file_link(url)?;
            let Some(file) = kept
                .iter()
                .find(|f| usize::try_from(f.position).ok() == Some(position))
            else {
                return Some(link);
            };
            match file.state {
                LayoutFileState::Stored => {
                    let content_type = file.content_type.clone().unwrap_or_default();
                    let download = format!("/leads/{lead_id}/files/{}", file.id);
                    link.kept = Some(KeptFile {
                        preview: content_type
                            .starts_with("image/")
                            .then(|| format!("{download}/preview")),
                        download,
                        name: file.file_name.clone().unwrap_or_else(|| link.name.clone()),
                        content_type,
                        size: size(file.size.unwrap_or(0)),
                    });
                }
                LayoutFileState::Pending => {
                    link.status = match &file.error {
                        Some(e) => format!("не скачан: {e}; leadgate попробует ещё раз"),
                        None => "скачивается…".to_owned(),
                    };
                }
                LayoutFileState::Failed => {
                    link.status = format!(
                        "не скачан: {}",
                        file.error.as_deref().unwrap_or("причина неизвестна")
                    );
                }
            }
            Some(link)
        })
        .collect()
}

/// `512 Б`, `12,5 КБ`, `3,2 МБ`.
pub fn size(bytes: u64) -> String {
    const KB: u64 = 1024;
    const MB: u64 = 1024 * 1024;
    let tenths = |unit: u64| {
        let t = (u128::from(bytes) * 10 + u128::from(unit) / 2) / u128::from(unit);
        format!("{},{}", t / 10, t % 10)
    };
    if bytes < KB {
        format!("{bytes} Б")
    } else if bytes < MB {
        format!("{} КБ", tenths(KB))
    } else {
        format!("{} МБ", tenths(MB))
    }
}

/// A `Content-Disposition: attachment` value whose plain `filename` holds only letters, digits, `.`, `-`
/// and `_` (anything else becomes `_`), with the full name in `filename*` (RFC 6266, percent-encoded UTF-8).
pub fn attachment_disposition(name: &str) -> String {
    let name: String = name
        .chars()
        .filter(|c| !c.is_control())
        .map(|c| if matches!(c, '/' | '\\') { '_' } else { c })
        .take(150)
        .collect();
    let name = name.trim().trim_start_matches('.');
    let name = if name.is_empty() { "file" } else { name };
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded =
        percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC).to_string();
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// `GET /leads/{id}/files/{file}`: the kept file, as a download.
#[instrument(skip_all, fields(lead_id = id, layout_file = file, user = %viewer.login))]
pub async fn download(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((id, file)): Path<(i64, i64)>,
) -> Result<Response, ApiError> {
    super::lead::visible_lead(&state, &viewer, id).await?;
    let content = state
        .storage
        .layout_file_content(id, file)
        .await?
        .ok_or(ApiError::NotFound("layout file"))?;
    let disposition = HeaderValue::from_str(&attachment_disposition(&content.file_name))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment; filename=\"file\""));
    Ok((
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            ),
            (header::CONTENT_DISPOSITION, disposition),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        content.bytes,
    )
        .into_response())
}

/// `GET /leads/{id}/files/{file}/preview`: the kept file shown as an image, when its bytes are one.
#[instrument(skip_all, fields(lead_id = id, layout_file = file, user = %viewer.login))]
pub async fn preview(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((id, file)): Path<(i64, i64)>,
) -> Result<Response, ApiError> {
    super::lead::visible_lead(&state, &viewer, id).await?;
    let content = state
        .storage
        .layout_file_content(id, file)
        .await?
        .ok_or(ApiError::NotFound("layout file"))?;
    let kind = image_type(&content.bytes).ok_or(ApiError::NotFound("image"))?;
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(kind)),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, max-age=3600"),
            ),
        ],
        content.bytes,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_and_https_urls_become_layout_links() {
        let l = file_link("https://demo.solvent.ru/cabinet/print/2019/DAC.jpg?x=1");
        assert_eq!(l.map(|l| l.name).as_deref(), Some("DAC.jpg"));
        assert!(file_link("HTTP://example.ru/").is_some());
        for bad in [
            "javascript:alert(1)",
            " data:text/html,<script>",
            "file:///etc/passwd",
            "ftp://x/",
        ] {
            assert!(file_link(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn download_names_are_safe_in_the_header() {
        assert_eq!(
            attachment_disposition("макет \"1\".pdf"),
            "attachment; filename=\"_______1_.pdf\"; filename*=UTF-8''%D0%BC%D0%B0%D0%BA%D0%B5%D1%82%20%221%22%2Epdf"
        );
        assert_eq!(
            attachment_disposition("../../etc/passwd\r\nX: y"),
            "attachment; filename=\"_.._etc_passwdX__y\"; filename*=UTF-8''%5F%2E%2E%5Fetc%5FpasswdX%3A%20y"
        );
        assert_eq!(
            attachment_disposition(""),
            "attachment; filename=\"file\"; filename*=UTF-8''file"
        );
    }

    #[test]
    fn only_raster_image_signatures_are_previewed() {
        assert_eq!(image_type(b"\x89PNG\r\n\x1a\nrest"), Some("image/png"));
        assert_eq!(image_type(b"\xff\xd8\xff\xe0"), Some("image/jpeg"));
        assert_eq!(image_type(b"<svg onload=alert(1)>"), None);
        assert_eq!(image_type(b"<html>"), None);
    }

    #[test]
    fn sizes_are_written_in_russian_units() {
        assert_eq!(size(512), "512 Б");
        assert_eq!(size(1536), "1,5 КБ");
        assert_eq!(size(3 * 1024 * 1024 + 200 * 1024), "3,2 МБ");
    }
}
