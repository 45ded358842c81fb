"""One configuration table, one argument parser (issue 12, items 6 and 7):
every binary answers --version (CMake's project version) and --help (its
flags and the FLEETCRYPT_* variables it reads, from the table in lib/base/cfg.c);
a bad variable value exits 2 naming the variable and what was expected; both
--flag=value and --flag value are accepted; docs/configuration.md is what
the table prints. No server is started: every case here stops before one
would be reached."""
import os
import re
import subprocess

import pytest

from fclib import BIN_DIR, REPO

BINARIES = ["fleetcrypt", "fleetcrypt-worker", "fleetcrypt-coordinator", "fleetcrypt-kafka-dev"]


def project_version():
    with open(os.path.join(REPO, "CMakeLists.txt")) as f:
        m = re.search(r"project\(fleetcrypt\s+VERSION\s+([0-9.]+)", f.read())
    assert m, "CMakeLists.txt has no project(fleetcrypt VERSION x.y.z ...)"
    return m.group(1)


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLEETCRYPT_")}
    env.update(extra)
    return env


def run(binary, *args, **env):
    return subprocess.run([os.path.join(BIN_DIR, binary), *args], capture_output=True, text=True,
                          env=clean_env(**env), timeout=60)


def doc_vars():
    """{variable: set of binaries} from docs/configuration.md's table."""
    out = {}
    with open(os.path.join(REPO, "docs", "configuration.md")) as f:
        for line in f:
            m = re.match(r"\| `([A-Z0-9_]+)` \|.*\| ([a-z, -]+) \|$", line.strip())
            if m:
                out[m.group(1)] = {b.strip() for b in m.group(2).split(",")}
    return out


@pytest.mark.parametrize("binary", BINARIES)
def test_version(binary):
    r = run(binary, "--version")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"{binary} {project_version()}", r.stdout


@pytest.mark.parametrize("binary", BINARIES)
def test_help_lists_the_variables_the_binary_reads(binary):
    r = run(binary, "--help")
    assert r.returncode == 0, r.stderr
    short = {"fleetcrypt": "cli", "fleetcrypt-worker": "worker", "fleetcrypt-coordinator": "coordinator",
             "fleetcrypt-kafka-dev": "kafka-dev"}[binary]
    mine = {v for v, bins in doc_vars().items() if short in bins}
    assert mine, "docs/configuration.md lists no variable for " + short
    listed = set(re.findall(r"^  ([A-Z][A-Z0-9_]+)\s", r.stdout, re.M))
    assert listed == mine, (sorted(listed ^ mine), r.stdout)


def test_help_lists_known_readers():
    """Spot checks that do not depend on the table: who reads what."""
    assert "FLEETCRYPT_LEASE_MS" in run("fleetcrypt-worker", "--help").stdout
    assert "FLEETCRYPT_LEADER_MS" in run("fleetcrypt-coordinator", "--help").stdout
    assert "FLEETCRYPT_TOPIC_PREFIX" in run("fleetcrypt-kafka-dev", "--help").stdout
    cli = run("fleetcrypt", "--help").stdout
    assert "FLEETCRYPT_REDIS_URL" in cli and "FLEETCRYPT_STEP_DEADLINE_MAX_S" in cli
    # the CLI never talks to Kafka: its help does not advertise Kafka options
    for word in ("--kafka-brokers", "--topic-prefix", "-X k=v", "FLEETCRYPT_KAFKA_BROKERS"):
        assert word not in cli, word
        assert word not in run("fleetcrypt", "status", "--help").stdout, word


