"""EC2 (its own Query dialect): VPC security groups per account, for RDS's
VpcSecurityGroupIds and for mapping them by name across accounts:
DescribeSecurityGroups, CreateSecurityGroup, DeleteSecurityGroup; their
inbound rules (AuthorizeSecurityGroupIngress, RevokeSecurityGroupIngress:
protocol, port range, IPv4 CIDRs and security groups of this or another
account, as AWS validates them; the default group admits itself, as in
AWS); and the subnets of the account's default VPC (DescribeSubnets:
subnet-0sima 172.31.0.0/20 and subnet-0simb 172.31.16.0/20, the subnets of
RDS's `default` DB subnet group, plus CreateSubnet's). Rules are recorded
and described, not enforced on connections (docs/emulator.md).

The EC2 protocol: parameters named by `queryName` or the capitalised
`locationName`, every list flattened as `Name.N`; responses
`<ActionResponse><requestId>…` with members by `locationName` and list items
`<item>`; errors `<Response><Errors><Error><Code>…`. The records are
store["security_groups"]: {group id: {"name", "description", "vpc",
"ingress": [{"proto", "from", "to", "cidrs": [...], "groups": [[id, account]]}]}}
(rds_subnet_groups checks RDS's ids against them) and store["subnets"]:
{subnet id: {"cidr", "az"}}."""
import ipaddress
import secrets as _secrets
from xml.sax.saxutils import escape

from .errors import AwsError
from .querycodec import _enc, _bad, parse_timestamp

DEFAULT_SG = "sg-0awssimdefault0001"
VPC = "vpc-0a1b2c3d4e5f60718"


# ------------------------------------------------------------ protocol
def _qname(name, m):
    s = m.serialization
    if s.get("queryName"):
        return s["queryName"]
    if s.get("name"):
        n = s["name"]
        return n[0].upper() + n[1:]
    return name


def decode(shape, form):
    if shape is None:
        return {}
    return _struct(shape, form, "") or {}


def _struct(shape, form, prefix):
    out = {}
    for name, m in shape.members.items():
        key = f"{prefix}.{_qname(name, m)}" if prefix else _qname(name, m)
        v = _value(m, form, key)
        if v is not None:
            out[name] = v
    return out


def _value(shape, form, key):
    t = shape.type_name
    if t == "structure":
        return _struct(shape, form, key) if any(k.startswith(key + ".") for k in form) else None
    if t == "list":
        idx = sorted({int(k[len(key) + 1:].split(".", 1)[0]) for k in form
                      if k.startswith(key + ".") and k[len(key) + 1:].split(".", 1)[0].isdigit()})
        if not idx:
            return None
        return [v for v in (_value(shape.member, form, f"{key}.{i}") for i in idx) if v is not None]
    if key not in form:
        return None
    raw = form[key]
    if t in ("integer", "long"):
        try:
            return int(raw)
        except ValueError:
            raise _bad(key, raw, "not an integer") from None
    if t == "boolean":
        return raw.lower() in ("true", "1")
    if t == "timestamp":
        return parse_timestamp(raw, key)
    return raw


def encode_response(op, result, request_id):
    ns = op.service_model.metadata.get("xmlNamespace", "http://ec2.amazonaws.com/doc/2016-11-15/")
    out = [f'<?xml version="1.0" encoding="UTF-8"?>\n<{op.name}Response xmlns="{ns}"><requestId>{request_id}</requestId>']
    if op.output_shape is not None:
        _enc(op.output_shape, result or {}, out)
    out.append(f"</{op.name}Response>\n")
    return "".join(out).encode("utf-8")


def encode_error(code, message, request_id):
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>{escape(code)}</Code>'
            f"<Message>{escape(message)}</Message></Error></Errors><RequestID>{request_id}</RequestID></Response>\n"
            ).encode("utf-8")


# ------------------------------------------------------------ records
def groups(store):
    """{id: record} of the account's security groups, the default one included
    (lists of ids from older homes become records named by their id)."""
    g = store.get("security_groups")
    if isinstance(g, list) or g is None:
        g = store["security_groups"] = {i: {"name": i, "description": i, "vpc": VPC} for i in (g or [])}
    if DEFAULT_SG not in g:
        # AWS's default group admits all traffic from itself
        g[DEFAULT_SG] = {"name": "default", "description": "default VPC security group", "vpc": VPC,
                         "ingress": [{"proto": "-1", "from": None, "to": None, "cidrs": [],
                                      "groups": [[DEFAULT_SG, store["account"]]]}]}
    return g


