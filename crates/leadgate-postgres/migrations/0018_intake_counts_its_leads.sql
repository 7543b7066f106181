-- The intake counts the leads of its batch in the report rollup itself, in the last statement before its
-- commit, instead of the triggers on `leads` and `order_lines` counting them at each insert.
--
-- A batch's insert of its leads updated the rollup's row of the hour (`lead_hours`, and through it the day's,
-- `lead_days`), and that row stayed locked until the batch's commit: every statement after it, and the commit's
-- flush, held up the other writer's batch, whose leads fall in the same hour. Counted last, the row is held only
-- for that statement and the commit, and the two writers' batches are written side by side.
--
-- A transaction that sets `leadgate.intake_counts` to `on` (transaction-local) takes on the count of the leads
-- it inserts, and of their lines: the insert triggers leave them out, and the transaction calls
-- `lead_hours_add_new_leads(ids)` with their ids once it wrote them. Every other write (an edit, a move, a
-- reprocessing, a `db copy`) is counted by the triggers, as before; so is a change of such a lead made later in
-- the same transaction, which the intake never makes.
CREATE OR REPLACE FUNCTION intake_counts() RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT coalesce(current_setting('leadgate.intake_counts', true), '') = 'on'
$$;

CREATE OR REPLACE FUNCTION lead_hours_of_new_leads() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF intake_counts() THEN
        RETURN NULL;
    END IF;
    INSERT INTO lead_hours AS h (hour, calendar_id, channel, collector_id, http_source_id, kind, status,
                                 answered, leads, value)
    SELECT lead_hour(received_at), calendar_id, channel, COALESCE(collector_id, 0), COALESCE(http_source_id, 0),
           kind, status, first_action_at IS NOT NULL, COUNT(*), 0
      FROM new_leads
     GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
    ON CONFLICT (hour, calendar_id, channel, collector_id, http_source_id, kind, status, answered)
    DO UPDATE SET leads = h.leads + EXCLUDED.leads;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION lead_hours_of_new_lines() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF intake_counts() THEN
        RETURN NULL;
    END IF;
    UPDATE lead_hours h SET value = h.value + n.value
      FROM (SELECT lead_hour(l.received_at) AS hour, l.calendar_id, l.channel,
                   COALESCE(l.collector_id, 0) AS collector_id, COALESCE(l.http_source_id, 0) AS http_source_id,
                   l.kind, l.status, l.first_action_at IS NOT NULL AS answered, SUM(o.amount::numeric) AS value
              FROM new_lines o
              JOIN leads l ON l.id = o.lead_id
             WHERE o.amount IS NOT NULL AND o.removed_at IS NULL
             GROUP BY 1, 2, 3, 4, 5, 6, 7, 8) n
     WHERE h.hour = n.hour AND h.calendar_id = n.calendar_id AND h.channel = n.channel
       AND h.collector_id = n.collector_id AND h.http_source_id = n.http_source_id AND h.kind = n.kind
       AND h.status = n.status AND h.answered = n.answered;
    RETURN NULL;
END
$$;

-- The leads `ids` (new in this transaction, their lines written) counted in the rollup: each row of their
-- hour and key gains their number and the value of their lines, in one statement.
CREATE OR REPLACE FUNCTION lead_hours_add_new_leads(ids bigint[]) RETURNS void LANGUAGE sql AS $$
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
