-- E-mail notifications of new leads. A calendar notifies its owner (by the owner's e-mail address) and/or a
-- list of addresses; each new lead gets a row per recipient in the same transaction as the lead, so a crash
-- between the commit and the mail loses nothing. The sender mails each recipient one digest of its pending
-- rows at most once per configured interval.
ALTER TABLE users ADD COLUMN email TEXT;
ALTER TABLE calendars ADD COLUMN notify_owner BOOLEAN NOT NULL DEFAULT FALSE;

CREATE TABLE calendar_notify_addresses (
    calendar_id  INTEGER NOT NULL REFERENCES calendars(id) ON DELETE CASCADE,
    address      TEXT    NOT NULL,  -- lower-cased
    PRIMARY KEY (calendar_id, address)
);

-- The outbox: one row per (recipient, lead); sent_at is set when the digest that carried it was accepted.
CREATE TABLE lead_notifications (
    id          INTEGER PRIMARY KEY,
    address     TEXT    NOT NULL,
    lead_id     INTEGER NOT NULL REFERENCES leads(id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    sent_at     INTEGER,
    UNIQUE (address, lead_id)
);
CREATE INDEX lead_notifications_pending ON lead_notifications (address, id) WHERE sent_at IS NULL;

-- Each recipient's pace: the next digest is not sent before next_send_at (the interval after the last one,
-- the backoff after a failure, or a claim's lease while a digest is being sent).
CREATE TABLE notification_recipients (
    address          TEXT    PRIMARY KEY,
    next_send_at     INTEGER NOT NULL,  -- ms
    attempts         INTEGER NOT NULL DEFAULT 0,  -- failed attempts since the last digest sent
    last_attempt_at  INTEGER,
    last_sent_at     INTEGER,
    last_error       TEXT
);
CREATE INDEX notification_recipients_due ON notification_recipients (next_send_at);
