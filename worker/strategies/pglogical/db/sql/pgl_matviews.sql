-- Materialized views are not replicated: stale on the target until refreshed.
SELECT format('%I.%I', schemaname, matviewname) FROM pg_catalog.pg_matviews ORDER BY 1
