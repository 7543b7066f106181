-- The intake counts the leads of its batch in the report rollup itself, in the last statement before its
-- commit, instead of the triggers on `leads` and `order_lines` counting them at each insert.
--
-- A batch's insert of its leads updated the rollup's row of the hour (`lead_hours`, and through it the day's,
-- `lead_days`), and that row stayed locked until the batch's commit: every statement after it, and the commit's
-- flush, held up the other writer's batch, whose leads fall in the same hour. Counted last, the row is held only
-- for that statement and the commit, and the two writers' batches are written side by side.
--
-- A transaction that sets `leadgate.intake_counts` to `on` (transaction-local) takes on the count of the leads
-- it inserts, and of their lines: the insert triggers do not fire for it, and the transaction calls
-- `lead_hours_add_new_leads(ids)` with their ids once it wrote them. Every other write (an edit, a move, a
-- reprocessing, a `db copy`) is counted by the triggers, as before; so is a change of such a lead made later in
-- the same transaction, which the intake never makes.
CREATE FUNCTION intake_counts() RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT coalesce(current_setting('leadgate.intake_counts', true), '') = 'on'
$$;

DROP TRIGGER lead_hours_lead_insert ON leads;
CREATE TRIGGER lead_hours_lead_insert AFTER INSERT ON leads
    REFERENCING NEW TABLE AS new_leads
    FOR EACH STATEMENT WHEN (NOT intake_counts()) EXECUTE FUNCTION lead_hours_of_new_leads();
DROP TRIGGER lead_hours_line_insert ON order_lines;
CREATE TRIGGER lead_hours_line_insert AFTER INSERT ON order_lines
    REFERENCING NEW TABLE AS new_lines
    FOR EACH STATEMENT WHEN (NOT intake_counts()) EXECUTE FUNCTION lead_hours_of_new_lines();

-- The leads `ids` (new in this transaction, their lines written) counted in the rollup: each row of their
-- hour and key gains their number and the value of their lines, in one statement, the rows in key order (two
-- writers lock them in the same order).
CREATE FUNCTION lead_hours_add_new_leads(ids bigint[]) RETURNS void LANGUAGE sql AS $$
    INSERT INTO lead_hours AS h (hour, calendar_id, channel, collector_id, http_source_id, kind, status,
                                 answered, leads, value)
    SELECT lead_hour(l.received_at), l.calendar_id, l.channel, COALESCE(l.collector_id, 0),
           COALESCE(l.http_source_id, 0), l.kind, l.status, l.first_action_at IS NOT NULL, COUNT(*),
           COALESCE(SUM(v.value), 0)
      FROM leads l
      LEFT JOIN (SELECT lead_id, SUM(amount::numeric) AS value FROM order_lines
                  WHERE lead_id = ANY (ids) AND amount IS NOT NULL AND removed_at IS NULL
                  GROUP BY lead_id) v ON v.lead_id = l.id
     WHERE l.id = ANY (ids)
     GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
     ORDER BY 1, 2, 3, 4, 5, 6, 7, 8
    ON CONFLICT (hour, calendar_id, channel, collector_id, http_source_id, kind, status, answered)
    DO UPDATE SET leads = h.leads + EXCLUDED.leads, value = h.value + EXCLUDED.value
$$;
