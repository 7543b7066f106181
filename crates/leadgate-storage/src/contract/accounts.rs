//! Accounts: users, passwords, sessions, the sign-in rate limit, API tokens and calendar feed keys.

use super::*;

/// [`Accounts::has_admin`], [`Accounts::create_user`], [`Accounts::upsert_user`], [`Accounts::user`],
/// [`Accounts::users`], [`Accounts::user_credentials`].
pub async fn users_are_created_once_and_upserted_by_login(s: &dyn Storage) {
    assert!(
        !ok("fresh", s.has_admin().await),
        "a fresh database has no administrator"
    );
    let maria = ok(
        "create",
        s.create_user("maria", "Мария", Role::Manager, Some("hash-1"))
            .await,
    );
    assert!(
        !ok("a manager", s.has_admin().await),
        "a manager is not an administrator"
    );
    match s.create_user("maria", "Другая", Role::Admin, None).await {
        Err(StorageError::Conflict(_)) => {}
        other => panic!("a taken login is a Conflict: {other:?}"),
    }
    let admin = ok(
        "upsert",
        s.upsert_user("admin", Role::Admin, Some("hash-a")).await,
    );
    assert!(ok("an administrator", s.has_admin().await));
    assert_eq!(
        ok("again", s.upsert_user("admin", Role::Manager, None).await),
        admin,
        "by login"
    );
    let creds = some(
        "admin",
        ok("credentials", s.user_credentials("admin").await),
    );
    assert_eq!(
        (
            creds.id,
            creds.role,
            creds.password_hash.as_deref(),
            creds.disabled
        ),
        (admin, Role::Manager, Some("hash-a"), false),
        "the role is updated, the password kept"
    );
    assert!(ok("unknown", s.user_credentials("nobody").await).is_none());
    let view = some("maria", ok("user", s.user(maria).await));
    assert_eq!(
        (view.login.as_str(), view.display_name.as_str(), view.role),
        ("maria", "Мария", Role::Manager)
    );
    assert!(view.has_password && !view.has_ics_secret && !view.disabled);
    assert!(view.created_at <= now() && view.created_at > now() - Duration::minutes(5));
    assert!(ok("unknown", s.user(maria + 1000).await).is_none());
    let logins: Vec<String> = ok("users", s.users().await)
        .into_iter()
        .map(|u| u.login)
        .collect();
    assert_eq!(logins, vec!["admin", "maria"], "by login");
}

/// [`Accounts::update_user`]: a new password takes away what the old one gave out.
pub async fn a_password_change_ends_sessions_tokens_and_the_feed_key(s: &dyn Storage) {
    let id = ok(
        "user",
        s.create_user("maria", "Мария", Role::Manager, Some("old"))
            .await,
    );
    let t = now();
    let session = NewSession {
        id_hash: "s1".into(),
        user_id: id,
        csrf_token: "c".into(),
        created_at: t,
        expires_at: t + Duration::hours(8),
    };
    ok("session", s.create_session(&session).await);
    ok("token", s.create_api_token(id, "script", "tok-1").await);
    ok(
        "configured",
        s.provision_configured_token(Some((id, "tok-conf"))).await,
    );
    ok("feed", s.set_ics_secret(id, "ics-1").await);
    let check = SessionCheck {
        now: t,
        idle_since: t - Duration::hours(1),
    };
    ok(
        "role only",
        s.update_user(id, Some(Role::Admin), None).await,
    );
    assert!(
        ok("still", s.session("s1", check).await).is_some(),
        "a role change keeps the session"
    );
    assert_eq!(some("user", ok("user", s.user(id).await)).role, Role::Admin);
    ok("password", s.update_user(id, None, Some("new")).await);
    assert!(ok("session", s.session("s1", check).await).is_none());
    assert!(ok("token", s.user_by_token("tok-1").await).is_none());
    assert!(
        ok("configured", s.user_by_token("tok-conf").await).is_some(),
        "the configured token stays"
    );
    assert!(ok("feed", s.user_by_ics_secret("ics-1").await).is_none());
    let creds = some("user", ok("credentials", s.user_credentials("maria").await));
    assert_eq!(creds.password_hash.as_deref(), Some("new"));
    match s.update_user(id + 1000, None, Some("x")).await {
        Err(StorageError::NotFound { .. }) => {}
        other => panic!("an unknown user is NotFound: {other:?}"),
    }
}

