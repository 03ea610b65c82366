-- v2.4.0: per-event metadata written when metadata_enabled is true.
CREATE TABLE event_metadata (
    id INTEGER PRIMARY KEY,
    event_id INTEGER NOT NULL REFERENCES events(id),
    api_version TEXT NOT NULL,
    host TEXT NOT NULL,
    received_at TEXT NOT NULL
);
