//! Accounts in SQLite: users, web sessions, the sign-in rate limit, API tokens and calendar feed keys.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{SqliteConnection, SqlitePool};

use super::{Error, Result, SqliteStorage, conflict_on_unique, from_ms, ms, parse_enum};
use leadgate_domain::account::Role;
use leadgate_storage::{
    self as storage, Accounts, ApiTokenView, LoginAttempt, LoginLimits, LoginReservation,
    NewSession, SessionCheck, SessionRecord, UserCredentials, UserRecord, UserView,
};

fn role(text: &str) -> Result<Role> {
    parse_enum("role", text)
}

async fn user_credentials(pool: &SqlitePool, login: &str) -> Result<Option<UserCredentials>> {
    let row: Option<(i64, String, String, Option<String>, bool)> = sqlx::query_as(
        "SELECT id, login, role, password_hash, disabled_at IS NOT NULL FROM users WHERE login = $1",
    )
    .bind(login)
    .fetch_optional(pool)
    .await?;
    row.map(|(id, login, r, password_hash, disabled)| {
        Ok(UserCredentials {
            id,
            login,
            role: role(&r)?,
            password_hash,
            disabled,
        })
    })
    .transpose()
}

const USER_SELECT: &str =
    "SELECT id, login, display_name, role, password_hash IS NOT NULL AS has_password,
        ics_secret_hash IS NOT NULL AS has_ics, disabled_at IS NOT NULL AS disabled, created_at FROM users";

/// A row of [`USER_SELECT`].
#[derive(sqlx::FromRow)]
struct UserRow {
    id: i64,
    login: String,
    display_name: String,
    role: String,
    has_password: bool,
    has_ics: bool,
    disabled: bool,
    created_at: i64,
}

impl UserRow {
    fn into_view(self) -> Result<UserView> {
        Ok(UserView {
            id: self.id,
            login: self.login,
            display_name: self.display_name,
            role: role(&self.role)?,
            has_password: self.has_password,
            has_ics_secret: self.has_ics,
            disabled: self.disabled,
            created_at: from_ms(self.created_at)?,
        })
    }
}

async fn user(pool: &SqlitePool, id: i64) -> Result<Option<UserView>> {
    let sql = format!("{USER_SELECT} WHERE id = $1");
    let row: Option<UserRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(pool)
        .await?;
    row.map(UserRow::into_view).transpose()
}

async fn users(pool: &SqlitePool) -> Result<Vec<UserView>> {
    let sql = format!("{USER_SELECT} ORDER BY login");
    let rows: Vec<UserRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .fetch_all(pool)
        .await?;
    rows.into_iter().map(UserRow::into_view).collect()
}

async fn create_user(
    pool: &SqlitePool,
    login: &str,
    display_name: &str,
    role: Role,
    password_hash: Option<&str>,
) -> Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO users (login, display_name, role, password_hash, created_at) VALUES ($1, $2, $3, $4, $5)
         RETURNING id",
    )
    .bind(login)
    .bind(display_name)
    .bind(role.as_str())
    .bind(password_hash)
    .bind(ms(Utc::now()))
    .fetch_one(pool)
    .await
    .map_err(|e| conflict_on_unique(e, format!("user {login:?} exists already")))
}

async fn update_user(
    pool: &SqlitePool,
    id: i64,
    role: Option<Role>,
    password_hash: Option<&str>,
) -> Result<()> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let done = sqlx::query(
        "UPDATE users SET role = COALESCE($1, role), password_hash = COALESCE($2, password_hash) WHERE id = $3",
    )
    .bind(role.map(Role::as_str))
    .bind(password_hash)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound {
            what: "user",
            key: id.to_string(),
        });
    }
    if password_hash.is_some() {
        // A new password takes away everything the old one may have given out.
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE api_tokens SET revoked_at = $2
             WHERE user_id = $1 AND revoked_at IS NULL AND name <> 'configured'",
        )
        .bind(id)
        .bind(ms(Utc::now()))
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE users SET ics_secret_hash = NULL WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

async fn set_user_disabled(pool: &SqlitePool, id: i64, disabled: bool) -> Result<bool> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let done = sqlx::query(
        "UPDATE users SET disabled_at = CASE WHEN $2 THEN COALESCE(disabled_at, $3) END WHERE id = $1",
    )
    .bind(id)
    .bind(disabled)
    .bind(ms(Utc::now()))
    .execute(&mut *tx)
    .await?;
    if disabled {
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(done.rows_affected() > 0)
}

