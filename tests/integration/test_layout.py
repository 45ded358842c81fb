"""lib/ is split by concern, and a lower folder never includes a higher one
(docs/ARCHITECTURE.md, "The leaf rule"):

    base  <  wire, store, pg, my  <  aws, engine

The build enforces it (each folder is one static library whose only public
include directory is its own folder, linking only the folders it may use);
this test says the same on the sources, so a header found some other way (a
stray include directory, a relative path) still fails, and checks that
CMakeLists.txt links exactly what the rule allows. Inside lib/, modules
(x.c + x.h) include each other without a circle (the client once called STS
for its credentials while STS called the client: lib/aws/session.c now wires
them)."""
import os
import re

from fclib import REPO

LIB = os.path.join(REPO, "lib")
# folder -> the lib/ folders it may include (besides itself)
MAY_USE = {
    "base": set(),
    "wire": {"base"},
    "store": {"base"},
    "pg": {"base"},
    "my": {"base"},
    "aws": {"store", "base"},
    "engine": {"store", "base"},
}
TARGET = {d: "fc_" + d for d in MAY_USE}
# Code outside lib/ that a lib/ folder must not include either.
OUTSIDE = ("worker", "coordinator", "cli", "tools", "tests", "bench")
INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"', re.M)


def folders():
    return sorted(d for d in os.listdir(LIB) if os.path.isdir(os.path.join(LIB, d)))


def where_is(header):
    """Every place a quoted include could resolve to: ("lib/<folder>" | "lib" | "worker" ...)."""
    found = []
    for d in folders():
        if os.path.isfile(os.path.join(LIB, d, header)):
            found.append("lib/" + d)
    if os.path.isfile(os.path.join(LIB, header)):
        found.append("lib")
    for top in OUTSIDE:
        for root, _dirs, files in os.walk(os.path.join(REPO, top)):
            if os.path.basename(header) in files and os.path.isfile(os.path.join(root, header)):
                found.append(top)
                break
    return found


def crossings():
    bad = []
    for d in folders():
        allowed = {"lib/" + d} | {"lib/" + u for u in MAY_USE.get(d, set())}
        for f in sorted(os.listdir(os.path.join(LIB, d))):
            if not f.endswith((".c", ".h")):
                continue
            with open(os.path.join(LIB, d, f)) as fh:
                text = fh.read()
            for inc in INCLUDE.findall(text):
                places = where_is(inc)
                if places and not any(p in allowed for p in places):
                    bad.append(f"lib/{d}/{f} includes \"{inc}\" from {' and '.join(places)}")
    return bad


def test_every_lib_folder_has_a_place_in_the_rule():
    assert set(folders()) <= set(MAY_USE), \
        "lib/ folders without a place in the leaf rule (add them to MAY_USE, CMakeLists.txt and " \
        "docs/ARCHITECTURE.md): " + ", ".join(sorted(set(folders()) - set(MAY_USE)))


def test_base_includes_nothing_else_from_lib():
    assert not [b for b in crossings() if b.startswith("lib/base/")], crossings()


def test_no_lower_folder_includes_a_higher_one():
    bad = crossings()
    assert not bad, "includes that cross the leaf rule:\n  " + "\n  ".join(bad)


def test_cmake_links_exactly_what_the_rule_allows():
    with open(os.path.join(REPO, "CMakeLists.txt")) as fh:
        cmake = fh.read()
    for d, target in TARGET.items():
        m = re.search(r"^fc_lib\(%s %s\b" % (target, d), cmake, re.M)
        assert m, f"CMakeLists.txt has no fc_lib({target} {d})"
        links = set()
        for args in re.findall(r"^target_link_libraries\(%s (.*)\)$" % target, cmake, re.M):
            links |= set(re.findall(r"\bfc_(\w+)\b", args))
        links.discard("proto")
        assert links == MAY_USE[d], f"{target} links {sorted(links)}; the leaf rule allows {sorted(MAY_USE[d])}"


def module_of(root, f):
    """lib path without extension; a private "<x>_int.h" belongs to module x."""
    name = f[:-2]
    if f.endswith("_int.h"):
        name = f[:-len("_int.h")]
    return os.path.join(root, name)


def module_graph():
    """module -> modules whose header it includes."""
    headers = {}
    for root, _dirs, files in os.walk(LIB):
        for f in files:
            if f.endswith(".h"):
                headers.setdefault(f, module_of(root, f))
    graph = {}
    for root, _dirs, files in os.walk(LIB):
        for f in files:
            if not f.endswith((".c", ".h")):
                continue
            mod = module_of(root, f)
            with open(os.path.join(root, f)) as fh:
                deps = {headers[i] for i in INCLUDE.findall(fh.read()) if i in headers}
            graph.setdefault(mod, set()).update(deps - {mod})
    return graph


