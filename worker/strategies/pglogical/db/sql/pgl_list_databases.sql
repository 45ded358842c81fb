-- Databases fleetcrypt replicates: every connectable one but templates and RDS's own.
SELECT datname FROM pg_catalog.pg_database
 WHERE NOT datistemplate AND datallowconn AND datname <> 'rdsadmin'
 ORDER BY datname
