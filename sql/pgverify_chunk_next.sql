-- The source's next key range in one statement (pgverify.c's keyed
-- comparison): the chunk's rows are the first N after the lower bound in
-- key order; count and digest exactly as pgverify_chunk computes them over
-- those rows, and the last row's key (the range's inclusive upper bound;
-- no row: NULLs). Template: column list ("*" or quoted names), schema,
-- table, lower-bound predicate or "true", key list, N, key list (digest
-- order), key list, key list with DESC after each column. (t.*)::text, not
-- t::text: a column named t would be taken for the row.
WITH t AS MATERIALIZED (SELECT %R FROM %I.%I WHERE %R ORDER BY %R LIMIT %R)
SELECT d.n, d.digest, l.*
  FROM (SELECT count(*)::text AS n, coalesce(md5(string_agg(md5((t.*)::text), '' ORDER BY %R)), '') AS digest
          FROM t) d
  LEFT JOIN LATERAL (SELECT %R FROM t ORDER BY %R LIMIT 1) l ON true
