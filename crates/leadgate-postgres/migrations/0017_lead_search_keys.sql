-- The lead search's index keys each trigram of a lead's search text together with the lead's calendar: one
-- integer per (calendar, trigram), `hashtext` of the calendar's id, a space and the trigram. A manager's search
-- asks for its trigrams in the calendars the manager may see, so the index hands out only matches in those
-- calendars, and reads nothing of the others. The index before (0015: `pg_trgm`'s trigrams beside the
-- calendar, through `btree_gin`) had to read the whole list of every calendar the manager may see (250,000
-- leads each at a million) beside the trigrams', since GIN intersects its keys' lists: a surname whose leads
-- were all in another branch's calendar took 19–23 ms to read from it, against well under a millisecond here.
-- Every trigram counts, not only those of letters and digits (`+79` of a phone's country code too). Two keys
-- may share an integer: the search still tests each lead's calendar and text itself.
--
-- `lead_search_keys` gives the keys of a lead; `lead_search_keys_in` those of one trigram in each of several
-- calendars, what a search asks the index for (`l.search_text`'s keys `&&` them). A trigram is three
-- characters, as `substr` counts them.
CREATE FUNCTION lead_search_keys(calendar bigint, search_text text) RETURNS int4[]
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$
        SELECT ARRAY(
            SELECT hashtext(calendar::text || ' ' || substr(search_text, i, 3))
            FROM generate_series(1, char_length(search_text) - 2) AS i
        )
    $$;

CREATE FUNCTION lead_search_keys_in(calendars bigint[], trigram text) RETURNS int4[]
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$
        SELECT ARRAY(SELECT hashtext(c::text || ' ' || trigram) FROM unnest(calendars) AS c)
    $$;

CREATE INDEX leads_search_keys ON leads USING gin (lead_search_keys(calendar_id, search_text));
DROP INDEX leads_search_by_calendar;
-- The planner estimates how many leads a search's keys find from the statistics of the index's expression,
-- which only an analysis gathers: without them it took a surname of one lead in a hundred for a common one,
-- and planned parallel workers whose start took longer than the index read.
ANALYZE leads;
