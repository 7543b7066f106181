-- The lead search's index keys each trigram of a lead's search text together with the lead's calendar: one
-- integer per (calendar, trigram), in the new column `leads.search_keys`. A manager's search asks for its
-- trigrams in the calendars the manager may see, so the index hands out only matches in those calendars and
-- reads nothing of the others. The index before (0015: `pg_trgm`'s trigrams beside the calendar, through
-- `btree_gin`) had to read the whole list of every calendar the manager may see (250,000 leads each at a
-- million) beside the trigrams', since GIN intersects its keys' lists: a surname whose leads were all in
-- another branch's calendar took 19–23 ms to read from it, against a tenth of a millisecond here. Every
-- trigram counts, not only those of letters and digits (`+79` of a phone's country code too). Two keys may
-- share an integer: the search still tests each lead's calendar and text itself.
--
-- A trigram's key is its three characters' code points `a`, `b`, `c` and the calendar's id:
-- `((a * 2^42 + b * 2^21 + c) % P + calendar % P * 40503) % P` with `P = 2^31 - 1`. leadgate computes the keys
-- of the leads it writes itself (`leadgate_postgres::search_keys`), which costs PostgreSQL nothing; this
-- function computes the same for the rows written otherwise: those inserted without keys (a `db copy`, which
-- copies no derived column), every change of a lead's calendar or search text, and the leads stored before.
CREATE FUNCTION lead_search_keys(calendar bigint, search_text text) RETURNS int4[]
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$
        SELECT ARRAY(
            SELECT DISTINCT ((ascii(substr(search_text, i, 1))::bigint * 4398046511104
                              + ascii(substr(search_text, i + 1, 1))::bigint * 2097152
                              + ascii(substr(search_text, i + 2, 1))) % 2147483647
                             + calendar % 2147483647 * 40503) % 2147483647
            FROM generate_series(1, char_length(search_text) - 2) AS i
            ORDER BY 1
        )::int4[]
    $$;

CREATE FUNCTION leads_search_keys() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
    BEGIN
        NEW.search_keys := lead_search_keys(NEW.calendar_id, NEW.search_text);
        RETURN NEW;
    END
    $$;

ALTER TABLE leads ADD COLUMN search_keys int4[];
UPDATE leads SET search_keys = lead_search_keys(calendar_id, search_text);
ALTER TABLE leads ALTER COLUMN search_keys SET NOT NULL;

CREATE TRIGGER leads_search_keys_written BEFORE INSERT ON leads
    FOR EACH ROW WHEN (NEW.search_keys IS NULL) EXECUTE FUNCTION leads_search_keys();
CREATE TRIGGER leads_search_keys_changed BEFORE UPDATE OF calendar_id, search_text ON leads
    FOR EACH ROW EXECUTE FUNCTION leads_search_keys();

CREATE INDEX leads_search_keys ON leads USING gin (search_keys);
DROP INDEX leads_search_by_calendar;
-- The planner estimates how many leads a search's keys find from the column's statistics, which only an
-- analysis gathers: without them it took a surname of one lead in a hundred for a common one, and planned
-- parallel workers whose start took longer than the index read.
ANALYZE leads;
