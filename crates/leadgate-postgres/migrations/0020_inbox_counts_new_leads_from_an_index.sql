-- The inbox's count of new leads (up to its cap) reads the status indexes alone.
--
-- The count leaves out the leads marked a second submission of another (`duplicate_of`), which only the row
-- held: at a million leads, walking the newest leads' rows to test it took 1–2 ms of every inbox page, the
-- page's costliest statement. The two status indexes carry the column now (`INCLUDE`), so the count is an
-- index-only walk of each of the viewer's calendars, or of every one, that ends at the cap. A lead's
-- `duplicate_of` changes only when a manager marks it; the intake writes it empty.
DROP INDEX leads_by_status;
CREATE INDEX leads_by_status ON leads (status, id) INCLUDE (duplicate_of);
DROP INDEX leads_by_status_calendar;
CREATE INDEX leads_by_status_calendar ON leads (status, calendar_id, id) INCLUDE (duplicate_of);
