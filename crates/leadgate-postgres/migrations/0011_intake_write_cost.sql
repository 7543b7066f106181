-- What every new lead costs the server, cut where nothing reads or needs it.
--
-- A new lead's layout files are queued once per INSERT statement instead of once per row: the intake writes a
-- whole batch of leads in one statement, and the per-row trigger ran a PL/pgSQL call, a subtransaction and
-- its own INSERT for each lead. The rules are the same: only http(s) strings of a JSON array are queued, and a
-- lead whose value is not a JSON array queues nothing (should any lead of the statement hold text that is not
-- JSON at all, the statement's leads are queued one by one, as before).
DROP TRIGGER layout_files_of_a_new_lead ON leads;
DROP FUNCTION layout_files_of_a_new_lead();

CREATE FUNCTION layout_files_of_new_leads() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    lead record;
    files jsonb;
BEGIN
    BEGIN
        INSERT INTO layout_files (lead_id, position, url)
        SELECT n.id, j.ordinality - 1, j.value #>> '{}'
        FROM new_leads n
        CROSS JOIN LATERAL jsonb_array_elements(
            CASE WHEN jsonb_typeof(n.layout_files::jsonb) = 'array' THEN n.layout_files::jsonb ELSE '[]' END
        ) WITH ORDINALITY AS j(value, ordinality)
        WHERE n.layout_files <> '[]'
          AND jsonb_typeof(j.value) = 'string'
          AND (lower(substr(j.value #>> '{}', 1, 7)) = 'http://' OR lower(substr(j.value #>> '{}', 1, 8)) = 'https://')
        ON CONFLICT (lead_id, position) DO NOTHING;
    EXCEPTION WHEN others THEN
        FOR lead IN SELECT n.id, n.layout_files FROM new_leads n WHERE n.layout_files <> '[]' LOOP
            BEGIN
                files := lead.layout_files::jsonb;
            EXCEPTION WHEN others THEN
                CONTINUE;
            END;
            CONTINUE WHEN jsonb_typeof(files) <> 'array';
            INSERT INTO layout_files (lead_id, position, url)
            SELECT lead.id, j.ordinality - 1, j.value #>> '{}'
            FROM jsonb_array_elements(files) WITH ORDINALITY AS j(value, ordinality)
            WHERE jsonb_typeof(j.value) = 'string'
              AND (lower(substr(j.value #>> '{}', 1, 7)) = 'http://' OR lower(substr(j.value #>> '{}', 1, 8)) = 'https://')
            ON CONFLICT (lead_id, position) DO NOTHING;
        END LOOP;
    END;
    RETURN NULL;
END;
$$;
CREATE TRIGGER layout_files_of_new_leads AFTER INSERT ON leads
    REFERENCING NEW TABLE AS new_leads
    FOR EACH STATEMENT EXECUTE FUNCTION layout_files_of_new_leads();

-- The lead search is `search_text LIKE '%fragment%'`, served by `leads_search_trgm`; no query reads this
-- full-text index, and it stemmed every new lead's search text for nothing. (Counterparties keep theirs.)
DROP INDEX leads_search_russian;
