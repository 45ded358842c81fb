"""docs/OPERATIONS.md, the runbook, stays runnable: every `fleetcrypt ...`
command it shows (inline code or a code block) is a real command, every
flag it gives one is listed by that command's `--help`, and every file of
the repository it names exists."""
import glob
import os
import re
import subprocess

import pytest

import deploy_util as du
from fclib import REPO

DOC = os.path.join(REPO, "docs", "OPERATIONS.md")
BINARIES = ("fleetcrypt", "fleetcrypt-worker", "fleetcrypt-coordinator")
TOPS = ("deploy", "docs", "tests", "lib", "worker", "coordinator", "cli", "tools", "proto", "sql", "bench", "cmake")


def code_texts():
    with open(DOC) as f:
        text = f.read()
    blocks = re.findall(r"^```[^\n]*\n(.*?)^```", text, re.S | re.M)
    lines = [l for b in blocks for l in b.splitlines()]
    prose = re.sub(r"^```[^\n]*\n.*?^```", "", text, flags=re.S | re.M)
    spans = re.findall(r"`([^`\n]+)`", prose)
    return lines, spans


def commands():
    lines, spans = code_texts()
    out = []
    # a code block line may continue with a backslash
    joined, cur = [], ""
    for l in lines:
        cur += l.rstrip("\\").rstrip() + " " if l.rstrip().endswith("\\") else l
        if not l.rstrip().endswith("\\"):
            joined.append(cur)
            cur = ""
    for s in joined + spans:
        s = s.strip()
        s = re.sub(r"^\$\s+", "", s)
        s = re.sub(r"^(?:[A-Z_][A-Z0-9_]*=\S+\s+)+", "", s)  # VAR=value fleetcrypt ...
        m = re.match(r"(fleetcrypt(?:-worker|-coordinator)?)(?=\s|$)(.*)", s)
        if m:
            args = re.split(r"\s*(?:\||&&|;|#)\s*", m.group(2))[0]
            out.append((m.group(1), args.split()))
    return out


def help_of(binary, cmd):
    path = os.path.join(du.bin_dir(), binary)
    if not os.access(path, os.X_OK):
        pytest.skip(f"{path} not built")
    argv = [path] + ([cmd] if cmd else []) + ["--help"]
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0")
    r = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=30)
    return r.returncode, r.stdout + r.stderr


def test_the_runbook_shows_commands():
    cmds = commands()
    names = {a[0] for b, a in cmds if b == "fleetcrypt" and a}
    assert {"submit", "status", "top", "abort", "retry", "approve", "retire", "logs", "report"} <= names, names


def test_every_command_and_flag_exists():
    bad = []
    cache = {}
    for binary, args in commands():
        cmd = None
        if binary == "fleetcrypt":
            cmd = next((a for a in args if not a.startswith("-")), None) if args and not args[0].startswith("-") else None
        key = (binary, cmd)
        if key not in cache:
            cache[key] = help_of(binary, cmd)
        rc, text = cache[key]
        where = f"{binary} {cmd or ''}".strip()
        if rc != 0:
            bad.append(f"`{where}` is not a command (exit {rc})")
            continue
        for a in args:
            flag = re.match(r"(--[a-z][a-z0-9-]*)", a)
            if flag and flag.group(1) not in ("--help", "--version") and \
                    not re.search(re.escape(flag.group(1)) + r"(?![a-z0-9-])", text):
                bad.append(f"`{where}` has no {flag.group(1)}")
    assert not bad, "docs/OPERATIONS.md: " + "; ".join(sorted(set(bad)))


def test_every_file_it_names_exists():
    lines, spans = code_texts()
    tokens = set()
    for s in spans + lines:
        for t in re.findall(r"(?<![\w./-])((?:%s)/[\w./@*-]+)" % "|".join(TOPS), s):
            tokens.add(t.rstrip(".,:;)"))
    assert len(tokens) > 10, tokens
    gone = [t for t in sorted(tokens)
            if not (glob.glob(os.path.join(REPO, t)) if "*" in t else os.path.exists(os.path.join(REPO, t)))]
    assert not gone, "docs/OPERATIONS.md names files that do not exist: " + ", ".join(gone)
