"""Accounts and IAM roles: who may assume which role (sts.AssumeRole), and
the principal-matching rules KMS key policies and grants share.

A role is {"arn", "trusted": [account id | principal ARN | "*"],
"external_id": str or None, "role_id"}. Roles come from the built-in target
account (world.py), the --credentials file ({"roles": [...]}) and the admin
API (POST /roles). A role in the caller's own account that nobody declared
is assumable (the emulator's behaviour before roles existed: every role
exists implicitly in one's own account); a role in another account must be
declared and must trust the caller."""
import re

from .errors import AwsError
from .world import rand_upper

ROLE_RE = re.compile(r"^arn:aws:iam::(\d{12}):role/(?:[\w+=,.@/-]*/)?([\w+=,.@-]+)$")
ACCOUNT_RE = re.compile(r"^\d{12}$")
PRINCIPAL_RE = re.compile(r"^arn:aws:(?:iam|sts)::(\d{12}):(root|user/.+|role/.+|assumed-role/.+)$")


def role_record(arn, trusted, external_id=None):
    """Validate and build a role record (ValueError on a bad one)."""
    if not ROLE_RE.match(arn or ""):
        raise ValueError(f"not a role ARN: {arn!r}")
    if isinstance(trusted, str):
        trusted = [trusted]
    out = []
    for t in trusted or []:
        t = str(t)
        if t != "*" and not ACCOUNT_RE.match(t) and not PRINCIPAL_RE.match(t):
            raise ValueError(f"not an account id, principal ARN or '*': {t!r}")
        out.append(t)
    if external_id is not None and not re.match(r"^[\w+=,.@:/-]{2,1224}$", str(external_id)):
        raise ValueError("external_id: 2 to 1224 characters of [\\w+=,.@:/-]")
    return {"arn": arn, "account": ROLE_RE.match(arn).group(1), "trusted": out,
            "external_id": None if external_id is None else str(external_id), "role_id": "AROA" + rand_upper(17)}


def add_role(world, rec):
    with world.lock:
        old = world.roles.get(rec["arn"])
        if old:
            rec["role_id"] = old["role_id"]
        world.roles[rec["arn"]] = rec
    world.mark_dirty()
    return rec


def role_from_json(d):
    """A role from the credentials file or the admin API:
    {"role_arn", "trusted_accounts"|"trusted": [...], "external_id"}."""
    trusted = d.get("trusted", d.get("trusted_accounts", []))
    return role_record(d.get("role_arn") or d.get("arn"), trusted, d.get("external_id"))


def principal_arns(caller):
    """Every ARN a caller is known by: its own, and for an assumed-role
    session the role's IAM ARN (as key policies and trust policies name it)."""
    arn = caller.get("arn", "")
    out = {arn, f"arn:aws:iam::{caller['account']}:root"}
    m = re.match(r"^arn:aws:sts::(\d{12}):assumed-role/([^/]+)/", arn)
    if m:
        out.add(f"arn:aws:iam::{m.group(1)}:role/{m.group(2)}")
    return out


def principal_matches(entry, caller):
    """A policy principal (account id, root ARN, user/role ARN or '*') names the caller."""
    if entry == "*":
        return True
    if ACCOUNT_RE.match(entry):
        return caller["account"] == entry
    if entry.endswith(":root"):
        m = PRINCIPAL_RE.match(entry)
        return bool(m) and m.group(1) == caller["account"]
    return entry in principal_arns(caller)


def denied(caller, role_arn):
    return AwsError("AccessDenied", f"User: {caller.get('arn')} is not authorized to perform: sts:AssumeRole "
                    f"on resource: {role_arn}", status=403)


def check_assume(world, caller, role_arn, external_id):
    """Raise AccessDenied unless the caller may assume role_arn (trust and ExternalId)."""
    with world.lock:
        role = world.roles.get(role_arn)
    account = ROLE_RE.match(role_arn).group(1)
    if role is None:
        if account == caller["account"]:
            return None
        raise denied(caller, role_arn)
    if not any(principal_matches(t, caller) for t in role["trusted"]):
        raise denied(caller, role_arn)
    if role.get("external_id") is not None and external_id != role["external_id"]:
        raise denied(caller, role_arn)
    return role


def view(world):
    with world.lock:
        return [dict(r) for r in sorted(world.roles.values(), key=lambda r: r["arn"])]
