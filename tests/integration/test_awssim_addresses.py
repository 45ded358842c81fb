"""awssim: every DB instance identifier has its own Endpoint.Address in
127.0.0.0/8 (as RDS gives each instance its own host): the identifier's
endpoint listens there on its Endpoint.Port and on the instance's Port (the
one asked for or inherited from the snapshot, 5432 by default, as a client
that follows a CNAME keeps its port), verify-full works against it, the DNS
server answers for the address (so a Route 53 CNAME pointing at the address
resolves), and the address follows the identifier across a rename."""
import ipaddress
import os
import subprocess

from dnslib import QTYPE, DNSRecord

from fixtures_awssim import psql

PW = "s3cret-Passw0rd"


def _create(sim, ident):
    sim.client("rds").create_db_instance(
        DBInstanceIdentifier=ident, DBInstanceClass="db.t3.micro", Engine="postgres", MasterUsername="app",
        MasterUserPassword=PW, AllocatedStorage=20)
    return sim.wait_instance(ident)


def _dns_a(sim, name):
    host, port = sim.info["dns"].rsplit(":", 1)
    r = DNSRecord.parse(DNSRecord.question(name, "A").send(host, int(port), timeout=5))
    return [(str(rr.rname), QTYPE[rr.rtype], str(rr.rdata)) for rr in r.rr]


def _verify_full(sim, host, port):
    env = dict(os.environ, PGPASSWORD=PW, PGCONNECT_TIMEOUT="5", PGSSLMODE="verify-full",
               PGSSLROOTCERT=sim.info["rds_ca_bundle"])
    from fixtures_awssim import PG_BIN
    r = subprocess.run([os.path.join(PG_BIN, "psql"), "-X", "-qAt", "-h", host, "-p", str(port), "-U", "app",
                        "-d", "postgres", "-c", "SELECT inet_server_port() IS NOT NULL"],
                       capture_output=True, text=True, env=env, timeout=30)
    return r.returncode, r.stderr


def test_instances_have_their_own_addresses(awssim):
    sim = awssim
    a = _create(sim, "addr-a")
    b = _create(sim, "addr-b")
    (aa, pa), (ab, pb) = [(i["Endpoint"]["Address"], i["Endpoint"]["Port"]) for i in (a, b)]
    for addr in (aa, ab):
        ip = ipaddress.IPv4Address(addr)
        assert ip in ipaddress.IPv4Network("127.0.0.0/8") and addr not in ("127.0.0.1", "127.0.0.2"), addr
    assert aa != ab
    psql(pa, "app", PW, "CREATE TABLE who(n text); INSERT INTO who VALUES ('a')", host=aa)
    psql(pb, "app", PW, "CREATE TABLE who(n text); INSERT INTO who VALUES ('b')", host=ab)
    # the instance's Port on its own address (a CNAME client keeps its port)
    assert a["DbInstancePort"] == 0 and a.get("Endpoint")
    assert psql(5432, "app", PW, "SELECT n FROM who", host=aa) == "a"
    assert psql(5432, "app", PW, "SELECT n FROM who", host=ab) == "b"
    rc, err = _verify_full(sim, aa, pa)
    assert rc == 0, err
    # the DNS server answers for the address, also at the end of a CNAME
    assert _dns_a(sim, aa + ".") == [(aa + ".", "A", aa)]
    r53 = sim.client("route53")
    zid = r53.create_hosted_zone(Name="corp.example", CallerReference="addr-1")["HostedZone"]["Id"]
    r53.change_resource_record_sets(HostedZoneId=zid, ChangeBatch={"Changes": [{"Action": "CREATE",
        "ResourceRecordSet": {"Name": "db1.corp.example.", "Type": "CNAME", "TTL": 5,
                              "ResourceRecords": [{"Value": ab}]}}]})
    from fclib import wait_until
    want = [("db1.corp.example.", "CNAME", ab + "."), (ab + ".", "A", ab)]
    wait_until(lambda: _dns_a(sim, "db1.corp.example.") == want, 60, 0.1, "the CNAME INSYNC")   # scale > 0
    # the address follows the identifier: after A -> A-old and B -> A, A's address reaches B's server
    rds = sim.client("rds")
    rds.modify_db_instance(DBInstanceIdentifier="addr-a", NewDBInstanceIdentifier="addr-a-old", ApplyImmediately=True)
    old = sim.wait_instance("addr-a-old")
    rds.modify_db_instance(DBInstanceIdentifier="addr-b", NewDBInstanceIdentifier="addr-a", ApplyImmediately=True)
    new_a = sim.wait_instance("addr-a")
    assert (new_a["Endpoint"]["Address"], new_a["Endpoint"]["Port"]) == (aa, pa)
    assert old["Endpoint"]["Address"] not in (aa, ab)

    def who(port, host):
        rc, out, _ = psql(port, "app", PW, "SELECT n FROM who", host=host, check=False)
        return out.strip() if rc == 0 else None
    # (at FLEETCRYPT_SIM_TIME_SCALE>0 the modelled DNS lag passes first)
    wait_until(lambda: who(pa, aa) == "b", 120, 0.2, "A's address reaches B's server")
    wait_until(lambda: who(5432, aa) == "b", 30, 0.2, "A's address, Port 5432, reaches B's server")
    wait_until(lambda: who(old["Endpoint"]["Port"], old["Endpoint"]["Address"]) == "a", 120, 0.2,
               "the retired name reaches A's server")


def test_address_stays_put_when_the_pool_was_used_up(tmp_path):
    """An identifier whose endpoint found no address of the pool free (other
    emulators on the machine hold them: concurrent tests) stays on 127.0.0.1
    for good, as an RDS endpoint never changes its address; it used to take
    a pool address at the next look once one was free, so an endpoint
    recorded before a campaign no longer matched after it. In-process, with
    a hub whose pool addresses are busy at first."""
    import sys
    import types
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools", "awssim"))
    from sim import world as simworld

    class Ep:
        def __init__(self, port):
            self.port, self.extra = port, {}

    class Hub:
        busy = True

        def __init__(self):
            self.eps = {}

        def get(self, port):
            return self.eps.get(port)

        def open(self, port, key):
            ep = Ep(port or 40000 + len(self.eps))
            self.eps[ep.port] = ep
            return ep

        def listen_also(self, ep, host, port):
            if self.busy:
                raise OSError(98, "Address already in use")
            ep.extra[(host, port)] = object()

        def unlisten_extra(self, ep):
            ep.extra = {}

    cfg = types.SimpleNamespace(home=str(tmp_path), time_scale=0, account_id="123456789012",
                                endpoint_addresses="own")
    w = simworld.World(cfg)
    w.hub = Hub()
    st = simworld.new_store("123456789012", "us-east-1")
    st["instances"]["db1"] = {"id": "db1", "requested_port": 5432}
    assert w.endpoint_address(st, "db1") == "127.0.0.1"
    Hub.busy = False
    assert w.endpoint_address(st, "db1") == "127.0.0.1", "the address moved once the pool had room"
    # a new identifier now gets its own
    st["instances"]["db2"] = {"id": "db2", "requested_port": 5432}
    assert w.endpoint_address(st, "db2").startswith("127.1.0.")
