-- Digest of one key range, identical on source and target when the rows are:
-- count and md5 over the rows' text in key order. Each range is independent
-- (parallel-friendly). Template: key list, column list ("*" or quoted
-- names), schema, table, range predicate.
SELECT count(*)::text, coalesce(md5(string_agg(md5((t.*)::text), '' ORDER BY %R)), '')
  FROM (SELECT %R FROM %I.%I WHERE %R) t
