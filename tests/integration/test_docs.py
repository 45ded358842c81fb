"""Docs stay true as the code moves: every source file is named in
docs/ARCHITECTURE.md with its job, and every file the doc names exists."""
import fnmatch
import os
import re
import subprocess

from fclib import REPO

SOURCE_DIRS = ("lib", "worker", "coordinator", "cli", "tools", "proto", "lua", "sql",
               "deploy/local", "deploy/k8s", "deploy/docker", "deploy/systemd", "deploy/kafka", "deploy/grafana")
SOURCE_EXT = (".c", ".h", ".proto", ".lua", ".sql", ".py", "", ".yaml", ".in", ".json", ".env", ".example")


def tracked_sources():
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", *SOURCE_DIRS],
                         cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    files = []
    for f in out:
        base = os.path.basename(f)
        if base in ("ping.sql", "ping.lua") or "__pycache__" in f:
            continue
        if os.path.splitext(f)[1] in SOURCE_EXT and os.path.isfile(os.path.join(REPO, f)):
            files.append(f)
    return files


def architecture():
    with open(os.path.join(REPO, "docs", "ARCHITECTURE.md")) as f:
        return f.read()


def described(path, doc, patterns):
    """Named in backticks, or matched by a backticked glob such as `db/sql/pgl_*.sql`."""
    return f"`{path}`" in doc or any(fnmatch.fnmatch(path, p) for p in patterns)


def test_every_source_file_is_in_architecture_md():
    doc = architecture()
    patterns = [p for p in re.findall(r"`([^`\s]+)`", doc) if "*" in p]
    missing = [f for f in tracked_sources() if not described(f, doc, patterns)]
    assert not missing, "docs/ARCHITECTURE.md does not describe: " + ", ".join(missing)


def test_every_file_named_in_architecture_md_exists():
    doc = architecture()
    named = set(re.findall(r"`((?:lib|worker|coordinator|cli|tools|proto|lua|sql|deploy|tests|bench)/[^`\s]+)`", doc))
    import glob as _glob
    gone = [f for f in sorted(named)
            if not (_glob.glob(os.path.join(REPO, f)) if "*" in f else os.path.exists(os.path.join(REPO, f)))]
    assert not gone, "docs/ARCHITECTURE.md names files that do not exist: " + ", ".join(gone)


def test_every_fact_a_step_writes_is_documented():
    """A fact (record field `f.<name>`) is read by report, status and other
    steps long after the code that wrote it moved: each name a step writes
    (fact(), factf(), fact_int(), fact_opt()) must be explained somewhere in
    docs/ (docs/redis-keys.md points at docs/pg-logical-steps.md)."""
    writer = re.compile(r'fact(?:f|_int|_opt)?\([^,()]*,\s*"([a-z_][a-z0-9_.]*)"')
    names = set()
    for top in ("lib", "worker"):
        for root, _, files in os.walk(os.path.join(REPO, top)):
            for fn in files:
                if fn.endswith(".c"):
                    with open(os.path.join(root, fn)) as f:
                        names.update(writer.findall(f.read()))
    assert len(names) > 50, f"the fact pattern found only {len(names)} names: it no longer matches the code"
    docs = ""
    for fn in sorted(os.listdir(os.path.join(REPO, "docs"))):
        if fn.endswith(".md"):
            with open(os.path.join(REPO, "docs", fn)) as f:
                docs += f.read()
    missing = sorted(n for n in names if not re.search(r"(?<![a-z_])" + re.escape(n) + r"(?![a-z_])", docs))
    assert not missing, "facts written by the code but explained nowhere in docs/: " + ", ".join(missing)
