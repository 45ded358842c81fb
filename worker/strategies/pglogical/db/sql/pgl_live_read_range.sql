-- Prewarm without pg_prewarm: read the heap blocks in [$1, $2) once with a
-- TID range scan (PostgreSQL 14+). Template: schema, table.
SELECT count(*)::text FROM ONLY %I.%I WHERE ctid >= $1::tid AND ctid < $2::tid
