-- pgl_ic_db_get: a database's owner, when it exists
SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1
