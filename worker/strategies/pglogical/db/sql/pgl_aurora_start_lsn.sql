-- pg-logical find-start-lsn on a restored Aurora PostgreSQL cluster's writer: where logical
-- replication from the source's slot continues (docs/clusters.md, "The start position").
-- Executable by every role on Aurora (and on awssim's restored clusters).
SELECT pg_catalog.aurora_volume_logical_start_lsn()::text
