-- Signed outbound webhooks. A webhook belongs to a calendar: every lead of the calendar, whichever channel
-- brought it, is announced to its URL. The signing secret is kept sealed with the key of [secrets] (never in
-- the clear), bound to the URL.
CREATE TABLE webhooks (
    id                 INTEGER PRIMARY KEY,
    calendar_id        INTEGER NOT NULL REFERENCES calendars(id) ON DELETE CASCADE,
    url                TEXT    NOT NULL,
    secret_nonce       BLOB    NOT NULL,
    secret_ciphertext  BLOB    NOT NULL,
    enabled            BOOLEAN NOT NULL DEFAULT TRUE,
    created_at         INTEGER NOT NULL
);
CREATE INDEX webhooks_of_calendar ON webhooks (calendar_id);

-- The outbox. An event is written in the same transaction as what it announces (the new lead, the changed
-- status), only when the lead's calendar has a webhook; each of the calendar's webhooks gets a delivery.
CREATE TABLE webhook_events (
    id          INTEGER PRIMARY KEY,
    type        TEXT    NOT NULL CHECK (type IN ('lead.created', 'lead.status_changed')),
    lead_id     INTEGER NOT NULL REFERENCES leads(id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL
);
CREATE INDEX webhook_events_of_lead ON webhook_events (lead_id);

CREATE TABLE webhook_deliveries (
    id               INTEGER PRIMARY KEY,
    webhook_id       INTEGER NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    event_id         INTEGER NOT NULL REFERENCES webhook_events(id) ON DELETE CASCADE,
    state            TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'dead')),
    attempts         INTEGER NOT NULL DEFAULT 0,  -- attempts started
    next_attempt_at  INTEGER NOT NULL,            -- ms; a started attempt holds the row until then
    retry_since      INTEGER NOT NULL,            -- ms; retries stop this long after it (reset by a redelivery)
    last_attempt_at  INTEGER,
    last_status      INTEGER,                     -- the receiver's HTTP status, NULL when it did not answer
    last_answer      TEXT,                        -- the start of its answer, or why there was none
    delivered_at     INTEGER,
    created_at       INTEGER NOT NULL,
    UNIQUE (webhook_id, event_id)
);
-- The dispatcher's walk: due pending deliveries, soonest first; and each webhook's log, newest first.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_of_webhook ON webhook_deliveries (webhook_id, id);
