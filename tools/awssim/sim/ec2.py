"""EC2 (its own Query dialect): VPC security groups per account, for RDS's
VpcSecurityGroupIds and for mapping them by name across accounts:
DescribeSecurityGroups, CreateSecurityGroup, DeleteSecurityGroup.

The EC2 protocol: parameters named by `queryName` or the capitalised
`locationName`, every list flattened as `Name.N`; responses
`<ActionResponse><requestId>…` with members by `locationName` and list items
`<item>`; errors `<Response><Errors><Error><Code>…`. The records are
store["security_groups"]: {group id: {"name", "description", "vpc"}}
(rds_subnet_groups checks RDS's ids against them)."""
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
        g[DEFAULT_SG] = {"name": "default", "description": "default VPC security group", "vpc": VPC}
    return g


def add_group(store, name, description="", gid=None):
    g = groups(store)
    for k, r in g.items():
        if r["name"] == name and r.get("vpc") == VPC:
            return k
    gid = gid or "sg-0" + _secrets.token_hex(8)
    g[gid] = {"name": name, "description": description or name, "vpc": VPC}
    return gid


def _render(store, gid, r):
    return {"GroupId": gid, "GroupName": r["name"], "Description": r.get("description", ""),
            "OwnerId": store["account"], "VpcId": r.get("vpc", VPC), "IpPermissions": [],
            "IpPermissionsEgress": [], "Tags": []}


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


ACTIONS = {f.__name__: f for f in (DescribeSecurityGroups, CreateSecurityGroup, DeleteSecurityGroup)}
