-- Layout files (ФайлыМакета) kept with their lead. Sites purge uploaded files, so leadgate downloads each
-- http(s) URL of a lead in the background and keeps the bytes here, in the database: they travel with its
-- backups and copies. The URL in `leads.layout_files` is never changed; this table only adds to it.
CREATE TABLE layout_files (
    id               INTEGER PRIMARY KEY,
    lead_id          INTEGER NOT NULL REFERENCES leads(id) ON DELETE CASCADE,
    position         INTEGER NOT NULL,                -- the URL's index in leads.layout_files
    url              TEXT    NOT NULL,
    state            TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'stored', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,      -- downloads started
    next_attempt_at  INTEGER NOT NULL DEFAULT 0,      -- ms; a started download holds the row until then
    error            TEXT,                            -- why the last attempt failed, in Russian, for the page
    file_name        TEXT,
    content_type     TEXT,
    size             INTEGER,
    content          BLOB,
    fetched_at       INTEGER,
    UNIQUE (lead_id, position)
);
-- The downloader's walk: due pending files, soonest first.
CREATE INDEX layout_files_due ON layout_files (next_attempt_at) WHERE state = 'pending';

-- Every new lead queues its http(s) layout files, whichever path inserted it (intake, reprocessing), in the
-- lead's own transaction: a lead is never committed without its downloads queued.
CREATE TRIGGER layout_files_of_a_new_lead AFTER INSERT ON leads
WHEN NEW.layout_files <> '[]' AND json_valid(NEW.layout_files)
BEGIN
    INSERT OR IGNORE INTO layout_files (lead_id, position, url)
    SELECT NEW.id, j.key, j.value
    FROM json_each(NEW.layout_files) AS j
    WHERE j.type = 'text'
      AND (lower(substr(j.value, 1, 7)) = 'http://' OR lower(substr(j.value, 1, 8)) = 'https://');
END;

-- A lead whose layout files are blanked (the erasure of a person's data) loses the downloaded files too.
CREATE TRIGGER layout_files_of_an_erased_lead AFTER UPDATE OF layout_files ON leads
WHEN NEW.layout_files = '[]'
BEGIN
    DELETE FROM layout_files WHERE lead_id = NEW.id;
END;

-- Leads of the last 30 days from before this version get their files too (older ones the sites have most
-- likely purged; asking for them all would only flood the sites with requests).
WITH recent AS MATERIALIZED (
    SELECT id, layout_files FROM leads
    WHERE layout_files <> '[]' AND json_valid(layout_files) AND erased_at IS NULL
      AND received_at >= (CAST(strftime('%s', 'now') AS INTEGER) - 30 * 86400) * 1000
)
INSERT OR IGNORE INTO layout_files (lead_id, position, url)
SELECT recent.id, j.key, j.value
FROM recent, json_each(recent.layout_files) AS j
WHERE j.type = 'text'
  AND (lower(substr(j.value, 1, 7)) = 'http://' OR lower(substr(j.value, 1, 8)) = 'https://');

-- Mailbox passwords typed in the UI, encrypted at rest (ChaCha20-Poly1305 with the key of [secrets], never
-- stored in the database). `bound_to` names the server and login the password was typed for
-- (protocol://user@host:port); it is also the cipher's associated data, so the password cannot be decrypted
-- for any other server, and leadgate deletes the row when the collector moves.
CREATE TABLE collector_passwords (
    collector_id  INTEGER PRIMARY KEY REFERENCES collectors(id) ON DELETE CASCADE,
    bound_to      TEXT    NOT NULL,
    nonce         BLOB    NOT NULL,
    ciphertext    BLOB    NOT NULL,
    updated_at    INTEGER NOT NULL
);
