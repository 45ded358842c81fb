SELECT pg_catalog.pg_has_role($1, $2, 'MEMBER')
