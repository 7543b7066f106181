//! What holds across several instances of leadgate on one database: `serve` on two machines, or `collect`
//! beside `serve`. Each case takes two backends opened separately (two pools, two sets of connections) on
//! the same fresh database.
//!
//! A backend runs these cases with one line in a test file, given an async factory of such pairs:
//!
//! ```ignore
//! leadgate::storage_contract_instances_suite!(|| async { TwoInstances::new().await });
//! ```
//!
//! where the factory's value is a pair `(a, b)` of things that dereference to a type implementing
//! [`Storage`].

use super::*;

/// Runs every case of this file against pairs of instances made by `$make`, an expression that can be
/// called with no arguments and returns a future of `(a, b)`: two backends opened separately on one fresh,
/// empty database (anything that dereferences to a type implementing [`Storage`]). Expands to one
/// `#[tokio::test]` per case.
#[macro_export]
macro_rules! storage_contract_instances_suite {
    ($make:expr) => {
        $crate::storage_contract_instances_suite!(@cases $make;
            a_job_lock_has_one_holder_across_instances,
            a_webhook_delivery_is_claimed_by_one_instance_only,
        );
    };
    (@cases $make:expr; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                let (a, b) = ($make)().await;
                let a: &dyn $crate::Storage = &*a;
                let b: &dyn $crate::Storage = &*b;
                $crate::contract::$case(a, b).await;
            }
        )+
    };
}

/// [`Collectors::try_lock_job`] across instances: while one instance holds a job's lock no other can take
/// it, and the moment the holder drops it the other can.
pub async fn a_job_lock_has_one_holder_across_instances(a: &dyn Storage, b: &dyn Storage) {
    let held = some(
        "a free lock",
        ok("lock on a", a.try_lock_job("collect").await),
    );
    assert!(
        ok("lock on b", b.try_lock_job("collect").await).is_none(),
        "another instance cannot take a held lock"
    );
    assert!(
        ok("again on a", a.try_lock_job("collect").await).is_none(),
        "nor can the holder's own instance take it twice"
    );
    let other = ok("another job on b", b.try_lock_job("retention").await);
    assert!(other.is_some(), "jobs lock apart across instances too");
    drop(held);
    let taken = some(
        "the lock on b once a dropped it",
        ok("lock on b", b.try_lock_job("collect").await),
    );
    assert!(
        ok("lock on a", a.try_lock_job("collect").await).is_none(),
        "now the first instance waits its turn"
    );
    drop(taken);
    drop(other);
    assert!(
        ok("lock on a", a.try_lock_job("collect").await).is_some(),
        "and takes it once the other dropped it"
    );
    assert!(
        ok("retention on a", a.try_lock_job("retention").await).is_some(),
        "the other job's lock is free again too"
    );
}

/// [`Webhooks::claim_webhook_deliveries`] across instances: two dispatchers claiming at the same moment
/// share the due deliveries between them, and none is claimed by both.
pub async fn a_webhook_delivery_is_claimed_by_one_instance_only(a: &dyn Storage, b: &dyn Storage) {
    let (calendar, source) = calendar_and_source(a, "shared").await;
    hook(a, calendar).await;
    let t0 = now();
    for i in 0..12 {
        let phone = format!("+7925000{i:04}");
        file_lead(a, source, contact("Звонок", &phone), calendar, t0).await;
    }
    let lease = std::time::Duration::from_secs(600);
    let at = t0 + Duration::seconds(1);
    let mut claimed = Vec::new();
    loop {
        let (from_a, from_b) = both(
            a.claim_webhook_deliveries(at, lease, 3),
            b.claim_webhook_deliveries(at, lease, 3),
        )
        .await;
        let (from_a, from_b) = (ok("claim a", from_a), ok("claim b", from_b));
        if from_a.is_empty() && from_b.is_empty() {
            break;
        }
        claimed.extend(from_a.iter().chain(&from_b).map(|j| j.id));
    }
    let mut distinct = claimed.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), claimed.len(), "claimed twice: {claimed:?}");
    assert_eq!(claimed.len(), 12, "every delivery once: {claimed:?}");
}

/// Runs two futures at once (both polled in turn on one task) and gives both results.
async fn both<A: std::future::Future, B: std::future::Future>(
    a: A,
    b: B,
) -> (A::Output, B::Output) {
    use std::task::Poll;
    let (mut a, mut b) = (std::pin::pin!(a), std::pin::pin!(b));
    let (mut ra, mut rb) = (None, None);
    std::future::poll_fn(|cx| {
        if ra.is_none()
            && let Poll::Ready(r) = a.as_mut().poll(cx)
        {
            ra = Some(r);
        }
        if rb.is_none()
            && let Poll::Ready(r) = b.as_mut().poll(cx)
        {
            rb = Some(r);
        }
        if ra.is_some() && rb.is_some() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    match (ra, rb) {
        (Some(ra), Some(rb)) => (ra, rb),
        _ => unreachable!("both futures are ready"),
    }
}
