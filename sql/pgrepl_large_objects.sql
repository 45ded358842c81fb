-- Large objects are not replicated by logical replication.
SELECT count(*) FROM pg_catalog.pg_largeobject_metadata