def add_group(store, name, description="", gid=None):
    g = groups(store)
    for k, r in g.items():
        if r["name"] == name and r.get("vpc") == VPC:
            return k
    gid = gid or "sg-0" + _secrets.token_hex(8)
    g[gid] = {"name": name, "description": description or name, "vpc": VPC}
    return gid


def _render_perm(p):
    out = {"IpProtocol": p["proto"], "IpRanges": [{"CidrIp": c} for c in p["cidrs"]], "Ipv6Ranges": [],
           "PrefixListIds": [], "UserIdGroupPairs": [{"GroupId": g, "UserId": a} for g, a in p["groups"]]}
    if p["from"] is not None:
        out["FromPort"], out["ToPort"] = p["from"], p["to"]
    return out


def _render(store, gid, r):
    return {"GroupId": gid, "GroupName": r["name"], "Description": r.get("description", ""),
            "OwnerId": store["account"], "VpcId": r.get("vpc", VPC),
            "IpPermissions": [_render_perm(p) for p in r.get("ingress") or []],
            "IpPermissionsEgress": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}], "Ipv6Ranges": [],
                                     "PrefixListIds": [], "UserIdGroupPairs": []}], "Tags": []}


# ------------------------------------------------------------ actions
def DescribeSecurityGroups(ctx, p):
    with ctx.world.lock:
        g = groups(ctx.store)
        items = sorted(g.items())
        ids, names = p.get("GroupIds") or [], p.get("GroupNames") or []
        for i in ids:
            if i not in g:
                raise AwsError("InvalidGroup.NotFound", f"The security group '{i}' does not exist")
        for n in names:
            if not any(r["name"] == n for r in g.values()):
                raise AwsError("InvalidGroup.NotFound", f"The security group '{n}' does not exist in default VPC "
                               f"'{VPC}'")
        if ids:
            items = [(k, r) for k, r in items if k in ids]
        if names:
            items = [(k, r) for k, r in items if r["name"] in names]
        for f in p.get("Filters") or []:
            vals = set(f.get("Values") or [])
            field = {"group-name": lambda k, r: r["name"], "group-id": lambda k, r: k,
                     "vpc-id": lambda k, r: r.get("vpc", VPC), "description": lambda k, r: r.get("description"),
                     "owner-id": lambda k, r: ctx.store["account"]}.get(f.get("Name"))
            if field is None:
                raise AwsError("InvalidParameterValue", f"The filter '{f.get('Name')}' is invalid")
            items = [(k, r) for k, r in items if field(k, r) in vals]
        return {"SecurityGroups": [_render(ctx.store, k, r) for k, r in items]}


def CreateSecurityGroup(ctx, p):
    name = p.get("GroupName") or ""
    if not name or name.startswith("sg-") or len(name) > 255:
        raise AwsError("InvalidParameterValue", f"Invalid value '{name}' for groupName. It cannot be empty, "
                       "begin with 'sg-' or exceed 255 characters")
    with ctx.world.lock:
        g = groups(ctx.store)
        if any(r["name"] == name for r in g.values()):
            raise AwsError("InvalidGroup.Duplicate", f"The security group '{name}' already exists for VPC '{VPC}'")
        gid = add_group(ctx.store, name, p.get("Description", ""))
    ctx.resource = gid
    return {"GroupId": gid}


def DeleteSecurityGroup(ctx, p):
    with ctx.world.lock:
        g = groups(ctx.store)
        gid = p.get("GroupId") or next((k for k, r in g.items() if r["name"] == p.get("GroupName")), None)
        if not gid or gid not in g:
            raise AwsError("InvalidGroup.NotFound", f"The security group '{p.get('GroupId') or p.get('GroupName')}' "
                           "does not exist")
        if gid == DEFAULT_SG:
            raise AwsError("CannotDelete", "the specified group: \"default\" name: \"default\" cannot be deleted by a user")
        users = [i["id"] for i in ctx.store["instances"].values() if gid in i.get("sg_ids", [])]
        if users:
            raise AwsError("DependencyViolation", f"resource {gid} has a dependent object")
        del g[gid]
    return {"Return": True}


