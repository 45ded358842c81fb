-- A transaction that takes an xid and commits (a commit record, no row
-- changed): after the cutover's final position, so DMS has a commit at or
-- past it to read from the slot and confirm.
SELECT pg_catalog.txid_current()::text
