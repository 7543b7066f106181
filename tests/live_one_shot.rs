//! The live hub of a process that serves no pages (a one-shot `collect` or `import`): it reads no lead back
//! for pages that cannot exist, and publishes again once the process serves pages.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use leadgate::startup::Services;

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
    assert_eq!(event.lead.id, served);
    assert!(
        subscription.backlog.is_empty(),
        "the lead committed before the process served pages was not read back: {:?}",
        subscription.backlog
    );
    assert!(!subscription.reload);
}
