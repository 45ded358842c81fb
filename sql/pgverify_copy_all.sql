-- A table without a primary key as COPY text, in any order: the client sums
-- a hash of every row (a multiset digest, pgverify.c). Template: column list
-- ("*" or quoted names), schema, table.
COPY (SELECT %R FROM %I.%I) TO STDOUT
