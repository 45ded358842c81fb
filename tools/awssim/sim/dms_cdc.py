"""The engine behind a running DMS replication task (dms.py): full load,
change data capture from a PostgreSQL logical replication slot with
test_decoding, apply to the PostgreSQL target, validation.

CDC reads the slot with pg_logical_slot_peek_changes over an ordinary
connection as the source endpoint's user (who needs the REPLICATION
attribute, rds_replication on RDS), applies each source transaction as one
target transaction in commit order, and only after the target COMMIT moves
the slot's confirmed_flush_lsn with pg_replication_slot_advance to the
transaction's end: confirmed_flush_lsn means "applied on the target". The
task's checkpoint (RecoveryCheckpoint) is the same LSN; a resumed task skips
any transaction ending at or before it, so nothing is applied twice.

DMS's documented PostgreSQL-source limitations are kept (docs/emulator.md,
AWS DMS): UPDATE/DELETE of a table without a primary key are ignored unless
the change carries the old row (REPLICA IDENTITY FULL), TRUNCATE and
sequences are not replicated, DDL is not replicated, a duplicate INSERT
goes to awsdms_apply_exceptions (ApplyErrorInsertPolicy LOG_ERROR)."""
import io
import json
import logging
import re
import threading
import time

import psycopg2
import psycopg2.errors
import psycopg2.extras
from psycopg2 import sql

from . import dms_state as dms
from .clock import ShuttingDown

log = logging.getLogger("awssim.dms")

TYPE_RE = re.compile(r'^[A-Za-z0-9_ ."\[\](),]+$')


class Fatal(Exception):
    """A task error DMS stops the task for (Stop Reason FATAL_ERROR)."""


class Stopped(Exception):
    pass


# ------------------------------------------------------------------ registry
def _runners(w):
    r = getattr(w, "dms_runners", None)
    if r is None:
        r = w.dms_runners = {}
    return r


def register(w, runner):
    with w.lock:
        _runners(w)[runner.arn] = runner


def stop(w, arn):
    with w.lock:
        r = _runners(w).get(arn)
    if r:
        r.stop_event.set()


def connect(params, timeout=5, **kw):
    return psycopg2.connect(host=params["host"], port=params["port"], dbname=params["dbname"],
                            user=params["user"], password=params["password"], connect_timeout=timeout,
                            application_name="awssim-dms", **kw)


def probe(params):
    """TestConnection: None when a session opens, else DMS-like message."""
    try:
        c = connect(params)
        c.close()
        return None
    except psycopg2.Error as e:
        return f"Cannot connect to ODBC provider ODBC general error. {str(e).strip()}"


def drop_slot(params, name):
    try:
        c = connect(params)
        c.autocommit = True
        with c.cursor() as cur:
            cur.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                        "WHERE slot_name = %s AND NOT active", (name,))
        c.close()
    except psycopg2.Error as e:
        log.warning("dms: dropping slot %s: %s", name, e)


def lsn_int(s):
    hi, lo = s.split("/")
    return (int(hi, 16) << 32) | int(lo, 16)


def lsn_str(n):
    return f"{n >> 32:X}/{n & 0xFFFFFFFF:X}"


def parse_snapshot(text):
    """pg_current_snapshot() text 'xmin:xmax:xip,...' -> (xmin, xmax, frozenset(xip)), 64-bit xids."""
    xmin, xmax, xip = text.split(":")
    return int(xmin), int(xmax), frozenset(int(x) for x in xip.split(",") if x)


def snapshot_sees(snap, xid32):
    """Is the transaction with 32-bit xid xid32 (as test_decoding prints it) committed and visible in
    the snapshot? Widened to 64 bits as the nearest to the snapshot's xmax (PostgreSQL's xid
    arithmetic: within 2^31 either side)."""
    xmin, xmax, xip = snap
    full = (xmax & ~0xFFFFFFFF) | (xid32 & 0xFFFFFFFF)
    if full > xmax + (1 << 31):
        full -= 1 << 32
    elif full < xmax - (1 << 31):
        full += 1 << 32
    return full < xmin or (full < xmax and full not in xip)


# ------------------------------------------------------------------ test_decoding parsing
def _ident(s, i):
    """A possibly double-quoted identifier at s[i:] -> (name, next index)."""
    if s[i] == '"':
        j, out = i + 1, []
        while True:
            k = s.index('"', j)
            out.append(s[j:k])
            if s.startswith('""', k):
                out.append('"')
                j = k + 2
                continue
            return "".join(out), k + 1
    j = i
    while j < len(s) and s[j] not in ".[: ":
        j += 1
    return s[i:j], j


def parse_table(s, i):
    schema, i = _ident(s, i)
    if s[i] != ".":
        raise ValueError("no schema")
    name, i = _ident(s, i + 1)
    return schema, name, i


