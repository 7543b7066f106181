-- Counterparties a manager can trust, and settings an administrator changes in the UI.

-- A phone or e-mail a manager typed on the counterparty's page, rather than one a lead brought. Whoever may
-- see the counterparty sees it (a contact a lead brought stays as private as that lead). NULL: a lead
-- brought it. Existing rows are not touched: every one of them came from a lead.
ALTER TABLE counterparty_contacts ADD COLUMN entered_by INTEGER REFERENCES users(id);

-- A lead without an INN is matched to known customers by its phone (E.164) or e-mail (any case).
CREATE INDEX counterparty_contacts_by_value ON counterparty_contacts (kind, value COLLATE NOCASE);

-- Settings changed in the UI (the default calendar, the mail collector job's schedule and switch). A key the
-- configuration file sets is the file's: the file's value wins and the UI shows it read-only, so a row here
-- only matters while the file is silent about its key.
CREATE TABLE settings (
    key         TEXT    PRIMARY KEY,
    value       TEXT    NOT NULL,
    updated_at  INTEGER NOT NULL,
    updated_by  INTEGER REFERENCES users(id)
);
