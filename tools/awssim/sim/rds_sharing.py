"""Snapshot sharing across accounts, for DB snapshots and DB cluster
snapshots alike: the `restore` attribute (Modify/Describe...Attribute(s)),
what another account sees of a snapshot shared with it (Describe... with
SnapshotType shared/public or IncludeShared/IncludePublic, the ARN as its
identifier) and the look-up of a shared snapshot by ARN (Copy..., Restore...).

Kinds: "snapshot" (store["snapshots"]) and "cluster-snapshot"
(store["cluster_snapshots"]). Imports no other RDS resource module."""
from . import kms
from .errors import AwsError, invalid, missing
from .rds_common import arn, csnap_not_found, get_csnap, get_snap, ref_id, snap_not_found

COLL = {"snapshot": "snapshots", "cluster-snapshot": "cluster_snapshots"}
NOT_FOUND = {"snapshot": snap_not_found, "cluster-snapshot": csnap_not_found}
STATE_FAULT = {"snapshot": "InvalidDBSnapshotState", "cluster-snapshot": "InvalidDBClusterSnapshotStateFault"}
MAX_SHARED_ACCOUNTS = 20


def restore_list(snap):
    return snap.setdefault("attributes", {"restore": []}).setdefault("restore", [])


def shared_with(snap, account):
    vals = (snap.get("attributes") or {}).get("restore") or []
    return account in vals or "all" in vals


def arn_account(ident):
    """The account of an RDS ARN, or None for a plain identifier."""
    if ident and ident.startswith("arn:"):
        parts = ident.split(":")
        if len(parts) > 4:
            return parts[4]
    return None


def resolve(ctx, ident, kind, param):
    """(store, snapshot) named by an identifier or an ARN: this account's, or
    another account's (same region) shared with this account (else not found)."""
    if not ident:
        raise missing(param)
    name = ref_id(ident, kind)
    acct = arn_account(ident)
    if acct is None or acct == ctx.account:
        snap = ctx.store[COLL[kind]].get(name)
        if not snap:
            raise NOT_FOUND[kind](name)
        return ctx.store, snap
    region = ident.split(":")[3]
    w = ctx.world
    with w.lock:
        st = w.stores.get(f"{acct}/{region}")
        snap = st[COLL[kind]].get(name) if st else None
    if not snap or region != ctx.region or not shared_with(snap, ctx.account) or snap["status"] != "available":
        raise NOT_FOUND[kind](ident)
    return st, snap


def foreign(ctx, kind, public=False):
    """Other accounts' snapshots (this region) shared with this account
    (public: only those shared with all)."""
    out = []
    with ctx.world.lock:
        for st in ctx.world.stores.values():
            if st["account"] == ctx.account or st["region"] != ctx.region:
                continue
            for s in st[COLL[kind]].values():
                vals = (s.get("attributes") or {}).get("restore") or []
                if s["status"] == "available" and ("all" in vals if public else ctx.account in vals):
                    out.append((st, s))
    return out


def listing(ctx, p, kind, own):
    """What Describe...Snapshots lists: [(store, snap, shown_type)] from own
    snapshots (already narrowed by the caller) plus, by SnapshotType /
    IncludeShared / IncludePublic, other accounts' shared with this one."""
    t = p.get("SnapshotType")
    if t and t not in ("automated", "manual", "shared", "public", "awsbackup"):
        raise invalid(f"Invalid snapshot type: {t}")
    items = []
    if t not in ("shared", "public"):
        items = [(ctx.store, s, s["type"]) for s in own if not t or s["type"] == t]
    if t == "shared" or (not t and p.get("IncludeShared")):
        items += [(st, s, "shared") for st, s in foreign(ctx, kind)]
    if t == "public" or (not t and p.get("IncludePublic")):
        items += [(st, s, "public") for st, s in foreign(ctx, kind, public=True)]
    return items


def described(ctx, p, kind):
    """Describe...Snapshots' candidates before its filters: (items, shown) with
    shown[id(snap)] = (store, shown type); the one named by identifier or ARN,
    or the listing (own and, as asked, shared with this account)."""
    ident = p.get(IDENT[kind])
    if ident:
        sst, one = resolve(ctx, ident, kind, IDENT[kind])
        t = "shared" if sst is not ctx.store else one["type"]
        trip = [(sst, one, t)] if not p.get("SnapshotType") or p["SnapshotType"] == t else []
    else:
        trip = listing(ctx, p, kind, list(ctx.store[COLL[kind]].values()))
    return [s for _st, s, _t in trip], {id(s): (st, t) for st, s, t in trip}


def seen(ctx, st, d, kind, shown_type):
    """A rendered snapshot d as this account sees it: another account's by its ARN, type shared or public."""
    if st is not ctx.store:
        d[IDENT[kind]] = d[ARN_FIELD[kind]]
        d["SnapshotType"] = shown_type
    return d


