-- The trigram index of the leads' search texts carries each lead's calendar too, so that a manager's search
-- is narrowed to the calendars the manager may see inside the index. Before, a surname found only in another
-- manager's calendar (or a phone's digits, common to thousands of leads) had every one of its matches read
-- from the table to learn its calendar, and none shown.
--
-- The calendar is indexed as a mark of three characters from the Supplementary Private Use Area-A, one per
-- byte of its id and each byte from a block of its own (U+F0000, U+F0100, U+F0200), so that the mark is one
-- trigram of its own (`leadgate_sqlite`'s `calendar_mark` writes the same). The mark only narrows: the search
-- still tests every lead's calendar and text, so a text that happened to hold such characters, or two
-- calendars whose ids agree in their low 24 bits, are never shown wrongly.
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
        char(983040 + ((new.calendar_id >> 16) & 255), 983296 + ((new.calendar_id >> 8) & 255),
            983552 + (new.calendar_id & 255)));
END;
CREATE TRIGGER leads_fts_delete AFTER DELETE ON leads BEGIN
    INSERT INTO leads_fts (leads_fts, rowid, search_text, calendar) VALUES (
        'delete', old.id, old.search_text,
        char(983040 + ((old.calendar_id >> 16) & 255), 983296 + ((old.calendar_id >> 8) & 255),
            983552 + (old.calendar_id & 255)));
END;
CREATE TRIGGER leads_fts_update AFTER UPDATE OF search_text, calendar_id ON leads BEGIN
    INSERT INTO leads_fts (leads_fts, rowid, search_text, calendar) VALUES (
        'delete', old.id, old.search_text,
        char(983040 + ((old.calendar_id >> 16) & 255), 983296 + ((old.calendar_id >> 8) & 255),
            983552 + (old.calendar_id & 255)));
    INSERT INTO leads_fts (rowid, search_text, calendar) VALUES (
        new.id, new.search_text,
        char(983040 + ((new.calendar_id >> 16) & 255), 983296 + ((new.calendar_id >> 8) & 255),
            983552 + (new.calendar_id & 255)));
END;

INSERT INTO leads_fts (rowid, search_text, calendar)
SELECT id, search_text,
    char(983040 + ((calendar_id >> 16) & 255), 983296 + ((calendar_id >> 8) & 255),
        983552 + (calendar_id & 255))
FROM leads;
