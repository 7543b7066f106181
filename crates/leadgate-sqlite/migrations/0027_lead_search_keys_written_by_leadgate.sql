-- A lead whose search text or calendar changes gets its new search keys from leadgate, not from the trigger.
--
-- The trigger of 0026 computed the keys in SQL, reading the text one character at a time with `substr`, and
-- SQLite finds the i-th character of a UTF-8 text by walking from its start: the keys of a text of n
-- characters took time in n². A manager's correction of a lead, or its move to another calendar, ran it, and
-- the intake takes a text of up to a megabyte: 1.7 s for 60,000 characters, minutes for a megabyte, all of it
-- holding the database's one write lock, so the intake waited too. leadgate now writes the new keys itself
-- where it changes a lead's text or calendar, in the same transaction, as it writes those of the leads it
-- inserts (in Rust, in time linear in the text's length); the trigger only deletes the old ones. A change
-- made by hand in SQL leaves the lead out of the search until leadgate writes it again.
DROP TRIGGER leads_fts_update;
CREATE TRIGGER leads_fts_update AFTER UPDATE OF search_text, calendar_id ON leads BEGIN
    DELETE FROM leads_fts WHERE rowid = old.id;
END;