# ------------------------------------------------------------ inbound rules
_PROTOS = {"tcp": "tcp", "6": "tcp", "udp": "udp", "17": "udp", "icmp": "icmp", "1": "icmp", "-1": "-1", "all": "-1"}


def _group_of(ctx, p):
    g = groups(ctx.store)
    gid = p.get("GroupId") or next((k for k, r in g.items() if r["name"] == p.get("GroupName")), None)
    if not gid or gid not in g:
        raise AwsError("InvalidGroup.NotFound", f"The security group '{p.get('GroupId') or p.get('GroupName')}' "
                       "does not exist")
    return gid, g[gid]


def _perms(ctx, p, gid):
    """The request's permissions as records, validated as AWS does (the
    older flat form CidrIp/IpProtocol/FromPort/ToPort too)."""
    raw = list(p.get("IpPermissions") or [])
    if not raw and p.get("IpProtocol"):
        raw = [{"IpProtocol": p["IpProtocol"], "FromPort": p.get("FromPort"), "ToPort": p.get("ToPort"),
                "IpRanges": [{"CidrIp": p["CidrIp"]}] if p.get("CidrIp") else []}]
    if not raw:
        raise AwsError("MissingParameter", "No inbound rule given: IpPermissions is required")
    out = []
    for r in raw:
        proto = _PROTOS.get(str(r.get("IpProtocol", "")).lower())
        if proto is None:
            raise AwsError("InvalidParameterValue", f"Invalid value '{r.get('IpProtocol')}' for IP protocol. "
                           "Unknown protocol.")
        lo, hi = r.get("FromPort"), r.get("ToPort")
        if proto in ("tcp", "udp"):
            if lo is None or hi is None:
                raise AwsError("InvalidParameterValue", "Invalid value for portRange. Must specify both from and to "
                               "ports with TCP/UDP.")
            if not (0 <= lo <= 65535 and 0 <= hi <= 65535) or lo > hi:
                raise AwsError("InvalidParameterValue", f"Invalid value for portRange. The from port {lo} must be "
                               f"less than or equal to the to port {hi}, both in 0-65535")
        elif proto == "-1":
            lo = hi = None
        cidrs = []
        for c in r.get("IpRanges") or []:
            try:
                cidrs.append(str(ipaddress.IPv4Network(c.get("CidrIp", ""), strict=False)))
            except ValueError:
                raise AwsError("InvalidParameterValue", f"CIDR block {c.get('CidrIp')} is malformed") from None
        pairs = []
        for gp in r.get("UserIdGroupPairs") or []:
            other = gp.get("UserId") or ctx.store["account"]
            ref = gp.get("GroupId")
            if not ref:
                raise AwsError("InvalidParameterValue", "A security group reference needs its GroupId")
            # another account's group (a peered VPC): it must exist there
            known = groups(ctx.store if other == ctx.store["account"] else ctx.world.store(other, ctx.store["region"]))
            if ref not in known:
                raise AwsError("InvalidGroup.NotFound", f"The security group '{ref}' does not exist"
                               + ("" if other == ctx.store["account"] else f" in account {other}"))
            pairs.append([ref, other])
        if not cidrs and not pairs:
            raise AwsError("InvalidParameterValue", "An inbound rule needs a CIDR or a security group source")
        for c in cidrs:
            out.append({"proto": proto, "from": lo, "to": hi, "cidrs": [c], "groups": []})
        for pr in pairs:
            out.append({"proto": proto, "from": lo, "to": hi, "cidrs": [], "groups": [pr]})
    return out


def _same(a, b):
    return (a["proto"], a["from"], a["to"], a["cidrs"], a["groups"]) == \
        (b["proto"], b["from"], b["to"], b["cidrs"], b["groups"])


def _change_ingress(ctx, p, change):
    """Authorize / Revoke SecurityGroupIngress on the group p names: change
    takes the rules p gives and the group's, raises when one cannot apply
    (nothing changed then) and returns the group's new rules. -> the group id."""
    with ctx.world.lock:
        gid, rec = _group_of(ctx, p)
        rules = _perms(ctx, p, gid)
        have = rec.setdefault("ingress", [])
        rec["ingress"] = change(rules, have)
    return gid


def _authorize(new, have):
    for n in new:
        if any(_same(n, h) for h in have):
            src = n["cidrs"][0] if n["cidrs"] else n["groups"][0][0]
            raise AwsError("InvalidPermission.Duplicate", f"the specified rule \"peer: {src}, "
                           f"{n['proto'].upper()}, from port: {n['from']}, to port: {n['to']}, ALLOW\" already "
                           "exists")
    return have + new


