"""pg-logical with --cutover-method cname (issue 16, part 2) on real servers
(Redis, Kafka, the AWS emulator with real PostgreSQL behind every instance,
its Route 53 and DNS server, the real fleetcrypt binaries).

The application reaches its database through a CNAME of its own
(db1.corp.example. -> the source's Endpoint.Address, each instance its own
address in the emulator): the probe resolves the name through the
emulator's DNS server (FLEETCRYPT_DNS_ADDR's server, the ready file's `dns`)
for every connection and connects to the address it gets on the port the
application was given (the source's Endpoint.Port; a restored instance
keeps its snapshot's Port, as on RDS).

- CI: the record named by the instance tag fleetcrypt:cname: every
  acknowledged row exactly once on the encrypted instance, the CNAME on the
  encrypted instance's Endpoint.Address afterwards with its old TTL back,
  the source keeps its identifier (retired: tagged, stopped), and the
  downtime the resolving probe saw agrees with fleetcrypt's downtime_s
  within a tolerance derived from the probe's own reconnect cadence;
- slow: the record named by the campaign file field `cname`, aborted after
  the TTL was lowered: record value and TTL restored;
- slow: the worker killed right after the switch's UPSERT (crash point
  cutover.cname_upserted): the next holder learns the switch from Route 53,
  waits for INSYNC, never blocks the target again, rows exactly once.
"""
import json
import os
import subprocess
import threading
import time

import pytest
from dnslib import QTYPE, DNSRecord

from fclib import PG_BIN, wait_until
from pglogical_strategy_util import (MASTER, PASSWORD, Writer, app_schema, exactly_once, instance_state,
                                     logical_group, make_instances, retired_of, submit, wait_step,
                                     wait_terminal)

ZONE = "corp.example."
OLD_TTL = 4       # seconds: the cutover waits it out after lowering the TTL
LOW_TTL = 1       # campaign file cname_ttl


def dns_query(sim, name, qtype="A"):
    host, port = sim.info["dns"].rsplit(":", 1)
    r = DNSRecord.parse(DNSRecord.question(name, qtype).send(host, int(port), timeout=2))
    return [(QTYPE[rr.rtype], str(rr.rdata), rr.ttl) for rr in r.rr]


def resolve(sim, name):
    """name -> the IPv4 address at the end of its CNAME chain (None when unanswered)."""
    try:
        a = [v for t, v, _ in dns_query(sim, name) if t == "A"]
    except Exception:  # noqa: BLE001 - a lost UDP answer is a failed connection attempt
        return None
    return a[0] if a else None


def make_zone(sim, name, value, ttl):
    r53 = sim.client("route53")
    zid = r53.create_hosted_zone(Name=ZONE, CallerReference=f"zone-{name}-{time.time()}")["HostedZone"]["Id"]
    r53.change_resource_record_sets(HostedZoneId=zid, ChangeBatch={"Changes": [{"Action": "CREATE",
        "ResourceRecordSet": {"Name": name, "Type": "CNAME", "TTL": ttl, "ResourceRecords": [{"Value": value}]}}]})
    return zid.split("/")[-1]


def record(sim, zid, name):
    """(value, TTL) of the CNAME as Route 53 has it."""
    rr = sim.client("route53").list_resource_record_sets(HostedZoneId=zid, StartRecordName=name,
                                                        StartRecordType="CNAME", MaxItems="1")["ResourceRecordSets"]
    assert rr and rr[0]["Name"] == name and rr[0]["Type"] == "CNAME", rr
    return rr[0]["ResourceRecords"][0]["Value"].rstrip("."), rr[0]["TTL"]