IDENT = {"snapshot": "DBSnapshotIdentifier", "cluster-snapshot": "DBClusterSnapshotIdentifier"}
ARN_FIELD = {"snapshot": "DBSnapshotArn", "cluster-snapshot": "DBClusterSnapshotArn"}
GET = {"snapshot": get_snap, "cluster-snapshot": get_csnap}
ATTRS = {"snapshot": ("DBSnapshotAttributes", "DBSnapshotAttributesResult"),
         "cluster-snapshot": ("DBClusterSnapshotAttributes", "DBClusterSnapshotAttributesResult")}


def _attrs_result(snap, kind):
    return {ATTRS[kind][1]: {IDENT[kind]: snap["id"], ATTRS[kind][0]: [
        {"AttributeName": "restore", "AttributeValues": list(restore_list(snap))}]}}


def describe_attributes(ctx, p, kind):
    """DescribeDB(Cluster)SnapshotAttributes of this account's snapshot."""
    with ctx.world.lock:
        snap = GET[kind](ctx, p.get(IDENT[kind]))
        ctx.resource = snap["id"]
        return _attrs_result(snap, kind)


def modify_attribute(ctx, p, kind):
    """ModifyDB(Cluster)SnapshotAttribute of this account's snapshot (modify_restore's rules)."""
    with ctx.world.lock:
        snap = GET[kind](ctx, p.get(IDENT[kind]))
        ctx.resource = snap["id"]
        modify_restore(ctx, snap, kind, p)
        out = _attrs_result(snap, kind)
    ctx.world.mark_dirty()
    return out


def shown_id(ctx, st, snap, kind):
    """A snapshot's identifier as this account sees it: its name, or its ARN when another account's."""
    return snap["id"] if st is ctx.store else arn(st, kind, snap["id"])


def modify_restore(ctx, snap, kind, p):
    """ModifyDB(Cluster)SnapshotAttribute on this account's snapshot ->
    the new restore list. Only manual snapshots; an encrypted one only with
    account ids (not all) and never when its key is an AWS managed key."""
    name = p.get("AttributeName")
    if not name:
        raise missing("AttributeName")
    if name != "restore":
        raise invalid(f"Invalid attribute name: {name}. The only valid attribute name is restore.")
    add, remove = list(p.get("ValuesToAdd") or []), list(p.get("ValuesToRemove") or [])
    for v in add + remove:
        if v != "all" and not (v.isdigit() and len(v) == 12):
            raise invalid(f"Invalid AWS account ID: {v}")
    what = "DB snapshot" if kind == "snapshot" else "DB cluster snapshot"
    if snap["status"] != "available":
        raise AwsError(STATE_FAULT[kind], f"{what} {snap['id']} is not in the available state.")
    if snap["type"] != "manual":
        raise AwsError(STATE_FAULT[kind], f"Only manual {what}s can be shared; {snap['id']} is {snap['type']}.")
    if add and snap.get("encrypted") and snap.get("kms_key_id") and snap.get("enc_type", "sse-kms") == "sse-kms":
        r = kms.find_key(ctx.world, ctx.store, snap["kms_key_id"])
        if r and r[1].get("KeyManager") == "AWS":
            raise invalid(f"Cannot share a {what} encrypted with the default AWS managed KMS key (aws/rds): "
                          f"{snap['id']}. Copy it with a customer managed key first and share the copy.")
    if add and snap.get("encrypted") and "all" in add:
        raise invalid(f"Encrypted {what}s cannot be made public (ValuesToAdd all); share with account ids.")
    vals = restore_list(snap)
    for v in add:
        if v not in vals:
            vals.append(v)
    vals[:] = [v for v in vals if v not in remove]
    if len([v for v in vals if v != "all"]) > MAX_SHARED_ACCOUNTS:
        for v in add:
            if v in vals:
                vals.remove(v)
        raise AwsError("SharedSnapshotQuotaExceeded", f"The {what} {snap['id']} cannot be shared with more than "
                       f"{MAX_SHARED_ACCOUNTS} accounts.")
    return list(vals)


def copy_keys(ctx, src_store, src, p, kind):
    """The key of a copy whose source is another account's shared snapshot
    (src_store is not ctx.store): KmsKeyId is required for an encrypted one,
    and this account must be allowed to use the source's key (its policy or
    a grant); -> the copy's key ARN (this account's) or None."""
    what = "DB snapshot" if kind == "snapshot" else "DB cluster snapshot"
    w = ctx.world
    enc = src.get("encrypted") and src.get("enc_type", "sse-kms") == "sse-kms"
    if enc and not p.get("KmsKeyId"):
        raise invalid(f"KmsKeyId is required to copy the encrypted {what} {arn(src_store, kind, src['id'])} "
                      "shared from another AWS account.")
    if enc:
        kms.usable_key_arn(w, ctx.store, src["kms_key_id"], ctx.caller)
    if not p.get("KmsKeyId"):
        return None
    return kms.usable_key_arn(w, ctx.store, p["KmsKeyId"], ctx.caller)
