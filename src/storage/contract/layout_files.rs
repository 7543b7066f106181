//! Layout files: the downloader's queue and what the lead page shows.

use super::*;

/// A lead with these layout files (plain URLs).
fn with_files(subject: &str, files: &[&str]) -> Payload {
    let files = files
        .iter()
        .map(|f| format!(r#"{{"Файл": "{f}"}}"#))
        .collect::<Vec<_>>()
        .join(", ");
    payload(&format!(
        r#"{{"Тема": "{subject}", "Телефон": "+7 925 000 00-01", "ФайлыМакета": [{files}]}}"#
    ))
}

fn seconds(n: u64) -> std::time::Duration {
    std::time::Duration::from_secs(n)
}

async fn claim(s: &dyn Storage, at: DateTime<Utc>, limit: u32) -> Vec<LayoutFileJob> {
    ok("claim", s.claim_layout_files(at, seconds(60), limit).await)
}

/// The claimed jobs as `(url, attempts)`, by URL.
fn claimed(jobs: &[LayoutFileJob]) -> Vec<(&str, u32)> {
    let mut claimed: Vec<(&str, u32)> = jobs.iter().map(|j| (j.url.as_str(), j.attempts)).collect();
    claimed.sort_unstable();
    claimed
}

async fn files_of(s: &dyn Storage, lead: i64) -> Vec<LayoutFileView> {
    ok("files", s.layout_files_of_lead(lead).await)
}

fn downloaded(name: &str, content_type: &str, bytes: &[u8]) -> DownloadedFile {
    DownloadedFile {
        file_name: name.to_owned(),
        content_type: content_type.to_owned(),
        bytes: bytes.to_vec(),
    }
}

/// [`LayoutFileStore::claim_layout_files`], [`LayoutFileStore::layout_files_of_lead`].
pub async fn a_new_leads_web_layout_files_are_queued_and_claimed_once_per_lease(s: &dyn Storage) {
    let (calendar, source) = calendar_and_source(s, "site").await;
    let t0 = now();
    let lead = file_lead(
        s,
        source,
        with_files(
            "Заказ с макетами",
            &[
                "https://shop.example/a.pdf",
                "ftp://shop.example/b.cdr",
                "http://shop.example/c.png",
            ],
        ),
        calendar,
        t0,
    )
    .await;
    let plain = file_lead(
        s,
        source,
        contact("Звонок", "+7 925 000 00-02"),
        calendar,
        t0,
    )
    .await;
    assert!(
        files_of(s, plain).await.is_empty(),
        "a lead without files queues none"
    );
    let queued = files_of(s, lead).await;
    let shown: Vec<(i64, &str, LayoutFileState, u32)> = queued
        .iter()
        .map(|f| (f.position, f.url.as_str(), f.state, f.attempts))
        .collect();
    assert_eq!(
        shown,
        vec![
            (0, "https://shop.example/a.pdf", LayoutFileState::Pending, 0),
            (2, "http://shop.example/c.png", LayoutFileState::Pending, 0),
        ],
        "the http(s) URLs, by their index in the lead's files"
    );
    for file in &queued {
        assert_eq!(file.lead_id, lead);
        assert!(
            file.next_attempt_at.is_some_and(|at| at <= t0),
            "a new file is due at once: {file:?}"
        );
        assert!(
            file.error.is_none()
                && file.file_name.is_none()
                && file.content_type.is_none()
                && file.size.is_none()
                && file.fetched_at.is_none()
        );
    }

    let jobs = claim(s, t0, 10).await;
    assert_eq!(
        claimed(&jobs),
        vec![
            ("http://shop.example/c.png", 1),
            ("https://shop.example/a.pdf", 1)
        ]
    );
    assert!(jobs.iter().all(|j| j.lead_id == lead));
    let mut ids: Vec<i64> = jobs.iter().map(|j| j.id).collect();
    ids.sort_unstable();
    let mut queued_ids: Vec<i64> = queued.iter().map(|f| f.id).collect();
    queued_ids.sort_unstable();
    assert_eq!(ids, queued_ids, "the queued files are the ones claimed");
    assert!(claim(s, t0, 10).await.is_empty(), "a claimed file is held");
    assert!(
        claim(s, t0 + Duration::seconds(59), 10).await.is_empty(),
        "held for the whole lease"
    );
    assert!(
        files_of(s, lead)
            .await
            .iter()
            .all(|f| f.attempts == 1 && f.state == LayoutFileState::Pending),
        "a claimed file is still pending, with its attempt counted"
    );
    let after_lease = t0 + Duration::seconds(61);
    let one = claim(s, after_lease, 1).await;
    assert_eq!(one.len(), 1, "at most the limit");
    assert_eq!(
        one[0].attempts, 2,
        "a downloader that died leaves the file due again"
    );
    let rest = claim(s, after_lease, 10).await;
    assert_eq!(rest.len(), 1);
    assert_ne!(rest[0].id, one[0].id);
    assert!(claim(s, after_lease, 10).await.is_empty());
}

/// [`LayoutFileStore::store_layout_file`], [`LayoutFileStore::layout_file_failed`],
/// [`LayoutFileStore::layout_file_content`].
pub async fn layout_files_are_stored_retried_or_given_up_and_served_to_their_own_lead(
    s: &dyn Storage,
) {
    let (calendar, source) = calendar_and_source(s, "site").await;
    let t0 = now();
    let lead = file_lead(
        s,
        source,
        with_files(
            "Заказ с макетами",
            &[
                "https://shop.example/a.pdf",
                "https://shop.example/b.pdf",
                "https://shop.example/c.pdf",
            ],
        ),
        calendar,
        t0,
    )
    .await;
    let other = file_lead(
        s,
        source,
        order(7, None, "Мария", "+7 925 000 00-07", "m@shop.example"),
        calendar,
        t0,
    )
    .await;
    let jobs = claim(s, t0, 10).await;
    let id = |url: &str| match jobs.iter().find(|j| j.url == url) {
        Some(job) => job.id,
        None => panic!("{url} was not claimed: {jobs:?}"),
    };
    let (a, b, c, d) = (
        id("https://shop.example/a.pdf"),
        id("https://shop.example/b.pdf"),
        id("https://shop.example/c.pdf"),
        id("https://shop.example/7.pdf"),
    );

    // Bytes, not text: zeros and bytes that are no UTF-8 round-trip.
    let bytes = b"%PDF-1.4\n\x00\xff\xfe\x80%%EOF\n";
    ok(
        "store",
        s.store_layout_file(a, &downloaded("a.pdf", "application/pdf", bytes), t0)
            .await,
    );
    let retry_at = t0 + Duration::minutes(10);
    ok(
        "failed for now",
        s.layout_file_failed(b, "сайт ответил 503", Some(retry_at))
            .await,
    );
    ok(
        "failed for good",
        s.layout_file_failed(c, "сайт ответил 404", None).await,
    );
    let files = files_of(s, lead).await;
    let shown: Vec<(LayoutFileState, Option<&str>, Option<DateTime<Utc>>)> = files
        .iter()
        .map(|f| (f.state, f.error.as_deref(), f.next_attempt_at))
        .collect();
    assert_eq!(
        shown,
        vec![
            (LayoutFileState::Stored, None, None),
            (
                LayoutFileState::Pending,
                Some("сайт ответил 503"),
                Some(retry_at)
            ),
            (LayoutFileState::Failed, Some("сайт ответил 404"), None),
        ]
    );
    assert_eq!(
        (
            files[0].file_name.as_deref(),
            files[0].content_type.as_deref(),
            files[0].size,
            files[0].fetched_at
        ),
        (
            Some("a.pdf"),
            Some("application/pdf"),
            Some(bytes.len() as u64),
            Some(t0)
        )
    );
    let content = some(
        "stored content",
        ok("content", s.layout_file_content(lead, a).await),
    );
    assert_eq!(
        (
            content.file_name.as_str(),
            content.content_type.as_str(),
            content.bytes.as_slice()
        ),
        ("a.pdf", "application/pdf", &bytes[..])
    );
    for (owner, file, why) in [
        (lead, b, "a file still pending"),
        (lead, c, "a file given up on"),
        (other, a, "another lead's file"),
        (lead, a + 1000, "no such file"),
    ] {
        assert!(
            ok("content", s.layout_file_content(owner, file).await).is_none(),
            "{why} has no content"
        );
    }

    // A file held by a downloader that died is due again after the lease; the soonest due goes first.
    let again = claim(s, t0 + Duration::minutes(5), 10).await;
    assert_eq!(claimed(&again), vec![("https://shop.example/7.pdf", 2)]);
    ok(
        "failed for now",
        s.layout_file_failed(d, "сайт не ответил", Some(t0 + Duration::minutes(8)))
            .await,
    );
    let due = t0 + Duration::minutes(10);
    assert_eq!(
        claimed(&claim(s, due, 1).await),
        vec![("https://shop.example/7.pdf", 3)],
        "the file due first is claimed first"
    );
    assert_eq!(
        claimed(&claim(s, due, 10).await),
        vec![("https://shop.example/b.pdf", 2)]
    );
    ok(
        "store",
        s.store_layout_file(b, &downloaded("b.pdf", "application/pdf", b"b"), due)
            .await,
    );
    ok(
        "store",
        s.store_layout_file(d, &downloaded("7.pdf", "application/pdf", b"d"), due)
            .await,
    );
    ok(
        "late failure",
        s.layout_file_failed(a, "сайт ответил 500", None).await,
    );
    let files = files_of(s, lead).await;
    let a_now = &files[0];
    assert_eq!(
        (a_now.state, a_now.error.as_deref()),
        (LayoutFileState::Stored, None),
        "a failure reported late does not undo a stored file"
    );
    assert!(
        claim(s, t0 + Duration::days(1), 10).await.is_empty(),
        "a stored file or one given up on is never claimed again"
    );
    assert_eq!(
        some(
            "still there",
            ok("content", s.layout_file_content(other, d).await)
        )
        .bytes,
        b"d".to_vec()
    );
}

/// An erased lead's layout files go with the rest of the person's data.
pub async fn an_erased_lead_loses_its_layout_files(s: &dyn Storage) {
    let (calendar, source) = calendar_and_source(s, "site").await;
    let t0 = now();
    let lead = file_lead(
        s,
        source,
        order(1, None, "Алексей", "+7 925 642 42-90", "adwcom@gmail.com"),
        calendar,
        t0,
    )
    .await;
    let kept = file_lead(
        s,
        source,
        order(2, None, "Мария", "+7 925 000 00-02", "m@shop.example"),
        calendar,
        t0,
    )
    .await;
    for job in claim(s, t0, 10).await {
        ok(
            "store",
            s.store_layout_file(job.id, &downloaded("f.pdf", "application/pdf", b"%PDF"), t0)
                .await,
        );
    }
    let file = files_of(s, lead).await[0].id;
    let query = match PersonDataQuery::phone("+7 925 642 42-90") {
        Ok(query) => query,
        Err(e) => panic!("a phone query: {e}"),
    };
    let actor = ErasureActor {
        user_id: None,
        login: "command line".into(),
        channel: "cli",
    };
    ok("erase", s.erase_personal_data(&query, &[], &actor).await);
    assert!(files_of(s, lead).await.is_empty(), "the files are gone");
    assert!(ok("content", s.layout_file_content(lead, file).await).is_none());
    assert_eq!(files_of(s, kept).await.len(), 1, "nobody else's");
}
