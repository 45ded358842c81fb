"""Bash completion (issue 7): deploy/completion/fleetcrypt.bash is sourced in
`bash -c`; `complete -p fleetcrypt` names the function, and calling it with
COMP_WORDS/COMP_CWORD set gives the expected COMPREPLY for subcommands,
flags and option values. No Redis: campaign listing degrades to nothing."""
import os
import re
import shlex
import subprocess

from fclib import BIN_DIR

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SCRIPT = os.path.join(REPO, "deploy", "completion", "fleetcrypt.bash")


def bash(body):
    env = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/tmp"),
           "FLEETCRYPT_REDIS_URL": "redis://127.0.0.1:1"}
    r = subprocess.run(["bash", "-c", f"source {shlex.quote(SCRIPT)}\n{body}"], capture_output=True, text=True,
                       timeout=30, env=env)
    assert r.returncode == 0, r.stderr
    return r.stdout


def complete(*words):
    """COMPREPLY for the command line `words` with the cursor on the last word."""
    ws = " ".join(shlex.quote(w) for w in words)
    out = bash(f"COMP_WORDS=({ws}); COMP_CWORD={len(words) - 1}; COMP_LINE={shlex.quote(' '.join(words))}\n"
               "_fleetcrypt; printf '%s\\n' \"${COMPREPLY[@]}\"")
    return [w for w in out.split("\n") if w]


def strategy_names():
    """The build's strategies in strategies.def order, each by its descriptor's
    .name (read from the sources, not from the binary the completion asks)."""
    base = os.path.join(REPO, "worker", "strategies")
    with open(os.path.join(base, "strategies.def")) as f:
        folders = re.findall(r"^FC_STRATEGY\((\w+)\)", f.read(), re.M)
    names = []
    for folder in folders:
        with open(os.path.join(base, folder, "descriptor.c")) as f:
            names.append(re.search(r'\.name = "([^"]+)"', f.read()).group(1))
    return names


def test_completion_registered():
    out = bash("complete -p fleetcrypt")
    assert out.strip() == "complete -F _fleetcrypt fleetcrypt", out


def test_completion_words():
    fc = os.path.join(BIN_DIR, "fleetcrypt")  # strategies and their options come from the binary
    assert complete("fleetcrypt", "su") == ["submit"]
    assert complete(fc, "submit", "--cut") == ["--cutover", "--cutover-method"]
    assert complete(fc, "submit", "--cutover-method", "") == ["rename", "proxy", "cname"]
    assert complete(fc, "submit", "--window", "") == []
    assert complete(fc, "submit", "--db-secret", "") == ["rds-managed", "file:"]
    assert strategy_names()[:4] == ["pg-logical", "offline", "noop", "mysql-binlog"]
    assert complete(fc, "submit", "--strategy", "") == strategy_names()
    assert set(complete("fleetcrypt", "re")) == {"resume", "retry", "report", "retire"}
    assert complete(fc, "submit", "--strategy", "o") == ["offline"]
    assert complete("fleetcrypt", "report", "c1", "--format", "") == ["json", "table", "csv", "html"]
    # -o/--output: json|table on status, top and logs; report also csv, html (and files)
    assert complete("fleetcrypt", "status", "-o", "") == ["json", "table"]
    assert complete("fleetcrypt", "top", "c1", "--output", "t") == ["table"]
    assert complete("fleetcrypt", "logs", "c1", "i1", "-o", "j") == ["json"]
    assert complete("fleetcrypt", "report", "c1", "-o", "c")[0] == "csv"  # then file names
    assert complete("fleetcrypt", "logs", "c1", "i1", "--f") == ["--follow"]
    assert set(complete("fleetcrypt", "retire", "c1", "--")) >= {"--force", "--yes", "--dry-run",
                                                                 "--retention-days"}
    assert complete("fleetcrypt", "status", "--j") == ["--json"]
    # every subcommand of the dispatcher is offered
    assert set(complete("fleetcrypt", "")) >= {"submit", "status", "top", "approve", "pause", "resume", "abort",
                                               "retry", "logs", "report", "retire"}
    # campaign ids: nothing (and no error) when fleetcrypt / Redis are not there
    assert complete("fleetcrypt", "retire", "") == []


def test_completion_campaign_ids(tmp_path):
    """Campaign ids come from `fleetcrypt status` (a stand-in prints its table here)."""
    stub = tmp_path / "fleetcrypt"
    stub.write_text("#!/bin/sh\n[ \"$1\" = status ] || exit 2\n"
                    "echo 'CAMPAIGN                                 STATE    PENDING'\n"
                    "echo 'q4-prod                                  running        0'\n"
                    "echo 'q4-dev                                   done           0'\n")
    stub.chmod(0o755)
    assert complete(str(stub), "retire", "q4-") == ["q4-prod", "q4-dev"]
    assert complete(str(stub), "report", "q4-prod", "") == []


def test_completion_flags_match_the_parser():
    """The flags completed for each subcommand are exactly those its --help
    shows in the usage and the common options (both come from what the
    parser accepts: the command table and lib/base/cfg.c's table)."""
    import re

    from fclib import BIN_DIR
    fc = os.path.join(BIN_DIR, "fleetcrypt")
    for cmd in ["submit", "status", "top", "approve", "pause", "resume", "abort", "retry", "logs", "report",
                "retire"]:
        r = subprocess.run([fc, cmd, "--help"], capture_output=True, text=True, timeout=30,
                           env={"PATH": "/usr/bin:/bin"})
        assert r.returncode == 0, r.stderr
        usage = r.stdout.split("\n\n")[0]
        common = r.stdout.split("common options:\n", 1)[1].split("\n\n")[0]
        accepted = set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", usage + "\n" + common))
        assert set(complete("fleetcrypt", cmd, "--")) == accepted, (cmd, r.stdout)
