-- pgl_ic_pub_tables: the tables the publication sends (what the initial copy fills)
SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = $1 ORDER BY 1, 2
