-- A transactional logical message committed after the cutover's final
-- position: a transaction the slot decodes (BEGIN, message, COMMIT) that
-- changes no table, so DMS has a commit at or past that position to read
-- and confirm. (A bare txid_current() commits an xid with no decodable
-- change: logical decoding never shows it.) Returns the message's LSN.
SELECT pg_catalog.pg_logical_emit_message(true, 'fleetcrypt-dms-drain', '')::text
