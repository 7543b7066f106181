-- A lead's history: one row per thing that happened to it after it was filed (its arrival is the lead row
-- itself). Written in the same transaction as the change it records. `actor_id` is the user who acted, NULL
-- for leadgate itself (an assignment rule, reprocessing by the system). `kind` is a word of the domain's
-- closed vocabulary of timeline entries; `detail` a JSON object, `{"changes": [{"field", "old", "new"}]}`
-- for a change of values, plus whatever else the kind records.
CREATE TABLE lead_events (
    id        INTEGER PRIMARY KEY,
    lead_id   INTEGER NOT NULL REFERENCES leads(id) ON DELETE CASCADE,
    at        INTEGER NOT NULL,
    actor_id  INTEGER REFERENCES users(id) ON DELETE SET NULL,
    kind      TEXT    NOT NULL,
    detail    TEXT    NOT NULL DEFAULT '{}'
);
CREATE INDEX lead_events_of_lead ON lead_events (lead_id, id);

-- How a calendar's new leads are assigned as they are filed: not at all, to the calendar's owner (a personal
-- calendar), or in turn among the managers an administrator chose.
ALTER TABLE calendars ADD COLUMN assignment_rule TEXT NOT NULL DEFAULT 'none'
    CHECK (assignment_rule IN ('none', 'owner', 'round_robin'));

-- The managers of a round-robin and how many leads each has been given by it: the next lead goes to the one
-- with the fewest (the lowest id among equals), so the counts never differ by more than one.
CREATE TABLE calendar_round_robin (
    calendar_id  INTEGER NOT NULL REFERENCES calendars(id) ON DELETE CASCADE,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    assigned     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (calendar_id, user_id)
);

-- The inbox filtered by assignee.
CREATE INDEX leads_by_assignee ON leads (assignee_id, id);
