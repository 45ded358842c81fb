-- Quick row count (template: schema, table).
SELECT count(*)::text FROM %I.%I
