"""The application's CNAME for the --cutover-method cname tests
(test_pglogical_cname.py, test_dmscdc_switch.py): a Route 53 zone and
record in the emulator, resolution through its DNS server, the record as
Route 53 has it, and a writer that resolves the name for every connection.
"""
import json
import os
import time

from dnslib import QTYPE, DNSRecord

from fclib import wait_until
from pglogical_strategy_util import Writer

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
        kw.setdefault("tables", ("a",))
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
        self._session(self.app_port, host)

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


def app_cname(sim, world, ident, name, fname, tag=True, fields=None):
    """The application's CNAME `name` -> the source's Endpoint.Address in a
    new zone (TTL OLD_TTL), named to fleetcrypt by the instance tag
    fleetcrypt:cname (tag) or not, and seen in DNS; the campaign file
    `fname` in world with cname_ttl LOW_TTL and `fields`. Returns
    (source as DescribeDBInstances shows it, zone id, campaign file path)."""
    rds = sim.client("rds")
    src = sim.instance(ident, rds)
    addr = src["Endpoint"]["Address"]
    zid = make_zone(sim, name, addr, OLD_TTL)
    if tag:
        rds.add_tags_to_resource(ResourceName=src["DBInstanceArn"], Tags=[{"Key": "fleetcrypt:cname", "Value": name}])
    # in DNS once the change is INSYNC (at once at time scale 0, 1.2 s at 0.02)
    wait_until(lambda: resolve(sim, name) == addr, 60, 0.1, "the CNAME in DNS")
    opts = os.path.join(world, fname)
    with open(opts, "w") as f:
        json.dump(dict(fields or {}, cname_ttl=LOW_TTL), f)
    return src, zid, opts


def abort_after_ttl_lowered(stack, sim, campaign, ident, zid, name, src_address, w, timeout):
    """Any strategy's CNAME cutover held for approval: once the record's TTL
    is lowered (still the source), abort; the instance ends aborted, the
    record and its TTL are as found, DNS answers the source, and the writer
    `w` commits on the source again."""
    from pglogical_strategy_util import wait_step, wait_terminal
    i = wait_step(stack, campaign, ident, ("cutover",), timeout=timeout)
    assert i["step"] == "cutover" and i["state"] not in ("failed", "aborted"), f"{i}\n{stack.diagnostics()}"
    wait_until(lambda: record(sim, zid, name)[1] == LOW_TTL, 60, 0.2, "TTL lowered")
    assert record(sim, zid, name)[0] == src_address
    r = stack.cli("abort", campaign, ident)
    assert r.returncode == 0, r.stderr
    st = wait_terminal(stack, campaign, timeout=timeout)
    inst = next(x for x in st["instances"] if x["id"] == ident)
    assert inst["state"] == "aborted", f"{inst}\n{stack.diagnostics()}"
    assert record(sim, zid, name) == (src_address, OLD_TTL), record(sim, zid, name)
    assert resolve(sim, name) == src_address
    n = len(w.numbers())
    wait_until(lambda: len(w.numbers()) > n + 10, 60, 0.1, "the writer commits on the source again")
