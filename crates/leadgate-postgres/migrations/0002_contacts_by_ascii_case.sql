-- A lead without an INN is matched to known customers by its e-mail with its ASCII letters in any case, as
-- SQLite's NOCASE compares them: `lower` under the "C" collation folds only ASCII, and this index answers
-- that comparison without a scan.
CREATE INDEX counterparty_contacts_by_ascii_value ON counterparty_contacts (kind, lower(value COLLATE "C"));
