-- The ledger tells messages apart by content as well as by key, and remembers which record a duplicate
-- repeats; a collector may judge subjects itself instead of trusting the server's SEARCH.
--
-- `content_hash` is the hex SHA-256 of the raw message as received. Two messages sharing a Message-ID but
-- not their content are two records: the second is keyed by its Message-ID plus its hash. Records from
-- before this migration have none; when their raw message is kept, it is hashed the first time a message
-- with the same key arrives, else they match by key alone, as before.
ALTER TABLE messages ADD COLUMN content_hash TEXT;
-- For a duplicate: the record it repeats. Retention deletes a duplicate only when that record is imported.
ALTER TABLE messages ADD COLUMN duplicate_of INTEGER REFERENCES messages(id);
-- `server`: ask the server for matching subjects (`UID SEARCH SUBJECT`); `local`: read every new message's
-- subject and judge it here, for servers whose SEARCH does not decode RFC 2047.
ALTER TABLE collectors ADD COLUMN subject_filter TEXT NOT NULL DEFAULT 'server'
    CHECK (subject_filter IN ('server', 'local'));
