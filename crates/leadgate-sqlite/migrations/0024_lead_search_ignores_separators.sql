-- A lead search leaves out spaces, tabs, no-break spaces, hyphens, dots and brackets, of the stored search
-- text and of the searched fragment alike (`leadgate_storage::SEARCH_IGNORED`), so that a phone is found
-- however it was written or typed: `916 123`, `(916) 123 45 67` and `9161234567` all find
-- `+7 (916) 123-45-67`. It also lets the trigram index narrow a phone search to the leads holding its digits
-- together, where the digits' groups, each common to many phones, were looked up apart. The texts stored
-- before lose the same characters here; the trigram index is rebuilt from them once, not lead by lead.
DROP TRIGGER leads_fts_update;
UPDATE leads SET search_text = replace(replace(replace(replace(replace(replace(replace(
    search_text, ' ', ''), char(9), ''), char(160), ''), '-', ''), '.', ''), '(', ''), ')', '');
CREATE TRIGGER leads_fts_update AFTER UPDATE OF search_text ON leads BEGIN
    INSERT INTO leads_fts (leads_fts, rowid, search_text) VALUES ('delete', old.id, old.search_text);
    INSERT INTO leads_fts (rowid, search_text) VALUES (new.id, new.search_text);
END;
INSERT INTO leads_fts (leads_fts) VALUES ('rebuild');
