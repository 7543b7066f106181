-- Reports: the answered leads' response times kept per hour, so the response-time report over a year reads a
-- few thousand rows instead of every answered lead of the year (the same table as the SQLite backend's, kept
-- by triggers the same way).
--
-- A percentile needs every value, so a count per hour cannot give it: `lead_response_hours` keeps, per UTC
-- hour of receipt and per combination of what the reports filter by (calendar, channel, source, kind) and of
-- who answered (`first_action_by`, 0 where that is not known), the time from receipt to the first manager
-- action of each answered lead in it, in milliseconds (never negative), as decimal text, each value followed by
-- a comma (`60000,125000,`), in no particular order. The report concatenates the rows of its period per
-- calendar and manager and takes the percentiles from the values, exactly as from the leads themselves.
--
-- The rows are derived from `leads` and kept true by the triggers below in the same transaction as every write
-- that changes them, whichever code path writes: a lead leaves its old row (one occurrence of its value is cut
-- out of the text) and joins its new one. A new lead is not answered yet: the intake's inserts skip the
-- trigger by its condition.
CREATE TABLE lead_response_hours (
    hour            BIGINT NOT NULL,
    calendar_id     BIGINT NOT NULL,
    channel         TEXT   NOT NULL,
    collector_id    BIGINT NOT NULL,
    http_source_id  BIGINT NOT NULL,
    kind            TEXT   NOT NULL,
    first_action_by BIGINT NOT NULL,
    leads           BIGINT NOT NULL,
    times           TEXT   NOT NULL,
    PRIMARY KEY (hour, calendar_id, channel, collector_id, http_source_id, kind, first_action_by)
);

-- An answered lead's entry in `times`: its time to the first action in ms, never negative, and a comma.
CREATE FUNCTION lead_response_time(received BIGINT, first_action BIGINT) RETURNS TEXT LANGUAGE sql IMMUTABLE AS $$
    SELECT GREATEST(first_action - received, 0)::text || ','
$$;

CREATE FUNCTION lead_response_hours_of_a_lead() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    t TEXT;
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.first_action_at IS NOT NULL THEN
        -- One occurrence cut out: `,` before the text makes every value start after a comma, so `,60000,`
        -- never matches the end of `160000,`.
        t := lead_response_time(OLD.received_at, OLD.first_action_at);
        UPDATE lead_response_hours h
           SET leads = h.leads - 1,
               times = overlay(h.times PLACING '' FROM position(',' || t IN ',' || h.times) FOR length(t))
         WHERE h.hour = lead_hour(OLD.received_at) AND h.calendar_id = OLD.calendar_id
           AND h.channel = OLD.channel AND h.collector_id = COALESCE(OLD.collector_id, 0)
           AND h.http_source_id = COALESCE(OLD.http_source_id, 0) AND h.kind = OLD.kind
           AND h.first_action_by = COALESCE(OLD.first_action_by, 0)
           AND position(',' || t IN ',' || h.times) > 0;
        DELETE FROM lead_response_hours h
         WHERE h.hour = lead_hour(OLD.received_at) AND h.calendar_id = OLD.calendar_id
           AND h.channel = OLD.channel AND h.collector_id = COALESCE(OLD.collector_id, 0)
           AND h.http_source_id = COALESCE(OLD.http_source_id, 0) AND h.kind = OLD.kind
           AND h.first_action_by = COALESCE(OLD.first_action_by, 0) AND h.leads <= 0;
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.first_action_at IS NOT NULL THEN
        INSERT INTO lead_response_hours AS h (hour, calendar_id, channel, collector_id, http_source_id, kind,
                                              first_action_by, leads, times)
        VALUES (lead_hour(NEW.received_at), NEW.calendar_id, NEW.channel, COALESCE(NEW.collector_id, 0),
                COALESCE(NEW.http_source_id, 0), NEW.kind, COALESCE(NEW.first_action_by, 0), 1,
                lead_response_time(NEW.received_at, NEW.first_action_at))
        ON CONFLICT (hour, calendar_id, channel, collector_id, http_source_id, kind, first_action_by)
        DO UPDATE SET leads = h.leads + 1, times = h.times || EXCLUDED.times;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER lead_response_hours_lead_insert AFTER INSERT ON leads
    FOR EACH ROW WHEN (NEW.first_action_at IS NOT NULL)
    EXECUTE FUNCTION lead_response_hours_of_a_lead();
CREATE TRIGGER lead_response_hours_lead_update
    AFTER UPDATE OF received_at, calendar_id, channel, collector_id, http_source_id, kind, first_action_at,
                    first_action_by
    ON leads FOR EACH ROW
    WHEN (OLD.received_at IS DISTINCT FROM NEW.received_at OR OLD.calendar_id IS DISTINCT FROM NEW.calendar_id
       OR OLD.channel IS DISTINCT FROM NEW.channel OR OLD.collector_id IS DISTINCT FROM NEW.collector_id
       OR OLD.http_source_id IS DISTINCT FROM NEW.http_source_id OR OLD.kind IS DISTINCT FROM NEW.kind
       OR OLD.first_action_at IS DISTINCT FROM NEW.first_action_at
       OR OLD.first_action_by IS DISTINCT FROM NEW.first_action_by)
    EXECUTE FUNCTION lead_response_hours_of_a_lead();
CREATE TRIGGER lead_response_hours_lead_delete AFTER DELETE ON leads
    FOR EACH ROW WHEN (OLD.first_action_at IS NOT NULL)
    EXECUTE FUNCTION lead_response_hours_of_a_lead();

-- The rows of the leads already answered.
INSERT INTO lead_response_hours (hour, calendar_id, channel, collector_id, http_source_id, kind, first_action_by,
                                 leads, times)
SELECT lead_hour(received_at), calendar_id, channel, COALESCE(collector_id, 0), COALESCE(http_source_id, 0),
       kind, COALESCE(first_action_by, 0), COUNT(*), string_agg(lead_response_time(received_at, first_action_at), '')
  FROM leads
 WHERE first_action_at IS NOT NULL
 GROUP BY 1, 2, 3, 4, 5, 6, 7;