/// [`Accounts::create_session`], [`Accounts::session`], [`Accounts::touch_session`],
/// [`Accounts::delete_session`], [`Accounts::set_user_disabled`].
pub async fn sessions_expire_go_idle_end_and_die_with_a_disabled_user(s: &dyn Storage) {
    let id = ok(
        "user",
        s.create_user("maria", "Мария", Role::Manager, None).await,
    );
    let t = now();
    let new = |hash: &str, created_at: DateTime<Utc>, hours: i64| NewSession {
        id_hash: hash.to_owned(),
        user_id: id,
        csrf_token: format!("csrf-{hash}"),
        created_at,
        expires_at: created_at + Duration::hours(hours),
    };
    ok("live", s.create_session(&new("live", t, 8)).await);
    let check = |at: DateTime<Utc>| SessionCheck {
        now: at,
        idle_since: at - Duration::minutes(30),
    };
    let live = some(
        "live",
        ok(
            "session",
            s.session("live", check(t + Duration::minutes(1))).await,
        ),
    );
    assert_eq!(
        (
            live.user_id,
            live.login.as_str(),
            live.display_name.as_str(),
            live.role
        ),
        (id, "maria", "Мария", Role::Manager)
    );
    assert_eq!(
        (live.csrf_token.as_str(), live.last_seen_at),
        ("csrf-live", t)
    );
    assert!(
        ok(
            "expired",
            s.session("live", check(t + Duration::hours(9))).await
        )
        .is_none()
    );
    assert!(
        ok(
            "idle",
            s.session("live", check(t + Duration::minutes(31))).await
        )
        .is_none()
    );
    ok(
        "touch",
        s.touch_session("live", t + Duration::minutes(20)).await,
    );
    let touched = some(
        "touched",
        ok(
            "session",
            s.session("live", check(t + Duration::minutes(31))).await,
        ),
    );
    assert_eq!(touched.last_seen_at, t + Duration::minutes(20));
    // A new session clears out the expired ones.
    ok(
        "old",
        s.create_session(&new("old", t - Duration::hours(10), 1))
            .await,
    );
    ok("next", s.create_session(&new("next", t, 8)).await);
    let forever = SessionCheck {
        now: t - Duration::hours(10),
        idle_since: t - Duration::days(1),
    };
    assert!(ok("swept", s.session("old", forever).await).is_none());
    ok("delete", s.delete_session("next").await);
    assert!(ok("deleted", s.session("next", check(t)).await).is_none());
    assert!(ok("disable", s.set_user_disabled(id, true).await));
    assert!(ok("disabled", s.session("live", check(t)).await).is_none());
    assert!(some("user", ok("user", s.user(id).await)).disabled);
    assert!(some("user", ok("credentials", s.user_credentials("maria").await)).disabled);
    assert!(ok("enable", s.set_user_disabled(id, false).await));
    assert!(!some("user", ok("user", s.user(id).await)).disabled);
    assert!(
        ok("ended", s.session("live", check(t)).await).is_none(),
        "disabling ended the session for good"
    );
    assert!(!ok("unknown", s.set_user_disabled(id + 1000, true).await));
}

/// [`Accounts::reserve_login_attempt`] and [`Accounts::clear_login_attempts`].
pub async fn sign_in_attempts_are_limited_per_login_and_address(s: &dyn Storage) {
    let limits = LoginLimits {
        free_per_login: 2,
        free_per_address: 3,
        first_wait: Duration::seconds(15),
        max_wait: Duration::minutes(2),
    };
    let t = now();
    let attempt = |login: &str, address: &str, at: DateTime<Utc>| LoginAttempt {
        login_key: login.to_owned(),
        address: address.to_owned(),
        at,
        window_start: at - Duration::hours(1),
    };
    let reserve =
        |a: LoginAttempt| async move { ok("reserve", s.reserve_login_attempt(&a, &limits).await) };
    let granted = |r: LoginReservation| match r {
        LoginReservation::Granted { address_attempt } => address_attempt,
        LoginReservation::Refused { retry_after } => panic!("refused for {retry_after}"),
    };
    granted(reserve(attempt("maria", "10.0.0.1", t)).await);
    granted(reserve(attempt("maria", "10.0.0.2", t)).await);
    match reserve(attempt("maria", "10.0.0.3", t)).await {
        LoginReservation::Refused { retry_after } => assert_eq!(retry_after, Duration::seconds(15)),
        granted => panic!("the third failure of a login waits: {granted:?}"),
    }
    // Another login from the first address: the address has one free failure left.
    granted(reserve(attempt("ivan", "10.0.0.1", t)).await);
    granted(reserve(attempt("petr", "10.0.0.1", t)).await);
    assert!(
        matches!(
            reserve(attempt("olga", "10.0.0.1", t)).await,
            LoginReservation::Refused { .. }
        ),
        "per address"
    );
    // After the wait, one more try; a success forgets the login's failures.
    let later = t + Duration::seconds(16);
    let address_attempt = granted(reserve(attempt("maria", "10.0.0.4", later)).await);
    ok(
        "clear",
        s.clear_login_attempts("maria", address_attempt).await,
    );
    granted(reserve(attempt("maria", "10.0.0.4", later)).await);
    granted(reserve(attempt("maria", "10.0.0.4", later)).await);
    // Attempts older than the window are forgotten.
    let next_day = t + Duration::days(1);
    granted(reserve(attempt("olga", "10.0.0.1", next_day)).await);
}

