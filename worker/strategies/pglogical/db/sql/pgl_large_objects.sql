-- Large objects are not replicated by logical replication (and lo_create
-- fires no event trigger). pg_largeobject_metadata is readable by every
-- role, so the count includes objects of any owner.
SELECT count(*)::bigint FROM pg_catalog.pg_largeobject_metadata
