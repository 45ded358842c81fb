-- pg-logical cutover: how many roles the block recorded, and since when (epoch ms).
SELECT count(*)::int, coalesce((extract(epoch FROM min(blocked_at)) * 1000)::bigint, 0)::text
  FROM %I.blocked_roles
