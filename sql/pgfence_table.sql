-- fleetcrypt's fence in the databases it changes (lib/pgfence.c): one row per
-- server role. `holder` is the newest fencing number (the Redis lease's) that
-- acted on this server; a mutation runs only in a transaction that finds its
-- own number there (or a smaller one, which it replaces). `drained`: the
-- cutover drained every slot to L with writers blocked ever since (cleared in
-- the same transaction that lets writers in again). Created with the guard,
-- before the snapshot, so the restored target has it too; the source only
-- ever updates row 'source' and the target row 'target', so the replicated
-- copy of the source's row never overwrites the target's own.
CREATE TABLE IF NOT EXISTS %I.fence (
    id      text        PRIMARY KEY CHECK (id IN ('source', 'target')),
    holder  numeric     NOT NULL DEFAULT 0,
    drained boolean     NOT NULL DEFAULT false,
    at      timestamptz NOT NULL DEFAULT now());
INSERT INTO %I.fence(id) VALUES ('source'), ('target') ON CONFLICT DO NOTHING
