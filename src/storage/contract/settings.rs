//! Settings an administrator changes in the UI.

use super::*;

/// [`SettingsStore::stored_settings`], [`SettingsStore::save_settings`].
pub async fn settings_are_saved_replaced_and_removed_by_key(s: &dyn Storage) {
    assert!(
        ok("fresh", s.stored_settings().await).is_empty(),
        "nothing is stored until an administrator saves"
    );
    let admin = ok(
        "admin",
        s.create_user("admin", "Администратор", Role::Admin, None)
            .await,
    );
    ok(
        "save",
        s.save_settings(
            &[
                ("default_calendar", Some("Заказы с сайта")),
                ("schedule.mail_collector.enabled", Some("false")),
                ("schedule.mail_collector.cron", Some("0 */5 * * * *")),
            ],
            Some(admin),
        )
        .await,
    );
    let stored = ok("stored", s.stored_settings().await);
    let expected: std::collections::HashMap<String, String> = [
        ("default_calendar", "Заказы с сайта"),
        ("schedule.mail_collector.enabled", "false"),
        ("schedule.mail_collector.cron", "0 */5 * * * *"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(stored, expected, "every value as saved");

    // One save replaces one value, removes another (its default applies again) and leaves the third.
    ok(
        "change",
        s.save_settings(
            &[
                ("schedule.mail_collector.enabled", Some("true")),
                ("schedule.mail_collector.cron", None),
                ("never.saved", None),
            ],
            None,
        )
        .await,
    );
    let stored = ok("stored", s.stored_settings().await);
    let expected: std::collections::HashMap<String, String> = [
        ("default_calendar", "Заказы с сайта"),
        ("schedule.mail_collector.enabled", "true"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(stored, expected);
    ok("nothing", s.save_settings(&[], Some(admin)).await);
    assert_eq!(
        ok("stored", s.stored_settings().await).len(),
        2,
        "saving nothing changes nothing"
    );
}