class CnameWriter(Writer):
    """Writer whose every connection resolves `name` through the emulator's
    DNS server and connects to the address it answers, on `port` (TLS
    verified against the emulated RDS CA, as Writer does). Keeps the start
    time of each connection attempt: the tolerance of the downtime check is
    derived from their spacing."""

    def __init__(self, sim, name, port, **kw):
        super().__init__(sim, name, **kw)
        self.name, self.app_port = name, port
        self.attempts = []   # monotonic start of every connection attempt
        self.hosts = []      # (monotonic, address) of every resolution

    def _run(self):
        while not self.stop_flag.is_set():
            t = time.monotonic()
            addr = resolve(self.sim, self.name)
            with self.lock:
                self.attempts.append(t)
                self.hosts.append((t, addr))
            if addr:
                self._session_at(addr)
            self.errors += 1
            time.sleep(0.02)

    def _session_at(self, host):
        env = dict(os.environ, PGPASSWORD=self.password, PGCONNECT_TIMEOUT="2", PGSSLMODE="verify-full",
                   PGSSLROOTCERT=self.sim.info["rds_ca_bundle"])
        p = subprocess.Popen([os.path.join(PG_BIN, "psql"), "-X", "-qAt", "-h", host, "-p", str(self.app_port),
                              "-U", self.user, "-d", self.db],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                             env=env, bufsize=1)

        def reader():
            for line in p.stdout:
                line = line.strip()
                if line.isdigit():
                    with self.lock:
                        self.acked.append((time.monotonic(), int(line)))
        rt = threading.Thread(target=reader, daemon=True)
        rt.start()
        interval = 1.0 / self.rate
        try:
            while not self.stop_flag.is_set() and p.poll() is None:
                p.stdin.write("INSERT INTO a(seq) VALUES (nextval('wseq')) RETURNING seq;\n")
                p.stdin.flush()
                time.sleep(interval)
        except (BrokenPipeError, OSError):
            pass
        try:
            p.stdin.close()
        except OSError:
            pass
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
        rt.join(timeout=5)

    def gap(self):
        """(start, end, length) of the longest time between two acknowledgements."""
        with self.lock:
            ts = [t for t, _ in self.acked]
        return max(((a, b, b - a) for a, b in zip(ts, ts[1:])), key=lambda g: g[2], default=(0, 0, 0.0))

    def attempt_spacing(self, start, end):
        """Longest spacing between connection attempts inside [start, end]."""
        with self.lock:
            ts = [t for t in self.attempts if start <= t <= end] + [end]
        return max((b - a for a, b in zip([start] + ts, ts)), default=0.0)


def test_cname_cutover_downtime_and_record(stack, awssim, world):
    sim = awssim
    logical_group(sim)
    ident = "pgl-cname"
    name = "db1." + ZONE
    make_instances(sim, [ident])
    app_schema(sim, ident)
    rds = sim.client("rds")
    src = sim.instance(ident, rds)
    src_addr, app_port = src["Endpoint"]["Address"], src["Endpoint"]["Port"]
    zid = make_zone(sim, name, src_addr, OLD_TTL)
    rds.add_tags_to_resource(ResourceName=src["DBInstanceArn"], Tags=[{"Key": "fleetcrypt:cname", "Value": name}])
    # in DNS once the change is INSYNC (at once at time scale 0, 1.2 s at 0.02)
    wait_until(lambda: resolve(sim, name) == src_addr, 60, 0.1, "the CNAME in DNS")
    key = stack.make_key()["Arn"]
    opts = os.path.join(world, "cname-campaign.json")
    with open(opts, "w") as f:
        json.dump({"cname_ttl": LOW_TTL}, f)
    stack.start()
    probe = CnameWriter(sim, name, app_port, rate=100, tables=("a",)).start()
    wait_until(lambda: len(probe.numbers()) > 5, 60, 0.1, "the probe writes through the CNAME")
    submit(stack, "cn1", key, [ident], world, "--cutover-method", "cname", "--file", opts)
    st = wait_terminal(stack, "cn1", timeout=300)
    inst = st["instances"][0]
    n_done = len(probe.numbers())
    wait_until(lambda: len(probe.numbers()) > n_done + 20, 60, 0.1, "writes on the target")
    probe.stop()
    assert inst["state"] == "done", f"{inst}\n{stack.diagnostics()}"

    # the identifier was not swapped: the encrypted instance serves under its own name
    enc = [i for i in rds.describe_db_instances()["DBInstances"]
           if i["StorageEncrypted"] and i["KmsKeyId"] == key]
    assert len(enc) == 1, [i["DBInstanceIdentifier"] for i in enc]
    enc = enc[0]
    assert enc["DBInstanceIdentifier"] != ident
    value, ttl = record(sim, zid, name)
    assert value == enc["Endpoint"]["Address"] != src_addr, (value, enc["Endpoint"], src_addr)
    assert ttl == OLD_TTL, f"the old TTL is not back: {ttl}"
    assert resolve(sim, name) == enc["Endpoint"]["Address"]   # fleetcrypt waited for INSYNC
    retired = retired_of(sim, ident)
    assert [r["DBInstanceIdentifier"] for r in retired] == [ident], retired
    assert retired[0]["DBInstanceStatus"] in ("stopped", "stopping")

    # rows exactly once on the instance the name reaches now
    problems = exactly_once(sim, enc["DBInstanceIdentifier"], probe, min_acked=50)
    assert not problems, problems
    # downtime: fleetcrypt's record vs the resolving probe's longest gap; the
    # probe sees the end of the outage only at its next connection attempt
    # after it, so the tolerance is its own attempt spacing during the gap
    recorded = float(inst["downtime_s"])
    g0, g1, measured = probe.gap()
    tol = 2 * probe.attempt_spacing(g0, g1) + 2.0 / probe.rate
    assert abs(recorded - measured) <= tol, \
        f"fleetcrypt recorded {recorded:.3f}s, the probe saw {measured:.3f}s (tolerance {tol:.3f}s)"