async fn provision_configured_token(pool: &SqlitePool, token: Option<(i64, &str)>) -> Result<bool> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let now = ms(Utc::now());
    let token_hash = token.map(|(_, hash)| hash);
    // A token the configuration replaced comes back when configured again; one a user revoked (`tokens
    // revoke`, a new password) stays revoked.
    let mut works = true;
    if let Some((user_id, hash)) = token {
        works = sqlx::query_scalar(
            "INSERT INTO api_tokens (user_id, name, token_hash, created_at) VALUES ($1, 'configured', $2, $3)
             ON CONFLICT (token_hash) DO UPDATE SET user_id = excluded.user_id, name = 'configured',
                 revoked_at = CASE WHEN api_tokens.name = $4 THEN NULL ELSE api_tokens.revoked_at END
             RETURNING revoked_at IS NULL",
        )
        .bind(user_id)
        .bind(hash)
        .bind(now)
        .bind(storage::REPLACED_CONFIGURED_TOKEN)
        .fetch_one(&mut *tx)
        .await?;
    }
    sqlx::query(
        "UPDATE api_tokens SET revoked_at = $1, name = $3
         WHERE name = 'configured' AND revoked_at IS NULL AND token_hash IS NOT $2",
    )
    .bind(now)
    .bind(token_hash)
    .bind(storage::REPLACED_CONFIGURED_TOKEN)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(works)
}

async fn api_tokens(pool: &SqlitePool) -> Result<Vec<ApiTokenView>> {
    let rows: Vec<(i64, String, String, i64, Option<i64>)> = sqlx::query_as(
        "SELECT t.id, u.login, t.name, t.created_at, t.revoked_at FROM api_tokens t
         JOIN users u ON u.id = t.user_id ORDER BY t.id DESC",
    )
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|(id, owner, name, created, revoked)| {
            Ok(ApiTokenView {
                id,
                owner,
                name,
                created_at: from_ms(created)?,
                revoked_at: revoked.map(from_ms).transpose()?,
            })
        })
        .collect()
}

async fn revoke_api_token(pool: &SqlitePool, id: i64) -> Result<bool> {
    let done =
        sqlx::query("UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
            .bind(id)
            .bind(ms(Utc::now()))
            .execute(pool)
            .await?;
    Ok(done.rows_affected() > 0)
}

async fn create_session(pool: &SqlitePool, s: &NewSession) -> Result<()> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
        .bind(ms(s.created_at))
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, expires_at, last_seen_at)
         VALUES ($1, $2, $3, $4, $5, $4)",
    )
    .bind(&s.id_hash)
    .bind(s.user_id)
    .bind(&s.csrf_token)
    .bind(ms(s.created_at))
    .bind(ms(s.expires_at))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

async fn session(
    pool: &SqlitePool,
    id_hash: &str,
    check: SessionCheck,
) -> Result<Option<SessionRecord>> {
    let row: Option<(i64, String, String, String, String, i64)> = sqlx::query_as(
        "SELECT u.id, u.login, u.display_name, u.role, s.csrf_token, s.last_seen_at
         FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.id_hash = $1 AND s.expires_at > $2 AND s.last_seen_at > $3 AND u.disabled_at IS NULL",
    )
    .bind(id_hash)
    .bind(ms(check.now))
    .bind(ms(check.idle_since))
    .fetch_optional(pool)
    .await?;
    row.map(|(user_id, login, display_name, r, csrf_token, last_seen)| {
        Ok(SessionRecord {
            user_id,
            login,
            display_name,
            role: role(&r)?,
            csrf_token,
            last_seen_at: from_ms(last_seen)?,
        })
    })
    .transpose()
}

async fn touch_session(pool: &SqlitePool, id_hash: &str, now: DateTime<Utc>) -> Result<()> {
    sqlx::query("UPDATE sessions SET last_seen_at = $2 WHERE id_hash = $1")
        .bind(id_hash)
        .bind(ms(now))
        .execute(pool)
        .await?;
    Ok(())
}

async fn delete_session(pool: &SqlitePool, id_hash: &str) -> Result<()> {
    sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
        .bind(id_hash)
        .execute(pool)
        .await?;
    Ok(())
}

/// The number of recorded attempts of one key in the window, and the latest.
async fn attempts_of(
    conn: &mut sqlx::SqliteConnection,
    scope: &str,
    key: &str,
    since: DateTime<Utc>,
) -> Result<(i64, Option<i64>)> {
    Ok(sqlx::query_as(
        "SELECT COUNT(*), MAX(at) FROM login_attempts WHERE scope = $1 AND key = $2 AND at >= $3",
    )
    .bind(scope)
    .bind(key)
    .bind(ms(since))
    .fetch_one(&mut *conn)
    .await?)
}

