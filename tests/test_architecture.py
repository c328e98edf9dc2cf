"""The package keeps its shape: stages import downward only, no import cycle, no private name used across
modules, no module a newcomer cannot read in one sitting (docs/architecture.md draws the same graph)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "pipeline"
MAX_LINES = 500

# Lower layers never import higher ones. Inside one layer, modules may import each other (without a cycle).
LAYERS: list[tuple[str, ...]] = [
    ("errors", "timefmt", "ids", "text", "tex", "models", "serialize", "files"),  # plain data and helpers
    ("cache", "content", "config", "embed", "embed_onnx"),  # the project: its content, configuration and caches
    ("sources",),  # importers: transcripts, show notes, paper lists
    ("audio",),  # decode, transcribe, diarize, attribute, voices
    ("align",),  # chapters, paper links, mentions, names
    ("summarize",),
    ("report", "export"),  # what is derived from an aligned, summarized episode
    ("site",),  # the static site
    ("publish",),
    ("jobs",),  # the command layer that chains stages (process, batch)
    ("doctor", "cli"),
]


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _imports(path: Path, module: str) -> list[tuple[str, list[str], int]]:
    """(imported pipeline module, names, line) of every import in ``path``, also those inside functions."""
    tree = ast.parse(path.read_text("utf-8"))
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target == "pipeline" or target.startswith("pipeline."):
                found.append((target, [a.name for a in node.names], node.lineno))
        elif isinstance(node, ast.Import):
            found += [(a.name, [], node.lineno) for a in node.names if a.name.startswith("pipeline.")]
    return found


def _resolve(target: str, names: list[str], modules: dict[str, Path]) -> list[str]:
    """The modules an import statement loads: ``from pipeline.site import search`` loads pipeline.site.search."""
    subs = [f"{target}.{n}" for n in names if f"{target}.{n}" in modules]
    plain = [n for n in names if f"{target}.{n}" not in modules]
    return subs + ([target] if target in modules and (plain or not names) else [])


def _layer(module: str) -> int:
    top = module.split(".")[1] if "." in module else ""
    for i, names in enumerate(LAYERS):
        if top in names:
            return i
    raise AssertionError(f"{module} is in no layer of tests/test_architecture.py: add it where it belongs")


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for m, path in modules.items():
        for target, names, _ in _imports(path, m):
            graph[m].update(t for t in _resolve(target, names, modules) if t != m and t != "pipeline")
    return graph


def test_every_module_is_in_a_layer_and_imports_point_down() -> None:
    wrong = []
    for m, targets in _graph().items():
        if m in ("pipeline",):
            continue
        for t in targets:
            if _layer(t) > _layer(m):
                wrong.append(f"{m} (layer {_layer(m)}) imports {t} (layer {_layer(t)})")
    assert not wrong, "imports against the stage order:\n" + "\n".join(sorted(wrong))


def test_no_import_cycle() -> None:
    graph = _graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    assert not cycles, f"import cycles: {cycles}"


def test_no_private_name_is_imported_across_modules() -> None:
    modules = _modules()
    wrong = [f"{path.relative_to(PACKAGE.parent)}:{line} imports {name} from {target}"
             for m, path in modules.items() for target, names, line in _imports(path, m)
             for name in names if name.startswith("_") and target != m]
    assert not wrong, "\n".join(wrong)


def test_no_module_checks_for_its_siblings() -> None:
    wrong = [str(p.relative_to(PACKAGE.parent)) for p in _modules().values()
             if 'find_spec("pipeline' in p.read_text("utf-8") or "import_module(f\"pipeline" in p.read_text("utf-8")]
    assert not wrong, f"stages are imported, not looked for: {wrong}"


def test_every_module_reads_in_one_sitting() -> None:
    long = {str(p.relative_to(PACKAGE.parent)): n for p in _modules().values()
            if (n := len(p.read_text("utf-8").splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"
