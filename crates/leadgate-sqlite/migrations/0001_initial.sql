-- leadgate schema, SQLite flavour. Times are Unix milliseconds (INTEGER) so both backends sort and compare
-- them the same way; money and sizes are decimal TEXT so they are never rounded through a float; lists that
-- are only ever read whole (warnings, layout files, CORS origins) are JSON TEXT.

-- People who sign in to the UI or call the read API.
CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    login         TEXT    NOT NULL UNIQUE,
    display_name  TEXT    NOT NULL,
    role          TEXT    NOT NULL CHECK (role IN ('admin', 'manager')),
    password_hash TEXT,                          -- argon2 PHC string; NULL = cannot sign in with a password
    ics_secret_hash TEXT,                        -- SHA-256 of the secret in the user's calendar feed URL
    created_at    INTEGER NOT NULL
);

-- Bearer tokens for the read API. Only the SHA-256 of the token is kept: tokens are 256-bit random values,
-- so a fast hash is enough and lookups stay O(1).
CREATE TABLE api_tokens (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id),
    name        TEXT    NOT NULL,
    token_hash  TEXT    NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);

-- A calendar with an owner is personal, without one it is common.
CREATE TABLE calendars (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    owner_id    INTEGER REFERENCES users(id),
    color       TEXT    NOT NULL DEFAULT '#3b82f6',
    created_at  INTEGER NOT NULL
);

-- A website (or a form on it) posting to the HTTP intake.
CREATE TABLE http_sources (
    id               INTEGER PRIMARY KEY,
    name             TEXT    NOT NULL UNIQUE,
    calendar_id      INTEGER NOT NULL REFERENCES calendars(id),
    token_hash       TEXT UNIQUE,                -- SHA-256 of the bearer token; NULL = revoked
    cors_origins     TEXT    NOT NULL DEFAULT '[]',
    auto_tech_cards  INTEGER NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL
);

-- Mail collectors of kind "site requests". The password itself is never stored: only where to read it.
CREATE TABLE collectors (
    id                   INTEGER PRIMARY KEY,
    name                 TEXT    NOT NULL UNIQUE,
    protocol             TEXT    NOT NULL CHECK (protocol IN ('imap', 'pop3')),
    host                 TEXT    NOT NULL,
    port                 INTEGER NOT NULL,
    tls                  TEXT    NOT NULL CHECK (tls IN ('implicit', 'starttls', 'none')),
    ca_file              TEXT,
    insecure_skip_verify INTEGER NOT NULL DEFAULT 0,
    username             TEXT    NOT NULL,
    password_env         TEXT,
    password_file        TEXT,
    folder               TEXT    NOT NULL DEFAULT 'INBOX',
    keyword              TEXT    NOT NULL DEFAULT 'ORDER',
    calendar_id          INTEGER NOT NULL REFERENCES calendars(id),
    default_charset      TEXT    NOT NULL DEFAULT 'windows-1251',
    after_import         TEXT    NOT NULL DEFAULT 'keep' CHECK (after_import IN ('keep', 'seen', 'move', 'delete')),
    move_to              TEXT,
    failed_folder        TEXT,
    delete_after_days    INTEGER,
    auto_tech_cards      INTEGER NOT NULL DEFAULT 0,
    deleted              INTEGER NOT NULL DEFAULT 0,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
);

-- Where an IMAP scan stopped, per collector and folder.
CREATE TABLE collector_state (
    collector_id  INTEGER NOT NULL REFERENCES collectors(id),
    folder        TEXT    NOT NULL,
    uid_validity  INTEGER NOT NULL,
    last_uid      INTEGER NOT NULL,
    PRIMARY KEY (collector_id, folder)
);

-- One row per collector per job run: what the administrator sees as "last run".
CREATE TABLE collector_runs (
    id            INTEGER PRIMARY KEY,
    collector_id  INTEGER NOT NULL REFERENCES collectors(id),
    started_at    INTEGER NOT NULL,
    finished_at   INTEGER,
    imported      INTEGER NOT NULL DEFAULT 0,
    duplicate     INTEGER NOT NULL DEFAULT 0,
    skipped       INTEGER NOT NULL DEFAULT 0,
    rejected      INTEGER NOT NULL DEFAULT 0,
    error         TEXT
);
CREATE INDEX collector_runs_by_collector ON collector_runs (collector_id, id);

