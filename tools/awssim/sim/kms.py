"""KMS (JSON 1.1, X-Amz-Target: TrentService.*): keys and aliases.

Keys live per account and region. `alias/aws/rds` (and the other AWS-managed
aliases fleetcrypt can meet) exist by default, backed by AWS-managed keys.
"""
import time

from .errors import AwsError
from .world import new_uuid

AWS_MANAGED = ("alias/aws/rds", "alias/aws/secretsmanager")


def _not_found(ref):
    return AwsError("NotFoundException", f"Key '{ref}' does not exist")


def _key_arn(store, kid):
    return f"arn:aws:kms:{store['region']}:{store['account']}:key/{kid}"


def _alias_arn(store, name):
    return f"arn:aws:kms:{store['region']}:{store['account']}:{name}"


def new_key(store, description="", manager="CUSTOMER", tags=None):
    kid = new_uuid()
    store["keys"][kid] = {"KeyId": kid, "Arn": _key_arn(store, kid), "CreationDate": time.time(),
                          "Enabled": True, "KeyState": "Enabled", "Description": description,
                          "KeyManager": manager, "Tags": tags or []}
    return store["keys"][kid]


def ensure_defaults(store):
    for a in AWS_MANAGED:
        if a not in store["aliases"]:
            k = new_key(store, f"Default key that protects my {a.split('/')[-1].upper()} "
                               "resources when no other key is defined", manager="AWS")
            store["aliases"][a] = {"AliasName": a, "TargetKeyId": k["KeyId"], "CreationDate": time.time()}


def find_key(world, store, ref):
    """Resolve key id, key ARN, alias name or alias ARN -> (store, key record) or None.
    ARNs naming another account/region known to the emulator resolve there."""
    if not ref:
        return None
    ref = str(ref)
    st = store
    if ref.startswith("arn:"):
        parts = ref.split(":", 5)
        if len(parts) < 6 or parts[2] != "kms":
            return None
        region, account, res = parts[3], parts[4], parts[5]
        if (account, region) != (store["account"], store["region"]):
            with world.lock:
                if f"{account}/{region}" not in world.stores:
                    return None
            st = world.store(account, region)
        ref = res
        if ref.startswith("key/"):
            ref = ref[4:]
    ensure_defaults(st)
    if ref.startswith("alias/"):
        a = st["aliases"].get(ref)
        if not a:
            return None
        ref = a["TargetKeyId"]
    k = st["keys"].get(ref)
    return (st, k) if k else None


def usable_key_arn(world, store, ref):
    """For RDS: the key's ARN if it exists and is enabled, else KMSKeyNotAccessibleFault."""
    r = find_key(world, store, ref)
    if not r:
        raise AwsError("KMSKeyNotAccessibleFault", f"The specified KMS key [{ref}] does not exist, is not "
                       "enabled or you do not have permissions to access it.")
    _st, k = r
    if k["KeyState"] != "Enabled":
        raise AwsError("KMSKeyNotAccessibleFault", f"The specified KMS key [{ref}] is {k['KeyState'].lower()} "
                       "or you do not have permissions to access it.")
    return k["Arn"]


def key_state(world, store, arn):
    r = find_key(world, store, arn)
    return r[1]["KeyState"] if r else "NotFound"


def _metadata(store, k):
    return {"AWSAccountId": store["account"], "KeyId": k["KeyId"], "Arn": k["Arn"],
            "CreationDate": k["CreationDate"], "Enabled": k["KeyState"] == "Enabled",
            "Description": k.get("Description", ""), "KeyUsage": "ENCRYPT_DECRYPT",
            "KeyState": k["KeyState"], "Origin": "AWS_KMS", "KeyManager": k["KeyManager"],
            "CustomerMasterKeySpec": "SYMMETRIC_DEFAULT", "KeySpec": "SYMMETRIC_DEFAULT",
            "EncryptionAlgorithms": ["SYMMETRIC_DEFAULT"], "MultiRegion": False,
            **({"DeletionDate": k["DeletionDate"]} if k.get("DeletionDate") else {})}


def _get(ctx, p, name="KeyId"):
    ref = p.get(name)
    if not ref:
        raise AwsError("ValidationException", f"1 validation error detected: Value null at '{name[0].lower() + name[1:]}' "
                       "failed to satisfy constraint: Member must not be null")
    r = find_key(ctx.world, ctx.store, ref)
    if not r:
        raise _not_found(ref)
    ctx.resource = r[1]["KeyId"]
    return r


