//! The live hub of a process that serves no pages (a one-shot `collect` or `import`): it reads no lead back
//! for pages that cannot exist, and publishes again once the process serves pages. While no page is open, the
//! leads are read back only when a page resumes from before them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use leadgate::startup::Services;
use leadgate_domain::lead::LeadStatus;

#[tokio::test]
async fn a_process_without_pages_publishes_nothing_and_one_serving_pages_publishes_its_leads() {
    let dir = common::TestDir::new().await;
    let services = Services::open(common::settings_in(&dir)).await.unwrap();
    let before = services.live.current_id();

    // A one-shot command: the lead is committed, and no page can ever see it live.
    common::submit_file_lead(&services, "one-shot").await;

    // The process starts serving pages: what it commits from now on is published.
    services.live.listen(services.storage.clone());
    let mut subscription = services.live.subscribe(Some(&before));
    let served = common::submit_file_lead(&services, "served").await;
    let event = match subscription.backlog.pop() {
        Some(event) => event,
        None => tokio::time::timeout(Duration::from_secs(30), subscription.receiver.recv())
            .await
            .expect("the served lead is published")
            .unwrap(),
    };
    assert_eq!(event.lead_id, served);
    assert!(
        subscription.backlog.is_empty(),
        "the lead committed before the process served pages was not read back: {:?}",
        subscription.backlog
    );
    assert!(!subscription.reload);
}

#[tokio::test]
async fn a_page_that_resumes_gets_the_leads_filed_while_no_stream_was_open_as_they_are_now() {
    let dir = common::TestDir::new().await;
    let services = Services::open(common::settings_in(&dir)).await.unwrap();
    services.live.listen(services.storage.clone());
    let before = services.live.current_id();

    // No page's stream is open: the leads are published, and nothing reads them back yet.
    let first = common::submit_file_lead(&services, "first").await;
    let second = common::submit_file_lead(&services, "second").await;
    services.live.flush().await;
    // A manager takes the first one before the page comes back.
    services
        .storage
        .update_lead(
            first,
            &leadgate_storage::LeadPatch {
                status: Some(LeadStatus::InProgress),
                assignee: None,
                by: None,
            },
        )
        .await
        .unwrap();

    let mut subscription = services.live.subscribe(Some(&before));
    subscription.read_backlog(services.storage.as_ref()).await;
    assert!(!subscription.reload);
    let missed: Vec<i64> = subscription.backlog.iter().map(|e| e.lead_id).collect();
    assert_eq!(missed, [first, second]);
    let storage = services.storage.as_ref();
    let read = subscription.backlog[0].lead(storage).await.unwrap();
    assert_eq!((read.id, read.status), (first, LeadStatus::InProgress));
    let read = subscription.backlog[1].lead(storage).await.unwrap();
    assert_eq!((read.id, read.status), (second, LeadStatus::New));
}
