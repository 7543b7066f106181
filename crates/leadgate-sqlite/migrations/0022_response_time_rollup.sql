-- Reports: the answered leads' response times kept per hour, so the response-time report over a year reads a
-- few thousand rows instead of every answered lead of the year.
--
-- A percentile needs every value, so a count per hour cannot give it: `lead_response_hours` keeps, per UTC
-- hour of receipt and per combination of what the reports filter by (calendar, channel, source, kind) and of
-- who answered (`first_action_by`, 0 where that is not known), the time from receipt to the first manager
-- action of each answered lead in it, in milliseconds (never negative), as decimal text, each value followed by
-- a comma (`60000,125000,`), in no particular order. The report concatenates the rows of its period per
-- calendar and manager and takes the percentiles from the values, exactly as from the leads themselves.
--
-- The rows are derived from `leads` and kept true by the triggers below in the same transaction as every write
-- that changes them (the first manager action, a move between calendars, a kind changed by editing the lines,
-- a lead deleted), whichever code path writes: a lead leaves its old row (one occurrence of its value is cut
-- out of the text) and joins its new one. A new lead is not answered yet, so the intake's inserts skip them.
CREATE TABLE lead_response_hours (
    hour            INTEGER NOT NULL,    -- the UTC hour of receipt, ms since the epoch
    calendar_id     INTEGER NOT NULL,
    channel         TEXT    NOT NULL,
    collector_id    INTEGER NOT NULL,
    http_source_id  INTEGER NOT NULL,
    kind            TEXT    NOT NULL,
    first_action_by INTEGER NOT NULL,
    leads           INTEGER NOT NULL,
    times           TEXT    NOT NULL,
    PRIMARY KEY (hour, calendar_id, channel, collector_id, http_source_id, kind, first_action_by)
) WITHOUT ROWID;

-- How a lead joins (`n` = 1) or leaves (`n` = -1) its row, written once: a view no query reads, whose inserts
-- its INSTEAD OF triggers carry out (SQLite's triggers cannot call a routine). The triggers on `leads` below
-- insert the lead's old or new values into it.
CREATE VIEW lead_response_change (received_at, calendar_id, channel, collector_id, http_source_id, kind,
                                  first_action_at, first_action_by, n) AS
SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL WHERE 0;

CREATE TRIGGER lead_response_change_join INSTEAD OF INSERT ON lead_response_change
WHEN new.n > 0
BEGIN
    INSERT INTO lead_response_hours (hour, calendar_id, channel, collector_id, http_source_id, kind,
                                     first_action_by, leads, times)
    VALUES (new.received_at - ((new.received_at % 3600000) + 3600000) % 3600000, new.calendar_id, new.channel,
            COALESCE(new.collector_id, 0), COALESCE(new.http_source_id, 0), new.kind,
            COALESCE(new.first_action_by, 0), 1, max(new.first_action_at - new.received_at, 0) || ',')
    ON CONFLICT (hour, calendar_id, channel, collector_id, http_source_id, kind, first_action_by)
    DO UPDATE SET leads = leads + 1, times = times || excluded.times;
END;

-- Leaving cuts one occurrence of the lead's value out of the text (`,` before the text makes every value start
-- after a comma, so `,60000,` never matches the end of `160000,`); an emptied row goes.
CREATE TRIGGER lead_response_change_leave INSTEAD OF INSERT ON lead_response_change
WHEN new.n < 0
BEGIN
    UPDATE lead_response_hours
       SET leads = leads - 1,
           times = substr(times, 1, instr(',' || times, ',' || max(new.first_action_at - new.received_at, 0) || ',') - 1)
                || substr(times, instr(',' || times, ',' || max(new.first_action_at - new.received_at, 0) || ',')
                                 + length(max(new.first_action_at - new.received_at, 0) || ','))
     WHERE hour = new.received_at - ((new.received_at % 3600000) + 3600000) % 3600000
       AND calendar_id = new.calendar_id AND channel = new.channel
       AND collector_id = COALESCE(new.collector_id, 0) AND http_source_id = COALESCE(new.http_source_id, 0)
       AND kind = new.kind AND first_action_by = COALESCE(new.first_action_by, 0)
       AND instr(',' || times, ',' || max(new.first_action_at - new.received_at, 0) || ',') > 0;
    DELETE FROM lead_response_hours
     WHERE hour = new.received_at - ((new.received_at % 3600000) + 3600000) % 3600000
       AND calendar_id = new.calendar_id AND channel = new.channel
       AND collector_id = COALESCE(new.collector_id, 0) AND http_source_id = COALESCE(new.http_source_id, 0)
       AND kind = new.kind AND first_action_by = COALESCE(new.first_action_by, 0) AND leads <= 0;
END;

CREATE TRIGGER lead_response_hours_lead_insert AFTER INSERT ON leads
WHEN new.first_action_at IS NOT NULL
BEGIN
    INSERT INTO lead_response_change
    VALUES (new.received_at, new.calendar_id, new.channel, new.collector_id, new.http_source_id, new.kind,
            new.first_action_at, new.first_action_by, 1);
END;

-- A lead whose key or time changes leaves its old row and joins its new one.
CREATE TRIGGER lead_response_hours_lead_update
AFTER UPDATE OF received_at, calendar_id, channel, collector_id, http_source_id, kind, first_action_at,
                first_action_by
ON leads
WHEN old.received_at IS NOT new.received_at OR old.calendar_id IS NOT new.calendar_id
  OR old.channel IS NOT new.channel OR old.collector_id IS NOT new.collector_id
  OR old.http_source_id IS NOT new.http_source_id OR old.kind IS NOT new.kind
  OR old.first_action_at IS NOT new.first_action_at OR old.first_action_by IS NOT new.first_action_by
BEGIN
    INSERT INTO lead_response_change
    SELECT old.received_at, old.calendar_id, old.channel, old.collector_id, old.http_source_id, old.kind,
           old.first_action_at, old.first_action_by, -1
     WHERE old.first_action_at IS NOT NULL;
    INSERT INTO lead_response_change
    SELECT new.received_at, new.calendar_id, new.channel, new.collector_id, new.http_source_id, new.kind,
           new.first_action_at, new.first_action_by, 1
     WHERE new.first_action_at IS NOT NULL;
END;

CREATE TRIGGER lead_response_hours_lead_delete AFTER DELETE ON leads
WHEN old.first_action_at IS NOT NULL
BEGIN
    INSERT INTO lead_response_change
    VALUES (old.received_at, old.calendar_id, old.channel, old.collector_id, old.http_source_id, old.kind,
            old.first_action_at, old.first_action_by, -1);
END;

-- The rows of the leads already answered.
INSERT INTO lead_response_hours (hour, calendar_id, channel, collector_id, http_source_id, kind, first_action_by,
                                 leads, times)
SELECT received_at - ((received_at % 3600000) + 3600000) % 3600000, calendar_id, channel,
       COALESCE(collector_id, 0), COALESCE(http_source_id, 0), kind, COALESCE(first_action_by, 0), COUNT(*),
       group_concat(max(first_action_at - received_at, 0) || ',', '')
  FROM leads
 WHERE first_action_at IS NOT NULL
 GROUP BY 1, 2, 3, 4, 5, 6, 7;
