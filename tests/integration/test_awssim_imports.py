"""The emulator's modules form no import circle, and every one of them imports.

Every `import`/`from` statement of tools/awssim (module level or inside a
function: a deferred import that closes a circle is still a circle) becomes
an edge between the emulator's own modules; the graph must have no cycle.
Then every module is imported in a fresh interpreter."""
import ast
import os
import subprocess
import warnings

from fclib import REPO

ROOT = os.path.join(REPO, "tools", "awssim")
PKG = "sim"


def emulator_modules():
    """{module name: path} for the package and the entry script."""
    mods = {"awssim": os.path.join(ROOT, "awssim")}
    for f in sorted(os.listdir(os.path.join(ROOT, PKG))):
        if f.endswith(".py"):
            name = PKG if f == "__init__.py" else f"{PKG}.{f[:-3]}"
            mods[name] = os.path.join(ROOT, PKG, f)
    return mods


def imports_of(name, path, known):
    """The emulator modules `name` imports, with the line of each import."""
    with open(path) as f, warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)
        warnings.simplefilter("ignore", DeprecationWarning)   # escapes in SQL strings are not ours to judge here
        tree = ast.parse(f.read(), path)
    package = name if path.endswith("__init__.py") else name.rpartition(".")[0]
    out = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - (node.level - 1)] if package else []
                base = ".".join(base + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            # `from . import a, b` names modules; `from .m import x` names module m
            targets = [f"{base}.{a.name}" if base else a.name for a in node.names]
            if node.module:
                targets.append(base)
        else:
            continue
        for t in targets:
            if t in known and t != name:
                out.setdefault(t, node.lineno)
    return out


def find_cycle(graph):
    """One import circle as a list of modules (first == last), or None."""
    state = {}
    stack = []

    def visit(m):
        state[m] = "open"
        stack.append(m)
        for n in sorted(graph.get(m, {})):
            if state.get(n) == "open":
                return stack[stack.index(n):] + [n]
            if n not in state:
                c = visit(n)
                if c:
                    return c
        stack.pop()
        state[m] = "done"
        return None

    for m in sorted(graph):
        if m not in state:
            c = visit(m)
            if c:
                return c
    return None


def test_find_cycle_sees_a_circle():
    # the checker itself: a circle through a deferred import is found, a chain is not
    assert find_cycle({"a": {"b": 1}, "b": {"c": 2}, "c": {"a": 3}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b": 1}, "b": {"c": 2}, "c": {}}) is None


def test_no_import_circle_in_the_emulator():
    mods = emulator_modules()
    assert len(mods) > 10, mods
    graph = {m: imports_of(m, p, mods) for m, p in mods.items()}
    assert "sim.errors" in graph["sim.server"], "the import walk finds nothing"
    cycle = find_cycle(graph)
    if cycle:
        steps = [f"{a} (line {graph[a][b]}) -> {b}" for a, b in zip(cycle, cycle[1:])]
        raise AssertionError("import circle in tools/awssim: " + "; ".join(steps))


def test_every_emulator_module_imports():
    mods = [m for m in emulator_modules() if m.startswith(PKG)]
    code = "import importlib, sys\nfor m in sys.argv[1:]:\n    importlib.import_module(m)\nprint('ok', len(sys.argv) - 1)"
    r = subprocess.run(["/usr/bin/python3", "-c", code, *mods], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"ok {len(mods)}"
