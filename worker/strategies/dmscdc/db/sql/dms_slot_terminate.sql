-- End the walsender reading slot $1 (DMS's task), so the slot can be dropped.
SELECT pg_catalog.pg_terminate_backend(s.active_pid)
  FROM pg_catalog.pg_replication_slots s WHERE s.slot_name = $1 AND s.active_pid IS NOT NULL
