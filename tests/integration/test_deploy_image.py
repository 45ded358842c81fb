"""The container image (deploy/docker/Dockerfile, the repository's
.dockerignore) without a container engine (none runs here): the build
context the .dockerignore leaves holds the sources and nothing of a local
build, stack or git, and CMake configures from it alone; the base image is
pinned; OCI labels carry CMake's project version; the RDS CA bundle path is
a build argument; and every shared library the built binaries load (ldd,
sanitizer runtimes aside) comes from a Debian package the runtime stage
installs, directly (the binaries' own NEEDED entries) or as a dependency."""
import functools
import os
import re
import shutil
import subprocess

import pytest

import deploy_util as du
from fclib import REPO

DOCKERFILE = os.path.join(REPO, "deploy", "docker", "Dockerfile")
DOCKERIGNORE = os.path.join(REPO, ".dockerignore")
SANITIZER = re.compile(r"^lib(asan|ubsan|lsan|tsan|hwasan)\.so")


# ---- .dockerignore, as Docker reads it (moby/patternmatcher) ----

def ignore_patterns():
    out = []
    with open(DOCKERIGNORE) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            neg = line.startswith("!")
            p = os.path.normpath(line[1:] if neg else line).lstrip("/")
            rx = ""
            i = 0
            while i < len(p):
                if p.startswith("**/", i):
                    rx += "(.*/)?"
                    i += 3
                elif p.startswith("**", i):
                    rx += ".*"
                    i += 2
                elif p[i] == "*":
                    rx += "[^/]*"
                    i += 1
                elif p[i] == "?":
                    rx += "[^/]"
                    i += 1
                else:
                    rx += re.escape(p[i])
                    i += 1
            out.append((neg, re.compile(rx + "$")))
    return out


def in_context(path, patterns):
    """Last matching pattern wins; a pattern matching a parent folder matches the file."""
    parts = path.split("/")
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    keep = True
    for neg, rx in patterns:
        if any(rx.match(p) for p in prefixes):
            keep = neg
    return keep


def repo_files():
    out = subprocess.run(["git", "ls-files", "--cached", "--others"], cwd=REPO,
                         capture_output=True, text=True, check=True).stdout.split("\n")
    return [f for f in out if f]


def test_dockerignore_keeps_sources_and_drops_builds_stack_and_git():
    pats = ignore_patterns()
    files = repo_files()
    # what a developer's tree holds besides the sources
    noise = ["build/CMakeCache.txt", "build-san/bin/fleetcrypt", "build-san-fuzz/CMakeFiles/x.o",
             ".fleetcrypt/stack.env", ".fleetcrypt/run/redis.pid", ".git/HEAD", "lib/base/__pycache__/x.pyc",
             "lib/base/CMakeCache.txt", "worker/build/CMakeFiles/y.o", ".pytest_cache/v/x"]
    leaked = [f for f in noise if in_context(f, pats)]
    assert not leaked, f".dockerignore lets these into the build context: {leaked}"
    for must in ("CMakeLists.txt", "cmake/embed_text.cmake", "proto/fleetcrypt.proto", "lib/base/cfg.c",
                 "cli/main.c", "worker/main.c", "coordinator/main.c", "deploy/completion/fleetcrypt.bash"):
        assert must in files and in_context(must, pats), f"{must} is not in the build context"
    for f in files:
        if f.startswith(("lib/", "cli/", "worker/", "coordinator/", "proto/", "sql/", "cmake/")):
            assert in_context(f, pats), f"{f} (a source) is not in the build context"


def test_cmake_configures_from_the_build_context_alone(tmp_path):
    """Copy exactly what the .dockerignore lets through and configure as the
    Dockerfile does: a source the build needs and the context lacks fails here."""
    pats = ignore_patterns()
    ctx = tmp_path / "ctx"
    for f in repo_files():
        src = os.path.join(REPO, f)
        if in_context(f, pats) and os.path.isfile(src):
            dst = ctx / f
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
    with open(DOCKERFILE) as fh:
        m = re.search(r"cmake -S \. -B build ([^&\n]*)", fh.read())
    assert m, "Dockerfile: no 'cmake -S . -B build' line"
    args = [a for a in m.group(1).split() if a != "\\"]
    r = subprocess.run(["cmake", "-S", str(ctx), "-B", str(ctx / "build"), *args],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]


