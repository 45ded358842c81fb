-- Prewarm without pg_prewarm on servers before 14 (no TID range scans): read
-- the whole heap once. Template: schema, table.
SELECT count(*)::text FROM ONLY %I.%I
