-- v2.4.0: time-range queries over events, and metadata lookups by event.
CREATE INDEX idx_event_timestamp ON events (created_at);
CREATE INDEX idx_event_metadata_event_id ON event_metadata (event_id);
