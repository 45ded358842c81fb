SELECT s.plugin, s.slot_type, coalesce(s.database, ''), s.active,
       coalesce(s.confirmed_flush_lsn::text, ''), coalesce(s.restart_lsn::text, '')
  FROM pg_catalog.pg_replication_slots s WHERE s.slot_name = $1
