-- The DDL guard: records every schema change (logical replication cannot
-- follow DDL, so the orchestrator aborts the instance when one is seen).
-- Temporary objects and commands that change no replicated schema are ignored,
-- and so is fleetcrypt's own DDL: a session that set fc.own_ddl to this
-- schema's name (ensure_guard, while it re-creates the schema, its tables
-- and this function on a re-run of prepare-source).
CREATE OR REPLACE FUNCTION %I.ddl_guard() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $fc$
DECLARE
    r record;
    n int := 0;
BEGIN
    IF current_setting('fc.own_ddl', true) IS NOT DISTINCT FROM %L THEN
        RETURN;
    END IF;
    IF TG_EVENT = 'sql_drop' THEN
        FOR r IN SELECT * FROM pg_event_trigger_dropped_objects() LOOP
            CONTINUE WHEN r.is_temporary;
            INSERT INTO %I.ddl_events(tag, object)
                 VALUES (TG_TAG, r.object_type || ' ' || coalesce(r.object_identity, ''));
        END LOOP;
        RETURN;
    END IF;
    IF TG_TAG IN ('REFRESH MATERIALIZED VIEW', 'COMMENT', 'GRANT', 'REVOKE',
                  'ALTER DEFAULT PRIVILEGES', 'SECURITY LABEL',
                  'CREATE PUBLICATION', 'ALTER PUBLICATION', 'DROP PUBLICATION',
                  'CREATE SUBSCRIPTION', 'ALTER SUBSCRIPTION', 'DROP SUBSCRIPTION') THEN
        RETURN;
    END IF;
    IF TG_TAG LIKE 'DROP %%' THEN
        RETURN;  -- recorded by the sql_drop event, which knows temporary objects
    END IF;
    FOR r IN SELECT * FROM pg_event_trigger_ddl_commands() LOOP
        n := n + 1;
        CONTINUE WHEN r.schema_name LIKE 'pg\_temp%%';
        INSERT INTO %I.ddl_events(tag, object)
             VALUES (TG_TAG, r.object_type || ' ' || coalesce(r.object_identity, ''));
    END LOOP;
    IF n = 0 THEN
        INSERT INTO %I.ddl_events(tag, object) VALUES (TG_TAG, NULL);
    END IF;
END
$fc$
