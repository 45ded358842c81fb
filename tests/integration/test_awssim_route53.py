"""awssim's Route 53 (REST XML, every action through /usr/bin/aws route53) and
its DNS server: hosted zones, ChangeResourceRecordSets with AWS's
InvalidChangeBatch messages, ListResourceRecordSets paging, GetChange going
PENDING -> INSYNC on the emulator's clock, and real DNS answers (dnslib's
client over UDP and TCP) that change only once a change is INSYNC, with the
TTLs as set; the name table the RDS side fills (admin /dns/names)."""
import json
import os
import shutil

import pytest
from dnslib import QTYPE, RCODE, DNSRecord

from fclib import make_world_dir, wait_until
from fixtures_awssim import AwsCliError, AwsSim


@pytest.fixture(scope="module")
def sim():
    base = make_world_dir("fc-awssim-r53-")
    s = AwsSim(os.path.join(base, "home"), None, ["--metadata-only"])
    try:
        s.start()
        yield s
    finally:
        s.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(autouse=True)
def _scale0(sim):
    sim.admin("POST", "/config", {"time_scale": 0})
    yield
    sim.admin("POST", "/config", {"time_scale": 0})


def r53(sim, *args):
    return sim.cli("route53", *args)


def r53_err(sim, *args):
    with pytest.raises(AwsCliError) as e:
        sim.cli("route53", *args)
    return e.value.stderr


def new_zone(sim, name, ref, cli=False):
    """A hosted zone: through awscli, or botocore where awscli is not what
    the test is about (an awscli run costs seconds on a busy machine)."""
    if cli:
        z = r53(sim, "create-hosted-zone", "--name", name, "--caller-reference", ref)
    else:
        z = sim.client("route53").create_hosted_zone(Name=name, CallerReference=ref)
    return z["HostedZone"]["Id"].split("/")[-1], z


def change(sim, zone, *changes, cli=False):
    batch = {"Changes": [{"Action": a, "ResourceRecordSet": rrs} for a, rrs in changes]}
    if cli:
        return r53(sim, "change-resource-record-sets", "--hosted-zone-id", zone,
                   "--change-batch", json.dumps(batch))["ChangeInfo"]
    return sim.client("route53").change_resource_record_sets(HostedZoneId=zone, ChangeBatch=batch)["ChangeInfo"]


def rrs(name, rtype, ttl, *values):
    return {"Name": name, "Type": rtype, "TTL": ttl, "ResourceRecords": [{"Value": v} for v in values]}


def dns_addr(sim):
    host, port = sim.info["dns"].rsplit(":", 1)
    return host, int(port)


def query(sim, name, qtype="A", tcp=False):
    host, port = dns_addr(sim)
    raw = DNSRecord.question(name, qtype).send(host, port, tcp=tcp, timeout=5)
    return DNSRecord.parse(raw)


def answers(reply, rtype=None):
    return [(str(rr.rname), QTYPE[rr.rtype], str(rr.rdata), rr.ttl) for rr in reply.rr
            if rtype is None or QTYPE[rr.rtype] == rtype]


def test_dns_address_everywhere(sim):
    host, port = dns_addr(sim)
    assert host == "127.0.0.1" and port > 0
    assert sim.admin("GET", "/dns")["addr"] == sim.info["dns"]