@pytest.mark.parametrize("binary,var,value,expect", [
    ("fleetcrypt-worker", "FLEETCRYPT_LEASE_MS", "soon", "integer in [1000, 3600000]"),
    ("fleetcrypt-worker", "FLEETCRYPT_LEASE_MS", "10", "integer in [1000, 3600000]"),
    ("fleetcrypt-worker", "FLEETCRYPT_AWS_RATE", "fast", "number in [0.1, 10000]"),
    ("fleetcrypt-worker", "FLEETCRYPT_PG_SSLMODE", "verify-fully", "one of disable, allow"),
    ("fleetcrypt-coordinator", "FLEETCRYPT_POLL_MIN_MS", "1s", "integer in [50, 600000]"),
    ("fleetcrypt-coordinator", "FLEETCRYPT_STEP_DEADLINE_MAX_S", "-5", "integer in [0, 604800]"),
    ("fleetcrypt", "FLEETCRYPT_STEP_DEADLINE_MAX_S", "x", "integer in [0, 604800]"),
    ("fleetcrypt-kafka-dev", "FLEETCRYPT_TOPIC_PREFIX", "bad prefix!", "[A-Za-z0-9._-]"),
])
def test_bad_variable_exits_2_naming_it(binary, var, value, expect):
    args = ["status"] if binary == "fleetcrypt" else []
    r = run(binary, *args, **{var: value})
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert var in r.stderr and expect in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr


@pytest.mark.parametrize("binary", BINARIES)
def test_unknown_option_exits_2(binary):
    args = ["status"] if binary == "fleetcrypt" else []
    r = run(binary, *args, "--frobnicate=1")
    assert r.returncode == 2, r.stderr
    assert "unknown option --frobnicate" in r.stderr, r.stderr


@pytest.mark.parametrize("form", [["--campaign=q4", "--kms-key=alias/k", "--max-parallel=0"],
                                  ["--campaign", "q4", "--kms-key", "alias/k", "--max-parallel", "0"]])
def test_submit_accepts_both_flag_forms(form):
    """--campaign=q4 is parsed as the campaign (once refused as an unknown
    option): the run gets as far as the --max-parallel check."""
    r = run("fleetcrypt", "submit", *form, "db-1", FLEETCRYPT_REDIS_URL="redis://127.0.0.1:1/0")
    assert r.returncode == 2, r.stderr
    assert "--max-parallel must be an integer in [1, 10000]" in r.stderr, r.stderr


def test_double_dash_ends_options():
    """After --, a word that looks like a flag is an operand (here a bad
    campaign id), not an option."""
    r = run("fleetcrypt", "status", "--", "--json", FLEETCRYPT_REDIS_URL="redis://127.0.0.1:1/0")
    assert r.returncode == 2, r.stderr
    assert "unknown option" not in r.stderr and "--json" in r.stderr, r.stderr


def test_configuration_md_is_generated_from_the_table():
    r = run("fleetcrypt", "--help-env")
    assert r.returncode == 0, r.stderr
    with open(os.path.join(REPO, "docs", "configuration.md")) as f:
        doc = f.read()
    assert r.stdout == doc, "docs/configuration.md differs from `fleetcrypt --help-env` (regenerate it)"


def test_every_fleetcrypt_variable_in_the_code_is_in_the_table():
    """Every FLEETCRYPT_* name the C code spells is documented, and only the
    table's file calls getenv with one."""
    documented = set(doc_vars())
    spelled, getenv_outside = set(), []
    for top in ("lib", "worker", "coordinator", "cli", "tools"):
        for d, _, files in os.walk(os.path.join(REPO, top)):
            for fn in files:
                if not fn.endswith((".c", ".h")):
                    continue
                p = os.path.join(d, fn)
                with open(p) as f:
                    text = f.read()
                spelled |= set(re.findall(r"\bFLEETCRYPT_[A-Z0-9]+(?:_[A-Z0-9]+)*\b", text))
                if 'getenv("FLEETCRYPT_' in text and not p.endswith(os.path.join("lib", "base", "cfg.c")):
                    getenv_outside.append(os.path.relpath(p, REPO))
    spelled -= {"FLEETCRYPT_LIMIT"}  # the prefix of FLEETCRYPT_LIMIT_<CLASS>
    assert not getenv_outside, getenv_outside
    assert spelled <= documented, sorted(spelled - documented)
