-- Is constraint $3 on table $1.$2 there, and validated? '' when it is not
-- there (or the table is gone), else '1' / '0'.
SELECT coalesce((SELECT CASE WHEN k.convalidated THEN '1' ELSE '0' END
                   FROM pg_catalog.pg_constraint k
                  WHERE k.conrelid = pg_catalog.to_regclass(pg_catalog.format('%I.%I', $1::text, $2::text))
                    AND k.conname = $3), '')
