SELECT count(*)::int FROM %I.ddl_events