def _revoke(gone, have):
    for n in gone:
        if not any(_same(n, h) for h in have):
            raise AwsError("InvalidPermission.NotFound", "The specified rule does not exist in this security "
                           "group.")
    return [h for h in have if not any(_same(n, h) for n in gone)]


def AuthorizeSecurityGroupIngress(ctx, p):
    ctx.resource = _change_ingress(ctx, p, _authorize)
    return {"Return": True}


def RevokeSecurityGroupIngress(ctx, p):
    _change_ingress(ctx, p, _revoke)
    return {"Return": True}


# ------------------------------------------------------------ subnets
VPC_CIDR = "172.31.0.0/16"


def subnets(store):
    """{id: record} of the default VPC's subnets (RDS's `default` subnet group's two first)."""
    sn = store.setdefault("subnets", {})
    for sid, cidr, z in (("subnet-0sima", "172.31.0.0/20", "a"), ("subnet-0simb", "172.31.16.0/20", "b")):
        sn.setdefault(sid, {"cidr": cidr, "az": f"{store['region']}{z}"})
    return sn


def _render_subnet(store, sid, r):
    return {"SubnetId": sid, "CidrBlock": r["cidr"], "AvailabilityZone": r["az"], "VpcId": VPC,
            "State": "available", "OwnerId": store["account"], "AvailableIpAddressCount": 4091,
            "DefaultForAz": sid.startswith("subnet-0sim"), "MapPublicIpOnLaunch": False,
            "SubnetArn": f"arn:aws:ec2:{store['region']}:{store['account']}:subnet/{sid}"}


def DescribeSubnets(ctx, p):
    with ctx.world.lock:
        sn = subnets(ctx.store)
        ids = p.get("SubnetIds") or []
        for i in ids:
            if i not in sn:
                raise AwsError("InvalidSubnetID.NotFound", f"The subnet ID '{i}' does not exist")
        items = sorted((k, r) for k, r in sn.items() if not ids or k in ids)
        for f in p.get("Filters") or []:
            vals = set(f.get("Values") or [])
            field = {"subnet-id": lambda k, r: k, "vpc-id": lambda k, r: VPC, "cidr-block": lambda k, r: r["cidr"],
                     "availability-zone": lambda k, r: r["az"]}.get(f.get("Name"))
            if field is None:
                raise AwsError("InvalidParameterValue", f"The filter '{f.get('Name')}' is invalid")
            items = [(k, r) for k, r in items if field(k, r) in vals]
        return {"Subnets": [_render_subnet(ctx.store, k, r) for k, r in items]}


def CreateSubnet(ctx, p):
    if p.get("VpcId") != VPC:
        raise AwsError("InvalidVpcID.NotFound", f"The vpc ID '{p.get('VpcId')}' does not exist")
    try:
        net = ipaddress.IPv4Network(p.get("CidrBlock") or "", strict=True)
    except ValueError:
        raise AwsError("InvalidParameterValue", f"Value ({p.get('CidrBlock')}) for parameter cidrBlock is invalid. "
                       "This is not a valid CIDR block.") from None
    if not net.subnet_of(ipaddress.IPv4Network(VPC_CIDR)) or not 16 <= net.prefixlen <= 28:
        raise AwsError("InvalidSubnet.Range", f"The CIDR '{net}' is invalid.")
    with ctx.world.lock:
        sn = subnets(ctx.store)
        if any(net.overlaps(ipaddress.IPv4Network(r["cidr"])) for r in sn.values()):
            raise AwsError("InvalidSubnet.Conflict", f"The CIDR '{net}' conflicts with another subnet")
        sid = "subnet-0" + _secrets.token_hex(8)
        sn[sid] = {"cidr": str(net), "az": p.get("AvailabilityZone") or f"{ctx.store['region']}a"}
        ctx.resource = sid
        return {"Subnet": _render_subnet(ctx.store, sid, sn[sid])}


ACTIONS = {f.__name__: f for f in (DescribeSecurityGroups, CreateSecurityGroup, DeleteSecurityGroup,
                                   AuthorizeSecurityGroupIngress, RevokeSecurityGroupIngress, DescribeSubnets,
                                   CreateSubnet)}
