"""deploy/iam's policies grant every AWS action fleetcrypt's own client can
call (lib/aws), so a campaign against real AWS never stops at an
AccessDenied the emulator (which checks no IAM) could not show. Actions the
client carries only for the tests' set-up are listed here, each with why;
every one of them must still exist in lib/aws (a stale exception fails)."""
import fnmatch
import glob
import json
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SERVICE = {"rds": "rds", "kms": "kms", "secrets": "secretsmanager", "sts": "sts", "dms": "dms", "route53": "route53", "ec2": "ec2"}
# called only by the tests' C tools and set-up, never by a fleetcrypt binary;
# or not granted by a permissions policy at all
TEST_ONLY = {
    "kms:CreateKey": "tests create campaign keys",
    "kms:CreateAlias": "tests name campaign keys",
    "secretsmanager:CreateSecret": "tests create master-user secrets",
    "rds:CreateDBProxy": "tests create the proxies a proxy cutover switches",
    "rds:ModifyDBParameterGroup": "tests turn rds.logical_replication on; fleetcrypt never edits an instance's group",
    # credential providers: granted by the caller's own policy (AssumeRole,
    # deploy/iam/README.md) or by the role's trust policy alone (web identity)
    "sts:AssumeRole": "the credential chain's role profiles and cross-account roles",
    "sts:AssumeRoleWithWebIdentity": "the credential chain's IRSA / web identity",
}
CALL = re.compile(r'(?:aws_query_init\(&\w+,\s*|_call\(\w+,\s*(?:AWS_SVC_\w+,\s*)?|list_kind \w+ = \{|\b(?:modify|describe)_params\(\w+,\s*)"([A-Z]\w+)"')


def client_actions():
    out = set()
    for path in glob.glob(os.path.join(ROOT, "lib", "aws", "*.c")):
        base = os.path.basename(path)
        svc = next((s for p, s in SERVICE.items() if base.startswith(p)), None)
        if not svc:
            continue
        with open(path) as f:
            for name in CALL.findall(f.read()):
                out.add(f"{svc}:{name}")
    return out


def granted():
    pats = []
    for path in glob.glob(os.path.join(ROOT, "deploy", "iam", "*.json")):
        with open(path) as f:
            for st in json.load(f)["Statement"]:
                if st.get("Effect") != "Allow":
                    continue
                acts = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
                pats += acts
    return pats


def test_policies_grant_every_action_the_client_calls():
    acts = client_actions()
    assert len(acts) > 30 and "rds:RestoreDBClusterFromSnapshot" in acts, sorted(acts)   # the scan works
    stale = sorted(set(TEST_ONLY) - acts)
    assert not stale, f"exceptions for actions lib/aws no longer has: {stale}"
    pats = granted()
    missing = sorted(a for a in acts - set(TEST_ONLY) if not any(fnmatch.fnmatchcase(a, p) for p in pats))
    assert not missing, f"deploy/iam grants none of: {missing}"