# ---- the Dockerfile ----

def stages():
    """[(base, name, [logical lines])] with continuation lines joined."""
    with open(DOCKERFILE) as f:
        text = re.sub(r"\\\n", " ", f.read())
    out = []
    for line in text.split("\n"):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = re.match(r"FROM\s+(\S+)(?:\s+AS\s+(\S+))?", line, re.I)
        if m:
            out.append((m.group(1), m.group(2), []))
        elif out:
            out[-1][2].append(line)
    assert len(out) >= 2, "Dockerfile: expected a build and a runtime stage"
    return out


def args():
    with open(DOCKERFILE) as f:
        return dict(re.findall(r"^ARG (\w+)=(\S+)", f.read(), re.M))


def resolve(ref):
    a = args()
    return re.sub(r"\$\{?(\w+)\}?", lambda m: a.get(m.group(1), m.group(0)), ref)


def test_base_image_pinned_and_matches_this_debian():
    with open("/etc/debian_version") as f:
        major = f.read().strip().split(".")[0]
    bases = {resolve(b) for b, _, _ in stages()}
    assert len(bases) == 1, f"build and runtime stages must share one base: {bases}"
    base = bases.pop()
    image, _, digest = base.partition("@")
    name, _, tag = image.partition(":")
    assert name == "debian", base
    assert digest.startswith("sha256:") or re.fullmatch(r"\d+\.\d+-slim|bookworm-\d{8}-slim", tag), \
        f"{base}: pin an exact tag (12.N-slim) or a digest, not a moving tag"
    assert tag.startswith(major + ".") or "bookworm" in tag, \
        f"{base}: the libraries are checked against Debian {major} (this machine)"


def test_labels_version_and_rds_bundle_are_configurable():
    a = args()
    assert a.get("FLEETCRYPT_VERSION") == du.cmake_version(), "ARG FLEETCRYPT_VERSION must default to CMake's version"
    _, _, runtime = stages()[-1]
    labels = " ".join(l for l in runtime if l.upper().startswith("LABEL"))
    for key in ("org.opencontainers.image.title", "org.opencontainers.image.version",
                "org.opencontainers.image.source", "org.opencontainers.image.revision"):
        assert key in labels, f"runtime stage: no {key} label"
    assert re.search(r"org\.opencontainers\.image\.version=\"?\$\{?FLEETCRYPT_VERSION\}?", labels)
    assert a.get("RDS_CA_BUNDLE", "").startswith("/")
    env = " ".join(l for l in runtime if l.upper().startswith("ENV"))
    assert re.search(r"FLEETCRYPT_RDS_CA_BUNDLE=\"?\$\{?RDS_CA_BUNDLE\}?", env), "the bundle path must reach the binaries"
    user = [l for l in runtime if l.upper().startswith("USER")]
    assert user and re.match(r"USER\s+[1-9]\d*(:\d+)?$", user[-1]), "run as a numeric non-root user"


def runtime_packages():
    _, _, runtime = stages()[-1]
    pkgs = set()
    for line in runtime:
        for m in re.finditer(r"apt-get install ([^&;|]*)", line):
            pkgs |= {w for w in m.group(1).split() if not w.startswith("-")}
    assert pkgs, "runtime stage installs no package"
    return pkgs


@functools.lru_cache(maxsize=None)
def dpkg_owner(path):
    cands = [path, os.path.realpath(path)]
    for p in list(cands):
        if p.startswith("/usr/"):
            cands.append(p[4:])
        else:
            cands.append("/usr" + p)
    for p in cands:
        r = subprocess.run(["dpkg", "-S", p], capture_output=True, text=True)
        if r.returncode == 0:
            return r.stdout.split(":")[0].strip()
    raise AssertionError(f"no Debian package owns {path}")


