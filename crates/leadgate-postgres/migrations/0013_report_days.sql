-- Reports: the hourly counts summed per day of the shop too (the same tables as the SQLite backend's, kept the
-- same way), so a report over a year sums a few rows per day instead of 24 hours of them.
--
-- Storage knows the shop's days only through `report_days`: the start and end of each local day, in ms since
-- the epoch, written by the application for the shop's time zone (`report_zone`) when it starts with a zone the
-- table does not hold yet (see `Reports::use_report_zone`), which also rebuilds the daily counts from the
-- hourly ones in the same transaction. Only days that start and end on a whole UTC hour are kept, so a day is
-- exactly its hours. A report whose every bound is the start of one of these days is summed from the days.
--
-- `lead_days` and `message_days` are `lead_hours` and `message_hours` summed per day: every change of an hourly
-- row carries its difference into the row of its day, by the triggers below, in the same transaction. An hour
-- outside the kept days (or before any zone was set) has no day row. A combination without leads or messages
-- has no row.
CREATE TABLE report_zone (
    id   INT  PRIMARY KEY CHECK (id = 1),
    zone TEXT NOT NULL
);

CREATE TABLE report_days (
    day_start BIGINT PRIMARY KEY,
    day_end   BIGINT NOT NULL
);

-- The kept day an instant is in, if any.
CREATE FUNCTION report_day(t BIGINT) RETURNS BIGINT LANGUAGE sql STABLE AS $$
    SELECT d.day_start
      FROM (SELECT day_start, day_end FROM report_days WHERE day_start <= t ORDER BY day_start DESC LIMIT 1) d
     WHERE d.day_end > t
$$;

CREATE TABLE lead_days (
    day            BIGINT  NOT NULL,
    calendar_id    BIGINT  NOT NULL,
    channel        TEXT    NOT NULL,
    collector_id   BIGINT  NOT NULL,
    http_source_id BIGINT  NOT NULL,
    kind           TEXT    NOT NULL,
    status         TEXT    NOT NULL,
    answered       BOOLEAN NOT NULL,
    leads          BIGINT  NOT NULL,
    value          NUMERIC NOT NULL,
    PRIMARY KEY (day, calendar_id, channel, collector_id, http_source_id, kind, status, answered)
);

-- Adds a difference of an hourly row to its day's row (a row taken down to no leads goes).
CREATE FUNCTION lead_days_add(h lead_hours, n BIGINT, v NUMERIC) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    d BIGINT := report_day(h.hour);
BEGIN
    IF d IS NULL OR (n = 0 AND v = 0) THEN
        RETURN;
    END IF;
    INSERT INTO lead_days AS x (day, calendar_id, channel, collector_id, http_source_id, kind, status, answered,
                                leads, value)
    VALUES (d, h.calendar_id, h.channel, h.collector_id, h.http_source_id, h.kind, h.status, h.answered, n, v)
    ON CONFLICT (day, calendar_id, channel, collector_id, http_source_id, kind, status, answered)
    DO UPDATE SET leads = x.leads + EXCLUDED.leads, value = x.value + EXCLUDED.value;
    IF n < 0 THEN
        DELETE FROM lead_days
         WHERE day = d AND calendar_id = h.calendar_id AND channel = h.channel AND collector_id = h.collector_id
           AND http_source_id = h.http_source_id AND kind = h.kind AND status = h.status
           AND answered = h.answered AND leads <= 0;
    END IF;
END
$$;

CREATE FUNCTION lead_days_of_an_hour() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND (OLD.hour, OLD.calendar_id, OLD.channel, OLD.collector_id, OLD.http_source_id, OLD.kind, OLD.status,
            OLD.answered)
         = (NEW.hour, NEW.calendar_id, NEW.channel, NEW.collector_id, NEW.http_source_id, NEW.kind, NEW.status,
            NEW.answered) THEN
        PERFORM lead_days_add(NEW, NEW.leads - OLD.leads, NEW.value - OLD.value);
        RETURN NULL;
    END IF;
    IF TG_OP <> 'INSERT' THEN
        PERFORM lead_days_add(OLD, -OLD.leads, -OLD.value);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM lead_days_add(NEW, NEW.leads, NEW.value);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER lead_days_of_hours AFTER INSERT OR UPDATE OR DELETE ON lead_hours
    FOR EACH ROW EXECUTE FUNCTION lead_days_of_an_hour();

CREATE TABLE message_days (
    day            BIGINT NOT NULL,
    channel        TEXT   NOT NULL,
    collector_id   BIGINT NOT NULL,
    http_source_id BIGINT NOT NULL,
    outcome        TEXT   NOT NULL,
    messages       BIGINT NOT NULL,
    PRIMARY KEY (day, channel, collector_id, http_source_id, outcome)
);

CREATE FUNCTION message_days_add(h message_hours, n BIGINT) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    d BIGINT := report_day(h.hour);
BEGIN
    IF d IS NULL OR n = 0 THEN
        RETURN;
    END IF;
    INSERT INTO message_days AS x (day, channel, collector_id, http_source_id, outcome, messages)
    VALUES (d, h.channel, h.collector_id, h.http_source_id, h.outcome, n)
    ON CONFLICT (day, channel, collector_id, http_source_id, outcome)
    DO UPDATE SET messages = x.messages + EXCLUDED.messages;
    IF n < 0 THEN
        DELETE FROM message_days
         WHERE day = d AND channel = h.channel AND collector_id = h.collector_id
           AND http_source_id = h.http_source_id AND outcome = h.outcome AND messages <= 0;
    END IF;
END
$$;

CREATE FUNCTION message_days_of_an_hour() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND (OLD.hour, OLD.channel, OLD.collector_id, OLD.http_source_id, OLD.outcome)
         = (NEW.hour, NEW.channel, NEW.collector_id, NEW.http_source_id, NEW.outcome) THEN
        PERFORM message_days_add(NEW, NEW.messages - OLD.messages);
        RETURN NULL;
    END IF;
    IF TG_OP <> 'INSERT' THEN
        PERFORM message_days_add(OLD, -OLD.messages);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM message_days_add(NEW, NEW.messages);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER message_days_of_hours AFTER INSERT OR UPDATE OR DELETE ON message_hours
    FOR EACH ROW EXECUTE FUNCTION message_days_of_an_hour();
