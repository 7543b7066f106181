-- What managers write on a lead and when they plan to call back.
--
-- A comment is plain text, kept as typed (line breaks included) and escaped wherever it is shown; its author
-- and time are kept with it. Comments are never edited, so the lead's story stays as it was told.
CREATE TABLE lead_comments (
    id          INTEGER PRIMARY KEY,
    lead_id     INTEGER NOT NULL REFERENCES leads(id) ON DELETE CASCADE,
    author_id   INTEGER NOT NULL REFERENCES users(id),
    body        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX lead_comments_of_lead ON lead_comments (lead_id, id);

-- A follow-up: "call back on 3 June at 11:00", planned on a lead for one user (its owner), who sees it in
-- their calendar views and feed and is told when it is due; open until marked done.
CREATE TABLE follow_ups (
    id          INTEGER PRIMARY KEY,
    lead_id     INTEGER NOT NULL REFERENCES leads(id) ON DELETE CASCADE,
    owner_id    INTEGER NOT NULL REFERENCES users(id),
    due_at      INTEGER NOT NULL,            -- ms, UTC
    note        TEXT    NOT NULL DEFAULT '',
    created_by  INTEGER NOT NULL REFERENCES users(id),
    created_at  INTEGER NOT NULL,
    done_at     INTEGER,                     -- NULL while open
    done_by     INTEGER REFERENCES users(id)
);
CREATE INDEX follow_ups_of_lead ON follow_ups (lead_id, due_at);
-- An owner's calendar, by time; the open ones by time (due notifications, overdue marks in the inbox).
CREATE INDEX follow_ups_of_owner ON follow_ups (owner_id, due_at);
CREATE INDEX follow_ups_open ON follow_ups (due_at, lead_id) WHERE done_at IS NULL;
