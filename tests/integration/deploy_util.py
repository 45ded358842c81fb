"""Facts the deployment tests compare the deployment files with, read from
the code and its generated docs (never restated by hand): the configuration
table, the metric names the code exports, the Kafka topic suffixes and
consumer group, the CMake project version."""
import glob
import os
import re

from fclib import REPO


def config_table():
    """{variable: {"default": ..., "readers": {...}}} from docs/configuration.md
    (generated from lib/base/cfg.c's table; test_cli_config.py keeps them equal)."""
    out = {}
    with open(os.path.join(REPO, "docs", "configuration.md")) as f:
        for line in f:
            m = re.match(r"\| `([A-Z][A-Z0-9_]+)` \|(.*)\|\s*$", line)
            if not m:
                continue
            cells = [c.strip() for c in m.group(2).split("|")]
            out[m.group(1)] = {"default": cells[2], "readers": {r.strip() for r in cells[5].split(",")}}
    assert "FLEETCRYPT_REDIS_URL" in out and len(out) > 20, "docs/configuration.md: table not found"
    return out


def cmake_version():
    with open(os.path.join(REPO, "CMakeLists.txt")) as f:
        m = re.search(r"project\(fleetcrypt VERSION ([0-9.]+)", f.read())
    assert m, "CMakeLists.txt: no project version"
    return m.group(1)


def c_sources():
    for top in ("lib", "worker", "coordinator", "cli"):
        for root, _, files in os.walk(os.path.join(REPO, top)):
            for fn in files:
                if fn.endswith(".c"):
                    yield os.path.join(root, fn)


def exported_metrics():
    """Every metric family name the C code registers: the literal first name
    argument of prom_counter_add/prom_gauge_set/prom_gauge_add/
    prom_histogram_observe, and the names worker/lease_keeper.c passes to its
    count() helper."""
    call = re.compile(r'(?:prom_(?:counter_add|gauge_set|gauge_add|histogram_observe)\s*\([^,]*,|count\()\s*"(fc_[a-z0-9_]+)"')
    names = set()
    for f in c_sources():
        with open(f, errors="replace") as fh:
            names |= set(call.findall(fh.read()))
    assert {"fc_steps_finished_total", "fc_instances"} <= names, f"metric pattern no longer matches the code: {names}"
    return names


def histograms():
    call = re.compile(r'prom_histogram_observe\s*\([^,]*,\s*"(fc_[a-z0-9_]+)"')
    names = set()
    for f in c_sources():
        with open(f, errors="replace") as fh:
            names |= set(call.findall(fh.read()))
    return names


def topic_suffixes():
    """{"steps": "steps", ...}: the KAFKA_TOPIC_* suffixes of lib/wire/kafka.h."""
    with open(os.path.join(REPO, "lib", "wire", "kafka.h")) as f:
        found = dict(re.findall(r'#define KAFKA_TOPIC_([A-Z]+) "([a-z]+)"', f.read()))
    assert found, "lib/wire/kafka.h: no KAFKA_TOPIC_* defines"
    return {k.lower(): v for k, v in found.items()}


def topic_separator():
    """lib/wire/kafka.c builds a topic as prefix SEP suffix."""
    with open(os.path.join(REPO, "lib", "wire", "kafka.c")) as f:
        m = re.search(r'kafka_topic_name\(.*?snprintf\(out, cap, "%s(.)%s"', f.read(), re.S)
    assert m, "lib/wire/kafka.c: kafka_topic_name changed"
    return m.group(1)


def consumer_group_suffix():
    """worker/consumer.c names the workers' group prefix + this suffix."""
    with open(os.path.join(REPO, "worker", "consumer.c")) as f:
        m = re.search(r'snprintf\(group, sizeof group, "%s([^"]*)", cfg->topic_prefix\)', f.read())
    assert m, "worker/consumer.c: the group name changed"
    return m.group(1)


def bin_dir():
    return os.environ.get("FLEETCRYPT_BIN_DIR", os.path.join(REPO, "build", "bin"))


def build_dir():
    return os.environ.get("FLEETCRYPT_BUILD_DIR", os.path.dirname(bin_dir()))


def installed_binaries():
    """The four binaries the build makes (and `cmake --install` installs)."""
    return sorted(os.path.basename(p) for p in glob.glob(os.path.join(bin_dir(), "fleetcrypt*")))