async fn reserve_login_attempt(
    pool: &SqlitePool,
    attempt: &LoginAttempt,
    limits: &LoginLimits,
) -> Result<LoginReservation> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    sqlx::query("DELETE FROM login_attempts WHERE at < $1")
        .bind(ms(attempt.window_start))
        .execute(&mut *tx)
        .await?;
    let mut retry_after = chrono::Duration::zero();
    for (scope, key, free) in [
        ("login", &attempt.login_key, limits.free_per_login),
        ("address", &attempt.address, limits.free_per_address),
    ] {
        let (failures, latest) = attempts_of(&mut tx, scope, key, attempt.window_start).await?;
        if let Some(latest) = latest
            && let Some(wait) = limits.wait(free, failures, from_ms(latest)?, attempt.at)
        {
            retry_after = retry_after.max(wait);
        }
    }
    if retry_after > chrono::Duration::zero() {
        return Ok(LoginReservation::Refused { retry_after });
    }
    sqlx::query("INSERT INTO login_attempts (scope, key, at) VALUES ('login', $1, $2)")
        .bind(&attempt.login_key)
        .bind(ms(attempt.at))
        .execute(&mut *tx)
        .await?;
    let address_attempt: i64 = sqlx::query_scalar(
        "INSERT INTO login_attempts (scope, key, at) VALUES ('address', $1, $2) RETURNING id",
    )
    .bind(&attempt.address)
    .bind(ms(attempt.at))
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(LoginReservation::Granted { address_attempt })
}

async fn clear_login_attempts(
    pool: &SqlitePool,
    login_key: &str,
    address_attempt: i64,
) -> Result<()> {
    sqlx::query("DELETE FROM login_attempts WHERE (scope = 'login' AND key = $1) OR id = $2")
        .bind(login_key)
        .bind(address_attempt)
        .execute(pool)
        .await?;
    Ok(())
}

async fn set_ics_secret(pool: &SqlitePool, user_id: i64, hash: &str) -> Result<()> {
    sqlx::query("UPDATE users SET ics_secret_hash = $1 WHERE id = $2")
        .bind(hash)
        .bind(user_id)
        .execute(pool)
        .await?;
    Ok(())
}

async fn user_by_ics_secret(pool: &SqlitePool, hash: &str) -> Result<Option<UserRecord>> {
    let row: Option<(i64, String, String)> = sqlx::query_as(
        "SELECT id, login, role FROM users WHERE ics_secret_hash = $1 AND disabled_at IS NULL",
    )
    .bind(hash)
    .fetch_optional(pool)
    .await?;
    row.map(|(id, login, r)| {
        Ok(UserRecord {
            id,
            login,
            role: role(&r)?,
        })
    })
    .transpose()
}

async fn has_admin(pool: &SqlitePool) -> Result<bool> {
    Ok(
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM users WHERE role = 'admin')")
            .fetch_one(pool)
            .await?,
    )
}

/// Creates a user by login or updates it; `role`/`password_hash` of `None` keep what is stored (a new user
/// defaults to a manager without a password).
pub(super) async fn upsert_user_in(
    conn: &mut SqliteConnection,
    login: &str,
    role: Option<Role>,
    password_hash: Option<&str>,
) -> Result<i64> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO users (login, display_name, role, password_hash, created_at) VALUES ($1, $1, $2, $3, $4)
         ON CONFLICT (login) DO UPDATE SET
             role = CASE WHEN $5 THEN excluded.role ELSE users.role END,
             password_hash = COALESCE(excluded.password_hash, users.password_hash)
         RETURNING id",
    )
    .bind(login)
    .bind(role.unwrap_or(Role::Manager).as_str())
    .bind(password_hash)
    .bind(ms(Utc::now()))
    .bind(role.is_some())
    .fetch_one(&mut *conn)
    .await?;
    Ok(id)
}

async fn upsert_user(
    pool: &SqlitePool,
    login: &str,
    role: Role,
    password_hash: Option<&str>,
) -> Result<i64> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let id = upsert_user_in(&mut tx, login, Some(role), password_hash).await?;
    tx.commit().await?;
    Ok(id)
}

