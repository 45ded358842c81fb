-- End a read-only snapshot of the live validation (nothing to keep).
ROLLBACK