def parse_tuple(s, i):
    """Columns 'name[type]:value ...' from s[i:] up to ' new-tuple:' or the end
    -> (list of (name, type, value|None, unchanged), next index)."""
    cols = []
    n = len(s)
    while i < n:
        while i < n and s[i] == " ":
            i += 1
        if i >= n or s.startswith("new-tuple:", i):
            break
        name, i = _ident(s, i)
        if s[i] != "[":
            raise ValueError(f"bad column at {i}")
        k = s.index("]:", i + 1)
        typ = s[i + 1:k]
        i = k + 2
        unchanged = False
        if s.startswith("null", i) and (i + 4 == n or s[i + 4] == " "):
            val, i = None, i + 4
        elif s.startswith("unchanged-toast-datum", i):
            val, i, unchanged = None, i + len("unchanged-toast-datum"), True
        elif s[i] == "'" or s.startswith("B'", i):
            j = i + (2 if s[i] == "B" else 1)
            out = []
            while True:
                k = s.index("'", j)
                out.append(s[j:k])
                if s.startswith("''", k):
                    out.append("'")
                    j = k + 2
                    continue
                i = k + 1
                break
            val = "".join(out)
        else:
            k = s.find(" ", i)
            k = n if k < 0 else k
            val, i = s[i:k], k
        cols.append((name, typ, val, unchanged))
    return cols, i


def parse_change(data):
    """One test_decoding change line -> dict or None (BEGIN/COMMIT are not changes)."""
    if not data.startswith("table "):
        return None
    schema, name, i = parse_table(data, 6)
    if not data.startswith(": ", i):
        raise ValueError("bad change")
    i += 2
    k = data.index(":", i)
    op = data[i:k]
    i = k + 1
    ch = {"schema": schema, "table": name, "op": op, "old": None, "new": None}
    rest = data[i:].strip()
    if op == "TRUNCATE" or rest in ("(no-tuple-data)", "(no-tuple data)"):
        return ch
    j = data.find("old-key:", i)
    if j >= 0 and data[i:j].strip() == "":
        ch["old"], i = parse_tuple(data, j + len("old-key:"))
        j = data.find("new-tuple:", i)
        if j >= 0:
            ch["new"], _ = parse_tuple(data, j + len("new-tuple:"))
    else:
        tup, _ = parse_tuple(data, i)
        if op == "DELETE":
            ch["old"] = tup
        else:
            ch["new"] = tup
    return ch