def test_hosted_zone_lifecycle(sim):
    zid, z = new_zone(sim, "life.example", "life-1", cli=True)
    hz = z["HostedZone"]
    assert hz["Id"] == f"/hostedzone/{zid}" and hz["Name"] == "life.example."
    assert hz["CallerReference"] == "life-1" and hz["ResourceRecordSetCount"] == 2
    assert len(z["DelegationSet"]["NameServers"]) == 4
    assert z["ChangeInfo"]["Id"].startswith("/change/") and z["ChangeInfo"]["Status"] in ("PENDING", "INSYNC")
    assert z["Location"].endswith(f"/2013-04-01/hostedzone/{zid}")

    got = r53(sim, "get-hosted-zone", "--id", zid)
    assert got["HostedZone"]["Name"] == "life.example." and len(got["DelegationSet"]["NameServers"]) == 4
    names = [h["Name"] for h in r53(sim, "list-hosted-zones")["HostedZones"]]
    assert "life.example." in names
    by = r53(sim, "list-hosted-zones-by-name", "--dns-name", "life.example")
    assert by["HostedZones"][0]["Id"] == f"/hostedzone/{zid}" and by["DNSName"] == "life.example."

    err = r53_err(sim, "create-hosted-zone", "--name", "other.example", "--caller-reference", "life-1")
    assert "HostedZoneAlreadyExists" in err

    # apex SOA and NS are there; a zone with other records cannot be deleted
    types = sorted(r["Type"] for r in r53(sim, "list-resource-record-sets", "--hosted-zone-id", zid)
                   ["ResourceRecordSets"])
    assert types == ["NS", "SOA"]
    change(sim, zid, ("CREATE", rrs("www.life.example", "A", 300, "192.0.2.1")), cli=True)
    assert "HostedZoneNotEmpty" in r53_err(sim, "delete-hosted-zone", "--id", zid)
    change(sim, zid, ("DELETE", rrs("www.life.example.", "A", 300, "192.0.2.1")), cli=True)
    d = r53(sim, "delete-hosted-zone", "--id", zid)
    assert d["ChangeInfo"]["Status"] in ("PENDING", "INSYNC")
    assert "NoSuchHostedZone" in r53_err(sim, "get-hosted-zone", "--id", zid)
    assert "NoSuchHostedZone" in r53_err(sim, "list-resource-record-sets", "--hosted-zone-id", zid)


def test_list_hosted_zones_by_name_order(sim):
    for n, ref in (("b.order.test", "o1"), ("a.order.test", "o2"), ("order.test", "o3")):
        new_zone(sim, n, ref)
    got = sim.client("route53").list_hosted_zones_by_name(DNSName="order.test")["HostedZones"]
    names = [h["Name"] for h in got]
    # reversed-label order: test.order < test.order.a < test.order.b
    assert names[:3] == ["order.test.", "a.order.test.", "b.order.test."]
    page = r53(sim, "list-hosted-zones-by-name", "--dns-name", "order.test", "--max-items", "1")
    assert [h["Name"] for h in page["HostedZones"]] == ["order.test."]
    assert page["IsTruncated"] is True and page["NextDNSName"] == "a.order.test."
    # ListHostedZones pages by Marker/NextMarker: awscli, a zone a page, sees every zone once
    every = sorted(h["Id"] for h in sim.client("route53").list_hosted_zones()["HostedZones"])
    paged = [h["Id"] for h in r53(sim, "list-hosted-zones", "--page-size", "1")["HostedZones"]]
    assert len(every) >= 3 and sorted(paged) == every


