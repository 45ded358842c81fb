-- Changes DMS could not apply, logged by its ErrorBehavior
-- (ApplyErrorInsertPolicy LOG_ERROR) in awsdms_apply_exceptions of the
-- task's control schema $1 and of public (DMS's default on a PostgreSQL
-- target), counted; 0 where the table does not exist. Only the count:
-- its STATEMENT column holds row values.
SELECT coalesce(sum((xpath('/row/c/text()',
                          pg_catalog.query_to_xml(format('SELECT count(*) AS c FROM %s', t.r), false, true, '')))[1]
                    ::text::bigint), 0)::text
  FROM (SELECT DISTINCT to_regclass(format('%I.awsdms_apply_exceptions', s)) AS r
          FROM unnest(ARRAY[$1::text, 'public']) AS s) t
 WHERE t.r IS NOT NULL
