"""The package's layering: imports run one way, and no module imports itself in a cycle.

Every import counts, including those inside functions (they hide cycles, not remove them).
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "pipeline"

# Lowest first: a subpackage may import only from subpackages before it (and itself).
LAYERS = ("core", "demo", "dataset", "sources", "analysis", "mashup", "train", "evaluate",
          "report", "cli")
MAX_LINES = 400


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, root: Path) -> set[str]:
    """Absolute names of the package modules (or packages) ``path`` imports, anywhere in it."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == root.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != root.name:
                continue
            found.add(target)
            for alias in node.names:  # `from pkg import module`
                candidate = f"{target}.{alias.name}"
                if (root.parent / candidate.replace(".", "/")).with_suffix(".py").exists() or \
                        (root.parent / candidate.replace(".", "/")).is_dir():
                    found.add(candidate)
    return found


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else None


def layer_violations(root: Path) -> list[str]:
    """``"a imports b"`` for each import from a higher layer (or a top-level module)."""
    out = []
    for path in sorted(root.rglob("*.py")):
        here = module_name(path, root)
        mine = layer_of(here)
        for target in sorted(imports_of(path, root)):
            theirs = layer_of(target)
            if mine is None:
                continue  # pipeline/__init__ and __main__ sit above every layer
            if theirs is None:
                if target != root.name:
                    out.append(f"{here} imports {target} (not in a layer)")
                continue
            if LAYERS.index(theirs) > LAYERS.index(mine):
                out.append(f"{here} imports {target} (layer {theirs} is above {mine})")
    return out


def import_cycles(root: Path) -> list[list[str]]:
    """Cycles in the module import graph (each reported once, as a path)."""
    graph = {}
    for path in root.rglob("*.py"):
        graph[module_name(path, root)] = {t for t in imports_of(path, root)}
    graph = {m: {t for t in ts if t in graph and t != m and not m.startswith(t + ".")}
             for m, ts in graph.items()}
    cycles, state = [], {}

    def visit(m, stack):
        state[m] = "open"
        stack.append(m)
        for t in sorted(graph[m]):
            if state.get(t) == "open":
                cycles.append(stack[stack.index(t):] + [t])
            elif t not in state:
                visit(t, stack)
        stack.pop()
        state[m] = "done"

    for m in sorted(graph):
        if m not in state:
            visit(m, [])
    return cycles


def test_lower_layers_never_import_higher_ones():
    assert layer_violations(PACKAGE) == []


def test_no_import_cycles():
    assert import_cycles(PACKAGE) == []


def test_top_level_holds_only_subpackages():
    loose = sorted(p.name for p in PACKAGE.glob("*.py") if p.name not in ("__init__.py",
                                                                         "__main__.py"))
    assert loose == []
    assert {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"} \
        == set(LAYERS)


def test_no_module_is_longer_than_400_lines():
    long = {str(p.relative_to(PACKAGE)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}


@pytest.fixture
def toy_package(tmp_path):
    """A package laid out like ours, with one upward import and one hidden cycle."""
    root = tmp_path / "pipeline"
    for layer in ("core", "analysis", "mashup"):
        (root / layer).mkdir(parents=True)
        (root / layer / "__init__.py").write_text("")
    (root / "__init__.py").write_text("")
    (root / "core" / "audio.py").write_text("from ..mashup import mix\n")  # upward
    (root / "analysis" / "keys.py").write_text("def f():\n    from .sections import g\n")
    (root / "analysis" / "sections.py").write_text("from . import keys\n")
    (root / "mashup" / "mix.py").write_text("from pipeline.core.audio import x\n")
    return root


def test_the_checks_fire_on_an_upward_import_and_a_function_level_cycle(toy_package):
    assert layer_violations(toy_package) == [
        "pipeline.core.audio imports pipeline.mashup (layer mashup is above core)",
        "pipeline.core.audio imports pipeline.mashup.mix (layer mashup is above core)"]
    cycles = import_cycles(toy_package)
    assert ["pipeline.analysis.keys", "pipeline.analysis.sections",
            "pipeline.analysis.keys"] in cycles
    assert any("pipeline.core.audio" in c and "pipeline.mashup.mix" in c for c in cycles)


def test_stage_commands_share_only_the_common_helpers():
    """A CLI command never imports another command (only ``cli._common``)."""
    offenders = []
    for path in sorted((PACKAGE / "cli").glob("*.py")):
        if path.name in ("__init__.py", "_common.py"):
            continue
        for target in imports_of(path, PACKAGE):
            if target.startswith("pipeline.cli") and target not in ("pipeline.cli",
                                                                    "pipeline.cli._common"):
                offenders.append(f"{module_name(path, PACKAGE)} imports {target}")
    assert offenders == []
