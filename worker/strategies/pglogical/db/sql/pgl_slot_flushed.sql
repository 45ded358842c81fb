SELECT coalesce(confirmed_flush_lsn::text, ''), active,
       coalesce(confirmed_flush_lsn >= $2::pg_lsn, false)
  FROM pg_catalog.pg_replication_slots WHERE slot_name = $1
