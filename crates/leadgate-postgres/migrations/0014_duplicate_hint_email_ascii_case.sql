-- The hint of a second submission compares e-mails with their ASCII letters in any case, as SQLite's NOCASE
-- compares them and as customers are matched by e-mail (0002): `lower` under the "C" collation folds only
-- ASCII. Under the database's collation it folded every letter, so a Cyrillic address differing only in case
-- was a match on PostgreSQL and not on SQLite. The index answers the new comparison.
DROP INDEX leads_by_email_received;
CREATE INDEX leads_by_email_received ON leads (lower(email COLLATE "C"), received_at) WHERE email IS NOT NULL;
