-- Erasing a person's data on request (152-ФЗ). An erased lead stays for the statistics (calendar, kind,
-- status, dates, goods) with its personal fields blanked and `erased_at` set; the ledger records of erased
-- data lose their raw bytes and say when.
ALTER TABLE leads ADD COLUMN erased_at INTEGER;
ALTER TABLE messages ADD COLUMN erased_at INTEGER;

-- One row per erasure: what was erased (counts and ids), when and by whom. It never holds the phone, e-mail
-- or INN that was asked for, nor any other erased value: only which kind of value it was.
CREATE TABLE personal_data_erasures (
    id                 INTEGER PRIMARY KEY,
    erased_at          INTEGER NOT NULL,
    user_id            INTEGER REFERENCES users(id),   -- NULL: the command line
    actor              TEXT    NOT NULL,               -- the administrator's login, or 'command line'
    channel            TEXT    NOT NULL CHECK (channel IN ('ui', 'api', 'cli')),
    query_kind         TEXT    NOT NULL CHECK (query_kind IN ('phone', 'email', 'inn')),
    leads              INTEGER NOT NULL,
    messages           INTEGER NOT NULL,
    counterparties     INTEGER NOT NULL,               -- deleted
    renamed_counterparties INTEGER NOT NULL,           -- kept, but no longer named after the person
    contacts           INTEGER NOT NULL,               -- phones and e-mails deleted from counterparties
    lead_ids           TEXT    NOT NULL DEFAULT '[]',  -- JSON arrays of ids
    message_ids        TEXT    NOT NULL DEFAULT '[]',
    counterparty_ids   TEXT    NOT NULL DEFAULT '[]'
);
CREATE INDEX personal_data_erasures_by_time ON personal_data_erasures (erased_at);
