-- On the target, where pg_cron's jobs are held (pgl_cron_hold): the
-- source's cron.job rows are replicated, and a replicated UPDATE/INSERT
-- carries the source's active = true — that would run a held job here as
-- well as on the source. This trigger (ENABLE REPLICA: it fires only in
-- the subscription's apply sessions) keeps such a row inactive and records
-- it as held, so cleanup activates it after the switch; a row the source
-- made inactive is no longer held (cleanup must not activate it).
-- Template: fleetcrypt's schema, 7 times (also the trigger's name). Dropped with the schema (CASCADE) at cleanup.
CREATE OR REPLACE FUNCTION %I.hold_replicated_jobs() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $fc$
BEGIN
    IF NEW.active THEN
        NEW.active := false;
        INSERT INTO %I.held_jobs(jobid) VALUES (NEW.jobid) ON CONFLICT DO NOTHING;
    ELSE
        DELETE FROM %I.held_jobs WHERE jobid = NEW.jobid;
    END IF;
    RETURN NEW;
END
$fc$;
DROP TRIGGER IF EXISTS %I ON cron.job;
CREATE TRIGGER %I BEFORE INSERT OR UPDATE ON cron.job
    FOR EACH ROW EXECUTE FUNCTION %I.hold_replicated_jobs();
ALTER TABLE cron.job ENABLE REPLICA TRIGGER %I
