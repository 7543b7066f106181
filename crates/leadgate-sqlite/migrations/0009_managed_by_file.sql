-- Calendars, HTTP sources and collectors declared in the configuration file are managed by the file: each
-- start applies the file to them, the web UI shows them read-only, and one removed from the file is retired
-- at the next start. Records made in the UI (0) are the UI's and no start touches them.
ALTER TABLE calendars ADD COLUMN managed_by_file INTEGER NOT NULL DEFAULT 0;
ALTER TABLE http_sources ADD COLUMN managed_by_file INTEGER NOT NULL DEFAULT 0;
ALTER TABLE collectors ADD COLUMN managed_by_file INTEGER NOT NULL DEFAULT 0;
