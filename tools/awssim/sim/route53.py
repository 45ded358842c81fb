"""Route 53: hosted zones, record sets, changes (PENDING -> INSYNC).

Route 53 is global: an account's zones and changes live in its store for
`GLOBAL_REGION`, whatever region a request is signed for. Each zone keeps
two views of its record sets: `records` (what the API shows, changed at
once) and `served` (what the DNS server answers, dns_server.py): a change
reaches `served` when it becomes INSYNC, CHANGE_SYNC_S emulated seconds
after it was submitted (on the emulator's clock: at time scale 0 at once).
Changes become INSYNC in the order they were submitted.

Record sets are `{name: {type: {"ttl": int, "values": [str]}}}`; names are
lower-case and end with a dot. Simple routing only (no alias, weighted,
latency, failover, geo, multivalue records): those are InvalidInput.
"""
import ipaddress
import re
import time
import zlib

from . import world as world_mod
from .errors import AwsError

GLOBAL_REGION = "us-east-1"
CHANGE_SYNC_S = 60.0          # AWS: "changes generally propagate ... within 60 seconds"
CONFIG = {"change_sync_s": CHANGE_SYNC_S}
SOA_TTL, NS_TTL = 900, 172800
MAX_ZONES_PAGE, MAX_RRS_PAGE = 100, 300
KEEP_CHANGES = 10000
UNSUPPORTED = ("SetIdentifier", "Weight", "Region", "GeoLocation", "Failover", "MultiValueAnswer",
               "AliasTarget", "HealthCheckId", "TrafficPolicyInstanceId", "CidrRoutingConfig")


def configure(body):
    """Admin POST /config {"route53": {"change_sync_s": S}} (memory only)."""
    if "change_sync_s" in body:
        CONFIG["change_sync_s"] = max(0.0, float(body["change_sync_s"]))
    return dict(CONFIG)


# ------------------------------------------------------------------ names
def norm(name):
    n = (name or "").strip().lower()
    return n if n.endswith(".") else n + "."


def rev_key(name):
    return tuple(reversed(name.rstrip(".").split(".")))


def check_domain(name):
    labels = name.rstrip(".").split(".")
    if len(name) > 255 or not name.rstrip(".") or any(not lb or len(lb) > 63 for lb in labels):
        raise AwsError("InvalidDomainName", f"{name} is not a valid domain name.")


def in_zone(name, zone):
    return name == zone or name.endswith("." + zone)


# ------------------------------------------------------------------ state
def gstore(ctx):
    """The caller's account's Route 53 records (its GLOBAL_REGION store)."""
    w = ctx.world
    st = w.store(ctx.account, GLOBAL_REGION)
    with w.lock:
        st.setdefault("r53_zones", {})
        st.setdefault("r53_changes", {})
        st.setdefault("r53_pending", [])
        st.setdefault("r53_refs", [])
    return st


def strip_id(v, kind):
    v = (v or "").strip()
    pre = f"/{kind}/"
    return v[len(pre):] if v.startswith(pre) else v.rsplit("/", 1)[-1]


def zone_of(ctx, st, zid):
    z = st["r53_zones"].get(strip_id(zid, "hostedzone"))
    if z is None:
        raise AwsError("NoSuchHostedZone", f"No hosted zone found with ID: {strip_id(zid, 'hostedzone')}")
    ctx.resource = z["id"]
    return z


def name_servers(zid):
    h = zlib.crc32(zid.encode())
    tlds = ("com", "net", "org", "co.uk")
    return [f"ns-{(h >> (i * 7)) % 512 + 512 * i}.awsdns-{(h >> (i * 5)) % 64:02d}.{tlds[i]}" for i in range(4)]


