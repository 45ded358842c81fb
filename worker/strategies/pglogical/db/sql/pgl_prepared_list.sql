-- Prepared transactions of the whole instance, oldest first: gid, database,
-- owner, age in seconds. A transaction prepared after a slot was made and
-- still prepared when the snapshot is taken comes back to life on the
-- restored target holding its locks, while the source's COMMIT PREPARED is
-- also replicated to it.
SELECT gid, database::text, owner::text,
       floor(extract(epoch FROM (pg_catalog.now() - prepared)))::bigint
  FROM pg_catalog.pg_prepared_xacts
 ORDER BY prepared, gid