def test_invalid_change_batches(sim):
    zid, _ = new_zone(sim, "err.example", "err-1")
    change(sim, zid, ("CREATE", rrs("db1.err.example", "CNAME", 300, "target.err.example")),
           ("CREATE", rrs("host.err.example", "A", 300, "192.0.2.7")))

    err = r53_err(sim, "change-resource-record-sets", "--hosted-zone-id", zid, "--change-batch",
                  json.dumps({"Changes": [{"Action": "CREATE", "ResourceRecordSet":
                                           rrs("db1.err.example", "CNAME", 300, "x.err.example")}]}))
    assert "InvalidChangeBatch" in err
    assert "[Tried to create resource record set [name='db1.err.example.', type='CNAME'] but it already exists]" in err

    err = r53_err(sim, "change-resource-record-sets", "--hosted-zone-id", zid, "--change-batch",
                  json.dumps({"Changes": [{"Action": "DELETE", "ResourceRecordSet":
                                           rrs("db1.err.example", "CNAME", 60, "target.err.example")}]}))
    assert ("[Tried to delete resource record set [name='db1.err.example.', type='CNAME'] "
            "but the values provided do not match the current values]") in err

    err = r53_err(sim, "change-resource-record-sets", "--hosted-zone-id", zid, "--change-batch",
                  json.dumps({"Changes": [{"Action": "DELETE", "ResourceRecordSet":
                                           rrs("nope.err.example", "A", 300, "192.0.2.9")}]}))
    assert "[Tried to delete resource record set [name='nope.err.example.', type='A'] but it was not found]" in err

    err = r53_err(sim, "change-resource-record-sets", "--hosted-zone-id", zid, "--change-batch",
                  json.dumps({"Changes": [{"Action": "UPSERT", "ResourceRecordSet":
                                           rrs("host.err.example", "CNAME", 300, "t.err.example")}]}))
    assert ("[RRSet of type CNAME with DNS name host.err.example. is not permitted as it conflicts with "
            "other records with the same DNS name in zone err.example.]") in err

    err = r53_err(sim, "change-resource-record-sets", "--hosted-zone-id", zid, "--change-batch",
                  json.dumps({"Changes": [{"Action": "CREATE", "ResourceRecordSet":
                                           rrs("db1.err.example", "TXT", 300, '"hello"')}]}))
    assert ("[RRSet of type TXT with DNS name db1.err.example. is not permitted because a conflicting RRSet "
            "of type  CNAME with the same DNS name already exists in zone err.example.]") in err

    err = r53_err(sim, "change-resource-record-sets", "--hosted-zone-id", zid, "--change-batch",
                  json.dumps({"Changes": [{"Action": "CREATE", "ResourceRecordSet":
                                           rrs("x.elsewhere.example", "A", 300, "192.0.2.1")}]}))
    assert "[RRSet with DNS name x.elsewhere.example. is not permitted in zone err.example.]" in err

    err = r53_err(sim, "change-resource-record-sets", "--hosted-zone-id", zid, "--change-batch",
                  json.dumps({"Changes": [{"Action": "CREATE", "ResourceRecordSet":
                                           rrs("bad.err.example", "A", 300, "300.1.2.3")}]}))
    assert "ARRDATAIllegalIPv4Address" in err

    # a batch is all or nothing: the valid first change is not applied either
    err = r53_err(sim, "change-resource-record-sets", "--hosted-zone-id", zid, "--change-batch",
                  json.dumps({"Changes": [
                      {"Action": "CREATE", "ResourceRecordSet": rrs("new.err.example", "A", 300, "192.0.2.3")},
                      {"Action": "CREATE", "ResourceRecordSet": rrs("host.err.example", "A", 300, "192.0.2.7")}]}))
    assert "already exists" in err
    names = [r["Name"] for r in r53(sim, "list-resource-record-sets", "--hosted-zone-id", zid)["ResourceRecordSets"]]
    assert "new.err.example." not in names

    # DELETE then CREATE of the same name in one batch is one transaction (A -> CNAME)
    change(sim, zid, ("DELETE", rrs("host.err.example", "A", 300, "192.0.2.7")),
           ("CREATE", rrs("host.err.example", "CNAME", 300, "target.err.example")))
    got = r53(sim, "list-resource-record-sets", "--hosted-zone-id", zid, "--start-record-name",
              "host.err.example", "--start-record-type", "CNAME", "--max-items", "1")["ResourceRecordSets"]
    assert got == [rrs("host.err.example.", "CNAME", 300, "target.err.example")]

    assert "NoSuchHostedZone" in r53_err(sim, "change-resource-record-sets", "--hosted-zone-id", "ZNOSUCHZONE00",
                                         "--change-batch", json.dumps({"Changes": [{"Action": "CREATE",
                                         "ResourceRecordSet": rrs("a.b", "A", 1, "192.0.2.1")}]}))
    assert "NoSuchChange" in r53_err(sim, "get-change", "--id", "CNOSUCHCHANGE0")


