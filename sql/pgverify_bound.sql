-- Upper key of the next chunk (template: key list, schema, table, lower-bound
-- predicate or "true", key list, chunk size - 1).
SELECT %R FROM %I.%I WHERE %R ORDER BY %R OFFSET %R LIMIT 1
