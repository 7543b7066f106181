-- A lead's search keys (0017) in time linear in its text's length.
--
-- The function read the text one character at a time with `substr(search_text, i, 1)`, and PostgreSQL finds the
-- i-th character of a UTF-8 text by walking from its start: the keys of a text of n characters took time in n².
-- It runs whenever a lead's text or calendar changes (a manager's correction, a move), and the intake takes a
-- text of up to a megabyte: a subject of 60,000 characters took 17 s to correct, one of 300,000 never finished
-- before the HTTP timeout, and the lead's row stayed locked meanwhile. Now the text becomes an array of its code
-- points once (a fixed-width array, whose i-th element is read in constant time), and the keys are read from
-- it. The keys are the same: leadgate computes them for the leads it inserts (`leadgate_postgres::search_keys`),
-- and a test compares both.
CREATE OR REPLACE FUNCTION lead_search_keys(calendar bigint, search_text text) RETURNS int4[]
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$
        WITH text_points AS (
            SELECT array_agg(ascii(c) ORDER BY n)::bigint[] AS p
            FROM unnest(string_to_array(search_text, NULL)) WITH ORDINALITY AS t(c, n)
        )
        SELECT ARRAY(
            SELECT DISTINCT ((p[i] * 4398046511104 + p[i + 1] * 2097152 + p[i + 2]) % 2147483647
                             + calendar % 2147483647 * 40503) % 2147483647
            FROM text_points, generate_series(1, cardinality(p) - 2) AS i
            ORDER BY 1
        )::int4[]
    $$;
