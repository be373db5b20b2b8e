"""The house stays simple: no import circles anywhere in edgedigits/ (imports inside functions count: a lazy import
is still a dependency), no module over 350 lines, a thin command line, and the floors in one direction."""

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.runtime

PACKAGE = Path(__file__).resolve().parent.parent / "edgedigits"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imports(path: Path, known: dict) -> set[str]:
    """The edgedigits modules `path` imports, anywhere in it: `from pkg import name` counts as pkg.name when that
    is a module, else as pkg itself."""
    this = module_name(path)
    package = this if path.name == "__init__.py" else this.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name in known}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.add(full if full in known else base)
    return {name for name in found if name in known and name != this}


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(path, known) for name, path in known.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), or a module importing itself."""
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
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in edges:
        if v not in index:
            visit(v)
    return out


def test_no_import_circles_in_edgedigits():
    assert cycles(graph()) == []


def test_the_circle_check_finds_a_circle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    known = modules()
    assert "edgedigits.runtime.model.session" in imports(known["edgedigits.runtime.model.classifier"], known)


def test_floors_run_one_way():
    """runtime <- synth <- training <- experiments <- cli: no module imports a floor above its own."""
    floors = ["edgedigits.runtime", "edgedigits.synth", "edgedigits.training", "edgedigits.experiments", "edgedigits.cli"]

    def floor(name):
        return max((i for i, f in enumerate(floors) if name == f or name.startswith(f + ".")), default=-1)

    assert [(a, b) for a, targets in graph().items() for b in targets if floor(a) >= 0 and floor(b) > floor(a)] == []


def test_no_module_over_350_lines_and_a_thin_command_line():
    sizes = {name: len(path.read_text().splitlines()) for name, path in modules().items()}
    assert {name: n for name, n in sizes.items() if n > 350} == {}
    assert max(n for name, n in sizes.items() if name.startswith("edgedigits.cli")) < 300
