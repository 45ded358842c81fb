-- Slots a restored instance inherited from the source (they would retain WAL forever).
SELECT slot_name, active, coalesce(active_pid, 0) FROM pg_catalog.pg_replication_slots ORDER BY 1
