-- Accounts that can be taken away, sessions that go idle, and a sign-in rate limit that costs an index walk.

-- A disabled user cannot sign in, and no session, API token or calendar feed key of theirs works; enabling
-- them again restores the tokens and the key (sessions ended when they were disabled).
ALTER TABLE users ADD COLUMN disabled_at INTEGER;

-- When the session was last used (Unix ms), for the idle timeout. Written at most every few minutes.
ALTER TABLE sessions ADD COLUMN last_seen_at INTEGER NOT NULL DEFAULT 0;
UPDATE sessions SET last_seen_at = created_at;

-- Sign-in attempts, for the rate limits per login and per client address. An attempt is written before the
-- password is checked (so concurrent guesses count), and the login's rows are deleted when it signs in.
-- `key` is the SHA-256 of the lower-cased login, or the client address: no typed login is stored. Rows older
-- than the window are deleted through the index on `at`, not by a scan.
DROP TABLE login_failures;
CREATE TABLE login_attempts (
    id     INTEGER PRIMARY KEY,
    scope  TEXT    NOT NULL CHECK (scope IN ('login', 'address')),
    key    TEXT    NOT NULL,
    at     INTEGER NOT NULL
);
CREATE INDEX login_attempts_by_key ON login_attempts (scope, key, at);
CREATE INDEX login_attempts_by_time ON login_attempts (at);

-- The API token provisioned from `server.admin_token_env`/`_file` is named 'configured'; when the setting
-- changes, the previous one is revoked at start.
CREATE INDEX api_tokens_by_user ON api_tokens (user_id);
