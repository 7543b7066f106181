-- The trigram index of the leads' search texts carries each lead's calendar too, so that a manager's search
-- is narrowed to the calendars the manager may see inside the index. Before, a surname found only in another
-- manager's calendar (or a phone's digits, common to thousands of leads) had every one of its matches read
-- from the table to learn its calendar, and none shown.
--
-- The calendar is indexed as a mark of three capital Latin letters, its id in base 26 (modulo 26^3), so that
-- the mark is one trigram. A search text is lower-cased when it is written, so it never holds a mark, and a
-- search key never asks for one: a search may ask for the leads without the marks of the calendars a viewer
-- may not see. Two calendars whose ids share a mark are told apart by the search itself (`leadgate_sqlite`'s
-- `calendar_mark` writes the same marks), which tests every lead's calendar as before.
--
-- The index holds no copy of the texts (content = ''): it is written by the triggers alone, with the values
-- they are given, and read for lead ids only.
DROP TRIGGER leads_fts_insert;
DROP TRIGGER leads_fts_delete;
DROP TRIGGER leads_fts_update;
DROP TABLE leads_fts;

CREATE VIRTUAL TABLE leads_fts USING fts5(
    search_text, calendar, content = '', tokenize = 'trigram case_sensitive 1', detail = none
);

CREATE TRIGGER leads_fts_insert AFTER INSERT ON leads BEGIN
    INSERT INTO leads_fts (rowid, search_text, calendar) VALUES (
        new.id, new.search_text,
        char(65 + (new.calendar_id / 676) % 26, 65 + (new.calendar_id / 26) % 26, 65 + new.calendar_id % 26));
END;
CREATE TRIGGER leads_fts_delete AFTER DELETE ON leads BEGIN
    INSERT INTO leads_fts (leads_fts, rowid, search_text, calendar) VALUES (
        'delete', old.id, old.search_text,
        char(65 + (old.calendar_id / 676) % 26, 65 + (old.calendar_id / 26) % 26, 65 + old.calendar_id % 26));
END;
CREATE TRIGGER leads_fts_update AFTER UPDATE OF search_text, calendar_id ON leads BEGIN
    INSERT INTO leads_fts (leads_fts, rowid, search_text, calendar) VALUES (
        'delete', old.id, old.search_text,
        char(65 + (old.calendar_id / 676) % 26, 65 + (old.calendar_id / 26) % 26, 65 + old.calendar_id % 26));
    INSERT INTO leads_fts (rowid, search_text, calendar) VALUES (
        new.id, new.search_text,
        char(65 + (new.calendar_id / 676) % 26, 65 + (new.calendar_id / 26) % 26, 65 + new.calendar_id % 26));
END;

INSERT INTO leads_fts (rowid, search_text, calendar)
SELECT id, search_text,
    char(65 + (calendar_id / 676) % 26, 65 + (calendar_id / 26) % 26, 65 + calendar_id % 26)
FROM leads;
