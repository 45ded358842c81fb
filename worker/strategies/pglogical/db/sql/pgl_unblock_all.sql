-- Every role of the block record (the template's identifier: its schema)
-- let in again and forgotten, in one round trip (pgl_unblock, which listed
-- them just before): a role dropped since is only forgotten, any other
-- error fails the whole.
DO $fc_unblock$
DECLARE r text;
BEGIN
  FOR r IN DELETE FROM %I.blocked_roles RETURNING role::text LOOP
    BEGIN
      EXECUTE pg_catalog.format('ALTER ROLE %%I LOGIN', r);
    EXCEPTION WHEN undefined_object THEN NULL;
    END;
  END LOOP;
END
$fc_unblock$
