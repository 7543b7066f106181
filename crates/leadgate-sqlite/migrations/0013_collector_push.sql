-- Push (IMAP IDLE) per collector: on by default; a collector with push off is collected on the schedule alone.
ALTER TABLE collectors ADD COLUMN push INTEGER NOT NULL DEFAULT 1;
