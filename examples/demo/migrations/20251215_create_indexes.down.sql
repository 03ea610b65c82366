DROP INDEX idx_event_metadata_event_id;
DROP INDEX idx_event_timestamp;
