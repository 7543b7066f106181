-- Reports: what the reports need that leads did not record, and the indexes their queries walk.

-- The first manager action on a lead (taken into work, a status change, an assignment), recorded by the one
-- update path every channel of change goes through (the UI and the API), for the response time. NULL: no
-- action yet. Leads acted on before this version have no record and stay out of the response time figures
-- (what happened to them first is not known); their status still counts in the outcome report.
ALTER TABLE leads ADD COLUMN first_action_at INTEGER;
ALTER TABLE leads ADD COLUMN first_action_by INTEGER REFERENCES users(id);

-- Where the visitor came from, as the site knows it (optional fields of the payload format). NULL: not sent.
ALTER TABLE leads ADD COLUMN utm_source TEXT;
ALTER TABLE leads ADD COLUMN utm_medium TEXT;
ALTER TABLE leads ADD COLUMN utm_campaign TEXT;
ALTER TABLE leads ADD COLUMN page_url TEXT;
ALTER TABLE leads ADD COLUMN referrer TEXT;

-- Every lead report reads the leads received in a period: a range walk of this index, in which the columns
-- the reports group and filter by are at hand without reading the table row (a covering index).
CREATE INDEX leads_by_received ON leads (received_at, calendar_id, channel, kind, status);

-- The quarantine and collector health report: ledger records and collector runs by time.
CREATE INDEX messages_by_received ON messages (received_at, outcome);
CREATE INDEX collector_runs_by_start ON collector_runs (started_at);
