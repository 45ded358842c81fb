"""mysql-binlog with --cutover-method cname (issue 16, part 2) on real
servers (Redis, Kafka, the AWS emulator with a real MariaDB behind every
mysql/mariadb instance, its Route 53 and DNS server, the real fleetcrypt
binaries).

The application reaches its database through a CNAME of its own
(db1.corp.example. -> the source's Endpoint.Address, every instance its own
address in the emulator): the writer resolves the name through the
emulator's DNS server (the ready file's `dns`, FLEETCRYPT_DNS_ADDR's) for
every connection and connects to the address it gets on the port the
application was given (the source's Endpoint.Port: the restored target
keeps it, as on RDS; every instance listens at its own address).

- the record named by the tag fleetcrypt:cname: every acknowledged row
  exactly once on the encrypted instance, which keeps its own identifier;
  the CNAME on its Endpoint.Address with the old TTL back; the source keeps
  its identifier (not renamed), retired (tagged, stopped) with the
  application account still locked;
- the record named by the campaign file field `cname`, aborted after the
  TTL was lowered: the record's value and TTL restored, the source
  writable again for the application;
- the worker killed right after the switch's UPSERT (crash point
  cutover.cname_upserted): the next holder learns the switch from Route 53,
  waits for INSYNC, never blocks writers again, rows exactly once;
- refused at preflight with one line, nothing changed: an instance behind an
  RDS Proxy, an instance with no record named, an Aurora MySQL cluster.

All slow (a campaign each); run them at FLEETCRYPT_SIM_TIME_SCALE=0.02 too."""
import os

import pymysql
import pytest

from cname_util import OLD_TTL, ZONE, abort_after_ttl_lowered, app_cname, record, resolve
from fclib import wait_until
from pglogical_strategy_util import wait_terminal
from test_mysqlbinlog import APP, APP_PW, GROUPS, Writer, _app_schema, _conn, _group, _make, _q, _secret_file, \
    _tags
from test_pglogical_cutover_resume import crash_env, worker_lines

class CnameWriter(Writer):
    """test_mysqlbinlog.Writer whose every connection resolves `name`
    through the emulator's DNS server (TLS verified against the emulated
    RDS CA for the address it answers)."""

    def __init__(self, sim, name, port, **kw):
        super().__init__(sim, None, **kw)
        self.name, self.app_port = name, port
        self.hosts = set()
        self.last_error = None

    def _connect(self):
        addr = resolve(self.sim, self.name)
        if not addr:
            raise RuntimeError("no answer")
        self.hosts.add(addr)
        try:
            return self._open(addr)
        except Exception as e:
            self.last_error = f"{addr}: {e!r}"
            raise

    def _open(self, addr):
        return pymysql.connect(host=addr, port=self.app_port, user=APP, password=APP_PW, database="app",
                               autocommit=True, connect_timeout=2, read_timeout=10, write_timeout=10,
                               ssl_ca=self.sim.info["rds_ca_bundle"], ssl_verify_cert=True)


def _setup(stack, awssim, world, ident, name, fname, tag=True, fields=None):
    sim = awssim
    _make(sim, ident, "mariadb", _group(sim, *GROUPS["mariadb"]))
    sim.wait_instance(ident, "available", timeout=120)
    _app_schema(sim, ident)
    src, zid, opts = app_cname(sim, world, ident, name, fname, tag=tag, fields=fields)
    return src, zid, opts, stack.make_key()["Arn"]


def _submit(stack, world, campaign, key, ident, opts, *extra):
    r = stack.cli("submit", "--campaign", campaign, "--kms-key", key, "--strategy", "mysql-binlog",
                  "--db-secret", "file:" + _secret_file(world), "--cutover-method", "cname", "--file", opts,
                  "--yes", *extra, ident)
    assert r.returncode == 0, (r.stdout, r.stderr)


def _rows_exactly_once(sim, ident, writer):
    c = _conn(sim, ident)
    target = [x[0] for t in ("a", "b") for x in _q(c, f"SELECT seq FROM app.{t}")]
    c.close()
    acked = writer.numbers()
    assert len(acked) > 50, f"the writer acknowledged only {len(acked)} rows"
    missing = sorted(set(acked) - set(target))
    doubled = len(target) - len(set(target))
    assert not missing and doubled == 0, f"missing {missing[:10]} doubled {doubled}"


