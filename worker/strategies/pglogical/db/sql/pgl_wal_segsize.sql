-- pg-logical find-start-lsn: the WAL segment size of the restored instance, in bytes.
SELECT (setting::bigint * CASE unit WHEN 'B' THEN 1 WHEN 'kB' THEN 1024 WHEN 'MB' THEN 1048576
                                    WHEN '8kB' THEN 8192 ELSE 1 END)::text
  FROM pg_catalog.pg_settings WHERE name = 'wal_segment_size'
