"""The production manifests agree with the code: every environment variable
they set is one the binaries read, commands are the INTERFACES binaries,
secrets arrive only by reference, containers run non-root on a read-only
root, and workers get enough grace to drain on SIGTERM."""
import glob
import os
import re

import yaml

from fclib import REPO

K8S = os.path.join(REPO, "deploy", "k8s")
BINARIES = {"fleetcrypt", "fleetcrypt-worker", "fleetcrypt-coordinator"}


def docs():
    out = []
    for f in sorted(glob.glob(os.path.join(K8S, "*.yaml"))):
        with open(f) as fh:
            out += [(os.path.basename(f), d) for d in yaml.safe_load_all(fh) if d]
    return out


def env_names_read_by_code():
    names = set()
    for f in glob.glob(os.path.join(REPO, "lib", "*.c")) + glob.glob(os.path.join(REPO, "*", "*.c")) \
            + glob.glob(os.path.join(REPO, "*", "*", "*.c")):
        with open(f, errors="replace") as fh:
            names |= set(re.findall(r'"((?:FLEETCRYPT|AWS)_[A-Z0-9_]+)"', fh.read()))
    return names


def containers():
    for fname, d in docs():
        if d.get("kind") == "Deployment":
            spec = d["spec"]["template"]["spec"]
            for c in spec["containers"]:
                yield fname, d, spec, c


def test_manifests_parse_and_kustomization_lists_every_file():
    kust = yaml.safe_load(open(os.path.join(K8S, "kustomization.yaml")))
    files = {os.path.basename(f) for f in glob.glob(os.path.join(K8S, "*.yaml"))} - {"kustomization.yaml"}
    assert set(kust["resources"]) == files
    kinds = {d["kind"] for _, d in docs()}
    assert {"Deployment", "ServiceAccount", "ConfigMap", "PodDisruptionBudget", "Namespace"} <= kinds


def test_every_env_name_is_read_by_the_binaries():
    known = env_names_read_by_code()
    assert "FLEETCRYPT_REDIS_URL" in known, "could not read the code's env names"
    cm = next(d for _, d in docs() if d["kind"] == "ConfigMap")
    used = set(cm["data"])
    for _, _, _, c in containers():
        used |= {e["name"] for e in c.get("env", [])}
    unknown = sorted(n for n in used if n not in known)
    assert not unknown, f"manifests set variables no binary reads: {unknown}"


def test_secrets_only_by_reference():
    cm = next(d for _, d in docs() if d["kind"] == "ConfigMap")
    for k, v in cm["data"].items():
        assert not re.search(r"(PASSWORD|SECRET|TOKEN|REDIS_URL|LIBRDKAFKA)", k), f"{k} belongs in a Secret"
        assert "@" not in v, f"{k} looks like it carries credentials"
    for fname, _, _, c in containers():
        for e in c.get("env", []):
            if re.search(r"(REDIS_URL|LIBRDKAFKA|PASSWORD|SECRET)", e["name"]):
                assert "secretKeyRef" in e.get("valueFrom", {}), f"{fname}: {e['name']} must come from a Secret"


def test_containers_hardened_and_commands_are_our_binaries():
    seen = set()
    for fname, d, spec, c in containers():
        cmd = os.path.basename(c["command"][0])
        assert cmd in BINARIES, f"{fname}: unknown command {cmd}"
        seen.add(cmd)
        assert spec["securityContext"]["runAsNonRoot"] is True
        sc = c["securityContext"]
        assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
        assert c["resources"]["limits"]["memory"] and c["resources"]["requests"]["cpu"]
        metrics = next(e for e in c["env"] if e["name"] == "FLEETCRYPT_METRICS_ADDR")["value"]
        port = int(metrics.rsplit(":", 1)[1])
        assert any(p["containerPort"] == port for p in c["ports"]), f"{fname}: metrics port not exposed"
        ann = d["spec"]["template"]["metadata"]["annotations"]
        assert ann["prometheus.io/port"] == str(port)
    assert {"fleetcrypt-worker", "fleetcrypt-coordinator"} <= seen


def test_worker_grace_covers_a_drain_and_coordinators_are_redundant():
    for fname, d, spec, c in containers():
        if d["metadata"]["name"] == "fleetcrypt-worker":
            assert spec["terminationGracePeriodSeconds"] >= 60
        if d["metadata"]["name"] == "fleetcrypt-coordinator":
            assert d["spec"]["replicas"] >= 2, "one coordinator active, one standby"


def test_workers_verify_postgres_tls_against_the_mounted_rds_bundle():
    """Every PostgreSQL connection a worker opens is sslmode=verify-full against
    the RDS CA bundle, and that bundle is really mounted (not optional)."""
    workers = [(spec, c) for _, d, spec, c in containers() if d["metadata"]["name"] == "fleetcrypt-worker"]
    assert workers
    for spec, c in workers:
        env = {e["name"]: e.get("value") for e in c.get("env", [])}
        assert env.get("FLEETCRYPT_PG_SSLMODE") == "verify-full"
        bundle = env.get("FLEETCRYPT_RDS_CA_BUNDLE")
        assert bundle and bundle.startswith("/"), env
        mount = next((m for m in c["volumeMounts"] if bundle.startswith(m["mountPath"].rstrip("/") + "/")), None)
        assert mount, f"{bundle} is under no volume mount"
        vol = next(v for v in spec["volumes"] if v["name"] == mount["name"])
        assert vol["configMap"]["name"] == "fleetcrypt-rds-ca"
        assert not vol["configMap"].get("optional", False), "a worker without the bundle must not start"
        keys = {i["key"]: i["path"] for i in vol["configMap"].get("items", [])}
        rel = bundle[len(mount["mountPath"].rstrip("/")) + 1:]
        assert rel in keys.values() or (not keys and "/" not in rel)
