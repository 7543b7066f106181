-- Reports: the leads counted per hour, so a report over a year sums a few thousand rows per bucket instead of
-- walking every lead of the period (the same table as the SQLite backend's, kept by triggers the same way).
--
-- `lead_hours` holds, per UTC hour of receipt and per combination of what the reports group and filter by,
-- how many leads there are and the value of their order lines (the exact sum of the amounts of the lines not
-- removed). The hour, not the shop's day: storage never knows the shop's time zone (a report's buckets are
-- instants), and a local midnight is a whole UTC hour in every time zone whose offset is whole hours
-- (Moscow's, with or without summer time), so a report's buckets are sums of whole hours. A report whose
-- bounds are not whole hours reads the leads themselves, as before.
--
-- The rows are derived from `leads` and `order_lines` and kept true by the triggers below, in the same
-- transaction as every write that changes them, whichever code path writes. `collector_id` and
-- `http_source_id` are 0 where the lead has none (the key holds no NULLs), `answered` is TRUE once the lead
-- has a first manager action. A combination without leads has no row.
CREATE TABLE lead_hours (
    hour           BIGINT  NOT NULL,
    calendar_id    BIGINT  NOT NULL,
    channel        TEXT    NOT NULL,
    collector_id   BIGINT  NOT NULL,
    http_source_id BIGINT  NOT NULL,
    kind           TEXT    NOT NULL,
    status         TEXT    NOT NULL,
    answered       BOOLEAN NOT NULL,
    leads          BIGINT  NOT NULL,
    value          NUMERIC NOT NULL,
    PRIMARY KEY (hour, calendar_id, channel, collector_id, http_source_id, kind, status, answered)
);

-- The hour a time is in (floored, also before 1970).
CREATE FUNCTION lead_hour(t BIGINT) RETURNS BIGINT LANGUAGE sql IMMUTABLE AS $$
    SELECT t - ((t % 3600000) + 3600000) % 3600000
$$;

-- The value of a lead's lines now.
CREATE FUNCTION lead_lines_value(lead BIGINT) RETURNS NUMERIC LANGUAGE sql STABLE AS $$
    SELECT COALESCE(SUM(amount::numeric), 0) FROM order_lines
     WHERE lead_id = lead AND amount IS NOT NULL AND removed_at IS NULL
$$;

-- Adds leads and value to a row of `lead_hours` (a negative count takes them away; an emptied row goes).
CREATE FUNCTION lead_hours_add(received BIGINT, calendar BIGINT, chan TEXT, collector BIGINT, http_source BIGINT,
                               lead_kind TEXT, lead_status TEXT, is_answered BOOLEAN, n BIGINT, v NUMERIC)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO lead_hours AS h (hour, calendar_id, channel, collector_id, http_source_id, kind, status,
                                 answered, leads, value)
    VALUES (lead_hour(received), calendar, chan, COALESCE(collector, 0), COALESCE(http_source, 0), lead_kind,
            lead_status, is_answered, n, v)
    ON CONFLICT (hour, calendar_id, channel, collector_id, http_source_id, kind, status, answered)
    DO UPDATE SET leads = h.leads + EXCLUDED.leads, value = h.value + EXCLUDED.value;
    IF n < 0 THEN
        DELETE FROM lead_hours
         WHERE hour = lead_hour(received) AND calendar_id = calendar AND channel = chan
           AND collector_id = COALESCE(collector, 0) AND http_source_id = COALESCE(http_source, 0)
           AND kind = lead_kind AND status = lead_status AND answered = is_answered AND leads <= 0;
    END IF;
END
$$;

-- A new lead has no lines yet (they refer to it), so its value starts at 0; a lead whose key changes takes
-- its lines' value from its old row to its new one.
CREATE FUNCTION lead_hours_of_a_lead() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v NUMERIC := 0;
BEGIN
    IF TG_OP <> 'INSERT' THEN
        v := lead_lines_value(OLD.id);
        PERFORM lead_hours_add(OLD.received_at, OLD.calendar_id, OLD.channel, OLD.collector_id,
                               OLD.http_source_id, OLD.kind, OLD.status, OLD.first_action_at IS NOT NULL,
                               -1, -v);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO lead_hours AS h (hour, calendar_id, channel, collector_id, http_source_id, kind, status,
                                     answered, leads, value)
        VALUES (lead_hour(NEW.received_at), NEW.calendar_id, NEW.channel, COALESCE(NEW.collector_id, 0),
                COALESCE(NEW.http_source_id, 0), NEW.kind, NEW.status, NEW.first_action_at IS NOT NULL, 1, v)
        ON CONFLICT (hour, calendar_id, channel, collector_id, http_source_id, kind, status, answered)
        DO UPDATE SET leads = h.leads + 1, value = h.value + EXCLUDED.value;
    END IF;
    RETURN NULL;
END
$$;

-- New leads are counted once per statement, not once per row: the intake inserts a whole group of leads in
-- one statement, mostly of one key, and a row updated once per lead in one transaction would grow a chain of
-- versions that every later update of it walks.
CREATE FUNCTION lead_hours_of_new_leads() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
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

CREATE TRIGGER lead_hours_lead_insert AFTER INSERT ON leads
    REFERENCING NEW TABLE AS new_leads
    FOR EACH STATEMENT EXECUTE FUNCTION lead_hours_of_new_leads();
CREATE TRIGGER lead_hours_lead_update
    AFTER UPDATE OF received_at, calendar_id, channel, collector_id, http_source_id, kind, status, first_action_at
    ON leads FOR EACH ROW
    WHEN (OLD.received_at IS DISTINCT FROM NEW.received_at OR OLD.calendar_id IS DISTINCT FROM NEW.calendar_id
       OR OLD.channel IS DISTINCT FROM NEW.channel OR OLD.collector_id IS DISTINCT FROM NEW.collector_id
       OR OLD.http_source_id IS DISTINCT FROM NEW.http_source_id OR OLD.kind IS DISTINCT FROM NEW.kind
       OR OLD.status IS DISTINCT FROM NEW.status
       OR (OLD.first_action_at IS NULL) <> (NEW.first_action_at IS NULL))
    EXECUTE FUNCTION lead_hours_of_a_lead();
CREATE TRIGGER lead_hours_lead_delete AFTER DELETE ON leads
    FOR EACH ROW EXECUTE FUNCTION lead_hours_of_a_lead();

-- A line's amount counts in its lead's row while the line is not removed.
CREATE FUNCTION lead_hours_line_value(lead BIGINT, v NUMERIC) RETURNS void LANGUAGE sql AS $$
    UPDATE lead_hours h SET value = h.value + v
      FROM leads l
     WHERE l.id = lead AND h.hour = lead_hour(l.received_at) AND h.calendar_id = l.calendar_id
       AND h.channel = l.channel AND h.collector_id = COALESCE(l.collector_id, 0)
       AND h.http_source_id = COALESCE(l.http_source_id, 0) AND h.kind = l.kind AND h.status = l.status
       AND h.answered = (l.first_action_at IS NOT NULL)
$$;

CREATE FUNCTION lead_hours_of_a_line() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.amount IS NOT NULL AND OLD.removed_at IS NULL THEN
        PERFORM lead_hours_line_value(OLD.lead_id, -(OLD.amount::numeric));
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.amount IS NOT NULL AND NEW.removed_at IS NULL THEN
        PERFORM lead_hours_line_value(NEW.lead_id, NEW.amount::numeric);
    END IF;
    RETURN NULL;
END
$$;

-- New lines likewise, once per statement.
CREATE FUNCTION lead_hours_of_new_lines() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
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

CREATE TRIGGER lead_hours_line_insert AFTER INSERT ON order_lines
    REFERENCING NEW TABLE AS new_lines
    FOR EACH STATEMENT EXECUTE FUNCTION lead_hours_of_new_lines();
CREATE TRIGGER lead_hours_line_update AFTER UPDATE OF lead_id, amount, removed_at ON order_lines
    FOR EACH ROW
    WHEN (OLD.lead_id IS DISTINCT FROM NEW.lead_id OR OLD.amount IS DISTINCT FROM NEW.amount
       OR OLD.removed_at IS DISTINCT FROM NEW.removed_at)
    EXECUTE FUNCTION lead_hours_of_a_line();
CREATE TRIGGER lead_hours_line_delete AFTER DELETE ON order_lines
    FOR EACH ROW EXECUTE FUNCTION lead_hours_of_a_line();

-- The rows of the leads already stored.
INSERT INTO lead_hours (hour, calendar_id, channel, collector_id, http_source_id, kind, status, answered, leads,
                        value)
SELECT lead_hour(l.received_at), l.calendar_id, l.channel, COALESCE(l.collector_id, 0),
       COALESCE(l.http_source_id, 0), l.kind, l.status, l.first_action_at IS NOT NULL, COUNT(*),
       COALESCE(SUM(v.value), 0)
  FROM leads l
  LEFT JOIN (SELECT lead_id, SUM(amount::numeric) AS value FROM order_lines
              WHERE amount IS NOT NULL AND removed_at IS NULL GROUP BY lead_id) v ON v.lead_id = l.id
 GROUP BY 1, 2, 3, 4, 5, 6, 7, 8;

-- The intake's health per UTC hour, the same way: ledger records by channel, source and outcome
-- (`message_hours`), and collector runs by collector and whether they failed (`collector_run_hours`).
CREATE TABLE message_hours (
    hour           BIGINT NOT NULL,
    channel        TEXT   NOT NULL,
    collector_id   BIGINT NOT NULL,
    http_source_id BIGINT NOT NULL,
    outcome        TEXT   NOT NULL,
    messages       BIGINT NOT NULL,
    PRIMARY KEY (hour, channel, collector_id, http_source_id, outcome)
);

CREATE FUNCTION message_hours_add(received BIGINT, chan TEXT, collector BIGINT, http_source BIGINT,
                                  message_outcome TEXT, n BIGINT)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO message_hours AS h (hour, channel, collector_id, http_source_id, outcome, messages)
    VALUES (lead_hour(received), chan, COALESCE(collector, 0), COALESCE(http_source, 0), message_outcome, n)
    ON CONFLICT (hour, channel, collector_id, http_source_id, outcome)
    DO UPDATE SET messages = h.messages + EXCLUDED.messages;
    IF n < 0 THEN
        DELETE FROM message_hours
         WHERE hour = lead_hour(received) AND channel = chan AND collector_id = COALESCE(collector, 0)
           AND http_source_id = COALESCE(http_source, 0) AND outcome = message_outcome AND messages <= 0;
    END IF;
END
$$;

CREATE FUNCTION message_hours_of_a_message() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        PERFORM message_hours_add(OLD.received_at, OLD.channel, OLD.collector_id, OLD.http_source_id,
                                  OLD.outcome, -1);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO message_hours AS h (hour, channel, collector_id, http_source_id, outcome, messages)
        VALUES (lead_hour(NEW.received_at), NEW.channel, COALESCE(NEW.collector_id, 0),
                COALESCE(NEW.http_source_id, 0), NEW.outcome, 1)
        ON CONFLICT (hour, channel, collector_id, http_source_id, outcome)
        DO UPDATE SET messages = h.messages + 1;
    END IF;
    RETURN NULL;
END
$$;

-- New ledger records once per statement, as new leads.
CREATE FUNCTION message_hours_of_new_messages() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO message_hours AS h (hour, channel, collector_id, http_source_id, outcome, messages)
    SELECT lead_hour(received_at), channel, COALESCE(collector_id, 0), COALESCE(http_source_id, 0), outcome,
           COUNT(*)
      FROM new_messages
     GROUP BY 1, 2, 3, 4, 5
    ON CONFLICT (hour, channel, collector_id, http_source_id, outcome)
    DO UPDATE SET messages = h.messages + EXCLUDED.messages;
    RETURN NULL;
END
$$;

CREATE TRIGGER message_hours_insert AFTER INSERT ON messages
    REFERENCING NEW TABLE AS new_messages
    FOR EACH STATEMENT EXECUTE FUNCTION message_hours_of_new_messages();
CREATE TRIGGER message_hours_update AFTER UPDATE OF received_at, channel, collector_id, http_source_id, outcome
    ON messages FOR EACH ROW
    WHEN (OLD.received_at IS DISTINCT FROM NEW.received_at OR OLD.channel IS DISTINCT FROM NEW.channel
       OR OLD.collector_id IS DISTINCT FROM NEW.collector_id
       OR OLD.http_source_id IS DISTINCT FROM NEW.http_source_id OR OLD.outcome IS DISTINCT FROM NEW.outcome)
    EXECUTE FUNCTION message_hours_of_a_message();
CREATE TRIGGER message_hours_delete AFTER DELETE ON messages
    FOR EACH ROW EXECUTE FUNCTION message_hours_of_a_message();

INSERT INTO message_hours (hour, channel, collector_id, http_source_id, outcome, messages)
SELECT lead_hour(received_at), channel, COALESCE(collector_id, 0), COALESCE(http_source_id, 0), outcome,
       COUNT(*)
  FROM messages
 GROUP BY 1, 2, 3, 4, 5;

CREATE TABLE collector_run_hours (
    hour         BIGINT  NOT NULL,
    collector_id BIGINT  NOT NULL,
    failed       BOOLEAN NOT NULL,
    runs         BIGINT  NOT NULL,
    PRIMARY KEY (hour, collector_id, failed)
);

CREATE FUNCTION collector_run_hours_add(started BIGINT, collector BIGINT, run_failed BOOLEAN, n BIGINT)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO collector_run_hours AS h (hour, collector_id, failed, runs)
    VALUES (lead_hour(started), collector, run_failed, n)
    ON CONFLICT (hour, collector_id, failed) DO UPDATE SET runs = h.runs + EXCLUDED.runs;
    IF n < 0 THEN
        DELETE FROM collector_run_hours
         WHERE hour = lead_hour(started) AND collector_id = collector AND failed = run_failed AND runs <= 0;
    END IF;
END
$$;

CREATE FUNCTION collector_run_hours_of_a_run() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM collector_run_hours_add(OLD.started_at, OLD.collector_id, OLD.error IS NOT NULL, -1);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM collector_run_hours_add(NEW.started_at, NEW.collector_id, NEW.error IS NOT NULL, 1);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER collector_run_hours_insert AFTER INSERT ON collector_runs
    FOR EACH ROW EXECUTE FUNCTION collector_run_hours_of_a_run();
CREATE TRIGGER collector_run_hours_update AFTER UPDATE OF started_at, collector_id, error ON collector_runs
    FOR EACH ROW
    WHEN (OLD.started_at IS DISTINCT FROM NEW.started_at OR OLD.collector_id IS DISTINCT FROM NEW.collector_id
       OR (OLD.error IS NULL) <> (NEW.error IS NULL))
    EXECUTE FUNCTION collector_run_hours_of_a_run();
CREATE TRIGGER collector_run_hours_delete AFTER DELETE ON collector_runs
    FOR EACH ROW EXECUTE FUNCTION collector_run_hours_of_a_run();

INSERT INTO collector_run_hours (hour, collector_id, failed, runs)
SELECT lead_hour(started_at), collector_id, error IS NOT NULL, COUNT(*)
  FROM collector_runs
 GROUP BY 1, 2, 3;

-- The response-time report reads every answered lead of its period with who answered and when: with these
-- columns in a covering index of answered leads only, that is an index-only range walk (as on SQLite).
CREATE INDEX leads_answered ON leads (received_at, calendar_id, channel, kind, status, first_action_at, first_action_by)
    WHERE first_action_at IS NOT NULL;
