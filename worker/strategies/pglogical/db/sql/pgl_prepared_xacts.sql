SELECT count(*)::int, coalesce(string_agg(gid, ', '), '') FROM pg_catalog.pg_prepared_xacts