# ------------------------------------------------------------------ the runner
class Runner:
    def __init__(self, w, store, arn, kind, capacity_blocked=False, recovered=False):
        self.w, self.store, self.arn, self.kind = w, store, arn, kind
        self.recovered = recovered   # resumed after an emulator restart: the instances' servers may still start
        self.capacity_blocked = capacity_blocked
        self.stop_event = threading.Event()
        self.pk_cache = {}
        self.validate_due = set()
        self.suspect = {}

    # ---- task record helpers (under the world lock)
    def _task(self):
        return dms.dms(self.store)["tasks"][self.arn]

    def _set(self, **kw):
        with self.w.lock:
            self._task().update(kw)
        self.w.mark_dirty()

    def _table(self, schema, name):
        t = self._task()
        key = f"{schema}.{name}"
        s = t["_tables"].get(key)
        if s is None:
            s = t["_tables"][key] = {"SchemaName": schema, "TableName": name, "Inserts": 0, "Deletes": 0,
                                     "Updates": 0, "Ddls": 0, "FullLoadRows": 0, "FullLoadCondtnlChkFailedRows": 0,
                                     "FullLoadErrorRows": 0, "LastUpdateTime": time.time(),
                                     "TableState": "Before load", "ValidationPendingRecords": 0,
                                     "ValidationFailedRecords": 0, "ValidationSuspendedRecords": 0,
                                     "ValidationState": "Not enabled"}
        return s

    def _stat(self, schema, name, **kw):
        with self.w.lock:
            s = self._table(schema, name)
            for k, v in kw.items():
                if k in ("Inserts", "Deletes", "Updates", "FullLoadRows") and isinstance(v, int) and k in s \
                        and kw.get("_add"):
                    s[k] += v
                else:
                    s[k] = v
            s.pop("_add", None)
            s["LastUpdateTime"] = time.time()
        self.w.mark_dirty()

    def _count(self, schema, name, field):
        with self.w.lock:
            s = self._table(schema, name)
            s[field] += 1
            s["LastUpdateTime"] = time.time()

    def crashed(self, e):
        """world.spawn's on_error (under the world lock)."""
        t = dms.dms(self.store)["tasks"].get(self.arn)
        if t:
            t.update(Status="failed", StopReason="Stop Reason FATAL_ERROR",
                     LastFailureMessage=f"Last Error {type(e).__name__}: {e}")
            t["ReplicationTaskStats"]["StopDate"] = time.time()

    def _finish(self, status, reason, message=None):
        with self.w.lock:
            t = self._task()
            t["Status"] = status
            t["StopReason"] = reason
            if message:
                t["LastFailureMessage"] = message
            st = t["ReplicationTaskStats"]
            st["StopDate"] = time.time()
            st["ElapsedTimeMillis"] = int((time.time() - st.get("StartDate", time.time())) * 1000)
            _runners(self.w).pop(self.arn, None)
        self.w.mark_dirty()

    # ---- main
    def run(self):
        w = self.w
        w.pace(dms.DUR["task_start"], time.monotonic())
        with w.lock:
            t = self._task()
            d = dms.dms(self.store)
            self.settings = json.loads(t["ReplicationTaskSettings"])
            self.rules = dms.parse_mappings(t["TableMappings"])
            self.mt = t["MigrationType"]
            self.name = self.arn.rsplit(":", 1)[1]
            se, te = d["endpoints"][t["SourceEndpointArn"]], d["endpoints"][t["TargetEndpointArn"]]
            self.sp, self.tp = dms.conn_params(se), dms.conn_params(te)
            self.spg, self.tpg = dict(se.get("PostgreSQLSettings") or {}), dict(te.get("PostgreSQLSettings") or {})
            self.start_pos = dms.parse_start(t.get("CdcStartPosition"))
            self.checkpoint = t.get("_checkpoint")
            self.own_slot = t.get("_own_slot")
        if self.capacity_blocked:
            self._finish("failed", "Stop Reason FATAL_ERROR",
                         "Last Error The replication instance has reached its capacity of running tasks. "
                         "Stop Reason FATAL_ERROR Error Level FATAL")
            return
        eb = self.settings["ErrorBehavior"]
        retries = int(eb.get("RecoverableErrorCount", -1))
        retries = 0 if retries < 0 else retries
        attempt = 0
        while True:
            try:
                self._run_once()
                return
            except Stopped:
                self._finish("stopped", "Stop Reason NORMAL")
                return
            except Fatal as e:
                self._finish("failed", "Stop Reason FATAL_ERROR", f"Last Error {e} Stop Reason FATAL_ERROR "
                             "Error Level FATAL")
                return
            except (psycopg2.OperationalError, psycopg2.InterfaceError) as e:
                if w.clock.stop_event.is_set():
                    raise ShuttingDown() from None
                msg = " ".join(str(e).split())
                log.warning("dms task %s: recoverable error: %s", self.name, msg)
                if self.stop_event.is_set():
                    self._finish("stopped", "Stop Reason NORMAL")
                    return
                if self.recovered and attempt < 120:
                    attempt += 1
                    if self.stop_event.wait(1.0):
                        self._finish("stopped", "Stop Reason NORMAL")
                        return
                    self.kind = "resume-processing"
                    continue
                if attempt >= retries:
                    self._finish("failed", "Stop Reason RECOVERABLE_ERROR",
                                 f"Last Error ODBC general error. {msg} Task error notification received from "
                                 "subtask 0, thread 0. Stop Reason RECOVERABLE_ERROR Error Level RECOVERABLE")
                    return
                attempt += 1
                self._set(LastFailureMessage=f"Last Error ODBC general error. {msg}")
                if self.stop_event.wait(max(0.2, float(eb.get("RecoverableErrorInterval", 5)) * w.clock.scale)):
                    self._finish("stopped", "Stop Reason NORMAL")
                    return
                self.kind = "resume-processing"

    def _connect_target(self):
        c = connect(self.tp)
        script = self.tpg.get("AfterConnectScript")
        if script:
            c.autocommit = True
            with c.cursor() as cur:
                cur.execute(script)
        c.autocommit = False
        return c

    def _connect_source(self):
        c = connect(self.sp)
        c.autocommit = True
        script = self.spg.get("AfterConnectScript")
        if script:
            with c.cursor() as cur:
                cur.execute(script)
        return c

    def _run_once(self):
        self.src = self._connect_source()
        self.tgt = self._connect_target()
        try:
            self.tables = self._select_tables()
            with self.w.lock:
                for s, n in self.tables:
                    self._table(s, n)
                if self._task()["Status"] == "starting":   # not when a stop came meanwhile
                    self._task()["Status"] = "running"
                st = self._task()["ReplicationTaskStats"]
                st["TablesQueued"] = len(self.tables) if self.mt != "cdc" else 0
            self.w.mark_dirty()
            val = self.settings["ValidationSettings"]
            cdc = self.mt in ("cdc", "full-load-and-cdc")
            resume = self.kind == "resume-processing"
            with self.w.lock:
                loaded = self._task().get("_loaded")
            snap_conn = None
            if cdc:
                slot, snap_conn, snapshot = self._prepare_slot(want_snapshot=(self.mt == "full-load-and-cdc"
                                                                              and not (resume and loaded)))
            else:
                slot, snapshot = None, None
            if self.mt != "cdc" and not (resume and loaded):
                if val.get("ValidationOnly"):
                    self._validate_all(final=True)
                else:
                    self._full_load(snapshot)
                    if snap_conn is not None:
                        snap_conn.close()
                        snap_conn = None
                    with self.w.lock:
                        self._task()["_loaded"] = True
                    if val.get("EnableValidation"):
                        self._validate_all(final=self.mt == "full-load")
            if snap_conn is not None:
                snap_conn.close()
            if not cdc:
                self._finish("stopped", "Stop Reason FULL_LOAD_ONLY_FINISHED")
                return
            with self.w.lock:
                for s, n in self.tables:
                    tb = self._table(s, n)
                    if tb["TableState"] == "Before load":
                        tb["TableState"] = "Table completed"
            self._cdc(slot)
        finally:
            for c in (getattr(self, "src", None), getattr(self, "tgt", None)):
                try:
                    c.close()
                except Exception:  # noqa: BLE001
                    pass

    # ---- tables
    def _select_tables(self):
        with self.src.cursor() as cur:
            cur.execute("SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                        "WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition "
                        "AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%%' "
                        "AND c.relname NOT LIKE 'awsdms\\_%%' ORDER BY 1, 2")
            allt = cur.fetchall()
        chosen = []
        for s, n in allt:
            inc = False
            for r in self.rules:
                loc = r["object-locator"]
                if _like(s, loc["schema-name"]) and _like(n, loc["table-name"]):
                    if r["rule-action"] == "exclude":
                        inc = False
                        break
                    inc = True
            if inc:
                chosen.append((s, n))
        return chosen

    def _pk(self, schema, name):
        key = (schema, name)
        if key not in self.pk_cache:
            with self.src.cursor() as cur:
                cur.execute("SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
                            "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = (quote_ident(%s) || '.' || "
                            "quote_ident(%s))::regclass AND i.indisprimary ORDER BY array_position(i.indkey, "
                            "a.attnum)", (schema, name))
                self.pk_cache[key] = [r[0] for r in cur.fetchall()]
        return self.pk_cache[key]

    def _columns(self, conn, schema, name):
        with conn.cursor() as cur:
            cur.execute("SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull FROM pg_attribute a "
                        "WHERE a.attrelid = (quote_ident(%s) || '.' || quote_ident(%s))::regclass AND a.attnum > 0 "
                        "AND NOT a.attisdropped AND a.attgenerated = '' ORDER BY a.attnum", (schema, name))
            return cur.fetchall()

    def _target_exists(self, schema, name):
        with self.tgt.cursor() as cur:
            cur.execute("SELECT to_regclass(quote_ident(%s) || '.' || quote_ident(%s)) IS NOT NULL", (schema, name))
            return cur.fetchone()[0]

    # ---- slot
    def _prepare_slot(self, want_snapshot):
        slot = self.spg.get("SlotName")
        with self.src.cursor() as cur:
            cur.execute("SELECT plugin, confirmed_flush_lsn::text, active FROM pg_replication_slots "
                        "WHERE slot_name = %s AND database = current_database()", (slot or self.own_slot or "",))
            row = cur.fetchone()
        if not slot:
            slot = self.own_slot
            if not slot:
                slot = f"awsdms_{self.name.lower()}"
                with self.w.lock:
                    self._task()["_own_slot"] = slot
                self.own_slot = slot
            if row and self.kind != "resume-processing" and want_snapshot:
                drop_slot(self.sp, slot)        # reload-target / restart: a fresh slot with the load's snapshot
                row = None
        if row:
            if row[0] != "test_decoding":
                raise Fatal(f"Replication slot '{slot}' uses the output plugin {row[0]}; the task reads it with "
                            "test_decoding (pglogical is not emulated)")
            return slot, None, None
        if self.spg.get("SlotName") and self.start_pos:
            raise Fatal(f"Replication slot '{slot}' does not exist on the source (a CdcStartPosition needs it)")
        if not want_snapshot:
            with self.src.cursor() as cur:
                cur.execute("SELECT pg_create_logical_replication_slot(%s, 'test_decoding')", (slot,))
            return slot, None, None
        rc = connect(self.sp, connection_factory=psycopg2.extras.LogicalReplicationConnection)
        with rc.cursor() as cur:
            cur.execute(f"CREATE_REPLICATION_SLOT {sql.Identifier(slot).as_string(rc)} LOGICAL test_decoding "
                        "EXPORT_SNAPSHOT")
            snapshot = cur.fetchone()[2]
        return slot, rc, snapshot

    # ---- full load
    def _full_load(self, snapshot):
        prep = self.settings["FullLoadSettings"]["TargetTablePrepMode"]
        load = connect(self.sp)
        now = time.time()
        with self.w.lock:
            self._task()["ReplicationTaskStats"]["FullLoadStartDate"] = now
        try:
            with load.cursor() as cur:
                cur.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                if snapshot:
                    cur.execute("SET TRANSACTION SNAPSHOT %s", (snapshot,))
                # the transactions the load sees: CDC skips them (see _load_visible)
                cur.execute("SELECT pg_current_snapshot()::text")
                snap = cur.fetchone()[0]
            with self.w.lock:
                self._task()["_load_snap"] = snap
            self.load_snap = parse_snapshot(snap)
            done = 0
            for schema, name in self.tables:
                if self.stop_event.is_set():
                    raise Stopped()
                self._stat(schema, name, TableState="Full load", FullLoadStartTime=time.time())
                with self.w.lock:
                    st = self._task()["ReplicationTaskStats"]
                    st["TablesLoading"] = 1
                    st["TablesQueued"] = max(0, st["TablesQueued"] - 1)
                try:
                    n = self._load_table(load, schema, name, prep)
                except psycopg2.DatabaseError as e:
                    if isinstance(e, (psycopg2.OperationalError, psycopg2.InterfaceError)):
                        raise
                    self.tgt.rollback()
                    log.warning("dms task %s: full load of %s.%s failed: %s", self.name, schema, name, e)
                    self._stat(schema, name, TableState="Table error", FullLoadEndTime=time.time())
                    with self.w.lock:
                        self._task()["ReplicationTaskStats"]["TablesErrored"] += 1
                    continue
                done += 1
                self._stat(schema, name, TableState="Table completed", FullLoadRows=n, FullLoadEndTime=time.time())
                with self.w.lock:
                    st = self._task()["ReplicationTaskStats"]
                    st["TablesLoading"] = 0
                    st["TablesLoaded"] += 1
                    st["FullLoadProgressPercent"] = int(100 * (done) / max(1, len(self.tables)))
            load.rollback()
        finally:
            load.close()
        with self.w.lock:
            st = self._task()["ReplicationTaskStats"]
            st["FullLoadFinishDate"] = time.time()
            st["FullLoadProgressPercent"] = 100
        self.w.mark_dirty()

    def _load_table(self, load, schema, name, prep):
        cols = self._columns(load, schema, name)
        qt = sql.Identifier(schema, name)
        exists = self._target_exists(schema, name)
        with self.tgt.cursor() as cur:
            if prep == "DROP_AND_CREATE" and exists:
                # no CASCADE: as with DMS, a table other tables' foreign keys reference cannot be dropped
                # (the load of that table fails); TRUNCATE below fails the same way (PostgreSQL refuses
                # to truncate a referenced table, whatever session_replication_role)
                cur.execute(sql.SQL("DROP TABLE {}").format(qt))
                exists = False
            if not exists:
                self._create_target(cur, load, schema, name, cols)
            elif prep == "TRUNCATE_BEFORE_LOAD":
                cur.execute(sql.SQL("TRUNCATE TABLE {}").format(qt))
            names = sql.SQL(", ").join(sql.Identifier(c[0]) for c in cols)
            buf = io.StringIO()
            with load.cursor() as lc:
                lc.copy_expert(sql.SQL("COPY (SELECT {} FROM {}) TO STDOUT").format(names, qt).as_string(load), buf)
            buf.seek(0)
            n = sum(1 for _ in buf)
            buf.seek(0)
            cur.copy_expert(sql.SQL("COPY {} ({}) FROM STDIN").format(qt, names).as_string(self.tgt), buf)
        self.tgt.commit()
        return n

    def _create_target(self, cur, load, schema, name, cols):
        """DMS creates what it needs: the schema, the table, its primary key."""
        for c in cols:
            if not TYPE_RE.match(c[1]):
                raise Fatal(f"unsupported column type {c[1]!r}")
        cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        parts = [sql.SQL("{} {}{}").format(sql.Identifier(c[0]), sql.SQL(c[1]), sql.SQL(" NOT NULL" if c[2] else ""))
                 for c in cols]
        pk = self._pk(schema, name)
        if pk:
            parts.append(sql.SQL("PRIMARY KEY ({})").format(sql.SQL(", ").join(sql.Identifier(k) for k in pk)))
        cur.execute(sql.SQL("CREATE TABLE {} ({})").format(sql.Identifier(schema, name), sql.SQL(", ").join(parts)))

    # ---- CDC
    def _cdc(self, slot):
        hb = bool(self.spg.get("HeartbeatEnable"))
        skip_upto = 0
        with self.src.cursor() as cur:
            cur.execute("SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = %s", (slot,))
            row = cur.fetchone()
            if not row:
                raise Fatal(f"Replication slot '{slot}' does not exist on the source")
            confirmed = lsn_int(row[0]) if row[0] else 0
            if self.kind == "resume-processing" and self.checkpoint:
                skip_upto = lsn_int(self.checkpoint)
            elif self.start_pos:
                want = lsn_int(self.start_pos)
                if want > confirmed:
                    # DMS's START_REPLICATION at the LSN: the server skips every transaction whose commit
                    # record begins before it (a position that is not a change boundary starts at the first
                    # transaction committed at or after it)
                    cur.execute("SELECT pg_replication_slot_advance(%s, %s::pg_lsn)", (slot, self.start_pos))
                    skip_upto = want - 1   # a position beyond the server's WAL end: skip up to it
        last_validate = time.monotonic()
        last_hb = None
        while True:
            if self.w.clock.stop_event.is_set():
                raise ShuttingDown()     # the emulator stops: the task stays running and resumes at start-up
            if self.stop_event.is_set():
                raise Stopped()
            if hb and (last_hb is None or time.monotonic() - last_hb >= self._hb_every()):
                self._heartbeat()
                last_hb = time.monotonic()
            try:
                with self.src.cursor() as cur:
                    cur.execute("SELECT lsn::text, xid::text, data FROM pg_logical_slot_peek_changes(%s, NULL, "
                                "%s, 'include-xids', '1', 'skip-empty-xacts', '0')", (slot, 2000))
                    rows = cur.fetchall()
            except psycopg2.errors.ObjectInUse:
                rows = None        # another session reads the slot right now (a peek): try again
            if not rows:
                if rows is not None and self.validate_due and time.monotonic() - last_validate > 0.5:
                    self._validate_all(final=False)
                    last_validate = time.monotonic()
                if self.stop_event.wait(0.2):
                    raise Stopped()
                continue
            txn = []
            for lsn, xid, data in rows:
                if data.startswith("BEGIN"):
                    txn = []
                elif data.startswith("COMMIT"):
                    end = lsn_int(lsn)
                    if end > skip_upto and not self._load_visible(xid):
                        self._apply_txn(txn)
                    self._advance(slot, end)
                    txn = []
                    if self.stop_event.is_set():
                        raise Stopped()
                else:
                    txn.append(data)

    def _load_visible(self, xid):
        """Did the full load already read this transaction's changes (committed and visible in the
        load's snapshot)? Then CDC does not apply it again. With a slot made for the load
        (EXPORT_SNAPSHOT) no decoded transaction is; with an existing slot (SlotName) the load takes a
        later snapshot and the slot also returns the transactions committed between its position and
        that snapshot: applied again they would double rows (DMS applies a table's changes from the
        start of that table's load on)."""
        snap = getattr(self, "load_snap", None)
        if snap is None:
            with self.w.lock:
                text = self._task().get("_load_snap")
            snap = self.load_snap = parse_snapshot(text) if text else ()
        return bool(snap) and xid is not None and snapshot_sees(snap, int(xid))

    def _hb_every(self):
        """HeartbeatFrequency (minutes, default 5) in real seconds at the time scale; at least 1 s."""
        return max(1.0, float(self.spg.get("HeartbeatFrequency") or 5) * 60 * self.w.clock.scale)

    def _heartbeat(self):
        """DMS's heartbeat (HeartbeatEnable): a write to awsdms_heartbeat in HeartbeatSchema on the
        source, so that the slot's position moves while the captured tables are idle."""
        schema = sql.Identifier(self.spg.get("HeartbeatSchema") or "public")
        with self.src.cursor() as cur:
            cur.execute(sql.SQL("CREATE TABLE IF NOT EXISTS {}.awsdms_heartbeat (hearbeat_id serial PRIMARY KEY, "
                                "heartbeat_timestamp timestamp)").format(schema))
            cur.execute(sql.SQL("INSERT INTO {}.awsdms_heartbeat VALUES (1, now() AT TIME ZONE 'UTC') ON CONFLICT "
                                "(hearbeat_id) DO UPDATE SET heartbeat_timestamp = excluded.heartbeat_timestamp")
                        .format(schema))

    def _advance(self, slot, end):
        """After the target commit: the slot's confirmed position and the task's checkpoint."""
        with self.src.cursor() as cur:
            cur.execute("SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = %s", (slot,))
            row = cur.fetchone()
            if row and row[0] and lsn_int(row[0]) < end:
                cur.execute("SELECT pg_replication_slot_advance(%s, %s::pg_lsn)", (slot, lsn_str(end)))
        with self.w.lock:
            t = self._task()
            t["_checkpoint"] = lsn_str(end)
            t["_ckpt_n"] = t.get("_ckpt_n", 0) + 1
            t["RecoveryCheckpoint"] = f"checkpoint:V1#{t['_ckpt_n']}#{lsn_str(end)}#0#0#*#0#0"
        self.checkpoint = lsn_str(end)
        self.w.mark_dirty()

    def _selected(self, schema, name):
        return (schema, name) in self.tables_set

    @property
    def tables_set(self):
        s = getattr(self, "_tset", None)
        if s is None:
            s = self._tset = set(self.tables)
        return s

    def _apply_txn(self, lines):
        eb = self.settings["ErrorBehavior"]
        counts = []
        with self.tgt.cursor() as cur:
            for data in lines:
                try:
                    ch = parse_change(data)
                except (ValueError, IndexError) as e:
                    self.tgt.rollback()
                    raise Fatal(f"cannot decode a change of the source's slot ({e})") from None
                if ch is None or not self._selected(ch["schema"], ch["table"]):
                    continue
                if ch["op"] == "TRUNCATE":
                    continue            # DMS: TRUNCATE is not replicated from a PostgreSQL source
                stmt = self._statement(ch)
                if stmt is None:
                    continue            # no primary key and no old row: DMS ignores UPDATE/DELETE
                counts.append((ch["schema"], ch["table"], {"INSERT": "Inserts", "UPDATE": "Updates",
                                                          "DELETE": "Deletes"}[ch["op"]]))
                cur.execute("SAVEPOINT awsdms_change")
                err = None
                try:
                    cur.execute(stmt)
                    if ch["op"] != "INSERT" and cur.rowcount == 0:
                        err = "0 rows affected"
                except psycopg2.errors.UniqueViolation as e:
                    err = " ".join(str(e).split())
                except (psycopg2.OperationalError, psycopg2.InterfaceError):
                    raise
                except psycopg2.DatabaseError as e:
                    err = " ".join(str(e).split())
                if err is None:
                    cur.execute("RELEASE SAVEPOINT awsdms_change")
                    continue
                cur.execute("ROLLBACK TO SAVEPOINT awsdms_change")
                policy = {"INSERT": eb.get("ApplyErrorInsertPolicy", "LOG_ERROR"),
                          "UPDATE": eb.get("ApplyErrorUpdatePolicy", "LOG_ERROR"),
                          "DELETE": eb.get("ApplyErrorDeletePolicy", "IGNORE_RECORD")}[ch["op"]]
                if policy == "STOP_TASK":
                    self.tgt.rollback()
                    raise Fatal(f"Failed to apply a change to {ch['schema']}.{ch['table']}: {err}")
                if policy == "INSERT_RECORD" and ch["op"] == "INSERT":
                    cur.execute(self._statement(dict(ch, op="UPDATE", old=None)))
                    continue
                if policy == "UPDATE_RECORD" and ch["op"] == "UPDATE":
                    cur.execute(self._statement(dict(ch, op="INSERT")))
                    continue
                if policy == "LOG_ERROR":
                    self._exception(cur, ch, stmt, err)
        self.tgt.commit()
        with self.w.lock:
            for s, n, f in counts:
                tb = self._table(s, n)
                tb[f] += 1
                tb["LastUpdateTime"] = time.time()
                if self.settings["ValidationSettings"].get("EnableValidation"):
                    tb["ValidationState"] = "Pending records"
                    self.validate_due.add((s, n))

    def _statement(self, ch):
        qt = sql.Identifier(ch["schema"], ch["table"])
        pk = self._pk(ch["schema"], ch["table"])

        def val(c):
            if not TYPE_RE.match(c[1]):
                raise Fatal(f"unsupported column type {c[1]!r}")
            if c[2] is None:
                return sql.SQL("NULL")
            return sql.SQL("{}::{}").format(sql.Literal(c[2]), sql.SQL(c[1]))

        if ch["op"] == "INSERT":
            cols = ch["new"]
            q = sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
                qt, sql.SQL(", ").join(sql.Identifier(c[0]) for c in cols), sql.SQL(", ").join(val(c) for c in cols))
            return q.as_string(self.tgt)
        # UPDATE / DELETE: the old key (REPLICA IDENTITY FULL or a changed key), else the primary key
        if ch["old"]:
            where = [c for c in ch["old"] if not c[3]]
        elif pk and ch["new"]:
            where = [c for c in ch["new"] if c[0] in pk]
        else:
            return None
        if not where:
            return None
        cond = sql.SQL(" AND ").join(sql.SQL("{} IS NOT DISTINCT FROM {}").format(sql.Identifier(c[0]), val(c))
                                     for c in where)
        if ch["op"] == "DELETE":
            return sql.SQL("DELETE FROM {} WHERE {}").format(qt, cond).as_string(self.tgt)
        sets = [c for c in ch["new"] if not c[3]]
        q = sql.SQL("UPDATE {} SET {} WHERE {}").format(
            qt, sql.SQL(", ").join(sql.SQL("{} = {}").format(sql.Identifier(c[0]), val(c)) for c in sets), cond)
        return q.as_string(self.tgt)

    def _control_schema(self):
        return self.settings.get("ControlTablesSettings", {}).get("ControlSchema") or "public"

    def _exception(self, cur, ch, stmt, err):
        cs = sql.Identifier(self._control_schema())
        cur.execute(sql.SQL('CREATE TABLE IF NOT EXISTS {}.awsdms_apply_exceptions ("TASK_NAME" varchar(128) NOT NULL, '
                            '"TABLE_OWNER" varchar(128) NOT NULL, "TABLE_NAME" varchar(128) NOT NULL, '
                            '"ERROR_TIME" timestamp NOT NULL, "STATEMENT" text NOT NULL, "ERROR" text NOT NULL)')
                    .format(cs))
        cur.execute(sql.SQL("INSERT INTO {}.awsdms_apply_exceptions VALUES (%s, %s, %s, now() AT TIME ZONE 'UTC', "
                            "%s, %s)").format(cs), (self.name, ch["schema"], ch["table"], stmt, err))

    # ---- validation
    def _validate_all(self, final):
        tables = self.tables if final or not self.validate_due else sorted(self.validate_due)
        if not final:
            self.validate_due = set()
        for schema, name in tables:
            self._validate(schema, name, final)

    def _rows(self, conn, schema, name, cols, pk):
        q = sql.SQL("SELECT {}, {} FROM {}").format(
            sql.SQL(", ").join(sql.SQL("{}::text").format(sql.Identifier(k)) for k in pk),
            sql.SQL(", ").join(sql.SQL("{}::text").format(sql.Identifier(c)) for c in cols),
            sql.Identifier(schema, name))
        with conn.cursor() as cur:
            cur.execute(q)
            return {tuple(r[:len(pk)]): tuple(r[len(pk):]) for r in cur.fetchall()}

    def _validate(self, schema, name, final):
        pk = self._pk(schema, name)
        if not pk:
            self._stat(schema, name, ValidationState="No primary key")
            return
        cols = [c[0] for c in self._columns(self.src, schema, name)]
        if not self._target_exists(schema, name):
            self._stat(schema, name, ValidationState="Table error")
            return
        src = self._rows(self.src, schema, name, cols, pk)
        tgt = self._rows(self.tgt, schema, name, cols, pk)
        self.tgt.commit()
        fails = []
        for k in set(src) | set(tgt):
            if k not in tgt:
                fails.append((k, "MISSING_TARGET", "row missing on the target"))
            elif k not in src:
                fails.append((k, "MISSING_SOURCE", "row missing on the source"))
            elif src[k] != tgt[k]:
                diff = [c for c, a, b in zip(cols, src[k], tgt[k]) if a != b]
                fails.append((k, "RECORD_DIFF", "differing columns: " + ", ".join(diff)))
        if not final:
            # a live source: only a mismatch seen twice in a row is a failure
            keys = {f[0] for f in fails}
            prev = self.suspect.get((schema, name), set())
            self.suspect[(schema, name)] = keys
            if keys - prev:
                self.validate_due.add((schema, name))
            fails = [f for f in fails if f[0] in prev]
        cs = sql.Identifier(self._control_schema())
        with self.tgt.cursor() as cur:
            cur.execute(sql.SQL('CREATE TABLE IF NOT EXISTS {}.awsdms_validation_failures_v1 ("TASK_NAME" '
                                'varchar(128) NOT NULL, "TABLE_OWNER" varchar(128) NOT NULL, "TABLE_NAME" '
                                'varchar(128) NOT NULL, "FAILURE_TIME" timestamp NOT NULL, "KEY_TYPE" varchar(128) '
                                'NOT NULL, "KEY" varchar(7800) NOT NULL, "FAILURE_TYPE" varchar(128) NOT NULL, '
                                '"DETAILS" varchar(7800) NOT NULL)').format(cs))
            cur.execute(sql.SQL('DELETE FROM {}.awsdms_validation_failures_v1 WHERE "TASK_NAME" = %s AND '
                                '"TABLE_OWNER" = %s AND "TABLE_NAME" = %s').format(cs), (self.name, schema, name))
            for k, kind, details in fails:
                cur.execute(sql.SQL("INSERT INTO {}.awsdms_validation_failures_v1 VALUES (%s, %s, %s, "
                                    "now() AT TIME ZONE 'UTC', 'Row', %s, %s, %s)").format(cs),
                            (self.name, schema, name, json.dumps({"key": list(k)}), kind, details))
        self.tgt.commit()
        pending = (schema, name) in self.validate_due
        state = "Mismatched records" if fails else ("Pending records" if pending else "Validated")
        self._stat(schema, name, ValidationState=state, ValidationFailedRecords=len(fails),
                   ValidationPendingRecords=0)


def _like(s, pattern):
    rx = "".join(".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern)
    return re.fullmatch(rx, s) is not None
