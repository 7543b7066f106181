-- The lead search's index keys each trigram of a lead's search text together with the lead's calendar, as
-- PostgreSQL's does since its 0017: one key per (calendar, trigram), `leadgate_storage::search_key`, written in
-- hexadecimal as one word of the index. A manager's search asks for its trigrams in the calendars the manager
-- may see, so the index reads nothing of the others. The index before (0025) held the trigrams and a mark of
-- the calendar beside them: a search had to read every lead holding its trigrams, and then drop those of the
-- calendars the viewer may not see (a surname found only in another manager's calendar: 125,000 leads read
-- at a million, and none shown).
--
-- leadgate writes the keys of the leads it stores itself (the intake, and `db copy` into SQLite), computed in
-- Rust: in SQL they cost over ten times the index write itself. This migration computes them for the leads
-- stored before, and the trigger below for every later change of a lead's search text or calendar, with the same
-- formula: `((a * 2^42 + b * 2^21 + c) % P + calendar % P * 40503) % P` with `P = 2^31 - 1`, `a`, `b`, `c`
-- the code points of a trigram. `json_each` over an array of as many elements as the text has trigrams numbers
-- them (a trigger may not hold a recursive `WITH`).
--
-- The index holds no copy of the texts (content = ''), and a lead's keys are deleted by its id
-- (contentless_delete).
DROP TRIGGER leads_fts_insert;
DROP TRIGGER leads_fts_delete;
DROP TRIGGER leads_fts_update;
DROP TABLE leads_fts;

CREATE VIRTUAL TABLE leads_fts USING fts5(
    keys, content = '', contentless_delete = 1, tokenize = 'ascii', detail = none
);

CREATE TRIGGER leads_fts_delete AFTER DELETE ON leads BEGIN
    DELETE FROM leads_fts WHERE rowid = old.id;
END;
CREATE TRIGGER leads_fts_update AFTER UPDATE OF search_text, calendar_id ON leads BEGIN
    DELETE FROM leads_fts WHERE rowid = old.id;
    INSERT INTO leads_fts (rowid, keys)
    SELECT new.id, group_concat(printf('%x', ((unicode(substr(new.search_text, i.key + 1, 1)) * 4398046511104
                                                + unicode(substr(new.search_text, i.key + 2, 1)) * 2097152
                                                + unicode(substr(new.search_text, i.key + 3, 1))) % 2147483647
                                               + new.calendar_id % 2147483647 * 40503) % 2147483647), ' ')
    FROM json_each('[' || replace(hex(zeroblob(length(new.search_text) - 2)), '00', '0,') || '0]') AS i
    WHERE i.key < length(new.search_text) - 2;
END;

-- The leads stored before, through the trigger above (which writes nothing else: no other trigger watches the
-- search text).
UPDATE leads SET search_text = search_text;
