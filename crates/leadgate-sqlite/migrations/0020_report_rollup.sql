-- Reports: the leads counted per hour, so a report over a year sums a few thousand rows per bucket instead of
-- walking every lead of the period.
--
-- `lead_hours` holds, per UTC hour of receipt and per combination of what the reports group and filter by,
-- how many leads there are and the value of their order lines (the sum of the amounts of the lines not
-- removed). The hour, not the shop's day: storage never knows the shop's time zone (a report's buckets are
-- instants), and a local midnight is a whole UTC hour in every time zone whose offset is whole hours
-- (Moscow's, with or without summer time), so a report's buckets are sums of whole hours. A report whose
-- bounds are not whole hours reads the leads themselves, as before.
--
-- The rows are derived from `leads` and `order_lines` and kept true by the triggers below, in the same
-- transaction as every write that changes them (a new lead, a status change, the first manager action, a
-- move between calendars, a kind changed by editing the lines, a line added, changed or removed), whichever
-- code path writes. `collector_id` and `http_source_id` are 0 where the lead has none (the key cannot hold
-- NULLs), `answered` is 1 once the lead has a first manager action. A combination without leads has no row.
CREATE TABLE lead_hours (
    hour           INTEGER NOT NULL,    -- the UTC hour of receipt, ms since the epoch
    calendar_id    INTEGER NOT NULL,
    channel        TEXT    NOT NULL,
    collector_id   INTEGER NOT NULL,
    http_source_id INTEGER NOT NULL,
    kind           TEXT    NOT NULL,
    status         TEXT    NOT NULL,
    answered       INTEGER NOT NULL,
    leads          INTEGER NOT NULL,
    value          REAL    NOT NULL,    -- the lines' amounts summed as doubles, as the report always summed them
    PRIMARY KEY (hour, calendar_id, channel, collector_id, http_source_id, kind, status, answered)
) WITHOUT ROWID;

-- A lead counts in the hour of its receipt (floored, also before 1970).
CREATE TRIGGER lead_hours_lead_insert AFTER INSERT ON leads BEGIN
    INSERT INTO lead_hours (hour, calendar_id, channel, collector_id, http_source_id, kind, status, answered,
                            leads, value)
    VALUES (new.received_at - ((new.received_at % 3600000) + 3600000) % 3600000, new.calendar_id, new.channel,
            COALESCE(new.collector_id, 0), COALESCE(new.http_source_id, 0), new.kind, new.status,
            new.first_action_at IS NOT NULL, 1,
            (SELECT COALESCE(SUM(CAST(ol.amount AS REAL)), 0) FROM order_lines ol
              WHERE ol.lead_id = new.id AND ol.amount IS NOT NULL AND ol.removed_at IS NULL))
    ON CONFLICT (hour, calendar_id, channel, collector_id, http_source_id, kind, status, answered)
    DO UPDATE SET leads = leads + excluded.leads, value = value + excluded.value;
END;

-- A lead whose key changes leaves its old row (with its lines' value) for the new one.
CREATE TRIGGER lead_hours_lead_update
AFTER UPDATE OF received_at, calendar_id, channel, collector_id, http_source_id, kind, status, first_action_at
ON leads
WHEN old.received_at IS NOT new.received_at OR old.calendar_id IS NOT new.calendar_id
  OR old.channel IS NOT new.channel OR old.collector_id IS NOT new.collector_id
  OR old.http_source_id IS NOT new.http_source_id OR old.kind IS NOT new.kind OR old.status IS NOT new.status
  OR (old.first_action_at IS NULL) <> (new.first_action_at IS NULL)
BEGIN
    UPDATE lead_hours
       SET leads = leads - 1,
           value = value - (SELECT COALESCE(SUM(CAST(ol.amount AS REAL)), 0) FROM order_lines ol
                             WHERE ol.lead_id = old.id AND ol.amount IS NOT NULL AND ol.removed_at IS NULL)
     WHERE hour = old.received_at - ((old.received_at % 3600000) + 3600000) % 3600000
       AND calendar_id = old.calendar_id AND channel = old.channel
       AND collector_id = COALESCE(old.collector_id, 0) AND http_source_id = COALESCE(old.http_source_id, 0)
       AND kind = old.kind AND status = old.status AND answered = (old.first_action_at IS NOT NULL);
    DELETE FROM lead_hours
     WHERE hour = old.received_at - ((old.received_at % 3600000) + 3600000) % 3600000
       AND calendar_id = old.calendar_id AND channel = old.channel
       AND collector_id = COALESCE(old.collector_id, 0) AND http_source_id = COALESCE(old.http_source_id, 0)
       AND kind = old.kind AND status = old.status AND answered = (old.first_action_at IS NOT NULL)
       AND leads <= 0;
    INSERT INTO lead_hours (hour, calendar_id, channel, collector_id, http_source_id, kind, status, answered,
                            leads, value)
    VALUES (new.received_at - ((new.received_at % 3600000) + 3600000) % 3600000, new.calendar_id, new.channel,
            COALESCE(new.collector_id, 0), COALESCE(new.http_source_id, 0), new.kind, new.status,
            new.first_action_at IS NOT NULL, 1,
            (SELECT COALESCE(SUM(CAST(ol.amount AS REAL)), 0) FROM order_lines ol
              WHERE ol.lead_id = new.id AND ol.amount IS NOT NULL AND ol.removed_at IS NULL))
    ON CONFLICT (hour, calendar_id, channel, collector_id, http_source_id, kind, status, answered)
    DO UPDATE SET leads = leads + excluded.leads, value = value + excluded.value;
END;

CREATE TRIGGER lead_hours_lead_delete AFTER DELETE ON leads BEGIN
    UPDATE lead_hours
       SET leads = leads - 1,
           value = value - (SELECT COALESCE(SUM(CAST(ol.amount AS REAL)), 0) FROM order_lines ol
                             WHERE ol.lead_id = old.id AND ol.amount IS NOT NULL AND ol.removed_at IS NULL)
     WHERE hour = old.received_at - ((old.received_at % 3600000) + 3600000) % 3600000
       AND calendar_id = old.calendar_id AND channel = old.channel
       AND collector_id = COALESCE(old.collector_id, 0) AND http_source_id = COALESCE(old.http_source_id, 0)
       AND kind = old.kind AND status = old.status AND answered = (old.first_action_at IS NOT NULL);
    DELETE FROM lead_hours
     WHERE hour = old.received_at - ((old.received_at % 3600000) + 3600000) % 3600000
       AND calendar_id = old.calendar_id AND channel = old.channel
       AND collector_id = COALESCE(old.collector_id, 0) AND http_source_id = COALESCE(old.http_source_id, 0)
       AND kind = old.kind AND status = old.status AND answered = (old.first_action_at IS NOT NULL)
       AND leads <= 0;
END;

-- A line's amount counts in its lead's row while the line is not removed.
CREATE TRIGGER lead_hours_line_insert AFTER INSERT ON order_lines
WHEN new.amount IS NOT NULL AND new.removed_at IS NULL
BEGIN
    UPDATE lead_hours SET value = value + CAST(new.amount AS REAL)
     WHERE (hour, calendar_id, channel, collector_id, http_source_id, kind, status, answered) =
           (SELECT l.received_at - ((l.received_at % 3600000) + 3600000) % 3600000, l.calendar_id, l.channel,
                   COALESCE(l.collector_id, 0), COALESCE(l.http_source_id, 0), l.kind, l.status,
                   l.first_action_at IS NOT NULL
              FROM leads l WHERE l.id = new.lead_id);
END;

CREATE TRIGGER lead_hours_line_update AFTER UPDATE OF lead_id, amount, removed_at ON order_lines
WHEN old.lead_id IS NOT new.lead_id OR old.amount IS NOT new.amount OR old.removed_at IS NOT new.removed_at
BEGIN
    UPDATE lead_hours SET value = value - CAST(old.amount AS REAL)
     WHERE old.amount IS NOT NULL AND old.removed_at IS NULL
       AND (hour, calendar_id, channel, collector_id, http_source_id, kind, status, answered) =
           (SELECT l.received_at - ((l.received_at % 3600000) + 3600000) % 3600000, l.calendar_id, l.channel,
                   COALESCE(l.collector_id, 0), COALESCE(l.http_source_id, 0), l.kind, l.status,
                   l.first_action_at IS NOT NULL
              FROM leads l WHERE l.id = old.lead_id);
    UPDATE lead_hours SET value = value + CAST(new.amount AS REAL)
     WHERE new.amount IS NOT NULL AND new.removed_at IS NULL
       AND (hour, calendar_id, channel, collector_id, http_source_id, kind, status, answered) =
           (SELECT l.received_at - ((l.received_at % 3600000) + 3600000) % 3600000, l.calendar_id, l.channel,
                   COALESCE(l.collector_id, 0), COALESCE(l.http_source_id, 0), l.kind, l.status,
                   l.first_action_at IS NOT NULL
              FROM leads l WHERE l.id = new.lead_id);
END;

CREATE TRIGGER lead_hours_line_delete AFTER DELETE ON order_lines
WHEN old.amount IS NOT NULL AND old.removed_at IS NULL
BEGIN
    UPDATE lead_hours SET value = value - CAST(old.amount AS REAL)
     WHERE (hour, calendar_id, channel, collector_id, http_source_id, kind, status, answered) =
           (SELECT l.received_at - ((l.received_at % 3600000) + 3600000) % 3600000, l.calendar_id, l.channel,
                   COALESCE(l.collector_id, 0), COALESCE(l.http_source_id, 0), l.kind, l.status,
                   l.first_action_at IS NOT NULL
              FROM leads l WHERE l.id = old.lead_id);
END;

-- The rows of the leads already stored.
INSERT INTO lead_hours (hour, calendar_id, channel, collector_id, http_source_id, kind, status, answered, leads,
                        value)
SELECT l.received_at - ((l.received_at % 3600000) + 3600000) % 3600000, l.calendar_id, l.channel,
       COALESCE(l.collector_id, 0), COALESCE(l.http_source_id, 0), l.kind, l.status,
       l.first_action_at IS NOT NULL, COUNT(*), COALESCE(SUM(v.value), 0)
  FROM leads l
  LEFT JOIN (SELECT lead_id, SUM(CAST(amount AS REAL)) AS value FROM order_lines
              WHERE amount IS NOT NULL AND removed_at IS NULL GROUP BY lead_id) v ON v.lead_id = l.id
 GROUP BY 1, 2, 3, 4, 5, 6, 7, 8;

-- The intake's health per UTC hour, the same way: ledger records by channel, source and outcome
-- (`message_hours`), and collector runs by collector and whether they failed (`collector_run_hours`).
CREATE TABLE message_hours (
    hour           INTEGER NOT NULL,
    channel        TEXT    NOT NULL,
    collector_id   INTEGER NOT NULL,
    http_source_id INTEGER NOT NULL,
    outcome        TEXT    NOT NULL,
    messages       INTEGER NOT NULL,
    PRIMARY KEY (hour, channel, collector_id, http_source_id, outcome)
) WITHOUT ROWID;

CREATE TRIGGER message_hours_insert AFTER INSERT ON messages BEGIN
    INSERT INTO message_hours (hour, channel, collector_id, http_source_id, outcome, messages)
    VALUES (new.received_at - ((new.received_at % 3600000) + 3600000) % 3600000, new.channel,
            COALESCE(new.collector_id, 0), COALESCE(new.http_source_id, 0), new.outcome, 1)
    ON CONFLICT (hour, channel, collector_id, http_source_id, outcome)
    DO UPDATE SET messages = messages + 1;
END;

CREATE TRIGGER message_hours_update
AFTER UPDATE OF received_at, channel, collector_id, http_source_id, outcome ON messages
WHEN old.received_at IS NOT new.received_at OR old.channel IS NOT new.channel
  OR old.collector_id IS NOT new.collector_id OR old.http_source_id IS NOT new.http_source_id
  OR old.outcome IS NOT new.outcome
BEGIN
    UPDATE message_hours SET messages = messages - 1
     WHERE hour = old.received_at - ((old.received_at % 3600000) + 3600000) % 3600000
       AND channel = old.channel AND collector_id = COALESCE(old.collector_id, 0)
       AND http_source_id = COALESCE(old.http_source_id, 0) AND outcome = old.outcome;
    DELETE FROM message_hours
     WHERE hour = old.received_at - ((old.received_at % 3600000) + 3600000) % 3600000
       AND channel = old.channel AND collector_id = COALESCE(old.collector_id, 0)
       AND http_source_id = COALESCE(old.http_source_id, 0) AND outcome = old.outcome AND messages <= 0;
    INSERT INTO message_hours (hour, channel, collector_id, http_source_id, outcome, messages)
    VALUES (new.received_at - ((new.received_at % 3600000) + 3600000) % 3600000, new.channel,
            COALESCE(new.collector_id, 0), COALESCE(new.http_source_id, 0), new.outcome, 1)
    ON CONFLICT (hour, channel, collector_id, http_source_id, outcome)
    DO UPDATE SET messages = messages + 1;
END;

CREATE TRIGGER message_hours_delete AFTER DELETE ON messages BEGIN
    UPDATE message_hours SET messages = messages - 1
     WHERE hour = old.received_at - ((old.received_at % 3600000) + 3600000) % 3600000
       AND channel = old.channel AND collector_id = COALESCE(old.collector_id, 0)
       AND http_source_id = COALESCE(old.http_source_id, 0) AND outcome = old.outcome;
    DELETE FROM message_hours
     WHERE hour = old.received_at - ((old.received_at % 3600000) + 3600000) % 3600000
       AND channel = old.channel AND collector_id = COALESCE(old.collector_id, 0)
       AND http_source_id = COALESCE(old.http_source_id, 0) AND outcome = old.outcome AND messages <= 0;
END;

INSERT INTO message_hours (hour, channel, collector_id, http_source_id, outcome, messages)
SELECT received_at - ((received_at % 3600000) + 3600000) % 3600000, channel, COALESCE(collector_id, 0),
       COALESCE(http_source_id, 0), outcome, COUNT(*)
  FROM messages
 GROUP BY 1, 2, 3, 4, 5;

CREATE TABLE collector_run_hours (
    hour         INTEGER NOT NULL,
    collector_id INTEGER NOT NULL,
    failed       INTEGER NOT NULL,  -- 1: the run ended with an error
    runs         INTEGER NOT NULL,
    PRIMARY KEY (hour, collector_id, failed)
) WITHOUT ROWID;

CREATE TRIGGER collector_run_hours_insert AFTER INSERT ON collector_runs BEGIN
    INSERT INTO collector_run_hours (hour, collector_id, failed, runs)
    VALUES (new.started_at - ((new.started_at % 3600000) + 3600000) % 3600000, new.collector_id,
            new.error IS NOT NULL, 1)
    ON CONFLICT (hour, collector_id, failed) DO UPDATE SET runs = runs + 1;
END;

CREATE TRIGGER collector_run_hours_update AFTER UPDATE OF started_at, collector_id, error ON collector_runs
WHEN old.started_at IS NOT new.started_at OR old.collector_id IS NOT new.collector_id
  OR (old.error IS NULL) <> (new.error IS NULL)
BEGIN
    UPDATE collector_run_hours SET runs = runs - 1
     WHERE hour = old.started_at - ((old.started_at % 3600000) + 3600000) % 3600000
       AND collector_id = old.collector_id AND failed = (old.error IS NOT NULL);
    DELETE FROM collector_run_hours
     WHERE hour = old.started_at - ((old.started_at % 3600000) + 3600000) % 3600000
       AND collector_id = old.collector_id AND failed = (old.error IS NOT NULL) AND runs <= 0;
    INSERT INTO collector_run_hours (hour, collector_id, failed, runs)
    VALUES (new.started_at - ((new.started_at % 3600000) + 3600000) % 3600000, new.collector_id,
            new.error IS NOT NULL, 1)
    ON CONFLICT (hour, collector_id, failed) DO UPDATE SET runs = runs + 1;
END;

CREATE TRIGGER collector_run_hours_delete AFTER DELETE ON collector_runs BEGIN
    UPDATE collector_run_hours SET runs = runs - 1
     WHERE hour = old.started_at - ((old.started_at % 3600000) + 3600000) % 3600000
       AND collector_id = old.collector_id AND failed = (old.error IS NOT NULL);
    DELETE FROM collector_run_hours
     WHERE hour = old.started_at - ((old.started_at % 3600000) + 3600000) % 3600000
       AND collector_id = old.collector_id AND failed = (old.error IS NOT NULL) AND runs <= 0;
END;

INSERT INTO collector_run_hours (hour, collector_id, failed, runs)
SELECT started_at - ((started_at % 3600000) + 3600000) % 3600000, collector_id, error IS NOT NULL, COUNT(*)
  FROM collector_runs
 GROUP BY 1, 2, 3;
