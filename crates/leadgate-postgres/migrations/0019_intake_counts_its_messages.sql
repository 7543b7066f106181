-- The intake counts the ledger records of its batch in the health rollup itself, in its last statement, as it
-- has counted its leads since 0018, instead of the statement trigger on `messages` counting them at their
-- insert.
--
-- The batch's insert of its records updated the health rollup's row of the hour (`message_hours`, and through
-- it the day's, `message_days`), and that row stayed locked until the batch's commit: through the statements
-- after it (the idempotency keys, the count of the leads) and the commit's flush, every other writer's batch
-- of the same hour waited for it. Counted last, beside the leads, the rows are held only for that statement
-- and the commit.
--
-- A transaction that sets `leadgate.intake_counts` to `on` (0018) takes on the count of the records it
-- inserts as well: the insert trigger does not fire for it, and it calls `message_hours_add_new_messages(ids)`
-- with their ids once it wrote them. Every other insert of a record (`db copy`) is counted by the trigger, as
-- before; a change of a record (a reprocessing) by its row trigger.
DROP TRIGGER message_hours_insert ON messages;
CREATE TRIGGER message_hours_insert AFTER INSERT ON messages
    REFERENCING NEW TABLE AS new_messages
    FOR EACH STATEMENT WHEN (NOT intake_counts()) EXECUTE FUNCTION message_hours_of_new_messages();

-- The records `ids` (new in this transaction) counted in the health rollup: each row of their hour and key
-- gains their number, in one statement, the rows in key order (two writers lock them in the same order).
CREATE FUNCTION message_hours_add_new_messages(ids bigint[]) RETURNS void LANGUAGE sql AS $$
    INSERT INTO message_hours AS h (hour, channel, collector_id, http_source_id, outcome, messages)
    SELECT lead_hour(m.received_at), m.channel, COALESCE(m.collector_id, 0), COALESCE(m.http_source_id, 0),
           m.outcome, COUNT(*)
      FROM messages m
     WHERE m.id = ANY (ids)
     GROUP BY 1, 2, 3, 4, 5
     ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (hour, channel, collector_id, http_source_id, outcome)
    DO UPDATE SET messages = h.messages + EXCLUDED.messages
$$;
