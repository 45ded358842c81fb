"""The production manifests (deploy/k8s: a kustomize base, components and an
example overlay) and the Grafana dashboard agree with the code: yamllint
passes; every environment variable they set is in the configuration table
(docs/configuration.md, generated from lib/base/cfg.c); every port is the
one FLEETCRYPT_METRICS_ADDR and FLEETCRYPT_KAFKA_BROKERS name; one image,
tagged with CMake's project version; commands are our binaries; secrets
arrive only by reference; non-root on a read-only root; probes, Service,
PodMonitor, KEDA on the steps topic's consumer group (never more replicas
than partitions) with an HPA fallback, topology spread, NetworkPolicy, no
service-account token; workers get the grace to checkpoint; PostgreSQL
verify-full against the mounted RDS CA bundle; and every metric the
dashboard queries is one the code exports."""
import glob
import json
import os
import re
import shutil
import subprocess

import pytest
import yaml

import deploy_util as du
from fclib import REPO

K8S = os.path.join(REPO, "deploy", "k8s")
BASE = os.path.join(K8S, "base")
OVERLAY = os.path.join(K8S, "overlays", "example")
COMPONENTS = os.path.join(K8S, "components")
DASHBOARD = os.path.join(REPO, "deploy", "grafana", "fleetcrypt.json")
TOPICS_SCRIPT = os.path.join(REPO, "deploy", "kafka", "create-topics")
BINARIES = {"fleetcrypt", "fleetcrypt-worker", "fleetcrypt-coordinator"}
KUBECTL = shutil.which("kubectl")
POD_LABELS = {"app.kubernetes.io/name": "fleetcrypt"}
YAMLLINT_CONFIG = "{extends: default, rules: {line-length: {max: 130}, document-start: disable, " \
                  "comments: {min-spaces-from-content: 1}, truthy: {check-keys: false}}}"


def yaml_files():
    return sorted(glob.glob(os.path.join(K8S, "**", "*.yaml"), recursive=True))


def load(path):
    with open(path) as fh:
        return [d for d in yaml.safe_load_all(fh) if d]


def source_docs():
    """Every object written in the manifests' files (kustomization files aside)."""
    out = []
    for f in yaml_files():
        if os.path.basename(f) != "kustomization.yaml":
            out += [(os.path.relpath(f, K8S), d) for d in load(f)]
    return out