def test_no_include_circle_between_lib_modules():
    graph = module_graph()
    state, circles = {}, []

    def visit(m, path):
        state[m] = 1
        for d in sorted(graph.get(m, ())):
            if state.get(d) == 1:
                cyc = path[path.index(d):] + [d]
                circles.append(" -> ".join(os.path.relpath(x, REPO) for x in cyc))
            elif d not in state:
                visit(d, path + [d])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert not circles, "modules of lib/ that include each other:\n  " + "\n  ".join(circles)


# ---- Redis stays behind lib/store/ (issue 12 item 5) ----
# Outside lib/store/ no code sees hiredis, a reply, a raw command or a key
# name: it calls the typed functions of store_model.h, store_outbox.h,
# store_limits.h and store_fleet.h. The unit tests and benchmarks that set
# up or inspect Redis directly use the test-only helper of store_test.h
# (store_test_cmd, and the key names of store_keys.h), nothing else.
STORE = os.path.join(LIB, "store")
CODE_DIRS = ("lib", "worker", "coordinator", "cli", "tools", "tests", "bench")
REDIS_RAW = re.compile(r"redisReply|redisContext|hiredis|freeReplyObject|REDIS_REPLY_|"
                       r"\bstore_cmd(argv)?\s*\(|\bstore_vcmd\s*\(|\bstore_script\s*\(|"
                       r"\breply_str\s*\(|\breply_is_status\s*\(")
KEY_NAMING = re.compile(r"\b(store_key|store_ckeys|store_rec_key|store_lease_key)\s*\(|\bckeys\b|"
                        r"\bstore_test_cmd\s*\(")
# Only these may name keys or use the test-only helper (never production code).
TEST_ONLY = (os.path.join(REPO, "tests", "unit"), os.path.join(REPO, "bench"))
PRIVATE_HEADER = {
    "store_int.h": (),               # hiredis: lib/store/ alone
    "store_keys.h": TEST_ONLY,       # key names: lib/store/ and the test-only helper's users
    "store_test.h": TEST_ONLY,
}


def code_outside_store():
    for top in CODE_DIRS:
        for root, _dirs, files in os.walk(os.path.join(REPO, top)):
            if root == STORE or root.startswith(STORE + os.sep):
                continue
            for f in sorted(files):
                if f.endswith((".c", ".h")):
                    path = os.path.join(root, f)
                    with open(path, errors="replace") as fh:
                        yield path, fh.read()


def test_no_redis_outside_lib_store():
    bad = []
    for path, text in code_outside_store():
        for n, line in enumerate(text.splitlines(), 1):
            m = REDIS_RAW.search(line)
            if m:
                bad.append(f"{os.path.relpath(path, REPO)}:{n}: {m.group(0)}")
    assert not bad, ("hiredis, replies or raw Redis commands outside lib/store/ (add a typed function to "
                     "lib/store/ instead):\n  " + "\n  ".join(bad))


def test_key_names_and_private_store_headers_stay_in_lib_store():
    bad = []
    for path, text in code_outside_store():
        test_only = path.startswith(TEST_ONLY)
        for inc in INCLUDE.findall(text):
            if inc in PRIVATE_HEADER and not path.startswith(PRIVATE_HEADER[inc]):
                bad.append(f"{os.path.relpath(path, REPO)} includes \"{inc}\"")
        if not test_only:
            for n, line in enumerate(text.splitlines(), 1):
                m = KEY_NAMING.search(line)
                if m:
                    bad.append(f"{os.path.relpath(path, REPO)}:{n}: {m.group(0)}")
    assert not bad, ("Redis key names or the store's private headers outside lib/store/ (keys are built "
                     "only inside lib/store/):\n  " + "\n  ".join(bad))


def test_store_public_headers_export_no_hiredis():
    for f in sorted(os.listdir(STORE)):
        if f.endswith(".h") and f != "store_int.h":
            with open(os.path.join(STORE, f)) as fh:
                text = re.sub(r"/\*.*?\*/", "", fh.read(), flags=re.S)  # code, not the comments naming it
            assert not REDIS_RAW.search(text), f"lib/store/{f} exports hiredis (keep it in store_int.h)"
            assert "store_int.h" not in INCLUDE.findall(text), f"lib/store/{f} includes store_int.h"
