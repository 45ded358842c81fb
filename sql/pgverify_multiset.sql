-- Keyless table: order-free multiset digest (count and two 64-bit hash sums).
-- Template: column list ("*" or quoted names), schema, table.
SELECT count(*)::text,
       coalesce(sum(('x' || substr(h, 1, 16))::bit(64)::bigint::numeric), 0)::text || ':' ||
       coalesce(sum(('x' || substr(h, 17, 16))::bit(64)::bigint::numeric), 0)::text
  FROM (SELECT md5((t.*)::text) AS h FROM (SELECT %R FROM %I.%I) t) s
