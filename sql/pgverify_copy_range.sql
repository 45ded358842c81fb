-- The rows of one key range in key order as COPY text, hashed by the client
-- (pgverify.c: both sides stream at once, the server only formats rows as
-- COPY does). Template: column list ("*" or quoted names), schema, table,
-- range predicate with the bounds as literals (COPY takes no parameters),
-- key list.
COPY (SELECT %R FROM %I.%I WHERE %R ORDER BY %R) TO STDOUT