def new_change(w, st, kind, zid, ops=None, comment=None):
    cid = "C" + world_mod.rand_upper(20)
    ch = {"id": cid, "kind": kind, "zone": zid, "ops": ops or [], "comment": comment, "status": "PENDING",
          "submitted": time.time(), "due": w.clock.aws_now() + CONFIG["change_sync_s"]}
    st["r53_changes"][cid] = ch
    st["r53_pending"].append(cid)
    if len(st["r53_changes"]) > KEEP_CHANGES:
        for old in [c for c in st["r53_changes"] if c not in st["r53_pending"]][:len(st["r53_changes"]) // 10]:
            del st["r53_changes"][old]
    return ch


def change_info(ch):
    out = {"Id": f"/change/{ch['id']}", "Status": ch["status"], "SubmittedAt": ch["submitted"]}
    if ch.get("comment"):
        out["Comment"] = ch["comment"]
    return out


def _apply(records, op):
    action, name, typ, rec = op
    if action == "DELETE":
        records.get(name, {}).pop(typ, None)
        if name in records and not records[name]:
            del records[name]
    else:
        records.setdefault(name, {})[typ] = {"ttl": rec["ttl"], "values": list(rec["values"])}


def sync(w):
    """Changes whose propagation time has passed on the emulator's clock
    become INSYNC, in order; their record changes reach the served view."""
    now = w.clock.aws_now()
    instant = w.clock.scale <= 0
    changed = False
    with w.lock:
        for st in w.all_stores():
            pend = st.get("r53_pending")
            while pend:
                ch = st["r53_changes"].get(pend[0])
                if ch is not None and not instant and ch["due"] > now:
                    break
                pend.pop(0)
                changed = True
                if ch is None:
                    continue
                ch["status"] = "INSYNC"
                z = st["r53_zones"].get(ch["zone"])
                if z is None:
                    continue
                if ch["kind"] == "create":
                    z["live"] = True
                for op in ch["ops"]:
                    _apply(z["served"], op)
    if changed:
        w.mark_dirty()


def served_zones(w):
    """{zone name: zone} of every zone the DNS server answers for (the oldest
    live zone of each name, across accounts), after sync()."""
    sync(w)
    out = {}
    with w.lock:
        for st in w.all_stores():
            for z in st.get("r53_zones", {}).values():
                if z.get("live") and (z["name"] not in out or z["seq"] < out[z["name"]]["seq"]):
                    out[z["name"]] = z
    return out


# ------------------------------------------------------------------ zones
def _hz(z):
    cfg = {"PrivateZone": bool(z.get("private"))}
    if z.get("comment"):
        cfg["Comment"] = z["comment"]
    return {"Id": f"/hostedzone/{z['id']}", "Name": z["name"], "CallerReference": z["ref"], "Config": cfg,
            "ResourceRecordSetCount": sum(len(t) for t in z["records"].values())}


def _deleg(z):
    return {"NameServers": list(z["ns"])}


def create_hosted_zone(ctx, p):
    w = ctx.world
    st = gstore(ctx)
    name = norm(p["Name"])
    check_domain(name)
    if p.get("DelegationSetId"):
        raise AwsError("NoSuchDelegationSet", "awssim does not emulate reusable delegation sets")
    with w.lock:
        if p["CallerReference"] in st["r53_refs"]:
            raise AwsError("HostedZoneAlreadyExists",
                           "A hosted zone has already been created with the specified caller reference.")
        zid = "Z" + world_mod.rand_upper(20)
        ns = name_servers(zid)
        soa = f"{ns[0]}. awsdns-hostmaster.amazon.com. 1 7200 900 1209600 86400"
        apex = {"SOA": {"ttl": SOA_TTL, "values": [soa]}, "NS": {"ttl": NS_TTL, "values": [n + "." for n in ns]}}
        cfg = p.get("HostedZoneConfig") or {}
        seq = st.get("r53_seq", 0) + 1
        st["r53_seq"] = seq
        z = {"id": zid, "name": name, "ref": p["CallerReference"], "comment": cfg.get("Comment"),
             "private": bool(p.get("VPC")) or bool(cfg.get("PrivateZone")), "vpc": p.get("VPC"),
             "created": time.time(), "seq": seq, "ns": ns, "live": False,
             "records": {name: {k: dict(v) for k, v in apex.items()}},
             "served": {name: {k: dict(v) for k, v in apex.items()}}}
        st["r53_zones"][zid] = z
        st["r53_refs"].append(p["CallerReference"])
        ch = new_change(w, st, "create", zid)
        ctx.resource = zid
        out = {"HostedZone": _hz(z), "ChangeInfo": change_info(ch), "DelegationSet": _deleg(z),
               "Location": f"https://route53.amazonaws.com/2013-04-01/hostedzone/{zid}"}
        if z["vpc"]:
            out["VPC"] = z["vpc"]
    sync(w)
    return out


def get_hosted_zone(ctx, p):
    st = gstore(ctx)
    with ctx.world.lock:
        z = zone_of(ctx, st, p["Id"])
        out = {"HostedZone": _hz(z)}
        if z.get("private"):
            out["VPCs"] = [z["vpc"]] if z.get("vpc") else []
        else:
            out["DelegationSet"] = _deleg(z)
    return out


def _max_items(p, cap, default):
    raw = p.get("MaxItems")
    if raw in (None, ""):
        return default
    try:
        n = int(raw)
    except ValueError:
        raise AwsError("InvalidInput", f"Invalid value '{raw}' for MaxItems: not an integer") from None
    if n < 1:
        raise AwsError("InvalidInput", "1 validation error detected: Value for MaxItems must be at least 1")
    return min(n, cap)


def list_hosted_zones(ctx, p):
    st = gstore(ctx)
    n = _max_items(p, MAX_ZONES_PAGE, MAX_ZONES_PAGE)
    if p.get("DelegationSetId"):
        raise AwsError("NoSuchDelegationSet", "awssim does not emulate reusable delegation sets")
    with ctx.world.lock:
        zs = sorted(st["r53_zones"].values(), key=lambda z: z["id"])
        marker = p.get("Marker") or ""
        if marker:
            zs = [z for z in zs if z["id"] >= marker]
        page = zs[:n]
        out = {"HostedZones": [_hz(z) for z in page], "Marker": marker, "IsTruncated": len(zs) > n,
               "MaxItems": str(n)}
        if len(zs) > n:
            out["NextMarker"] = zs[n]["id"]
    return out


def list_hosted_zones_by_name(ctx, p):
    st = gstore(ctx)
    n = _max_items(p, MAX_ZONES_PAGE, MAX_ZONES_PAGE)
    if p.get("HostedZoneId") and not p.get("DNSName"):
        raise AwsError("InvalidInput", "The input is not valid: HostedZoneId requires DNSName")
    with ctx.world.lock:
        zs = sorted(st["r53_zones"].values(), key=lambda z: (rev_key(z["name"]), z["id"]))
        out = {"MaxItems": str(n)}
        if p.get("DNSName"):
            start = norm(p["DNSName"])
            check_domain(start)
            hz = strip_id(p.get("HostedZoneId"), "hostedzone") if p.get("HostedZoneId") else ""
            zs = [z for z in zs if (rev_key(z["name"]), z["id"]) >= (rev_key(start), hz)]
            out["DNSName"] = start
            if hz:
                out["HostedZoneId"] = hz
        page = zs[:n]
        out.update(HostedZones=[_hz(z) for z in page], IsTruncated=len(zs) > n)
        if len(zs) > n:
            out["NextDNSName"], out["NextHostedZoneId"] = zs[n]["name"], zs[n]["id"]
    return out


def delete_hosted_zone(ctx, p):
    w = ctx.world
    st = gstore(ctx)
    with w.lock:
        z = zone_of(ctx, st, p["Id"])
        extra = [(nm, t) for nm, ts in z["records"].items() for t in ts
                 if not (nm == z["name"] and t in ("SOA", "NS"))]
        if extra:
            raise AwsError("HostedZoneNotEmpty", "The specified hosted zone contains non-required resource "
                                                 "record sets and so cannot be deleted.")
        del st["r53_zones"][z["id"]]
        ch = new_change(w, st, "delete", z["id"])
    return {"ChangeInfo": change_info(ch)}


# ------------------------------------------------------------------ record sets
TXT_RE = re.compile(r'"((?:[^"\\]|\\.)*)"|(\S+)')


def txt_strings(value):
    """A Route 53 TXT value ('"a b" "c"', or bare words) -> its strings."""
    out = []
    for m in TXT_RE.finditer(value or ""):
        s = m.group(1) if m.group(1) is not None else m.group(2)
        out.append(re.sub(r"\\(.)", r"\1", s))
    return out or [""]


def _check_values(name, typ, values, msgs):
    if typ == "A":
        for v in values:
            try:
                ipaddress.IPv4Address(v)
            except ValueError:
                what = "ARRDATANotSingleField (Value contains spaces)" if " " in v.strip() else \
                    "ARRDATAIllegalIPv4Address (Value is not a valid IPv4 address)"
                msgs.append(f"Invalid Resource Record: 'FATAL problem: {what} encountered with '{v}''")
    elif typ == "AAAA":
        for v in values:
            try:
                ipaddress.IPv6Address(v)
            except ValueError:
                msgs.append(f"Invalid Resource Record: 'FATAL problem: AAAARRDATAIllegalIPv6Address (Value is not "
                            f"a valid IPv6 address) encountered with '{v}''")
    elif typ == "CNAME":
        if len(values) != 1:
            msgs.append(f"The request contains an invalid set of changes for a resource record set 'CNAME {name}'")
    elif typ == "TXT":
        for v in values:
            if any(len(s.encode()) > 255 for s in txt_strings(v)):
                msgs.append(f"Invalid Resource Record: 'FATAL problem: TXTRDATATooLong encountered with '{v}''")


def _conflicts(zone, records, name, typ, msgs):
    have = records.get(name, {})
    if typ == "CNAME" and any(t != "CNAME" for t in have):
        msgs.append(f"RRSet of type CNAME with DNS name {name} is not permitted as it conflicts with other "
                    f"records with the same DNS name in zone {zone}")
        return False
    if typ != "CNAME" and "CNAME" in have:
        msgs.append(f"RRSet of type {typ} with DNS name {name} is not permitted because a conflicting RRSet of "
                    f"type  CNAME with the same DNS name already exists in zone {zone}")
        return False
    return True


def change_resource_record_sets(ctx, p):
    w = ctx.world
    st = gstore(ctx)
    batch = p["ChangeBatch"]
    changes = batch.get("Changes") or []
    if not changes:
        raise AwsError("InvalidInput", "1 validation error detected: Value '[]' at 'changeBatch.changes' failed "
                                       "to satisfy constraint: Member must have length greater than or equal to 1")
    if len(changes) > 1000:
        raise AwsError("InvalidChangeBatch", f"[Number of records limit of 1000 exceeded.]")
    with w.lock:
        z = zone_of(ctx, st, p["HostedZoneId"])
        zone = z["name"]
        work = {nm: {t: {"ttl": r["ttl"], "values": list(r["values"])} for t, r in ts.items()}
                for nm, ts in z["records"].items()}
        ops, msgs = [], []
        for c in changes:
            action, rr = c.get("Action"), c.get("ResourceRecordSet") or {}
            name, typ = norm(rr.get("Name")), rr.get("Type")
            bad = [k for k in UNSUPPORTED if rr.get(k) is not None]
            if bad:
                raise AwsError("InvalidInput", f"awssim does not emulate {', '.join(bad)} (simple routing only) "
                                               f"in Change with [Action={action}, Name={name}, Type={typ}]")
            if rr.get("TTL") is None or not rr.get("ResourceRecords"):
                raise AwsError("InvalidInput", "Invalid request: Expected exactly one of [AliasTarget, all of [TTL, "
                               "and ResourceRecords], or TrafficPolicyInstanceId], but found none in Change with "
                               f"[Action={action}, Name={name}, Type={typ}, SetIdentifier=null]")
            rec = {"ttl": int(rr["TTL"]), "values": [r.get("Value", "") for r in rr["ResourceRecords"]]}
            if not (0 <= rec["ttl"] <= 2147483647):
                raise AwsError("InvalidInput", f"Invalid value '{rec['ttl']}' for TTL")
            if not in_zone(name, zone):
                msgs.append(f"RRSet with DNS name {name} is not permitted in zone {zone}")
                continue
            if typ == "CNAME" and name == zone:
                msgs.append(f"RRSet of type CNAME with DNS name {name} is not permitted at apex in zone {zone}")
                continue
            cur = work.get(name, {}).get(typ)
            if action == "DELETE":
                if cur is None:
                    msgs.append(f"Tried to delete resource record set [name='{name}', type='{typ}'] but it was "
                                f"not found")
                elif cur["ttl"] != rec["ttl"] or sorted(cur["values"]) != sorted(rec["values"]):
                    msgs.append(f"Tried to delete resource record set [name='{name}', type='{typ}'] but the "
                                f"values provided do not match the current values")
                elif name == zone and typ == "SOA":
                    msgs.append("A HostedZone must contain exactly one SOA record.")
                elif name == zone and typ == "NS":
                    msgs.append("A HostedZone must contain at least one NS record for the zone itself.")
                else:
                    op = ("DELETE", name, typ, None)
                    _apply(work, op)
                    ops.append(op)
                continue
            n0 = len(msgs)
            _check_values(name, typ, rec["values"], msgs)
            if len(msgs) > n0:
                continue
            if action == "CREATE" and cur is not None:
                msgs.append(f"Tried to create resource record set [name='{name}', type='{typ}'] but it already "
                            f"exists")
                continue
            if not _conflicts(zone, work, name, typ, msgs):
                continue
            op = (action, name, typ, rec)
            _apply(work, op)
            ops.append(op)
        if msgs:
            raise AwsError("InvalidChangeBatch", "[" + ", ".join(msgs) + "]")
        z["records"] = work
        ch = new_change(w, st, "rrset", z["id"], [list(o) for o in ops], batch.get("Comment"))
        out = {"ChangeInfo": change_info(ch)}
    sync(w)
    return out


def _rrs_out(name, typ, rec):
    return {"Name": name, "Type": typ, "TTL": rec["ttl"], "ResourceRecords": [{"Value": v} for v in rec["values"]]}


def list_resource_record_sets(ctx, p):
    st = gstore(ctx)
    n = _max_items(p, MAX_RRS_PAGE, MAX_RRS_PAGE)
    if p.get("StartRecordType") and not p.get("StartRecordName"):
        raise AwsError("InvalidInput", "The input is not valid: StartRecordType requires StartRecordName")
    if p.get("StartRecordIdentifier"):
        raise AwsError("InvalidInput", "awssim does not emulate SetIdentifier (simple routing only)")
    with ctx.world.lock:
        z = zone_of(ctx, st, p["HostedZoneId"])
        allr = sorted(((rev_key(nm), t, nm) for nm, ts in z["records"].items() for t in ts))
        if p.get("StartRecordName"):
            start = (rev_key(norm(p["StartRecordName"])), p.get("StartRecordType") or "")
            allr = [r for r in allr if (r[0], r[1]) >= start]
        page = allr[:n]
        out = {"ResourceRecordSets": [_rrs_out(nm, t, z["records"][nm][t]) for _, t, nm in page],
               "IsTruncated": len(allr) > n, "MaxItems": str(n)}
        if len(allr) > n:
            out["NextRecordName"], out["NextRecordType"] = allr[n][2], allr[n][1]
    return out


def get_change(ctx, p):
    sync(ctx.world)
    st = gstore(ctx)
    cid = strip_id(p["Id"], "change")
    with ctx.world.lock:
        ch = st["r53_changes"].get(cid)
        if ch is None:
            raise AwsError("NoSuchChange", f"A change with the specified change ID does not exist: {cid}")
        ctx.resource = cid
        return {"ChangeInfo": change_info(ch)}


ACTIONS = {
    "CreateHostedZone": create_hosted_zone,
    "GetHostedZone": get_hosted_zone,
    "ListHostedZones": list_hosted_zones,
    "ListHostedZonesByName": list_hosted_zones_by_name,
    "DeleteHostedZone": delete_hosted_zone,
    "ChangeResourceRecordSets": change_resource_record_sets,
    "ListResourceRecordSets": list_resource_record_sets,
    "GetChange": get_change,
}
