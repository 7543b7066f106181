-- The lead search's trigram index carries each lead's calendar too (`btree_gin` gives GIN the integer's
-- operator class), so that a manager's search, `calendar_id = ANY(the calendars they may see) AND search_text
-- LIKE '%fragment%'`, leaves the matches in other calendars in the index: before, each of them was read from
-- the table and dropped there (a surname whose 125,000 leads of a million were all in another branch's
-- calendar: 0.36 s a query against 0.08 s). A search over every calendar reads the same index by its trigrams
-- alone. `btree_gin` ships with PostgreSQL and, as `pg_trgm`, is an extension the database's owner may create.
CREATE EXTENSION IF NOT EXISTS btree_gin;
CREATE INDEX leads_search_by_calendar ON leads USING gin (calendar_id, search_text gin_trgm_ops);
DROP INDEX leads_search_trgm;
