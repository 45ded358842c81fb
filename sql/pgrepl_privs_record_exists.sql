-- Does this database hold the cutover block's record (<schema $1>.blocked_roles)?
SELECT pg_catalog.to_regclass(pg_catalog.quote_ident($1) || '.blocked_roles') IS NOT NULL
