-- The web UI: sign-in sessions, the sign-in rate limit, counterparty search, and the indexes the UI's pages
-- read by. Nothing here is read by the intake or the mail collectors.

-- A signed-in browser. The cookie carries a 256-bit random id; only its SHA-256 is kept, so a copy of the
-- database does not let anyone sign in. The CSRF token is per session and goes into every form.
CREATE TABLE sessions (
    id_hash     TEXT    PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id),
    csrf_token  TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);
CREATE INDEX sessions_by_user ON sessions (user_id);

-- Failed sign-ins, per login (lower-cased), for the rate limit (N failures per window). Rows older than the
-- window are deleted as new ones are written, so the table stays small.
CREATE TABLE login_failures (
    id     INTEGER PRIMARY KEY,
    login  TEXT    NOT NULL,
    at     INTEGER NOT NULL
);
CREATE INDEX login_failures_by_login ON login_failures (login, at);

-- The lead page links the original message ("download the original"): find the ledger record by its lead.
CREATE INDEX messages_by_lead ON messages (lead_id);

-- The inbox counts new leads per set of calendars on every page and poll, and pages one calendar's new
-- leads newest first: both are walks of this index alone (the status index cannot narrow by calendar).
CREATE INDEX leads_by_status_calendar ON leads (status, calendar_id, id);

-- Counterparty search by name. SQLite's lower() and LIKE fold only ASCII, and names are Cyrillic; FTS5's
-- unicode61 tokenizer folds case in every script and answers word-prefix queries from an index. It is an
-- external-content table kept in step by triggers, so the intake's inserts need no change.
CREATE VIRTUAL TABLE counterparties_fts USING fts5(
    name, inn, content = 'counterparties', content_rowid = 'id', tokenize = 'unicode61'
);
CREATE TRIGGER counterparties_fts_insert AFTER INSERT ON counterparties BEGIN
    INSERT INTO counterparties_fts (rowid, name, inn) VALUES (new.id, new.name, new.inn);
END;
CREATE TRIGGER counterparties_fts_delete AFTER DELETE ON counterparties BEGIN
    INSERT INTO counterparties_fts (counterparties_fts, rowid, name, inn) VALUES ('delete', old.id, old.name, old.inn);
END;
CREATE TRIGGER counterparties_fts_update AFTER UPDATE ON counterparties BEGIN
    INSERT INTO counterparties_fts (counterparties_fts, rowid, name, inn) VALUES ('delete', old.id, old.name, old.inn);
    INSERT INTO counterparties_fts (rowid, name, inn) VALUES (new.id, new.name, new.inn);
END;
INSERT INTO counterparties_fts (counterparties_fts) VALUES ('rebuild');
