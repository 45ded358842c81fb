-- Primary key column names of a table ($1 schema, $2 table), in key order, unquoted.
SELECT a.attname::text
  FROM pg_catalog.pg_index i
  CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
  JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
 WHERE i.indrelid = format('%I.%I', $1::text, $2::text)::regclass AND i.indisprimary
 ORDER BY k.ord
