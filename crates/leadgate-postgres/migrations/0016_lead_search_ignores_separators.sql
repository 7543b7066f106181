-- A lead search leaves out spaces, tabs, no-break spaces, hyphens, dots and brackets, of the stored search
-- text and of the searched fragment alike (`leadgate_storage::SEARCH_IGNORED`), so that a phone is found
-- however it was written or typed: `916 123`, `(916) 123 45 67` and `9161234567` all find
-- `+7 (916) 123-45-67`. It also lets the trigram index narrow a phone search to the leads holding its digits
-- together: `pg_trgm` split `916 123` into two words, each common to many phones. The texts stored before lose
-- the same characters here; the trigram index is built once from them, not updated lead by lead.
DROP INDEX leads_search_by_calendar;
UPDATE leads SET search_text = translate(search_text, ' ' || chr(9) || chr(160) || '-.()', '')
WHERE search_text <> translate(search_text, ' ' || chr(9) || chr(160) || '-.()', '');
CREATE INDEX leads_search_by_calendar ON leads USING gin (calendar_id, search_text gin_trgm_ops);
