-- Every raw message now lives in `message_raw_parts` (seq 0, 1, ...), and `messages` says how it is
-- stored. Small ones are compressed (zstd) by the channel that received them: the ledger is most of the
-- database, and an inline raw message made each `messages` row take a page of its own.
ALTER TABLE messages ADD COLUMN raw_codec TEXT CHECK (raw_codec IN ('identity', 'zstd'));  -- NULL: no raw
ALTER TABLE messages ADD COLUMN raw_size INTEGER;                                          -- original bytes

-- What earlier versions stored inline becomes part 0, as it was received.
INSERT INTO message_raw_parts (message_id, seq, bytes)
    SELECT id, 0, raw FROM messages WHERE raw IS NOT NULL;
UPDATE messages
    SET raw_codec = 'identity',
        raw_size = (SELECT SUM(length(bytes)) FROM message_raw_parts p WHERE p.message_id = messages.id)
    WHERE raw IS NOT NULL;
ALTER TABLE messages DROP COLUMN raw;
