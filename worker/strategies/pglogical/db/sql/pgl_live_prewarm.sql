-- Prewarm blocks [$2, $3] of relation $1 (oid) with pg_prewarm in 'read' mode
-- (the blocks are fetched from storage, shared buffers are left alone);
-- clamped to the relation's current size. Template: pg_prewarm's schema.
SELECT CASE WHEN $2::bigint <= s.last
            THEN %I.pg_prewarm($1::oid::regclass, 'read', 'main', $2::bigint, least($3::bigint, s.last))
            ELSE 0 END::text
  FROM (SELECT pg_catalog.pg_relation_size($1::oid::regclass)
               / pg_catalog.current_setting('block_size')::bigint - 1 AS last) s
