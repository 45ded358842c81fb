"""KMS (JSON 1.1, X-Amz-Target: TrentService.*): keys, aliases, key
policies and grants.

Keys live per account and region. `alias/aws/rds` (and the other AWS-managed
aliases fleetcrypt can meet) exist by default, backed by AWS-managed keys.
Every customer managed key has a key policy (AWS's default: its own
account's root, kms:*) and grants. A caller of the key's own account may use
it (IAM is not modelled); a caller of another account only through the key
policy (an Allow naming its account root, its user or role ARN, or "*",
with the action; a Deny wins) or a grant to it. AWS managed keys are never
usable by another account. Policy conditions are not evaluated.
"""
import fnmatch
import json
import secrets as _secrets
import time

from . import iam
from .errors import AwsError
from .world import new_uuid

AWS_MANAGED = ("alias/aws/rds", "alias/aws/secretsmanager")


def _not_found(ref):
    return AwsError("NotFoundException", f"Key '{ref}' does not exist")


def _key_arn(store, kid):
    return f"arn:aws:kms:{store['region']}:{store['account']}:key/{kid}"


def _alias_arn(store, name):
    return f"arn:aws:kms:{store['region']}:{store['account']}:{name}"


def default_policy(account):
    """AWS's default key policy: the account's root may do everything."""
    return json.dumps({"Version": "2012-10-17", "Id": "key-default-1", "Statement": [
        {"Sid": "Enable IAM User Permissions", "Effect": "Allow",
         "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "kms:*", "Resource": "*"}]}, indent=2)


def managed_policy(account, service="rds"):
    """The policy of an AWS managed key: principals of its own account only, via the service."""
    return json.dumps({"Version": "2012-10-17", "Id": f"auto-{service}-2", "Statement": [
        {"Sid": f"Allow access through {service.upper()} for all principals in the account that are authorized "
                "to use it", "Effect": "Allow", "Principal": {"AWS": "*"},
         "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:CreateGrant",
                    "kms:ListGrants", "kms:DescribeKey"], "Resource": "*",
         "Condition": {"StringEquals": {"kms:CallerAccount": account,
                                        "kms:ViaService": f"{service}.us-east-1.amazonaws.com"}}},
        {"Sid": "Allow direct access to key metadata to the account", "Effect": "Allow",
         "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
         "Action": ["kms:Describe*", "kms:Get*", "kms:List*", "kms:RevokeGrant"], "Resource": "*"}]}, indent=2)


def new_key(store, description="", manager="CUSTOMER", tags=None, policy=None):
    kid = new_uuid()
    store["keys"][kid] = {"KeyId": kid, "Arn": _key_arn(store, kid), "CreationDate": time.time(),
                          "Enabled": True, "KeyState": "Enabled", "Description": description,
                          "KeyManager": manager, "Tags": tags or [],
                          "Policy": policy or (default_policy(store["account"]) if manager == "CUSTOMER"
                                               else managed_policy(store["account"], description_service(description))),
                          "Grants": []}
    return store["keys"][kid]


def description_service(description):
    return "secretsmanager" if "SECRETSMANAGER" in description else "rds"


def key_account(k):
    return k["Arn"].split(":")[4]


def policy_of(k):
    if not k.get("Policy"):   # keys from homes older than key policies
        acct = key_account(k)
        k["Policy"] = default_policy(acct) if k["KeyManager"] == "CUSTOMER" else \
            managed_policy(acct, description_service(k.get("Description", "")))
    return k["Policy"]


def _malformed(msg):
    return AwsError("MalformedPolicyDocumentException", msg)


def parse_policy(text):
    """-> list of statements (dicts with Effect, principals [str], actions [str]); raise MalformedPolicyDocument."""
    try:
        doc = json.loads(text)
    except (TypeError, ValueError):
        raise _malformed("The new key policy will not allow you to update the key policy in the future.") from None
    if not isinstance(doc, dict):
        raise _malformed("Policy must be a JSON object")
    stmts = doc.get("Statement")
    if isinstance(stmts, dict):
        stmts = [stmts]
    if not isinstance(stmts, list) or not stmts:
        raise _malformed("Policy has no statement")
    out = []
    for st in stmts:
        if not isinstance(st, dict) or st.get("Effect") not in ("Allow", "Deny"):
            raise _malformed("Policy contains a statement without a valid Effect (Allow or Deny).")
        pr = st.get("Principal")
        if pr == "*":
            principals = ["*"]
        elif isinstance(pr, dict) and "AWS" in pr:
            principals = pr["AWS"] if isinstance(pr["AWS"], list) else [pr["AWS"]]
        elif isinstance(pr, dict) and "Service" in pr:
            principals = []
        else:
            raise _malformed("Policy contains a statement with no principal.")
        for p in principals:
            if not isinstance(p, str) or (p != "*" and not iam.ACCOUNT_RE.match(p) and not iam.PRINCIPAL_RE.match(p)):
                raise _malformed("Policy contains a statement with one or more invalid principals.")
        acts = st.get("Action")
        acts = [acts] if isinstance(acts, str) else acts
        if not isinstance(acts, list) or not acts or not all(isinstance(a, str) for a in acts):
            raise _malformed("Policy contains a statement with no action.")
        for a in acts:
            if a != "*" and not a.lower().startswith("kms:"):
                raise _malformed(f"Policy contains a statement with one or more invalid actions: {a}")
        out.append({"effect": st["Effect"], "principals": principals, "actions": acts,
                    "conditional": bool(st.get("Condition"))})
    return out


def _action_matches(pattern, action):
    return pattern == "*" or fnmatch.fnmatchcase(action.lower(), pattern.lower())


GRANT_OPS = ("Decrypt", "Encrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "ReEncryptFrom",
             "ReEncryptTo", "CreateGrant", "RetireGrant", "DescribeKey", "GenerateDataKeyPair",
             "GenerateDataKeyPairWithoutPlaintext", "Sign", "Verify", "GetPublicKey", "GenerateMac", "VerifyMac")


def allows(world, k, caller, action):
    """May caller ({"account", "arn"}) do action (e.g. "kms:Decrypt") with key k?"""
    acct = key_account(k)
    if caller["account"] == acct:
        return True
    if k["KeyManager"] == "AWS":
        return False
    try:
        stmts = parse_policy(policy_of(k))
    except AwsError:
        stmts = []
    hit = False
    for st in stmts:
        if any(iam.principal_matches(p, caller) for p in st["principals"]) and \
                any(_action_matches(a, action) for a in st["actions"]):
            if st["effect"] == "Deny":
                return False
            hit = True
    if hit:
        return True
    op = action.split(":", 1)[1]
    return any(iam.principal_matches(g["GranteePrincipal"], caller) and op in g["Operations"]
               for g in k.get("Grants", []))


def denied(caller, k, action):
    return AwsError("AccessDeniedException", f"User: {caller.get('arn')} is not authorized to perform: {action} on "
                    f"resource: {k['Arn']} because no resource-based policy allows the {action} action")


def root_caller(account):
    return {"account": account, "arn": f"arn:aws:iam::{account}:root"}


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


RDS_USE = ("kms:Decrypt", "kms:CreateGrant", "kms:DescribeKey")


def usable_key_arn(world, store, ref, caller=None):
    """For RDS: the key's ARN if it exists, is enabled and the caller (default:
    the store's account) may use it (RDS_USE: decrypt, create RDS's grant,
    describe), else KMSKeyNotAccessibleFault."""
    r = find_key(world, store, ref)
    if not r:
        raise AwsError("KMSKeyNotAccessibleFault", f"The specified KMS key [{ref}] does not exist, is not "
                       "enabled or you do not have permissions to access it.")
    _st, k = r
    caller = caller or root_caller(store["account"])
    if not all(allows(world, k, caller, a) for a in RDS_USE):
        raise AwsError("KMSKeyNotAccessibleFault", f"The specified KMS key [{ref}] does not exist, is not "
                       f"enabled or you do not have permissions to access it: account {caller['account']} is not "
                       "allowed kms:Decrypt, kms:CreateGrant and kms:DescribeKey by its key policy or a grant.")
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


def _get(ctx, p, name="KeyId", action=None):
    """The key p[name] names -> (store, key). Another account's key (by ARN)
    only with `action` allowed by its policy or a grant, and never for the
    actions only the key's account may call (action None)."""
    ref = p.get(name)
    if not ref:
        raise AwsError("ValidationException", f"1 validation error detected: Value null at '{name[0].lower() + name[1:]}' "
                       "failed to satisfy constraint: Member must not be null")
    r = find_key(ctx.world, ctx.store, ref)
    if not r:
        raise _not_found(ref)
    if r[0] is not ctx.store:
        act = action or f"kms:{ctx.action}"
        if action is None or not allows(ctx.world, r[1], ctx.caller, act):
            raise denied(ctx.caller, r[1], act)
    ctx.resource = r[1]["KeyId"]
    return r


def CreateKey(ctx, p):
    spec = p.get("KeySpec") or p.get("CustomerMasterKeySpec") or "SYMMETRIC_DEFAULT"
    if spec != "SYMMETRIC_DEFAULT":
        raise AwsError("UnsupportedOperationException", f"awssim supports only SYMMETRIC_DEFAULT keys, not {spec}")
    with ctx.world.lock:
        if p.get("Policy") is not None:
            parse_policy(p["Policy"])
        k = new_key(ctx.store, p.get("Description", ""), tags=p.get("Tags"), policy=p.get("Policy"))
    ctx.resource = k["KeyId"]
    return {"KeyMetadata": _metadata(ctx.store, k)}


def DescribeKey(ctx, p):
    st, k = _get(ctx, p, action="kms:DescribeKey")
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


# ------------------------------------------------------------ key policies and grants
def _policy_name(p):
    name = p.get("PolicyName") or "default"
    if name != "default":
        raise AwsError("NotFoundException", f"No such policy exists: {name}")


def GetKeyPolicy(ctx, p):
    st, k = _get(ctx, p, action="kms:GetKeyPolicy")
    _policy_name(p)
    return {"Policy": policy_of(k), "PolicyName": "default"}


def ListKeyPolicies(ctx, p):
    _get(ctx, p, action="kms:ListKeyPolicies")
    return {"PolicyNames": ["default"], "Truncated": False}


def PutKeyPolicy(ctx, p):
    st, k = _get(ctx, p, action="kms:PutKeyPolicy")
    _policy_name(p)
    if k["KeyManager"] == "AWS":
        raise AwsError("AccessDeniedException", f"User: {ctx.caller.get('arn')} is not authorized to perform: "
                       f"kms:PutKeyPolicy on resource: {k['Arn']} (the policy of an AWS managed key cannot be changed)")
    stmts = parse_policy(p.get("Policy"))
    if not p.get("BypassPolicyLockoutSafetyCheck"):
        me = iam.principal_arns(ctx.caller) | {key_account(k)}
        if not any(s_["effect"] == "Allow" and any(x == "*" or x in me or (x.endswith(":root") and
                   x.split(":")[4] == key_account(k)) for x in s_["principals"]) and
                   any(_action_matches(a, "kms:PutKeyPolicy") for a in s_["actions"]) for s_ in stmts):
            raise _malformed("The new key policy will not allow you to update the key policy in the future.")
    with ctx.world.lock:
        k["Policy"] = p["Policy"]
    return {}


def _grant_view(k, g):
    out = {"KeyId": k["Arn"], "GrantId": g["GrantId"], "CreationDate": g["CreationDate"],
           "GranteePrincipal": g["GranteePrincipal"], "IssuingAccount": g["IssuingAccount"],
           "Operations": list(g["Operations"])}
    for f in ("Name", "RetiringPrincipal", "Constraints"):
        if g.get(f):
            out[f] = g[f]
    return out


def CreateGrant(ctx, p):
    st, k = _get(ctx, p, action="kms:CreateGrant")
    if k["KeyManager"] == "AWS" and st is not ctx.store:
        raise denied(ctx.caller, k, "kms:CreateGrant")
    grantee = p.get("GranteePrincipal") or ""
    if grantee != "*" and not iam.ACCOUNT_RE.match(grantee) and not iam.PRINCIPAL_RE.match(grantee) and \
            not grantee.endswith(".amazonaws.com"):
        raise AwsError("InvalidArnException", f"Invalid principal: {grantee}")
    ops = list(p.get("Operations") or [])
    bad = [o for o in ops if o not in GRANT_OPS]
    if not ops or bad:
        raise AwsError("ValidationException", f"1 validation error detected: Value {bad or ops} at 'operations' "
                       "failed to satisfy constraint")
    if k["KeyState"] != "Enabled":
        raise AwsError("DisabledException" if k["KeyState"] == "Disabled" else "KMSInvalidStateException",
                       f"{k['Arn']} is {k['KeyState'].lower()}.")
    with ctx.world.lock:
        grants = k.setdefault("Grants", [])
        if p.get("Name"):
            for g in grants:   # CreateGrant with the same name and parameters is idempotent
                if g.get("Name") == p["Name"] and g["GranteePrincipal"] == grantee and g["Operations"] == ops:
                    return {"GrantToken": g["GrantToken"], "GrantId": g["GrantId"]}
        g = {"GrantId": _secrets.token_hex(32), "GrantToken": "AQpAM" + _secrets.token_urlsafe(96),
             "CreationDate": time.time(), "GranteePrincipal": grantee, "Operations": ops,
             "IssuingAccount": f"arn:aws:iam::{ctx.caller['account']}:root", "Name": p.get("Name"),
             "RetiringPrincipal": p.get("RetiringPrincipal"), "Constraints": p.get("Constraints")}
        grants.append(g)
    return {"GrantToken": g["GrantToken"], "GrantId": g["GrantId"]}


def ListGrants(ctx, p):
    st, k = _get(ctx, p, action="kms:ListGrants")
    with ctx.world.lock:
        items = [g for g in k.get("Grants", [])
                 if (not p.get("GrantId") or g["GrantId"] == p["GrantId"]) and
                 (not p.get("GranteePrincipal") or g["GranteePrincipal"] == p["GranteePrincipal"])]
        return {"Grants": [_grant_view(k, g) for g in items], "Truncated": False}


def _drop_grant(ctx, k, g):
    with ctx.world.lock:
        k["Grants"] = [x for x in k.get("Grants", []) if x["GrantId"] != g["GrantId"]]
    return {}


def RevokeGrant(ctx, p):
    st, k = _get(ctx, p, action="kms:RevokeGrant")
    for g in k.get("Grants", []):
        if g["GrantId"] == p.get("GrantId"):
            return _drop_grant(ctx, k, g)
    raise AwsError("NotFoundException", f"Grant ID {p.get('GrantId')} not found")


def RetireGrant(ctx, p):
    """By token, or key ARN and grant id; the retiring principal, the grantee
    (with RetireGrant in its operations) or the key's account may retire."""
    found = None
    with ctx.world.lock:
        for st in ctx.world.stores.values():
            for k in st["keys"].values():
                for g in k.get("Grants", []):
                    if (p.get("GrantToken") and g["GrantToken"] == p["GrantToken"]) or \
                            (p.get("GrantId") and g["GrantId"] == p["GrantId"] and
                             p.get("KeyId") in (k["Arn"], k["KeyId"])):
                        found = (k, g)
    if not found:
        raise AwsError("NotFoundException", "Grant not found")
    k, g = found
    c = ctx.caller
    if not (c["account"] == key_account(k) or
            (g.get("RetiringPrincipal") and iam.principal_matches(g["RetiringPrincipal"], c)) or
            ("RetireGrant" in g["Operations"] and iam.principal_matches(g["GranteePrincipal"], c))):
        raise denied(c, k, "kms:RetireGrant")
    return _drop_grant(ctx, k, g)


ACTIONS = {f.__name__: f for f in (CreateKey, DescribeKey, DisableKey, EnableKey, ScheduleKeyDeletion,
                                   CancelKeyDeletion, CreateAlias, DeleteAlias, ListAliases, ListKeys,
                                   GetKeyPolicy, ListKeyPolicies, PutKeyPolicy, CreateGrant, ListGrants,
                                   RevokeGrant, RetireGrant)}