async fn create_api_token(
    pool: &SqlitePool,
    user_id: i64,
    name: &str,
    token_hash: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO api_tokens (user_id, name, token_hash, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(user_id)
    .bind(name)
    .bind(token_hash)
    .bind(ms(Utc::now()))
    .execute(pool)
    .await?;
    Ok(())
}

async fn user_by_token(pool: &SqlitePool, token_hash: &str) -> Result<Option<UserRecord>> {
    let row: Option<(i64, String, String)> = sqlx::query_as(
        "SELECT u.id, u.login, u.role FROM api_tokens t JOIN users u ON u.id = t.user_id
         WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND u.disabled_at IS NULL",
    )
    .bind(token_hash)
    .fetch_optional(pool)
    .await?;
    row.map(|(id, login, r)| {
        Ok(UserRecord {
            id,
            login,
            role: role(&r)?,
        })
    })
    .transpose()
}

#[async_trait]
impl Accounts for SqliteStorage {
    async fn has_admin(&self) -> storage::Result<bool> {
        Ok(has_admin(&self.pool).await?)
    }

    async fn user(&self, id: i64) -> storage::Result<Option<UserView>> {
        Ok(user(&self.pool, id).await?)
    }

    async fn users(&self) -> storage::Result<Vec<UserView>> {
        Ok(users(&self.pool).await?)
    }

    async fn create_user(
        &self,
        login: &str,
        display_name: &str,
        role: Role,
        password_hash: Option<&str>,
    ) -> storage::Result<i64> {
        Ok(create_user(&self.writer, login, display_name, role, password_hash).await?)
    }

    async fn upsert_user(
        &self,
        login: &str,
        role: Role,
        password_hash: Option<&str>,
    ) -> storage::Result<i64> {
        Ok(upsert_user(&self.writer, login, role, password_hash).await?)
    }

    async fn update_user(
        &self,
        id: i64,
        role: Option<Role>,
        password_hash: Option<&str>,
    ) -> storage::Result<()> {
        Ok(update_user(&self.writer, id, role, password_hash).await?)
    }

    async fn set_user_disabled(&self, id: i64, disabled: bool) -> storage::Result<bool> {
        Ok(set_user_disabled(&self.writer, id, disabled).await?)
    }

    async fn user_credentials(&self, login: &str) -> storage::Result<Option<UserCredentials>> {
        Ok(user_credentials(&self.pool, login).await?)
    }

    async fn reserve_login_attempt(
        &self,
        attempt: &LoginAttempt,
        limits: &LoginLimits,
    ) -> storage::Result<LoginReservation> {
        Ok(reserve_login_attempt(&self.writer, attempt, limits).await?)
    }

    async fn clear_login_attempts(
        &self,
        login_key: &str,
        address_attempt: i64,
    ) -> storage::Result<()> {
        Ok(clear_login_attempts(&self.writer, login_key, address_attempt).await?)
    }

    async fn create_session(&self, session: &NewSession) -> storage::Result<()> {
        Ok(create_session(&self.writer, session).await?)
    }

    async fn session(
        &self,
        id_hash: &str,
        check: SessionCheck,
    ) -> storage::Result<Option<SessionRecord>> {
        Ok(session(&self.pool, id_hash, check).await?)
    }

    async fn touch_session(&self, id_hash: &str, now: DateTime<Utc>) -> storage::Result<()> {
        Ok(touch_session(&self.writer, id_hash, now).await?)
    }

    async fn delete_session(&self, id_hash: &str) -> storage::Result<()> {
        Ok(delete_session(&self.writer, id_hash).await?)
    }

    async fn create_api_token(
        &self,
        user_id: i64,
        name: &str,
        token_hash: &str,
    ) -> storage::Result<()> {
        Ok(create_api_token(&self.writer, user_id, name, token_hash).await?)
    }

    async fn provision_configured_token(
        &self,
        token: Option<(i64, &str)>,
    ) -> storage::Result<bool> {
        Ok(provision_configured_token(&self.writer, token).await?)
    }

    async fn api_tokens(&self) -> storage::Result<Vec<ApiTokenView>> {
        Ok(api_tokens(&self.pool).await?)
    }

    async fn revoke_api_token(&self, id: i64) -> storage::Result<bool> {
        Ok(revoke_api_token(&self.writer, id).await?)
    }

    async fn user_by_token(&self, token_hash: &str) -> storage::Result<Option<UserRecord>> {
        Ok(user_by_token(&self.pool, token_hash).await?)
    }

    async fn set_ics_secret(&self, user_id: i64, secret_hash: &str) -> storage::Result<()> {
        Ok(set_ics_secret(&self.writer, user_id, secret_hash).await?)
    }

    async fn user_by_ics_secret(&self, secret_hash: &str) -> storage::Result<Option<UserRecord>> {
        Ok(user_by_ics_secret(&self.pool, secret_hash).await?)
    }
}
