"""Strategy descriptors as the CLI shows them (issue 12): `fleetcrypt
strategies --json` lists every strategy with its steps and options,
docs/strategies.md is exactly `--markdown`, submit validates a strategy's
options from its descriptor (an option of another strategy, a bad value in
a campaign file, an unknown strategy: exit 2, nothing enqueued), and no
strategy's name appears in the code of cli/, coordinator/ or lib/ (they
read descriptors; only worker/strategies/ names strategies)."""
import json
import os
import re
import subprocess

from fclib import BIN_DIR, REPO

FC = os.path.join(BIN_DIR, "fleetcrypt")
ENV = {"PATH": "/usr/bin:/bin", "FLEETCRYPT_REDIS_URL": "redis://127.0.0.1:1"}


def run(*args, stdin=None):
    return subprocess.run([FC, *args], capture_output=True, text=True, timeout=30, env=ENV, input=stdin)


def test_json_lists_every_strategy():
    r = run("strategies", "--json")
    assert r.returncode == 0, r.stderr
    s = {x["name"]: x for x in json.loads(r.stdout)}
    assert {"pg-logical", "offline", "noop"} <= set(s)
    assert s["pg-logical"]["steps"][0]["name"] == "preflight"
    assert any(o["name"] == "cutover" and o["allowed"] == "auto|approve" for o in s["pg-logical"]["options"])
    assert s["offline"]["abort_undo"] is None and s["pg-logical"]["abort_undo"]
    assert s["noop"]["uses_aws"] is False and s["noop"]["quota_instances"] == 0


def test_docs_table_is_generated():
    r = run("strategies", "--markdown")
    assert r.returncode == 0, r.stderr
    with open(os.path.join(REPO, "docs", "strategies.md")) as f:
        assert f.read() == r.stdout, "docs/strategies.md differs from `fleetcrypt strategies --markdown`: regenerate it"


def test_submit_checks_options_against_the_strategy(tmp_path):
    r = run("submit", "--campaign", "x1", "--kms-key", "k", "--strategy", "offline", "--cutover", "approve", "db-1")
    assert r.returncode == 2 and "--cutover is not an option of strategy offline" in r.stderr, r.stderr
    r = run("submit", "--campaign", "x1", "--kms-key", "k", "--strategy", "pg-logical", "--cutover", "later", "db-1")
    assert r.returncode == 2 and "--cutover must be one of auto|approve" in r.stderr, r.stderr
    r = run("submit", "--campaign", "x1", "--kms-key", "k", "--strategy", "nope", "db-1")
    assert r.returncode == 2 and "pg-logical" in r.stderr and "noop" in r.stderr, r.stderr
    f = tmp_path / "c.json"
    f.write_text(json.dumps({"campaign": "x1", "kms_key": "k", "strategy": "pg-logical",
                             "switch_poll_s": "ninety", "instances": ["db-1"]}))
    r = run("submit", "--file", str(f))
    assert r.returncode == 2 and "switch_poll_s" in r.stderr, r.stderr
    f.write_text(json.dumps({"campaign": "x1", "kms_key": "k", "strategy": "pg-logical",
                             "no_such_knob": 1, "instances": ["db-1"]}))
    r = run("submit", "--file", str(f))
    assert r.returncode == 2 and "no_such_knob" in r.stderr, r.stderr


def strip_comments(src):
    src = re.sub(r"/\*.*?\*/", "", src, flags=re.S)
    return re.sub(r"//[^\n]*", "", src)


def test_no_strategy_named_outside_its_folder():
    r = run("strategies", "--json")
    names = [x["name"] for x in json.loads(r.stdout)]
    folders = [d for d in os.listdir(os.path.join(REPO, "worker", "strategies"))
               if os.path.isdir(os.path.join(REPO, "worker", "strategies", d))]
    words = set(names) | {n.replace("-", "") for n in names} | set(folders) - {"shared"}
    pat = re.compile(r"(?<![A-Za-z0-9_-])(" + "|".join(re.escape(w) for w in sorted(words)) + r")(?![A-Za-z0-9_-])")
    hits = []
    for top in ("cli", "coordinator", "lib"):
        for root, _, files in os.walk(os.path.join(REPO, top)):
            for fn in files:
                if not fn.endswith((".c", ".h")):
                    continue
                path = os.path.join(root, fn)
                with open(path) as fh:
                    code = strip_comments(fh.read())
                for m in pat.finditer(code):
                    line = code[:m.start()].count("\n") + 1
                    hits.append(f"{os.path.relpath(path, REPO)}:{line}: {m.group(1)}")
    assert not hits, "strategy names in code outside worker/strategies/:\n" + "\n".join(hits[:40])
