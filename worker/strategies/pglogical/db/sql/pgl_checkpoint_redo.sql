-- pg-logical find-start-lsn cross-check: the redo location of the restored instance's latest
-- checkpoint. Its crash recovery ended with an end-of-recovery checkpoint whose redo is the end
-- of the restored WAL (E); later checkpoints only move it forward, so E <= redo_lsn always.
SELECT redo_lsn::text FROM pg_catalog.pg_control_checkpoint()
