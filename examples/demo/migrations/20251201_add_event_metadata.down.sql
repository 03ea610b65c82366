DROP TABLE event_metadata;