@functools.lru_cache(maxsize=None)
def installed_field(pkg, field):
    r = subprocess.run(["dpkg-query", "-W", "-f", "${" + field + "}", pkg], capture_output=True, text=True)
    return r.stdout if r.returncode == 0 else ""


def closure(roots):
    """The packages apt installs with `roots` (Depends and Pre-Depends of the
    installed packages, the installed alternative of an `a | b`)."""
    seen, todo = set(), list(roots)
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        deps = installed_field(p, "Depends") + "," + installed_field(p, "Pre-Depends")
        for clause in deps.split(","):
            alts = [re.sub(r"\(.*?\)|:\w+", "", a).strip() for a in clause.split("|")]
            alts = [a for a in alts if a]
            if not alts:
                continue
            chosen = next((a for a in alts if installed_field(a, "Status").endswith("installed")), alts[0])
            todo.append(chosen)
    return seen


def base_image_packages():
    """debian:*-slim is a minbase: the packages of priority required."""
    r = subprocess.run(["dpkg-query", "-W", "-f", "${Package} ${Priority}\n"], capture_output=True, text=True, check=True)
    return {l.split()[0] for l in r.stdout.splitlines() if l.endswith(" required")}


def built_binaries():
    bins = [os.path.join(du.bin_dir(), b) for b in du.installed_binaries()]
    if not bins:
        pytest.skip(f"no binaries in {du.bin_dir()} (build first)")
    return bins


def test_runtime_stage_installs_every_library_the_binaries_link():
    bins = built_binaries()
    explicit = runtime_packages()
    base = base_image_packages()
    in_base = closure(base)
    provided = closure(explicit) | in_base
    libs, needed = {}, set()
    for b in bins:
        out = subprocess.run(["ldd", b], capture_output=True, text=True, check=True).stdout
        for name, path in re.findall(r"^\s*(\S+) => (/\S+)", out, re.M):
            if not SANITIZER.match(name):
                libs[name] = path
        dyn = subprocess.run(["readelf", "-d", b], capture_output=True, text=True, check=True).stdout
        needed |= {n for n in re.findall(r"\(NEEDED\)\s+Shared library: \[(\S+)\]", dyn) if not SANITIZER.match(n)}
    assert "libpq.so.5" in libs and "librdkafka.so.1" in libs, f"ldd output not understood: {sorted(libs)}"
    missing, indirect = [], []
    for name, path in sorted(libs.items()):
        pkg = dpkg_owner(path)
        if pkg not in provided:
            missing.append(f"{name} ({pkg})")
        if name in needed and pkg not in explicit | in_base:
            indirect.append(f"{name} ({pkg})")
    assert not missing, "the runtime stage does not install: " + ", ".join(missing)
    assert not indirect, "libraries the binaries link directly must be named in the runtime stage: " + ", ".join(indirect)


def test_runtime_stage_installs_every_program_the_worker_runs():
    """A program the C code starts by name (posix_spawnp, execvp) must be in
    the image: its Debian package (dpkg -S of the program on this machine)
    installed by the runtime stage, directly or as a dependency."""
    progs = set()
    for root in ("worker", "coordinator", "cli", "lib"):
        for dirpath, _, files in os.walk(os.path.join(REPO, root)):
            for fn in files:
                if fn.endswith(".c"):
                    with open(os.path.join(dirpath, fn), errors="replace") as f:
                        src = f.read()
                    if re.search(r"\b(posix_spawnp|execvp|execlp)\s*\(", src):
                        progs |= set(re.findall(r'posix_spawnp\(\s*&\w+,\s*"([\w.-]+)"', src))
    assert "pg_dump" in progs, f"spawned programs not understood: {sorted(progs)}"
    provided = closure(runtime_packages()) | closure(base_image_packages())
    missing = []
    for prog in sorted(progs):
        path = shutil.which(prog)
        assert path, f"{prog} is not installed here (deploy/install-deps)"
        pkg = dpkg_owner(path)
        if pkg not in provided:
            missing.append(f"{prog} ({pkg})")
    assert not missing, "the runtime stage does not install: " + ", ".join(missing)