/// [`Accounts::create_api_token`], [`Accounts::user_by_token`], [`Accounts::api_tokens`],
/// [`Accounts::revoke_api_token`], [`Accounts::provision_configured_token`].
pub async fn api_tokens_are_added_revoked_and_provisioned(s: &dyn Storage) {
    let admin = ok("admin", s.upsert_user("admin", Role::Admin, None).await);
    let ivan = ok(
        "ivan",
        s.create_user("ivan", "Иван", Role::Manager, None).await,
    );
    ok("add", s.create_api_token(admin, "script", "tok-a").await);
    ok("add", s.create_api_token(ivan, "phone", "tok-i").await);
    assert!(
        s.create_api_token(ivan, "twice", "tok-a").await.is_err(),
        "a token hash is unique"
    );
    let user = some("owner", ok("by token", s.user_by_token("tok-a").await));
    assert_eq!(
        (user.id, user.login.as_str(), user.role),
        (admin, "admin", Role::Admin)
    );
    assert!(ok("unknown", s.user_by_token("nope").await).is_none());
    let tokens = ok("list", s.api_tokens().await);
    assert_eq!(
        tokens
            .iter()
            .map(|t| (t.owner.as_str(), t.name.as_str()))
            .collect::<Vec<_>>(),
        vec![("ivan", "phone"), ("admin", "script")],
        "newest first"
    );
    assert!(tokens.iter().all(|t| t.revoked_at.is_none()));
    let phone = tokens[0].id;
    assert!(ok("revoke", s.revoke_api_token(phone).await));
    assert!(!ok("again", s.revoke_api_token(phone).await));
    assert!(ok("revoked", s.user_by_token("tok-i").await).is_none());
    assert!(ok("list", s.api_tokens().await)[0].revoked_at.is_some());
    ok("disable", s.set_user_disabled(admin, true).await);
    assert!(ok("disabled owner", s.user_by_token("tok-a").await).is_none());
    ok("enable", s.set_user_disabled(admin, false).await);

    ok(
        "provision",
        s.provision_configured_token(Some((admin, "conf-1"))).await,
    );
    assert_eq!(
        some("configured", ok("conf-1", s.user_by_token("conf-1").await)).id,
        admin
    );
    ok(
        "change",
        s.provision_configured_token(Some((admin, "conf-2"))).await,
    );
    assert!(
        ok("old", s.user_by_token("conf-1").await).is_none(),
        "a changed token stops working"
    );
    assert!(ok("new", s.user_by_token("conf-2").await).is_some());
    assert!(ok(
        "back",
        s.provision_configured_token(Some((admin, "conf-1"))).await,
    ));
    assert!(
        ok("restored", s.user_by_token("conf-1").await).is_some(),
        "a configured token the configuration replaced comes back"
    );
    assert!(ok("replaced", s.user_by_token("conf-2").await).is_none());
    let listed = ok("list", s.api_tokens().await);
    assert!(
        listed
            .iter()
            .any(|t| t.name == crate::REPLACED_CONFIGURED_TOKEN && t.revoked_at.is_some()),
        "{listed:?}"
    );
    // Revoked by a user, it stays revoked however often it is configured.
    let configured = listed
        .iter()
        .find(|t| t.name == "configured" && t.revoked_at.is_none())
        .map(|t| t.id);
    assert!(ok(
        "revoke configured",
        s.revoke_api_token(some("configured", configured)).await
    ));
    assert!(!ok(
        "configured again",
        s.provision_configured_token(Some((admin, "conf-1"))).await,
    ));
    assert!(ok("stays revoked", s.user_by_token("conf-1").await).is_none());
    ok("remove", s.provision_configured_token(None).await);
    assert!(ok("removed", s.user_by_token("conf-1").await).is_none());
    assert!(
        ok("script", s.user_by_token("tok-a").await).is_some(),
        "other tokens stay"
    );
}

/// [`Accounts::set_ics_secret`] and [`Accounts::user_by_ics_secret`].
pub async fn a_calendar_feed_key_names_its_user_until_replaced(s: &dyn Storage) {
    let id = ok(
        "user",
        s.create_user("maria", "Мария", Role::Manager, None).await,
    );
    ok("set", s.set_ics_secret(id, "ics-1").await);
    let user = some("user", ok("by key", s.user_by_ics_secret("ics-1").await));
    assert_eq!(
        (user.id, user.login.as_str(), user.role),
        (id, "maria", Role::Manager)
    );
    assert!(some("view", ok("user", s.user(id).await)).has_ics_secret);
    ok("replace", s.set_ics_secret(id, "ics-2").await);
    assert!(ok("old", s.user_by_ics_secret("ics-1").await).is_none());
    assert!(ok("new", s.user_by_ics_secret("ics-2").await).is_some());
    ok("disable", s.set_user_disabled(id, true).await);
    assert!(ok("disabled", s.user_by_ics_secret("ics-2").await).is_none());
}
