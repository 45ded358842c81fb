"""DB subnet groups and VPC security groups, per account: the actions
CreateDBSubnetGroup, DescribeDBSubnetGroups, DeleteDBSubnetGroup and the
checks Create/Restore of instances and clusters make on the names they are
given.

`default` (subnet group) and DEFAULT_SG exist in every account. The first
account (--account-id) is lenient as the emulator always was: a subnet group
or security group it names that does not exist yet is recorded as existing.
Every other account is strict as AWS: DBSubnetGroupNotFoundFault for a
subnet group not created in it (CreateDBSubnetGroup), InvalidParameterValue
for a security group not created in it (EC2 CreateSecurityGroup, ec2.py, or
admin POST /accounts/ID/security-groups)."""
import time

from . import ec2
from .errors import AwsError, invalid, missing
from .rds_common import paged

DEFAULT_SG = ec2.DEFAULT_SG
VPC = "vpc-0a1b2c3d4e5f60718"


def lenient(ctx):
    return ctx.store["account"] == ctx.world.cfg.account_id


def render(store, g):
    return {"DBSubnetGroupName": g["name"], "DBSubnetGroupDescription": g.get("description", ""),
            "VpcId": VPC, "SubnetGroupStatus": "Complete",
            "Subnets": [{"SubnetIdentifier": sid, "SubnetAvailabilityZone": {"Name": f"{store['region']}{z}"},
                         "SubnetOutpost": {}, "SubnetStatus": "Active"}
                        for sid, z in zip(g.get("subnets") or [], "abcdef")],
            "DBSubnetGroupArn": f"arn:aws:rds:{store['region']}:{store['account']}:subgrp:{g['name']}",
            "SupportedNetworkTypes": ["IPV4"]}


def _default(store):
    return {"name": "default", "description": "default", "subnets": ["subnet-0sima", "subnet-0simb"],
            "created": 0}


def lookup(store, name):
    name = (name or "default").lower()
    if name == "default":
        return store.get("subnet_groups", {}).get("default") or _default(store)
    return store.get("subnet_groups", {}).get(name)


def use_subnet_group(ctx, name):
    """The subnet group a Create/Restore names: its name, recorded in the
    lenient first account, DBSubnetGroupNotFoundFault elsewhere."""
    if not name or name.lower() == "default":
        return name or "default"
    st = ctx.store
    if lookup(st, name):
        return name
    if lenient(ctx):
        st.setdefault("subnet_groups", {})[name.lower()] = {
            "name": name, "description": f"awssim subnet group {name}", "subnets": ["subnet-0sima", "subnet-0simb"],
            "created": time.time(), "implicit": True}
        return name
    raise AwsError("DBSubnetGroupNotFoundFault", f"DBSubnetGroup '{name}' not found.")


def use_security_groups(ctx, ids):
    """VPC security group ids a Create/Restore/Modify names: each must exist
    in the account (recorded in the lenient first account)."""
    st = ctx.store
    known = ec2.groups(st)
    for g in ids:
        if g in known:
            continue
        if lenient(ctx):
            ec2.add_group(st, g, gid=g)
            continue
        raise invalid(f"Invalid security group, groupId= {g}, groupName=. The security group does not exist "
                      f"in account {st['account']}.")
    return ids


def CreateDBSubnetGroup(ctx, p):
    name = p.get("DBSubnetGroupName")
    if not name:
        raise missing("DBSubnetGroupName")
    if name.lower() == "default":
        raise invalid("The name default is reserved")
    if not p.get("DBSubnetGroupDescription"):
        raise missing("DBSubnetGroupDescription")
    subnets = list(p.get("SubnetIds") or [])
    if len(subnets) < 2:
        raise AwsError("DBSubnetGroupDoesNotCoverEnoughAZs", "The DB subnet group doesn't meet Availability Zone "
                       "(AZ) coverage requirement. Current AZ coverage: 1. Add subnets to cover at least 2 AZs.")
    st = ctx.store
    with ctx.world.lock:
        groups = st.setdefault("subnet_groups", {})
        old = groups.get(name.lower())
        if old and not old.get("implicit"):
            raise AwsError("DBSubnetGroupAlreadyExists", f"The DB subnet group '{name}' already exists.")
        g = groups[name.lower()] = {"name": name.lower(), "description": p["DBSubnetGroupDescription"],
                                    "subnets": subnets, "created": time.time(), "tags": p.get("Tags") or []}
        ctx.resource = g["name"]
        return {"DBSubnetGroup": render(st, g)}


def DescribeDBSubnetGroups(ctx, p):
    st = ctx.store
    with ctx.world.lock:
        if p.get("DBSubnetGroupName"):
            g = lookup(st, p["DBSubnetGroupName"])
            if not g:
                raise AwsError("DBSubnetGroupNotFoundFault", f"DBSubnetGroup '{p['DBSubnetGroupName']}' not found.")
            items = [g]
        else:
            items = [lookup(st, "default")] + [g for n, g in st.get("subnet_groups", {}).items() if n != "default"]
        return paged("DBSubnetGroups", items, lambda g: g["name"], p, lambda g: render(st, g))


def DeleteDBSubnetGroup(ctx, p):
    st = ctx.store
    name = (p.get("DBSubnetGroupName") or "").lower()
    if not name:
        raise missing("DBSubnetGroupName")
    with ctx.world.lock:
        if name == "default" or name not in st.get("subnet_groups", {}):
            raise AwsError("DBSubnetGroupNotFoundFault", f"DBSubnetGroup '{name}' not found.")
        users = [i["id"] for i in st["instances"].values() if (i.get("subnet_group") or "").lower() == name] + \
                [c["id"] for c in st["clusters"].values() if (c.get("subnet_group") or "").lower() == name]
        if users:
            raise AwsError("InvalidDBSubnetGroupStateFault", f"Cannot delete the subnet group '{name}' because at "
                           f"least one database instance: {users[0]} is still using it.")
        del st["subnet_groups"][name]
    return {}
