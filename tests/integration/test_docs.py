"""Docs stay true as the code moves: every source file is named in
docs/ARCHITECTURE.md with its job, and every file the doc names exists."""
import fnmatch
import os
import re
import subprocess

from fclib import REPO

SOURCE_DIRS = ("lib", "worker", "coordinator", "cli", "tools", "proto", "lua", "sql",
               "deploy/local", "deploy/k8s")
SOURCE_EXT = (".c", ".h", ".proto", ".lua", ".sql", ".py", "")


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
    """Named in backticks, or matched by a backticked glob such as `sql/pgrepl_*.sql`."""
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