def _run_to_done(stack, sim, campaign, writer):
    st = stack.until_terminal(campaign, 600)[0]
    inst = st["instances"][0]
    assert inst["state"] == "done", f"{inst}\n{stack.diagnostics()}"
    n = len(writer.numbers())
    wait_until(lambda: len(writer.numbers()) > n + 20, 60, 0.1,
               f"writes through the CNAME after the switch (last error: {getattr(writer, 'last_error', None)})")
    writer.stop()
    return inst


def _source_retired_and_locked(sim, ident):
    """The source kept its identifier, unencrypted, tagged retired-source and
    stopped; started again, its application account is still locked."""
    rds = sim.client("rds")
    src = sim.instance(ident, rds)
    assert not src["StorageEncrypted"], "the source's identifier serves an encrypted instance: it was renamed"
    tags = _tags(rds, src["DBInstanceArn"])
    assert tags.get("fleetcrypt:role") == "retired-source", tags
    assert src["DBInstanceStatus"] in ("stopped", "stopping"), src["DBInstanceStatus"]
    sim.wait_instance(ident, "stopped", timeout=120)
    rds.start_db_instance(DBInstanceIdentifier=ident)
    sim.wait_instance(ident, "available", timeout=120)
    c = _conn(sim, ident)
    create = _q(c, f"SHOW CREATE USER '{APP}'@'%'")[0][0]
    c.close()
    assert "ACCOUNT LOCK" in create, f"the application account is not locked on the retired source: {create}"
    with pytest.raises(pymysql.err.OperationalError):
        _conn(sim, ident, APP, APP_PW, "app").close()


def cname_move(stack, sim, world, campaign, ident, name, fname, during=None, after=None):
    """The checked move of test_cname_cutover_exactly_once_record_switched;
    `during` (emulator /config, e.g. AWS faults) applied just before submit,
    `after` once the campaign is done and the writer has written on the
    target (before the checks, whose own calls do not retry)."""
    src, zid, opts, key = _setup(stack, sim, world, ident, name, fname)
    src_addr = src["Endpoint"]["Address"]
    stack.start()
    w = CnameWriter(sim, name, src["Endpoint"]["Port"]).start()
    wait_until(lambda: len(w.numbers()) > 20, 60, 0.1, "the writer commits through the CNAME")
    if during:
        sim.admin("POST", "/config", during)
    _submit(stack, world, campaign, key, ident, opts)
    try:
        inst = _run_to_done(stack, sim, campaign, w)
    finally:
        w.stop()
        if after:
            sim.admin("POST", "/config", after)
    rds = sim.client("rds")
    tid = f"fc-{campaign}-{ident}-target"
    enc = sim.instance(tid, rds)
    assert enc["StorageEncrypted"] and enc["KmsKeyId"] == key, (enc["StorageEncrypted"], enc.get("KmsKeyId"))
    assert _tags(rds, enc["DBInstanceArn"]).get("fleetcrypt:role") == "encrypted"
    assert record(sim, zid, name) == (enc["Endpoint"]["Address"], OLD_TTL), (record(sim, zid, name), enc["Endpoint"])
    assert resolve(sim, name) == enc["Endpoint"]["Address"] != src_addr
    assert w.hosts == {src_addr, enc["Endpoint"]["Address"]}, w.hosts
    _rows_exactly_once(sim, tid, w)
    fact = lambda n: stack.redis.cli("HGET", f"fc:{{{campaign}}}:i:{ident}", "f." + n)  # noqa: E731
    assert fact("verify_mismatches") == "0" and fact("verify_done") == "1"
    assert fact("retired_id") == ident and fact("cname_ttl_restored") == "1"
    assert float(inst["downtime_s"]) > 0
    _source_retired_and_locked(sim, ident)


@pytest.mark.slow
def test_cname_cutover_exactly_once_record_switched(stack, awssim, world):
    cname_move(stack, awssim, world, "mbcn", "maria-cn-1", "mdb1." + ZONE, "mb-cname.json")


