SELECT count(*) FROM pg_catalog.pg_event_trigger WHERE evtname = $1