@pytest.mark.slow
def test_cname_abort_after_ttl_lowered_restores_record(stack, awssim, world):
    sim = awssim
    logical_group(sim)
    ident = "pgl-cname-ab"
    name = "app." + ZONE
    make_instances(sim, [ident])
    app_schema(sim, ident)
    src = sim.instance(ident)
    zid = make_zone(sim, name, src["Endpoint"]["Address"], OLD_TTL)
    key = stack.make_key()["Arn"]
    opts = os.path.join(world, "cname-abort.json")
    with open(opts, "w") as f:
        json.dump({"cname": f"{ident}={name}", "cname_ttl": LOW_TTL}, f)
    stack.start()
    w = Writer(sim, ident, rate=20, tables=("a",)).start()
    try:
        submit(stack, "cnab", key, [ident], world, "--cutover-method", "cname", "--cutover", "approve",
               "--file", opts)
        i = wait_step(stack, "cnab", ident, ("cutover",), timeout=240)
        assert i["step"] == "cutover" and i["state"] not in ("failed", "aborted"), f"{i}\n{stack.diagnostics()}"
        wait_until(lambda: record(sim, zid, name)[1] == LOW_TTL, 60, 0.2, "TTL lowered")
        assert record(sim, zid, name)[0] == src["Endpoint"]["Address"]
        r = stack.cli("abort", "cnab", ident)
        assert r.returncode == 0, r.stderr
        st = wait_terminal(stack, "cnab", timeout=240)
    finally:
        w.stop()
    assert instance_state(stack, "cnab", ident)["state"] == "aborted", st
    assert record(sim, zid, name) == (src["Endpoint"]["Address"], OLD_TTL)
    assert resolve(sim, name) == src["Endpoint"]["Address"]


@pytest.mark.slow
def test_cname_crash_after_upsert_resumes_forward(stack, awssim, world):
    from test_pglogical_cutover_resume import crash_env, run_until_terminal, worker_lines
    sim = awssim
    logical_group(sim)
    ident = "pgl-cname-cr"
    name = "cr." + ZONE
    make_instances(sim, [ident])
    app_schema(sim, ident)
    rds = sim.client("rds")
    src = sim.instance(ident, rds)
    zid = make_zone(sim, name, src["Endpoint"]["Address"], OLD_TTL)
    rds.add_tags_to_resource(ResourceName=src["DBInstanceArn"], Tags=[{"Key": "fleetcrypt:cname", "Value": name}])
    wait_until(lambda: resolve(sim, name) == src["Endpoint"]["Address"], 60, 0.1, "the CNAME in DNS")
    key = stack.make_key()["Arn"]
    opts = os.path.join(world, "cname-crash.json")
    with open(opts, "w") as f:
        json.dump({"cname_ttl": LOW_TTL}, f)
    fired = crash_env(stack, world, "cutover.cname_upserted")
    stack.start()
    probe = CnameWriter(sim, name, src["Endpoint"]["Port"], rate=50, tables=("a",)).start()
    wait_until(lambda: len(probe.numbers()) > 5, 60, 0.1, "the probe writes through the CNAME")
    submit(stack, "cncr", key, [ident], world, "--cutover-method", "cname", "--file", opts)
    st = run_until_terminal(stack, "cncr", fired)
    n_done = len(probe.numbers())
    wait_until(lambda: len(probe.numbers()) > n_done + 20, 60, 0.1, "writes on the target")
    probe.stop()
    assert os.path.exists(fired), "the crash point never fired: the test proved nothing"
    inst = st["instances"][0]
    assert inst["state"] == "done", f"{inst}\n{stack.diagnostics()}"
    tid = f"fc-cncr-{ident}-target"
    enc = sim.instance(tid, rds)
    assert record(sim, zid, name) == (enc["Endpoint"]["Address"], OLD_TTL)
    assert worker_lines(stack, "the switch had happened"), "the re-run did not learn the switch from Route 53"
    again = worker_lines(stack, 'msg="writers blocked"', after=os.path.getmtime(fired))
    assert not again, f"writers were blocked again after the switch: {again}"
    problems = exactly_once(sim, tid, probe, min_acked=50)
    assert not problems, problems
