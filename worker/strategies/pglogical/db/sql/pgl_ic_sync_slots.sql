-- pgl_ic_sync_slots: the table-synchronisation slots a subscriber with
-- system identifier $1 made on this server (PostgreSQL names them
-- pg_<subscription oid>_sync_<table oid>_<subscriber system identifier>)
SELECT slot_name, coalesce(active_pid::text, '') FROM pg_replication_slots
 WHERE slot_name ~ ('^pg_[0-9]+_sync_[0-9]+_' || $1 || '$')
