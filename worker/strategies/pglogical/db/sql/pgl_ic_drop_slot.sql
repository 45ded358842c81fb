-- pgl_ic_drop_slot: drop one inactive slot; nothing when it is gone
SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active
