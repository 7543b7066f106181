-- Collector bookkeeping beyond the initial schema: ledger records by source and time, for the POP3 retention
-- sweep (which judges a message's age by when the ledger recorded it).
CREATE INDEX messages_by_source_received ON messages (source, received_at);
