-- What managers change on a lead after it arrived: its order lines (a line that has a tech card is kept for
-- the card, which is marked stale, and a new line takes its place), and second submissions of a lead.

-- A line replaced or removed after its tech card was formed: its position is freed (set to -id, so the
-- (lead_id, position) key stays unique) and kept in removed_position for the card.
ALTER TABLE order_lines ADD COLUMN removed_at INTEGER;
ALTER TABLE order_lines ADD COLUMN removed_position INTEGER;
-- The card's line changed or was removed after the card was formed.
ALTER TABLE tech_cards ADD COLUMN stale_at INTEGER;

-- A lead a manager marked a second submission of another (it leaves the inbox), or whose hint they dismissed.
ALTER TABLE leads ADD COLUMN duplicate_of INTEGER REFERENCES leads(id);
ALTER TABLE leads ADD COLUMN duplicate_dismissed INTEGER NOT NULL DEFAULT 0;

-- The hint of a second submission looks for earlier leads with the same phone, e-mail or INN received in the
-- day before: one range walk of one of these per key.
CREATE INDEX leads_by_phone_received ON leads (phone_e164, received_at) WHERE phone_e164 IS NOT NULL;
CREATE INDEX leads_by_email_received ON leads (email COLLATE NOCASE, received_at) WHERE email IS NOT NULL;
CREATE INDEX leads_by_inn_received ON leads (inn, received_at) WHERE inn IS NOT NULL;