def test_list_resource_record_sets_paging(sim):
    zid, _ = new_zone(sim, "page.example", "page-1")
    change(sim, zid, *[("CREATE", rrs(f"h{i}.page.example", "A", 60, f"192.0.2.{i}")) for i in range(1, 6)],
           ("CREATE", rrs("h3.page.example", "TXT", 60, '"three"')))
    sim.admin("DELETE", "/calls")
    # awscli pages through it with MaxItems=2 (--page-size) and follows NextRecordName/Type
    allr = r53(sim, "list-resource-record-sets", "--hosted-zone-id", zid, "--page-size", "2")["ResourceRecordSets"]
    calls = sim.admin("GET", "/calls?action=ListResourceRecordSets")["count"]
    assert calls == 4     # 8 record sets, 2 a page
    # reversed-label order, then type
    assert [(r["Name"], r["Type"]) for r in allr] == [
        ("page.example.", "NS"), ("page.example.", "SOA"), ("h1.page.example.", "A"), ("h2.page.example.", "A"),
        ("h3.page.example.", "A"), ("h3.page.example.", "TXT"), ("h4.page.example.", "A"), ("h5.page.example.", "A")]
    raw = sim.client("route53").list_resource_record_sets(HostedZoneId=zid, StartRecordName="h2.page.example",
                                                          MaxItems="2")
    assert [r["Name"] for r in raw["ResourceRecordSets"]] == ["h2.page.example.", "h3.page.example."]
    assert raw["IsTruncated"] is True and raw["MaxItems"] == "2"
    assert raw["NextRecordName"] == "h3.page.example." and raw["NextRecordType"] == "TXT"
    last = sim.client("route53").list_resource_record_sets(HostedZoneId=zid, StartRecordName="h5.page.example")
    assert last["IsTruncated"] is False and "NextRecordName" not in last


def test_change_insync_then_dns(sim):
    """The cutover's sequence: lower the TTL, UPSERT the CNAME, GetChange
    PENDING -> INSYNC on the emulator's clock; DNS shows each change only
    when it is INSYNC."""
    zid, _ = new_zone(sim, "corp.example", "corp-1")
    change(sim, zid, ("CREATE", rrs("old.corp.example", "A", 300, "127.0.0.11")),
           ("CREATE", rrs("new.corp.example", "A", 300, "127.0.0.12")),
           ("CREATE", rrs("db1.corp.example", "CNAME", 300, "old.corp.example")),
           ("CREATE", rrs("note.corp.example", "TXT", 120, '"a b"', '"c"')))
    r = query(sim, "db1.corp.example.", "A")
    assert r.header.rcode == RCODE.NOERROR and r.header.aa == 1
    assert answers(r) == [("db1.corp.example.", "CNAME", "old.corp.example.", 300),
                          ("old.corp.example.", "A", "127.0.0.11", 300)]
    assert answers(query(sim, "note.corp.example.", "TXT")) == [("note.corp.example.", "TXT", '"a b"', 120),
                                                               ("note.corp.example.", "TXT", '"c"', 120)]

    # the emulated clock nearly stopped: the change stays PENDING, DNS unchanged
    sim.admin("POST", "/config", {"time_scale": 1000})
    ci = change(sim, zid, ("UPSERT", rrs("db1.corp.example", "CNAME", 5, "new.corp.example")), cli=True)
    assert ci["Status"] == "PENDING"
    cid = ci["Id"].split("/")[-1]
    assert r53(sim, "get-change", "--id", cid)["ChangeInfo"]["Status"] == "PENDING"
    # the API shows the new record at once, DNS does not
    api = r53(sim, "list-resource-record-sets", "--hosted-zone-id", zid, "--start-record-name",
              "db1.corp.example", "--start-record-type", "CNAME", "--max-items", "1")["ResourceRecordSets"][0]
    assert api["TTL"] == 5 and api["ResourceRecords"] == [{"Value": "new.corp.example"}]
    assert answers(query(sim, "db1.corp.example.", "A"))[0] == ("db1.corp.example.", "CNAME",
                                                               "old.corp.example.", 300)
    # FLEETCRYPT_SIM_TIME_SCALE 0.02: the propagation goes by on the emulator's clock
    sim.admin("POST", "/config", {"time_scale": 0.02})
    r53c = sim.client("route53")
    wait_until(lambda: r53c.get_change(Id=cid)["ChangeInfo"]["Status"] == "INSYNC", 60, 0.2, "change INSYNC")
    assert r53(sim, "get-change", "--id", cid)["ChangeInfo"]["Status"] == "INSYNC"
    for tcp in (False, True):
        assert answers(query(sim, "db1.corp.example.", "A", tcp=tcp)) == [
            ("db1.corp.example.", "CNAME", "new.corp.example.", 5), ("new.corp.example.", "A", "127.0.0.12", 300)]