def render(path):
    if not KUBECTL:
        pytest.skip("kubectl (with kustomize) is not installed")
    r = subprocess.run([KUBECTL, "kustomize", path], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, f"kubectl kustomize {path}: {r.stderr}"
    return [d for d in yaml.safe_load_all(r.stdout) if d]


@pytest.fixture(scope="module")
def example():
    return render(OVERLAY)


def of_kind(docs, kind):
    return [d for d in docs if d["kind"] == kind]


def deployment(docs, name):
    return next(d for d in of_kind(docs, "Deployment") if d["metadata"]["name"] == name)


def containers(docs):
    for d in of_kind(docs, "Deployment"):
        spec = d["spec"]["template"]["spec"]
        for c in spec["containers"]:
            yield d, spec, c


def env_of(c):
    return {e["name"]: e.get("value") for e in c.get("env", [])}


def config_data(docs):
    cms = [d for d in of_kind(docs, "ConfigMap") if d["metadata"]["name"].startswith("fleetcrypt-config")]
    assert len(cms) == 1, [d["metadata"]["name"] for d in of_kind(docs, "ConfigMap")]
    return cms[0]["data"]


def metrics_port(c):
    addr = env_of(c)["FLEETCRYPT_METRICS_ADDR"]
    return int(addr.rsplit(":", 1)[1])


def matches(selector, labels):
    return all(labels.get(k) == v for k, v in selector.items())


def steps_partitions():
    """The steps topic's partition count in deploy/kafka/create-topics."""
    with open(TOPICS_SCRIPT) as f:
        m = re.search(r"^STEPS_PARTITIONS=\$\{[A-Z_]+:-(\d+)\}", f.read(), re.M)
    assert m, "create-topics: STEPS_PARTITIONS default not found"
    return int(m.group(1))


# ---- the files themselves ----

def test_yamllint_passes_on_every_manifest():
    if not shutil.which("yamllint"):
        pytest.skip("yamllint is not installed (deploy/install-deps installs it)")
    r = subprocess.run(["yamllint", "-f", "parsable", "-d", YAMLLINT_CONFIG, *yaml_files()],
                       capture_output=True, text=True)
    assert r.returncode == 0 and not r.stdout.strip(), r.stdout + r.stderr


def test_every_kustomization_lists_every_file_of_its_folder():
    """A manifest nobody lists is never applied."""
    for kfile in glob.glob(os.path.join(K8S, "**", "kustomization.yaml"), recursive=True):
        folder = os.path.dirname(kfile)
        k = load(kfile)[0]
        listed = set(k.get("resources", [])) | set(k.get("components", []))
        listed |= {e for g in k.get("configMapGenerator", []) for e in g.get("envs", [])}
        listed |= {e.split("=")[-1] for g in k.get("configMapGenerator", []) for e in g.get("files", [])}
        local = {os.path.basename(f) for f in glob.glob(os.path.join(folder, "*"))
                 if os.path.isfile(f) and not f.endswith(".md")} - {"kustomization.yaml"}
        unlisted = sorted(f for f in local if f not in listed)
        assert not unlisted, f"{os.path.relpath(kfile, REPO)} does not list {unlisted}"
        for r in listed:
            assert os.path.exists(os.path.join(folder, r)), f"{os.path.relpath(kfile, REPO)}: {r} missing"


def test_every_env_name_set_is_in_the_configuration_table(example):
    table = du.config_table()
    used = set(config_data(example))
    for _, _, c in containers(example):
        used |= {e["name"] for e in c.get("env", [])}
    for _, d in source_docs():
        if d.get("kind") == "Deployment":
            for c in d["spec"]["template"]["spec"]["containers"]:
                used |= {e["name"] for e in c.get("env", [])}
    unknown = sorted(n for n in used if n not in table)
    assert not unknown, f"manifests set variables no binary reads: {unknown}"
    # and each container only what its own binary reads
    for d, _, c in containers(example):
        binary = os.path.basename(c["command"][0]).replace("fleetcrypt-", "")
        for n in env_of(c):
            assert binary in table[n]["readers"], f"{d['metadata']['name']}: {n} is not read by {binary}"


def test_secrets_only_by_reference(example):
    for k, v in config_data(example).items():
        assert not re.search(r"(PASSWORD|SECRET|TOKEN|REDIS_URL|LIBRDKAFKA)", k), f"{k} belongs in a Secret"
        assert "@" not in v, f"{k} looks like it carries credentials"
    for d, _, c in containers(example):
        for e in c.get("env", []):
            if re.search(r"(REDIS_URL|LIBRDKAFKA|PASSWORD|SECRET)", e["name"]):
                assert "secretKeyRef" in e.get("valueFrom", {}), f"{d['metadata']['name']}: {e['name']} must come from a Secret"


def test_containers_hardened_and_commands_are_our_binaries(example):
    seen = set()
    for d, spec, c in containers(example):
        name = d["metadata"]["name"]
        cmd = os.path.basename(c["command"][0])
        assert cmd in BINARIES, f"{name}: unknown command {cmd}"
        seen.add(cmd)
        assert spec["securityContext"]["runAsNonRoot"] is True
        sc = c["securityContext"]
        assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
        assert sc["capabilities"]["drop"] == ["ALL"]
        assert c["resources"]["limits"]["memory"] and c["resources"]["requests"]["cpu"]
        port = metrics_port(c)
        assert any(p["containerPort"] == port and p["name"] == "metrics" for p in c["ports"]), \
            f"{name}: metrics port {port} not exposed as 'metrics'"
        ann = d["spec"]["template"]["metadata"]["annotations"]
        assert ann["prometheus.io/port"] == str(port)
        # no Kubernetes API token: nothing here talks to the API server (the
        # IRSA token is a projected volume of its own, see serviceaccount.yaml)
        assert spec["automountServiceAccountToken"] is False, name
    for sa in of_kind(example, "ServiceAccount"):
        assert sa["automountServiceAccountToken"] is False
    assert {"fleetcrypt-worker", "fleetcrypt-coordinator"} <= seen


def test_one_image_tagged_with_the_project_version(example):
    version = du.cmake_version()
    base = load(os.path.join(BASE, "kustomization.yaml"))[0]
    (img,) = base["images"]
    assert img["name"] == "fleetcrypt" and img["newTag"] == version, (img, version)
    for _, d in source_docs():
        if d.get("kind") == "Deployment":
            for c in d["spec"]["template"]["spec"]["containers"]:
                assert c["image"] == "fleetcrypt", f"{d['metadata']['name']}: image {c['image']}"
    images = {c["image"] for _, _, c in containers(example)}
    assert len(images) == 1 and images.pop().endswith(f"/fleetcrypt:{version}")
    with open(os.path.join(REPO, "deploy", "docker", "Dockerfile")) as f:
        assert re.search(r"org\.opencontainers\.image\.title=\"?fleetcrypt\"?", f.read())


def test_probes_use_the_metrics_port(example):
    """Liveness, readiness and startup probes on every container, on the port
    FLEETCRYPT_METRICS_ADDR opens: liveness and startup ask /healthz (the main
    loop's heartbeat), readiness /readyz (Redis and Kafka reachable, as the
    main loop last found them); never /metrics, whose scrape reads Redis."""
    want = {"livenessProbe": "/healthz", "startupProbe": "/healthz", "readinessProbe": "/readyz"}
    for d, _, c in containers(example):
        for probe, path in want.items():
            p = c[probe]["httpGet"]
            assert p["port"] in ("metrics", metrics_port(c)), (d["metadata"]["name"], probe)
            assert p["path"] == path, (d["metadata"]["name"], probe, p)
        # the binaries' /healthz fails once the loop is 60 s stuck (PROM_LIVE_BOUND_MS):
        # the kubelet restarts only after at least that long
        assert c["livenessProbe"]["failureThreshold"] * c["livenessProbe"]["periodSeconds"] >= 60


def test_probe_paths_are_served_by_the_binaries():
    """Every probe path the manifests name is one the metrics server answers."""
    with open(os.path.join(REPO, "lib", "base", "prom.c")) as f:
        src = f.read()
    for path in ("/healthz", "/readyz"):
        assert f'!strcmp(url, "{path}")' in src, path   # the libmicrohttpd handler's routing (test_health.py serves them)


def test_services_and_podmonitor_reach_the_metrics_port(example):
    pods = {d["metadata"]["name"]: (d["spec"]["template"]["metadata"]["labels"], c)
            for d, _, c in containers(example)}
    services = of_kind(example, "Service")
    assert {s["metadata"]["name"] for s in services} >= {"fleetcrypt-worker", "fleetcrypt-coordinator"}
    for s in services:
        hit = [(labels, c) for labels, c in pods.values() if matches(s["spec"]["selector"], labels)]
        assert len(hit) == 1, f"service {s['metadata']['name']} selects {len(hit)} deployments"
        labels, c = hit[0]
        for p in s["spec"]["ports"]:
            assert p["targetPort"] in ("metrics", metrics_port(c)) and p["port"] == metrics_port(c)
    (pm,) = of_kind(example, "PodMonitor")
    sel = pm["spec"]["selector"]["matchLabels"]
    assert all(matches(sel, labels) for labels, _ in pods.values()), "the PodMonitor misses a deployment"
    for ep in pm["spec"]["podMetricsEndpoints"]:
        assert ep["port"] == "metrics" and ep["path"] == "/metrics"


def test_keda_scales_workers_on_the_steps_topic_lag_within_partitions(example):
    data = config_data(example)
    prefix = data.get("FLEETCRYPT_TOPIC_PREFIX", du.config_table()["FLEETCRYPT_TOPIC_PREFIX"]["default"])
    (so,) = of_kind(example, "ScaledObject")
    assert so["spec"]["scaleTargetRef"]["name"] == "fleetcrypt-worker"
    (trig,) = so["spec"]["triggers"]
    assert trig["type"] == "kafka"
    md = trig["metadata"]
    assert md["topic"] == prefix + du.topic_separator() + du.topic_suffixes()["steps"]
    assert md["consumerGroup"] == prefix + du.consumer_group_suffix()
    assert md["bootstrapServers"] == data["FLEETCRYPT_KAFKA_BROKERS"]
    assert md.get("allowIdleConsumers", "false") == "false"
    parts = steps_partitions()
    assert so["spec"]["minReplicaCount"] >= 1
    assert so["spec"]["maxReplicaCount"] <= parts, "more workers than steps partitions would sit idle"
    fb = so["spec"]["fallback"]
    assert 1 <= fb["replicas"] <= so["spec"]["maxReplicaCount"]
    ta = next(t for t in of_kind(example, "TriggerAuthentication")
              if t["metadata"]["name"] == trig["authenticationRef"]["name"])
    assert all("secretTargetRef" not in t or t["secretTargetRef"] for t in [ta["spec"]])


def test_hpa_fallback_component_without_keda(tmp_path):
    """For clusters without KEDA: the same base with components/hpa."""
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump({
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
        "resources": [os.path.relpath(BASE, tmp_path)],
        "components": [os.path.relpath(os.path.join(COMPONENTS, "hpa"), tmp_path)]}))
    docs = render(str(tmp_path))
    (hpa,) = of_kind(docs, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "fleetcrypt-worker"
    assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"] <= steps_partitions()
    assert not of_kind(docs, "ScaledObject")


def test_topology_spread_and_pdbs(example):
    for d, spec, _ in containers(example):
        labels = d["spec"]["template"]["metadata"]["labels"]
        keys = set()
        for t in spec["topologySpreadConstraints"]:
            assert matches(t["labelSelector"]["matchLabels"], labels)
            keys.add(t["topologyKey"])
        assert {"topology.kubernetes.io/zone", "kubernetes.io/hostname"} <= keys, d["metadata"]["name"]
        assert any(matches(p["spec"]["selector"]["matchLabels"], labels) for p in of_kind(example, "PodDisruptionBudget"))


def test_network_policy_opens_only_what_the_config_names(example):
    (np,) = of_kind(example, "NetworkPolicy")
    assert matches(np["spec"]["podSelector"]["matchLabels"], POD_LABELS)
    assert set(np["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    ports = {metrics_port(c) for _, _, c in containers(example)}
    for rule in np["spec"]["ingress"]:
        assert {p["port"] for p in rule["ports"]} <= ports | {"metrics"}, rule
    # port 80 only to the EKS Pod Identity agent (container credentials, read
    # before IMDS); IMDS (169.254.169.254:80) stays closed: without its role a
    # pod must fail, not run as the node's
    agent = [r for r in np["spec"]["egress"] if r.get("to") == [{"ipBlock": {"cidr": "169.254.170.23/32"}}]]
    assert len(agent) == 1 and agent[0]["ports"] == [{"protocol": "TCP", "port": 80}], np["spec"]["egress"]
    others = [r for r in np["spec"]["egress"] if r not in agent]
    egress = {p["port"] for rule in others for p in rule.get("ports", [])}
    brokers = config_data(example)["FLEETCRYPT_KAFKA_BROKERS"].split(",")
    need = {int(b.rsplit(":", 1)[1]) for b in brokers} | {53, 443, 5432, 6379}
    assert need <= egress, f"egress misses {sorted(need - egress)}"
    assert 80 not in egress


def test_worker_grace_covers_a_checkpoint_and_coordinators_are_redundant(example):
    table = du.config_table()
    w = deployment(example, "fleetcrypt-worker")
    spec = w["spec"]["template"]["spec"]
    (c,) = spec["containers"]
    shutdown_ms = int(env_of(c).get("FLEETCRYPT_SHUTDOWN_MS") or table["FLEETCRYPT_SHUTDOWN_MS"]["default"])
    # running steps get SHUTDOWN_MS, then the producer's flush (10 s) and the
    # consumer's close (offsets, leave the group) before SIGKILL
    assert spec["terminationGracePeriodSeconds"] >= shutdown_ms / 1000 + 20, (shutdown_ms, spec["terminationGracePeriodSeconds"])
    co = deployment(example, "fleetcrypt-coordinator")
    assert co["spec"]["replicas"] >= 2, "one coordinator active, one standby"


def test_workers_verify_postgres_tls_against_the_mounted_rds_bundle(example):
    """Every PostgreSQL connection a worker opens is sslmode=verify-full against
    the RDS CA bundle, and that bundle is really mounted (not optional)."""
    workers = [(spec, c) for d, spec, c in containers(example) if d["metadata"]["name"] == "fleetcrypt-worker"]
    assert workers
    with open(os.path.join(REPO, "deploy", "docker", "Dockerfile")) as f:
        image_default = re.search(r"^ARG RDS_CA_BUNDLE=(\S+)", f.read(), re.M).group(1)
    for spec, c in workers:
        env = env_of(c)
        assert env.get("FLEETCRYPT_PG_SSLMODE") == "verify-full"
        bundle = env.get("FLEETCRYPT_RDS_CA_BUNDLE")
        assert bundle and bundle.startswith("/"), env
        assert bundle == image_default, "the image's default bundle path and the manifests' differ"
        mount = next((m for m in c["volumeMounts"] if bundle.startswith(m["mountPath"].rstrip("/") + "/")), None)
        assert mount, f"{bundle} is under no volume mount"
        vol = next(v for v in spec["volumes"] if v["name"] == mount["name"])
        assert vol["configMap"]["name"] == "fleetcrypt-rds-ca"
        assert not vol["configMap"].get("optional", False), "a worker without the bundle must not start"
        keys = {i["key"]: i["path"] for i in vol["configMap"].get("items", [])}
        rel = bundle[len(mount["mountPath"].rstrip("/") + "/"):]
        assert rel in keys.values() or (not keys and "/" not in rel)


# ---- the Grafana dashboard ----

def dashboard_exprs():
    with open(DASHBOARD) as f:
        dash = json.load(f)
    panels = []
    stack = list(dash["panels"])
    while stack:
        p = stack.pop(0)
        panels.append(p)
        stack += p.get("panels", [])
    return dash, panels, [(p["title"], t["expr"]) for p in panels for t in p.get("targets", [])]


def test_dashboard_queries_only_metrics_the_code_exports():
    exported = du.exported_metrics()
    hist = du.histograms()
    _, _, exprs = dashboard_exprs()
    assert len(exprs) >= 8
    unknown = []
    for title, expr in exprs:
        for name in set(re.findall(r"\b(fc_[a-z0-9_]+)", expr)):
            base = re.sub(r"_(bucket|sum|count)$", "", name)
            if name in exported or (base in hist and base != name):
                continue
            unknown.append(f"{title}: {name}")
    assert not unknown, "the dashboard queries metrics the code does not export: " + ", ".join(unknown)


def test_dashboard_covers_what_an_operator_watches():
    dash, panels, exprs = dashboard_exprs()
    titles = " | ".join(p["title"].lower() for p in panels)
    for topic in ("campaign progress", "throughput", "step duration", "throttl", "stuck", "slot lag", "dlq"):
        assert topic in titles, f"no panel about {topic}: {titles}"
    joined = " ".join(e for _, e in exprs)
    for metric in ("fc_instances", "fc_steps_finished_total", "fc_step_duration_seconds_bucket",
                   "fc_aws_throttles_total", "fc_instances_stuck", "fc_dlq_messages_total"):
        assert metric in joined, metric
    assert any(v["name"] == "campaign" for v in dash["templating"]["list"])


def test_redis_tls_sidecar_component(tmp_path, example):
    """components/redis-tls: for a TLS-only Redis (hiredis 0.14 speaks no
    TLS), a stunnel sidecar beside each fleetcrypt container, started
    before it and stopped after it (a native sidecar: an init container that
    keeps running), hardened as the containers are, from the same image;
    each fleetcrypt container reaches Redis through it
    (FLEETCRYPT_REDIS_TLS_PROXY = the sidecar's accept address). Its
    stunnel.conf is the one test_redis_tls.py runs (the systemd example)."""
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump({
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
        "resources": [os.path.relpath(BASE, tmp_path)],
        "components": [os.path.relpath(os.path.join(COMPONENTS, "redis-tls"), tmp_path)]}))
    docs = render(str(tmp_path))
    conf_path = os.path.join(COMPONENTS, "redis-tls", "stunnel.conf")
    with open(conf_path) as f, open(os.path.join(REPO, "deploy", "systemd", "fleetcrypt-redis-tls.conf.example")) as g:
        conf = f.read()
        assert conf == g.read(), "components/redis-tls/stunnel.conf differs from the tested systemd example"
    accept = re.search(r"(?m)^accept\s*=\s*(\S+)$", conf).group(1)
    (cm,) = [d for d in of_kind(docs, "ConfigMap") if d["metadata"]["name"].startswith("fleetcrypt-redis-tls")]
    assert cm["data"]["stunnel.conf"] == conf
    version = du.cmake_version()
    for name in ("fleetcrypt-worker", "fleetcrypt-coordinator"):
        spec = deployment(docs, name)["spec"]["template"]["spec"]
        (side,) = [c for c in spec.get("initContainers", []) if c["name"] == "redis-tls"]
        assert side["restartPolicy"] == "Always", "a native sidecar: up before and after the main container"
        assert os.path.basename(side["command"][0]) == "stunnel4"
        assert side["image"].endswith(f"fleetcrypt:{version}")
        sc = side["securityContext"]
        assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
        assert sc["capabilities"]["drop"] == ["ALL"]
        assert side["resources"]["limits"]["memory"] and side["resources"]["requests"]["cpu"]
        mounts = {m["name"]: m["mountPath"] for m in side["volumeMounts"]}
        vols = {v["name"]: v for v in spec["volumes"]}
        (vname,) = [n for n in mounts if vols[n].get("configMap", {}).get("name") == cm["metadata"]["name"]]
        assert side["command"][1] == os.path.join(mounts[vname], "stunnel.conf")
        for c in spec["containers"]:
            assert env_of(c)["FLEETCRYPT_REDIS_TLS_PROXY"] == accept, (name, c["name"])
    # the example overlay runs without it: a plain Redis needs no sidecar
    assert all("FLEETCRYPT_REDIS_TLS_PROXY" not in env_of(c) for _, _, c in containers(example))
    with open(os.path.join(REPO, "deploy", "docker", "Dockerfile")) as f:
        assert "stunnel4" in f.read(), "the image the sidecar runs must carry stunnel4"
