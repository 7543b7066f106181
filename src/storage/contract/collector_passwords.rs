//! Mailbox passwords typed in the UI, kept sealed.

use super::*;

fn sealed(bound_to: &str, nonce: u8, ciphertext: &[u8]) -> StoredPassword {
    StoredPassword {
        bound_to: bound_to.to_owned(),
        sealed: Sealed {
            nonce: vec![nonce; 12],
            ciphertext: ciphertext.to_vec(),
        },
    }
}

/// [`CollectorPasswordStore::set_collector_password`], [`CollectorPasswordStore::collector_password`],
/// [`CollectorPasswordStore::clear_collector_password`].
pub async fn a_collectors_sealed_password_is_kept_replaced_and_cleared(s: &dyn Storage) {
    let calendar = ok("calendar", s.upsert_calendar("Заказы", None).await);
    let record = collector_record("site", calendar);
    let site = ok("site", s.upsert_collector(&record).await);
    let other = ok(
        "other",
        s.upsert_collector(&collector_record("other", calendar))
            .await,
    );
    assert_eq!(ok("none", s.collector_password(site).await), None);

    // Ciphertext is bytes, not text: zeros and bytes that are no UTF-8 round-trip.
    let first = sealed(
        &StoredPassword::owner_of(&record),
        0,
        &[0x00, 0xff, 0xfe, 0x80, 0x00, 0x41],
    );
    ok("set", s.set_collector_password(site, &first).await);
    assert_eq!(
        ok("read", s.collector_password(site).await),
        Some(first.clone()),
        "bound_to, nonce and ciphertext as kept"
    );
    assert_eq!(
        ok("other", s.collector_password(other).await),
        None,
        "a password is one collector's"
    );
    let retyped = sealed(
        "imap+implicit://orders@mail2.shop.example:993",
        7,
        b"\x01\x02",
    );
    ok("replace", s.set_collector_password(site, &retyped).await);
    assert_eq!(
        ok("read", s.collector_password(site).await),
        Some(retyped),
        "typing it again replaces it"
    );
    ok("other", s.set_collector_password(other, &first).await);

    assert!(ok("clear", s.clear_collector_password(site).await));
    assert_eq!(ok("cleared", s.collector_password(site).await), None);
    assert!(
        !ok("again", s.clear_collector_password(site).await),
        "it had none"
    );
    assert_eq!(
        ok("other", s.collector_password(other).await),
        Some(first.clone()),
        "clearing one leaves the others"
    );
    assert!(
        s.set_collector_password(other + 1000, &first)
            .await
            .is_err(),
        "a password for no collector is refused"
    );
    assert_eq!(ok("none", s.collector_password(other + 1000).await), None);
}