def CreateKey(ctx, p):
    spec = p.get("KeySpec") or p.get("CustomerMasterKeySpec") or "SYMMETRIC_DEFAULT"
    if spec != "SYMMETRIC_DEFAULT":
        raise AwsError("UnsupportedOperationException", f"awssim supports only SYMMETRIC_DEFAULT keys, not {spec}")
    with ctx.world.lock:
        k = new_key(ctx.store, p.get("Description", ""), tags=p.get("Tags"))
    ctx.resource = k["KeyId"]
    return {"KeyMetadata": _metadata(ctx.store, k)}


def DescribeKey(ctx, p):
    st, k = _get(ctx, p)
    return {"KeyMetadata": _metadata(st, k)}


def _set_state(ctx, p, state):
    st, k = _get(ctx, p)
    if k["KeyManager"] == "AWS":
        raise AwsError("AccessDeniedException", "AWS managed keys cannot be modified")
    if k["KeyState"] == "PendingDeletion":
        raise AwsError("KMSInvalidStateException", f"{k['Arn']} is pending deletion.")
    with ctx.world.lock:
        k["KeyState"] = state
        k["Enabled"] = state == "Enabled"
    return {}


def DisableKey(ctx, p):
    return _set_state(ctx, p, "Disabled")


def EnableKey(ctx, p):
    return _set_state(ctx, p, "Enabled")


def ScheduleKeyDeletion(ctx, p):
    st, k = _get(ctx, p)
    days = int(p.get("PendingWindowInDays") or 30)
    with ctx.world.lock:
        k["KeyState"] = "PendingDeletion"
        k["DeletionDate"] = time.time() + days * 86400
    return {"KeyId": k["Arn"], "DeletionDate": k["DeletionDate"], "KeyState": "PendingDeletion",
            "PendingWindowInDays": days}


def CancelKeyDeletion(ctx, p):
    st, k = _get(ctx, p)
    with ctx.world.lock:
        k["KeyState"] = "Disabled"
        k.pop("DeletionDate", None)
    return {"KeyId": k["Arn"]}


def CreateAlias(ctx, p):
    name = p.get("AliasName") or ""
    if not name.startswith("alias/") or name.startswith("alias/aws/") or len(name) <= 6:
        raise AwsError("ValidationException", f"Alias must start with the prefix \"alias/\" and must not "
                       f"begin with \"alias/aws/\": {name}")
    st, k = _get(ctx, p, "TargetKeyId")
    with ctx.world.lock:
        if name in ctx.store["aliases"]:
            raise AwsError("AlreadyExistsException", f"An alias with the name {_alias_arn(ctx.store, name)} already exists")
        ctx.store["aliases"][name] = {"AliasName": name, "TargetKeyId": k["KeyId"], "CreationDate": time.time()}
    return {}


def DeleteAlias(ctx, p):
    name = p.get("AliasName") or ""
    with ctx.world.lock:
        if name not in ctx.store["aliases"] or name.startswith("alias/aws/"):
            raise AwsError("NotFoundException", f"Alias {_alias_arn(ctx.store, name)} is not found.")
        del ctx.store["aliases"][name]
    return {}


def ListAliases(ctx, p):
    ensure_defaults(ctx.store)
    kid = None
    if p.get("KeyId"):
        st, k = _get(ctx, p)
        kid = k["KeyId"]
    with ctx.world.lock:
        items = sorted(ctx.store["aliases"].values(), key=lambda a: a["AliasName"])
    if kid:
        items = [a for a in items if a["TargetKeyId"] == kid]
    limit = int(p.get("Limit") or 100)
    if limit < 1 or limit > 1000:
        raise AwsError("ValidationException", "Limit must be between 1 and 1000")
    start = 0
    if p.get("Marker"):
        try:
            start = int(p["Marker"])
        except ValueError:
            raise AwsError("InvalidMarkerException", "Invalid marker") from None
    page = items[start:start + limit]
    out = {"Aliases": [{"AliasName": a["AliasName"], "AliasArn": _alias_arn(ctx.store, a["AliasName"]),
                        "TargetKeyId": a["TargetKeyId"], "CreationDate": a["CreationDate"]} for a in page],
           "Truncated": start + limit < len(items)}
    if out["Truncated"]:
        out["NextMarker"] = str(start + limit)
    return out


def ListKeys(ctx, p):
    ensure_defaults(ctx.store)
    with ctx.world.lock:
        keys = list(ctx.store["keys"].values())
    return {"Keys": [{"KeyId": k["KeyId"], "KeyArn": k["Arn"]} for k in keys], "Truncated": False}


ACTIONS = {f.__name__: f for f in (CreateKey, DescribeKey, DisableKey, EnableKey, ScheduleKeyDeletion,
                                   CancelKeyDeletion, CreateAlias, DeleteAlias, ListAliases, ListKeys)}
