-- A text search finds leads by any fragment of their search text (a phone's digits, part of a surname or of
-- an e-mail), which no ordinary index serves: without one, every search read the whole table. FTS5's trigram
-- tokenizer indexes every three consecutive characters, so a fragment of three characters or more is found
-- as a phrase of trigrams (a substring) from the index. The search text is already lower-cased, and the
-- search lower-cases its fragment the same way, so the index compares exactly (case_sensitive 1), as the
-- `LIKE` that still decides each match does. An external-content table kept in step by triggers, like the
-- counterparties' index: the intake's inserts need no change.
CREATE VIRTUAL TABLE leads_fts USING fts5(
    search_text, content = 'leads', content_rowid = 'id', tokenize = 'trigram case_sensitive 1'
);
CREATE TRIGGER leads_fts_insert AFTER INSERT ON leads BEGIN
    INSERT INTO leads_fts (rowid, search_text) VALUES (new.id, new.search_text);
END;
CREATE TRIGGER leads_fts_delete AFTER DELETE ON leads BEGIN
    INSERT INTO leads_fts (leads_fts, rowid, search_text) VALUES ('delete', old.id, old.search_text);
END;
CREATE TRIGGER leads_fts_update AFTER UPDATE OF search_text ON leads BEGIN
    INSERT INTO leads_fts (leads_fts, rowid, search_text) VALUES ('delete', old.id, old.search_text);
    INSERT INTO leads_fts (rowid, search_text) VALUES (new.id, new.search_text);
END;
INSERT INTO leads_fts (leads_fts) VALUES ('rebuild');

-- The response-time report reads every answered lead of its period with who answered and when: with these
-- columns in a covering index of answered leads only, that is a range walk of the index, not a table read
-- per lead.
CREATE INDEX leads_answered ON leads (received_at, calendar_id, channel, kind, status, first_action_at, first_action_by)
    WHERE first_action_at IS NOT NULL;