def test_dns_negative_answers(sim):
    zid, _ = new_zone(sim, "neg.example", "neg-1")
    change(sim, zid, ("CREATE", rrs("a.b.neg.example", "A", 300, "192.0.2.1")),
           ("CREATE", rrs("out.neg.example", "CNAME", 300, "db.outside.invalid")))
    # the name exists, not the type: NOERROR, no answer, the zone's SOA in authority
    r = query(sim, "a.b.neg.example.", "AAAA")
    assert r.header.rcode == RCODE.NOERROR and not r.rr and r.header.aa == 1
    assert [QTYPE[a.rtype] for a in r.auth] == ["SOA"]
    # an empty non-terminal: NOERROR too
    assert query(sim, "b.neg.example.", "A").header.rcode == RCODE.NOERROR
    # no such name: NXDOMAIN with the SOA
    r = query(sim, "nothing.neg.example.", "A")
    assert r.header.rcode == RCODE.NXDOMAIN and [QTYPE[a.rtype] for a in r.auth] == ["SOA"]
    # a CNAME to a name no zone serves: the CNAME alone
    assert answers(query(sim, "out.neg.example.", "A")) == [("out.neg.example.", "CNAME",
                                                            "db.outside.invalid.", 300)]
    # apex NS and SOA
    assert len(answers(query(sim, "neg.example.", "NS"), "NS")) == 4
    # a name in no hosted zone: REFUSED, as an authoritative server does
    assert query(sim, "www.not-hosted.test.", "A").header.rcode == RCODE.REFUSED


def test_rds_endpoint_names(sim):
    name = "db1.c9akciq32.us-east-1.rds.amazonaws.com"
    assert query(sim, name + ".", "A").header.rcode == RCODE.REFUSED
    sim.admin("POST", "/dns/names", {"name": name, "address": "127.0.0.1"})
    r = query(sim, name + ".", "A")
    assert answers(r) == [(name + ".", "A", "127.0.0.1", 5)]
    zid, _ = new_zone(sim, "rds.corp.example", "rds-1")
    change(sim, zid, ("CREATE", rrs("app.rds.corp.example", "CNAME", 60, name)))
    assert answers(query(sim, "app.rds.corp.example.", "A")) == [
        ("app.rds.corp.example.", "CNAME", name + ".", 60), (name + ".", "A", "127.0.0.1", 5)]
    assert sim.admin("GET", "/dns")["names"][name + "."] == "127.0.0.1"
    sim.admin("DELETE", "/dns/names/" + name)
    assert query(sim, name + ".", "A").header.rcode == RCODE.REFUSED


def test_restart_keeps_zones_and_pending_changes(sim):
    zid, _ = new_zone(sim, "keep.example", "keep-1")
    change(sim, zid, ("CREATE", rrs("a.keep.example", "A", 300, "192.0.2.1")))
    sim.admin("POST", "/config", {"time_scale": 1000})
    cid = change(sim, zid, ("UPSERT", rrs("a.keep.example", "A", 300, "192.0.2.2")))["Id"].split("/")[-1]
    sim.restart()
    assert answers(query(sim, "a.keep.example.", "A")) == [("a.keep.example.", "A", "192.0.2.1", 300)]
    assert r53(sim, "get-change", "--id", cid)["ChangeInfo"]["Status"] == "PENDING"
    sim.admin("POST", "/config", {"time_scale": 0})
    assert r53(sim, "get-change", "--id", cid)["ChangeInfo"]["Status"] == "INSYNC"
    assert answers(query(sim, "a.keep.example.", "A")) == [("a.keep.example.", "A", "192.0.2.2", 300)]