-- Customers, found by INN. The UNIQUE constraint is what makes find-or-create safe under concurrency.
CREATE TABLE counterparties (
    id          INTEGER PRIMARY KEY,
    inn         TEXT    NOT NULL UNIQUE,
    inn_kind    TEXT    NOT NULL CHECK (inn_kind IN ('organisation', 'individual')),
    name        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TABLE counterparty_contacts (
    id               INTEGER PRIMARY KEY,
    counterparty_id  INTEGER NOT NULL REFERENCES counterparties(id),
    kind             TEXT    NOT NULL CHECK (kind IN ('phone', 'email')),
    value            TEXT    NOT NULL,
    UNIQUE (counterparty_id, kind, value)
);

-- The incoming calendar event: a contact lead or an order.
CREATE TABLE leads (
    id               INTEGER PRIMARY KEY,
    calendar_id      INTEGER NOT NULL REFERENCES calendars(id),
    kind             TEXT    NOT NULL CHECK (kind IN ('contact', 'order')),
    status           TEXT    NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'in_progress', 'done', 'rejected')),
    subject          TEXT,
    occurred_at      INTEGER,                    -- the payload's Дата
    received_at      INTEGER NOT NULL,
    starts_at        INTEGER NOT NULL,           -- occurred_at, else received_at: where the calendar shows it
    description      TEXT,
    contact_person   TEXT,
    phone            TEXT,
    phone_e164       TEXT,
    email            TEXT,
    inn              TEXT,                       -- as sent, valid or not
    counterparty_id  INTEGER REFERENCES counterparties(id),
    layout_files     TEXT    NOT NULL DEFAULT '[]',
    warnings         TEXT    NOT NULL DEFAULT '[]',
    channel          TEXT    NOT NULL CHECK (channel IN ('mail', 'http', 'file')),
    collector_id     INTEGER REFERENCES collectors(id),
    http_source_id   INTEGER REFERENCES http_sources(id),
    message_id       TEXT,
    external_number  TEXT,
    assignee_id      INTEGER REFERENCES users(id),
    search_text      TEXT    NOT NULL DEFAULT '',-- lower-cased subject, names, phone, INN, e-mail, number
    updated_at       INTEGER NOT NULL
);
CREATE INDEX leads_by_calendar_time ON leads (calendar_id, starts_at);
CREATE INDEX leads_by_status ON leads (status, id);
CREATE INDEX leads_by_counterparty ON leads (counterparty_id);
CREATE INDEX leads_by_starts_at ON leads (starts_at);

CREATE TABLE order_lines (
    id             INTEGER PRIMARY KEY,
    lead_id        INTEGER NOT NULL REFERENCES leads(id),
    position       INTEGER NOT NULL,
    nomenclature   TEXT,
    machine_code   TEXT,
    resolution     TEXT,
    material       TEXT,
    material_code  TEXT,
    width          TEXT,
    height         TEXT,
    quantity       TEXT,
    price          TEXT,
    amount         TEXT,
    is_service     INTEGER NOT NULL DEFAULT 0,
    UNIQUE (lead_id, position)
);

CREATE TABLE extra_works (
    id           INTEGER PRIMARY KEY,
    line_id      INTEGER NOT NULL REFERENCES order_lines(id),
    position     INTEGER NOT NULL,
    kind         TEXT,
    quantity     TEXT,
    description  TEXT
);
CREATE INDEX extra_works_by_line ON extra_works (line_id);

-- Production job tickets, one per non-service line. UNIQUE(line_id) makes forming them idempotent.
CREATE TABLE tech_cards (
    id              INTEGER PRIMARY KEY,
    number          TEXT    NOT NULL UNIQUE,
    lead_id         INTEGER NOT NULL REFERENCES leads(id),
    line_id         INTEGER NOT NULL UNIQUE REFERENCES order_lines(id),
    status          TEXT    NOT NULL DEFAULT 'new',
    area_per_piece  TEXT,
    total_area      TEXT,
    perimeter       TEXT,
    created_at      INTEGER NOT NULL
);
CREATE INDEX tech_cards_by_lead ON tech_cards (lead_id);

-- The message ledger: every message or request that reached leadgate, once, with its outcome. `source` is
-- 'collector:<id>', 'http:<id>' or 'file'; `ledger_key` is the Message-ID, else UIDVALIDITY+UID or UIDL.
-- HTTP requests have no ledger key (idempotency keys cover replays), so they never collide.
CREATE TABLE messages (
    id               INTEGER PRIMARY KEY,
    channel          TEXT    NOT NULL CHECK (channel IN ('mail', 'http', 'file')),
    source           TEXT    NOT NULL,
    collector_id     INTEGER REFERENCES collectors(id),
    http_source_id   INTEGER REFERENCES http_sources(id),
    ledger_key       TEXT,                       -- NULL for HTTP requests and for duplicate copies
    mailbox_key      TEXT,                       -- UIDVALIDITY:UID or UIDL: where the copy sits in the mailbox
    message_id       TEXT,
    external_number  TEXT,
    outcome          TEXT    NOT NULL CHECK (outcome IN ('imported', 'duplicate', 'skipped', 'rejected', 'discarded')),
    reason           TEXT,
    lead_id          INTEGER REFERENCES leads(id),
    raw              BLOB,                       -- kept for imported and rejected messages
    content_type     TEXT,
    received_at      INTEGER NOT NULL,
    UNIQUE (source, ledger_key)
);
CREATE INDEX messages_by_outcome ON messages (outcome, id);
CREATE INDEX messages_by_mailbox_key ON messages (source, mailbox_key);

-- HTTP Idempotency-Key: the first response, replayed for the same key and body.
CREATE TABLE idempotency_keys (
    http_source_id  INTEGER NOT NULL REFERENCES http_sources(id),
    key             TEXT    NOT NULL,
    body_hash       TEXT    NOT NULL,
    lead_id         INTEGER NOT NULL REFERENCES leads(id),
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (http_source_id, key)
);