@pytest.mark.slow
def test_cname_abort_after_ttl_lowered_restores_record(stack, awssim, world):
    sim = awssim
    ident, name = "maria-cn-ab", "mdbab." + ZONE
    src, zid, opts, key = _setup(stack, awssim, world, ident, name, "mb-cname-ab.json", tag=False,
                                 fields={"cname": f"{ident}={name}"})
    stack.start()
    w = Writer(sim, ident).start()
    try:
        _submit(stack, world, "mbcnab", key, ident, opts, "--cutover", "approve")
        abort_after_ttl_lowered(stack, sim, "mbcnab", ident, zid, name, src["Endpoint"]["Address"], w, 300)
    finally:
        w.stop()
    assert not sim.instance(ident)["StorageEncrypted"]


@pytest.mark.slow
def test_cname_crash_after_upsert_resumes_forward(stack, awssim, world):
    sim = awssim
    ident, name = "maria-cn-cr", "mdbcr." + ZONE
    src, zid, opts, key = _setup(stack, awssim, world, ident, name, "mb-cname-cr.json")
    fired = crash_env(stack, world, "cutover.cname_upserted")
    stack.start()
    w = CnameWriter(sim, name, src["Endpoint"]["Port"]).start()
    wait_until(lambda: len(w.numbers()) > 20, 60, 0.1, "the writer commits through the CNAME")
    _submit(stack, world, "mbcncr", key, ident, opts)
    _run_to_done(stack, sim, "mbcncr", w)
    assert os.path.exists(fired), "the crash point never fired: the test proved nothing"
    tid = f"fc-mbcncr-{ident}-target"
    enc = sim.instance(tid)
    assert record(sim, zid, name) == (enc["Endpoint"]["Address"], OLD_TTL)
    assert worker_lines(stack, "the switch had happened"), "the re-run did not learn the switch from Route 53"
    again = worker_lines(stack, "writers blocked on the source", after=os.path.getmtime(fired))
    assert not again, f"writers were blocked again after the switch: {again}"
    _rows_exactly_once(sim, tid, w)
    assert sim.instance(ident)["DBInstanceIdentifier"] == ident and not sim.instance(ident)["StorageEncrypted"]


@pytest.mark.slow
def test_cname_refusals_at_preflight(stack, awssim, world):
    """One line each, nothing changed: an instance behind an RDS Proxy (the
    proxy would keep the retired source), an instance whose record is
    named nowhere, an Aurora MySQL cluster (its cutover is the rename)."""
    from test_mysqlbinlog_aurora import make_cluster, row_group
    from test_mysqlbinlog_proxy import make_proxy
    sim = awssim
    rds = sim.client("rds")
    _make(sim, "maria-cn-px", "mariadb", _group(sim, *GROUPS["mariadb"]))
    _make(sim, "maria-cn-none", "mariadb", GROUPS["mariadb"][0])
    row_group(sim)
    make_cluster(sim, "aurmy-cn", ["db.r6g.large"])
    for ident in ("maria-cn-px", "maria-cn-none"):
        sim.wait_instance(ident, "available", timeout=120)
    src, zid, opts = app_cname(sim, world, "maria-cn-px", "mdbpx." + ZONE, "mb-cname-ref.json",
                               fields={"cname": "aurmy-cn=aur." + ZONE})
    make_proxy(sim, "px-cn", {"DBInstanceIdentifiers": ["maria-cn-px"]})
    key = stack.make_key()["Arn"]
    stack.start()
    r = stack.cli("submit", "--campaign", "mbcnref", "--kms-key", key, "--strategy", "mysql-binlog",
                  "--db-secret", "file:" + _secret_file(world), "--cutover-method", "cname", "--file", opts,
                  "--yes", "maria-cn-px", "maria-cn-none", "aurmy-cn")
    assert r.returncode == 0, (r.stdout, r.stderr)
    st = wait_terminal(stack, "mbcnref", timeout=240)
    got = {i["id"]: i for i in st["instances"]}
    want = {"maria-cn-px": "RDS Proxy px-cn has maria-cn-px as its target",
            "maria-cn-none": "no record named for maria-cn-none",
            "aurmy-cn": "not for Aurora MySQL clusters"}
    for ident, text in want.items():
        i = got[ident]
        assert i["state"] == "failed" and text in i["error"] and "\n" not in i["error"], (ident, i)
        assert i.get("step", "preflight") == "preflight", (ident, i)
    assert record(sim, zid, "mdbpx." + ZONE) == (src["Endpoint"]["Address"], OLD_TTL)
    for ident in ("maria-cn-px", "maria-cn-none"):
        assert not sim.instance(ident, rds)["StorageEncrypted"]
