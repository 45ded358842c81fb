-- pg-logical retained-WAL guard: bytes the instance uses on disk (every
-- database plus the WAL directory), to compare with AllocatedStorage.
SELECT ((SELECT coalesce(sum(pg_catalog.pg_database_size(oid)), 0) FROM pg_catalog.pg_database
          WHERE datallowconn)
        + (SELECT coalesce(sum(size), 0) FROM pg_catalog.pg_ls_waldir()))::bigint::text
