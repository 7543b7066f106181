-- Reports: the hourly counts summed per day of the shop too, so a report over a year sums a few rows per day
-- instead of 24 hours of them (a year by day, month or week walked 35,000 rows of `lead_hours` at the
-- benchmark's million leads for each of its figures; per day it walks 1,460).
--
-- Storage knows the shop's days only through `report_days`: the start and end of each local day, in ms since
-- the epoch, written by the application for the shop's time zone (`report_zone`) when it starts with a zone the
-- table does not hold yet (see `Reports::use_report_zone`), which also rebuilds the daily counts from the
-- hourly ones in the same transaction. Only days that start and end on a whole UTC hour are kept, so a day is
-- exactly its hours. A report whose every bound is the start of one of these days (its buckets are the
-- shop's days, weeks or months) is summed from the days; any other as before.
--
-- `lead_days` and `message_days` are `lead_hours` and `message_hours` summed per day: every change of an hourly
-- row carries its difference into the row of its day, by the triggers below, in the same transaction. An hour
-- outside the kept days (or before any zone was set) has no day row. A combination without leads or messages
-- has no row.
CREATE TABLE report_zone (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    zone TEXT    NOT NULL              -- the IANA name of the zone the days are in
);

CREATE TABLE report_days (
    day_start INTEGER PRIMARY KEY,     -- the local midnight, ms since the epoch
    day_end   INTEGER NOT NULL         -- the next one
);

CREATE TABLE lead_days (
    day            INTEGER NOT NULL,   -- `report_days.day_start`
    calendar_id    INTEGER NOT NULL,
    channel        TEXT    NOT NULL,
    collector_id   INTEGER NOT NULL,
    http_source_id INTEGER NOT NULL,
    kind           TEXT    NOT NULL,
    status         TEXT    NOT NULL,
    answered       INTEGER NOT NULL,
    leads          INTEGER NOT NULL,
    value          REAL    NOT NULL,
    PRIMARY KEY (day, calendar_id, channel, collector_id, http_source_id, kind, status, answered)
) WITHOUT ROWID;

-- A difference of an hourly row, carried into its day's row, written once: a view no query reads, whose
-- inserts its INSTEAD OF trigger carries out. A row taken down to no leads goes; a change of nothing is
-- none (an hourly row goes once it has no leads: it has nothing left to take away).
CREATE VIEW lead_day_change (hour, calendar_id, channel, collector_id, http_source_id, kind, status, answered,
                             leads, value) AS
SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL WHERE 0;

CREATE TRIGGER lead_day_change_apply INSTEAD OF INSERT ON lead_day_change BEGIN
    INSERT INTO lead_days (day, calendar_id, channel, collector_id, http_source_id, kind, status, answered,
                           leads, value)
    SELECT d.day_start, new.calendar_id, new.channel, new.collector_id, new.http_source_id, new.kind,
           new.status, new.answered, new.leads, new.value
      FROM (SELECT day_start, day_end FROM report_days WHERE day_start <= new.hour
             ORDER BY day_start DESC LIMIT 1) d
     WHERE d.day_end > new.hour AND (new.leads <> 0 OR new.value <> 0)
    ON CONFLICT (day, calendar_id, channel, collector_id, http_source_id, kind, status, answered)
    DO UPDATE SET leads = leads + excluded.leads, value = value + excluded.value;
    DELETE FROM lead_days
     WHERE new.leads < 0
       AND day = (SELECT day_start FROM report_days WHERE day_start <= new.hour ORDER BY day_start DESC LIMIT 1)
       AND calendar_id = new.calendar_id AND channel = new.channel AND collector_id = new.collector_id
       AND http_source_id = new.http_source_id AND kind = new.kind AND status = new.status
       AND answered = new.answered AND leads <= 0;
END;

CREATE TRIGGER lead_days_hour_insert AFTER INSERT ON lead_hours BEGIN
    INSERT INTO lead_day_change VALUES (new.hour, new.calendar_id, new.channel, new.collector_id,
                                        new.http_source_id, new.kind, new.status, new.answered, new.leads,
                                        new.value);
END;

-- An hourly row's counts change (its key never does in practice, but if it did, it leaves one day row for
-- another).
CREATE TRIGGER lead_days_hour_update AFTER UPDATE ON lead_hours
WHEN old.hour = new.hour AND old.calendar_id = new.calendar_id AND old.channel = new.channel
 AND old.collector_id = new.collector_id AND old.http_source_id = new.http_source_id AND old.kind = new.kind
 AND old.status = new.status AND old.answered = new.answered
BEGIN
    INSERT INTO lead_day_change VALUES (new.hour, new.calendar_id, new.channel, new.collector_id,
                                        new.http_source_id, new.kind, new.status, new.answered,
                                        new.leads - old.leads, new.value - old.value);
END;

CREATE TRIGGER lead_days_hour_rekey AFTER UPDATE ON lead_hours
WHEN NOT (old.hour = new.hour AND old.calendar_id = new.calendar_id AND old.channel = new.channel
 AND old.collector_id = new.collector_id AND old.http_source_id = new.http_source_id AND old.kind = new.kind
 AND old.status = new.status AND old.answered = new.answered)
BEGIN
    INSERT INTO lead_day_change VALUES (old.hour, old.calendar_id, old.channel, old.collector_id,
                                        old.http_source_id, old.kind, old.status, old.answered, -old.leads,
                                        -old.value);
    INSERT INTO lead_day_change VALUES (new.hour, new.calendar_id, new.channel, new.collector_id,
                                        new.http_source_id, new.kind, new.status, new.answered, new.leads,
                                        new.value);
END;

CREATE TRIGGER lead_days_hour_delete AFTER DELETE ON lead_hours BEGIN
    INSERT INTO lead_day_change VALUES (old.hour, old.calendar_id, old.channel, old.collector_id,
                                        old.http_source_id, old.kind, old.status, old.answered, -old.leads,
                                        -old.value);
END;

CREATE TABLE message_days (
    day            INTEGER NOT NULL,
    channel        TEXT    NOT NULL,
    collector_id   INTEGER NOT NULL,
    http_source_id INTEGER NOT NULL,
    outcome        TEXT    NOT NULL,
    messages       INTEGER NOT NULL,
    PRIMARY KEY (day, channel, collector_id, http_source_id, outcome)
) WITHOUT ROWID;

CREATE VIEW message_day_change (hour, channel, collector_id, http_source_id, outcome, messages) AS
SELECT NULL, NULL, NULL, NULL, NULL, NULL WHERE 0;

CREATE TRIGGER message_day_change_apply INSTEAD OF INSERT ON message_day_change BEGIN
    INSERT INTO message_days (day, channel, collector_id, http_source_id, outcome, messages)
    SELECT d.day_start, new.channel, new.collector_id, new.http_source_id, new.outcome, new.messages
      FROM (SELECT day_start, day_end FROM report_days WHERE day_start <= new.hour
             ORDER BY day_start DESC LIMIT 1) d
     WHERE d.day_end > new.hour AND new.messages <> 0
    ON CONFLICT (day, channel, collector_id, http_source_id, outcome)
    DO UPDATE SET messages = messages + excluded.messages;
    DELETE FROM message_days
     WHERE new.messages < 0
       AND day = (SELECT day_start FROM report_days WHERE day_start <= new.hour ORDER BY day_start DESC LIMIT 1)
       AND channel = new.channel AND collector_id = new.collector_id AND http_source_id = new.http_source_id
       AND outcome = new.outcome AND messages <= 0;
END;

CREATE TRIGGER message_days_hour_insert AFTER INSERT ON message_hours BEGIN
    INSERT INTO message_day_change VALUES (new.hour, new.channel, new.collector_id, new.http_source_id,
                                           new.outcome, new.messages);
END;

CREATE TRIGGER message_days_hour_update AFTER UPDATE ON message_hours
WHEN old.hour = new.hour AND old.channel = new.channel AND old.collector_id = new.collector_id
 AND old.http_source_id = new.http_source_id AND old.outcome = new.outcome
BEGIN
    INSERT INTO message_day_change VALUES (new.hour, new.channel, new.collector_id, new.http_source_id,
                                           new.outcome, new.messages - old.messages);
END;

CREATE TRIGGER message_days_hour_rekey AFTER UPDATE ON message_hours
WHEN NOT (old.hour = new.hour AND old.channel = new.channel AND old.collector_id = new.collector_id
 AND old.http_source_id = new.http_source_id AND old.outcome = new.outcome)
BEGIN
    INSERT INTO message_day_change VALUES (old.hour, old.channel, old.collector_id, old.http_source_id,
                                           old.outcome, -old.messages);
    INSERT INTO message_day_change VALUES (new.hour, new.channel, new.collector_id, new.http_source_id,
                                           new.outcome, new.messages);
END;

CREATE TRIGGER message_days_hour_delete AFTER DELETE ON message_hours BEGIN
    INSERT INTO message_day_change VALUES (old.hour, old.channel, old.collector_id, old.http_source_id,
                                           old.outcome, -old.messages);
END;
