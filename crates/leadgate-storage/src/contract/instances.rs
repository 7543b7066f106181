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
