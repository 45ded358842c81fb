-- Live validation's progress (cursor and queued key ranges: key values)
-- kept on the target, in fleetcrypt's schema, next to the data they come
-- from — never in Redis. Template: schema, schema. Dropped with the schema.
CREATE SCHEMA IF NOT EXISTS %I;
CREATE TABLE IF NOT EXISTS %I.live_state (id int PRIMARY KEY, state text NOT NULL)
