-- v2.3.0: the events the ingestion API accepts.
CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    payload TEXT,
    created_at TEXT
);
