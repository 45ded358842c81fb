"""Service models: botocore's JSON models, preferring the newest copy on the machine.

awscli 2.x (Debian) ships its own, newer botocore data under
awscli/botocore/data (its RDS model has MasterUserSecret); Debian's
python3-botocore 1.29 data is the fallback.
"""
import json
import os

from botocore.model import ServiceModel

CANDIDATE_DIRS = [
    "/usr/lib/python3/dist-packages/awscli/botocore/data",
    "/usr/lib/python3/dist-packages/botocore/data",
]

SERVICES = {"rds": "rds", "sts": "sts", "kms": "kms", "secretsmanager": "secretsmanager"}

_cache = {}


def model_path(service):
    for base in CANDIDATE_DIRS:
        d = os.path.join(base, service)
        if os.path.isdir(d):
            versions = sorted(v for v in os.listdir(d) if os.path.exists(os.path.join(d, v, "service-2.json")))
            if versions:
                return os.path.join(d, versions[-1], "service-2.json")
    raise RuntimeError(f"no botocore model for {service}")


def load(service):
    if service not in _cache:
        path = model_path(service)
        with open(path) as f:
            data = json.load(f)
        overlay(service, data)
        m = ServiceModel(data, service_name=service)
        m.awssim_path = path
        # error code -> http status, from the model's error shapes
        codes = {}
        for name in m.shape_names:
            s = m.shape_for(name)
            err = s.metadata.get("error") if hasattr(s, "metadata") else None
            if s.metadata.get("exception"):
                code = (err or {}).get("code", name)
                codes[code] = (err or {}).get("httpStatusCode", 400)
                codes.setdefault(name, codes[code])
        m.awssim_error_status = codes
        _cache[service] = m
    return _cache[service]


# Members AWS added after the newest model on this machine was published: the
# emulator encodes them so that clients reading the XML themselves (fleetcrypt)
# see what AWS sends; botocore and awscli skip members their model lacks.
# StorageEncryptionType (none | sse-kms | sse-rds): the 2026 Aurora default
# encryption with an AWS owned key (aws-sdk-php's RDS model, 2026).
STORAGE_ENCRYPTION_TYPE = ("none", "sse-kms", "sse-rds")
OVERLAY = {"rds": {"StorageEncryptionType": ("DBCluster", "DBClusterSnapshot", "DBInstance", "DBSnapshot")}}
# Request members AWS added after it: decoded so that a client sending them
# (fleetcrypt) is served as AWS serves it; awscli 2.9 has no option for them.
# RestoreDBInstanceFromDBSnapshot's BackupRetentionPeriod (0-35; without it
# the restored instance's retention comes from the snapshot): AWS RDS API
# Reference and User Guide, "Backup retention period" (2024-).
OVERLAY_INPUT = {"rds": {"RestoreDBInstanceFromDBSnapshotMessage": {"BackupRetentionPeriod": "IntegerOptional"}}}


def overlay(service, data):
    shapes = data.get("shapes", {})
    for member, owners in OVERLAY.get(service, {}).items():
        shapes.setdefault(member, {"type": "string", "enum": list(STORAGE_ENCRYPTION_TYPE)})
        for o in owners:
            if o in shapes:
                shapes[o]["members"].setdefault(member, {"shape": member})
    for owner, members in OVERLAY_INPUT.get(service, {}).items():
        if owner in shapes:
            for member, shape in members.items():
                if shape in shapes:
                    shapes[owner]["members"].setdefault(member, {"shape": shape})


def describe_models():
    return {s: load(s).awssim_path for s in SERVICES}
