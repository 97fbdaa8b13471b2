"""The package in layers (README "Layout"): every import, inside functions too, points down or sideways within
its own package, never up, and no chain of imports comes back to where it started. Also the house rules that
keep it readable: at most 14 modules directly in ``paddle_sr/`` and no function over 80 lines."""
import ast
import pathlib
import subprocess
import sys
import warnings

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PKG = ROOT / "paddle_sr"
# Lower never imports higher. Tools (the modules directly in paddle_sr/, run as python -m paddle_sr.X) are on top.
LAYERS = ["core", "image", "weights", "models", "data", "runtime", "training", "apps"]
TOOLS = len(LAYERS)


def module_name(path):
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def all_modules():
    return {module_name(p): p for p in PKG.rglob("*.py")}


def imports(name, path, modules):
    """Modules ``name`` imports (``from pkg import sub`` counts as pkg.sub; ``from mod import x`` as mod)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name in modules)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            subs = [f"{mod}.{a.name}" for a in node.names if f"{mod}.{a.name}" in modules]
            if subs:
                found.update(subs)
            if len(subs) < len(node.names) and mod in modules:
                found.add(mod)
    found.discard(name)
    return found


def layer_of(name):
    parts = name.split(".")
    if len(parts) == 1:
        return TOOLS + 1  # the package face: wires everything, lazily
    if parts[1] in LAYERS:
        return LAYERS.index(parts[1])
    return TOOLS


def graph():
    modules = all_modules()
    return {name: imports(name, path, modules) for name, path in modules.items()}


def test_no_import_points_up():
    upward = [f"{a} -> {b}" for a, targets in graph().items() for b in targets
              if layer_of(b) > layer_of(a)]
    assert upward == []


def find_cycles(edges):
    """Every strongly connected component with more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def test_no_import_circle():
    assert find_cycles(graph()) == []


def test_the_checks_catch_what_they_look_for(tmp_path):
    """The cycle finder and the layer order fail where they should (a check that cannot fail checks nothing)."""
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert layer_of("paddle_sr.core.files") < layer_of("paddle_sr.models.edsr") < layer_of("paddle_sr.apps.viz") \
        < layer_of("paddle_sr.train") < layer_of("paddle_sr")
    fake = tmp_path / "m.py"
    fake.write_text("def f():\n    from paddle_sr.apps import viz\n")
    assert imports("paddle_sr.core.fake", fake, {"paddle_sr.apps.viz", "paddle_sr.apps"}) == {"paddle_sr.apps.viz"}


def test_few_modules_at_the_top():
    top = sorted(p.name for p in PKG.glob("*.py"))
    assert len(top) <= 14, top


def test_no_function_over_80_lines():
    long = []
    for path in PKG.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > 80:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} {n} lines")
    assert long == []


@pytest.mark.parametrize("old, name", [("paddle_sr.inference", "super_resolve"), ("paddle_sr.checkpoint", "RunLock"),
                                       ("paddle_sr.engine", "thread_count"), ("paddle_sr.imresize", "imresize"),
                                       ("paddle_sr.notebook", "bootstrap"), ("paddle_sr.configs", "Recipe")])
def test_old_paths_still_import_with_a_warning(old, name):
    """Users' code and copies of the notebooks keep working: a FutureWarning names the new home."""
    code = (f"import warnings\nwith warnings.catch_warnings(record=True) as w:\n    warnings.simplefilter('always')\n"
            f"    from {old} import {name}\nprint([str(x.message) for x in w if x.category is FutureWarning])\n"
            f"print({name}.__module__ if hasattr({name}, '__module__') else type({name}).__name__)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    warned, home = out.strip().splitlines()[-2:]
    assert f"{old} moved to" in warned and "import it from there" in warned
    assert home.startswith("paddle_sr.") and home != old


def test_the_face_is_lazy_and_keeps_the_public_names():
    code = ("import sys, paddle_sr\nassert 'paddle' not in sys.modules, 'import paddle_sr imported Paddle'\n"
            "from paddle_sr import models\nm = models.create('espcn', scale=2)\n"
            "assert paddle_sr.super_resolve.__module__ == 'paddle_sr.runtime.tiling'\n"
            "import paddle_sr.models.edsr\nprint(type(m).__name__, len(models.names()))")
    with warnings.catch_warnings():
        out = subprocess.run([sys.executable, "-W", "error::FutureWarning", "-c", code], cwd=ROOT,
                             capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[0] == "ESPCN"
