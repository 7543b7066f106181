-- Large raw messages are stored in parts. `messages.raw` holds the first part (up to 1 MiB); the rest follows
-- here in order. Binding a 25 MB message as one value made SQLite and its driver hold four copies of it at
-- once; parts keep each copy to one part's size.
CREATE TABLE message_raw_parts (
    id          INTEGER PRIMARY KEY,
    message_id  INTEGER NOT NULL REFERENCES messages(id),
    seq         INTEGER NOT NULL,              -- 1, 2, ... after the part in messages.raw
    bytes       BLOB    NOT NULL,
    UNIQUE (message_id, seq)
);
