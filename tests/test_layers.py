"""The layers of ``perfmodel`` (issue 12), checked by reading every import.

Each module of ``perfmodel/`` sits in one layer; a module may import modules of
its own layer or of layers below, never above, and the modules never import each
other in a cycle. :data:`LAYERS` below is the map, and the documentation: it is
the table in ``docs/architecture.md`` ("Module map").

How imports are read: every ``import x`` and ``from x import y`` anywhere in a
module (module level, inside functions and classes, inside ``if TYPE_CHECKING:``),
with relative imports resolved, is an edge importer → imported module
(``from perfmodel import groups`` is an edge to ``perfmodel.groups``; ``from
perfmodel.audit import run_audit`` one to the package ``perfmodel.audit`` and one
to the module its stub says defines ``run_audit``). Two kinds of edge are exempt
from the layer rule: the imports of a package's ``__init__.pyi`` stub, which only
declare the package's lazy exports (SPEC 1, :mod:`perfmodel._lazy`: resolved on
attribute access, never at import), and the implicit import of parent packages.
``TYPE_CHECKING`` edges count for the layer rule (a step typed on ``Evaluation``
depends on it) but not for cycles, since they never run; nor do stub edges.

:data:`KNOWN_UPWARD_EDGES` listed the upward edges that needed real refactoring,
each with its reason; it only shrank, and is empty now. The test fails on any
upward edge, and on a listed edge that no longer exists.
"""

from __future__ import annotations

import ast
import tomllib
from dataclasses import dataclass
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "perfmodel"

LAYERS: dict[str, int] = {
    # 1 common: no perfmodel import above it; numpy/pandas/scipy at most
    "__init__.py": 1,  # version and the lazy-export table only
    "_lazy.py": 1,
    "weights.py": 1,  # stated weights, effective weights, variance shares
    "errors.py": 1,
    "text.py": 1,
    "_catalogue.py": 1,  # the message catalogue file, read once (errors and text use it)
    "groups.py": 1,
    "columns.py": 1,
    "multiple_testing.py": 1,
    "randomness.py": 1,  # the rng convention (numpy only)
    "glossary.py": 1,  # column headers and meanings, zh/en
    "progress.py": 1,  # progress lines of long steps (shown only when the CLI switches them on)
    "memory.py": 1,  # freed heap memory handed back to the system (glibc malloc_trim)
    # 2 framework, periods and io
    "framework.py": 2,
    "periods.py": 2,
    "io.py": 2,
    "outputs.py": 2,
    "privacy.py": 2,
    # 3 construction steps, in pipeline order
    "validation.py": 3,
    "rollup.py": 3,
    "denominate.py": 3,
    "impute.py": 3,
    "treat.py": 3,
    "normalise.py": 3,
    "aggregate.py": 3,
    "grading.py": 3,
    "scoring.py": 3,  # the engine: difficulty, bonus, deductions, ranks, grades, caps over draws
    "flags.py": 3,  # flag codes of the scores and their words (text catalogue)
    "coverage.py": 3,
    "source.py": 3,  # where an evaluation reads its observations: a frame, the columnar core, partitions
    "template.py": 3,  # data-entry workbook (framework, io, validation limits)
    "engine/": 3,  # the columnar core (DuckDB): reading and validation with the quarantine of validation.py
    "engine/source.py": 3,  # clean rows kept in DuckDB: roll-up, coverage and counts in SQL for an evaluation
    # 4 calibration step
    "calibrate/": 4,
    "calibrate/truth.py": 6,  # truth-recovery studies: simulate and evaluate whole cases (an analysis)
    # 5 evaluation: runs the steps
    "evaluation.py": 5,
    # 6 analyses of evaluations
    "awards.py": 6,
    "audit/": 6,
    "audit/defaults.py": 6,
    "design/": 6,
    "federated/": 6,  # cross-region comparison from regions' aggregates (R22)
    "design/optimise.py": 6,  # the design optimiser (issue 14): evaluates, simulates, searches
    "monitor/": 6,
    "simulate.py": 6,
    "simulate_national.py": 6,  # the national world, streamed city by city into partitioned Parquet
    "spatial.py": 6,  # hot-spots in space and time (R20): PySAL statistics on evaluations' scores
    "partitioned.py": 6,  # one evaluation per assessment unit, in parallel on Dask (issue 13)
    # 7 report layer: figures, text, rendering, notebook runs
    "report/": 7,
    "report/tutorial.py": 7,  # the methodology tutorial's text, tables and figure (issue 11)
    "report/summary.py": 7,  # the quarterly report's one-page summary and action list (issue 11)
    # ... except the figure style, which every figure_* function applies itself (issue 12):
    # matplotlib and perfmodel.errors only, so analyses may import it
    "report/style.py": 2,
    "report/fonts.py": 2,
    # 8 command line
    "cli.py": 8,
    "audit/cli.py": 8,
    "design/cli.py": 8,
    "federated/cli.py": 8,
}
"""Path under ``perfmodel/`` → layer. A key ending in ``/`` is a folder; the
longest key that matches a module decides its layer."""

LAYER_NAMES = {
    1: "common",
    2: "framework/periods/io",
    3: "construction steps",
    4: "calibration step",
    5: "evaluation",
    6: "analyses",
    7: "report",
    8: "cli",
}

KNOWN_UPWARD_EDGES: dict[tuple[str, str], str] = {}
"""Upward edges (importer, imported) that exist today, each with what removes it.

Empty since issue 12 split the grab-bag modules (calibrate step/truth, audit run
and report text, monitor text): nothing imports upward, and
:func:`test_no_upward_edge_is_tolerated` keeps it so."""


@dataclass(frozen=True)
class Edge:
    """One import statement of one perfmodel module of another."""

    importer: str
    imported: str
    file: str
    line: int
    type_only: bool
    lazy_export: bool

    def describe(self) -> str:
        lo, hi = layer_of(self.importer), layer_of(self.imported)
        kind = " (TYPE_CHECKING)" if self.type_only else ""
        return (
            f"{self.file}:{self.line}: {self.importer} (layer {lo} {LAYER_NAMES[lo]}) imports "
            f"{self.imported} (layer {hi} {LAYER_NAMES[hi]}){kind}"
        )


def module_files(package: Path = PACKAGE) -> dict[str, Path]:
    """Dotted module name → file, for every ``.py`` file of the package."""
    out = {}
    for path in sorted(package.rglob("*.py")):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = module_files()


def layer_key(module: str, modules: dict[str, Path] = MODULES, package: Path = PACKAGE) -> str | None:
    """The :data:`LAYERS` key that decides ``module``'s layer (the longest match), or None."""
    rel = modules[module].relative_to(package).as_posix()
    matches = [key for key in LAYERS if rel == key or (key.endswith("/") and rel.startswith(key))]
    return max(matches, key=len) if matches else None


def layer_of(module: str) -> int:
    key = layer_key(module)
    assert key is not None, f"{module} is in no layer; add it to LAYERS in {Path(__file__).name}"
    return LAYERS[key]


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The perfmodel module that ``name`` (a module or module.attribute) lives in."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _imports(tree: ast.Module, package: str) -> list[tuple[ast.stmt, list[tuple[str, str]]]]:
    """Each import statement with its (module or base, imported name) pairs, relative imports resolved."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.append((node, [(alias.name, "") for alias in node.names]))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            out.append((node, [(base, alias.name) for alias in node.names]))
    return out


def _type_checking_lines(tree: ast.Module) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                lines.update(inner.lineno for inner in ast.walk(child) if hasattr(inner, "lineno"))
    return lines


def import_edges(modules: dict[str, Path] = MODULES, package_dir: Path = PACKAGE) -> list[Edge]:
    """Every import of a perfmodel module by a perfmodel module, with where it is written.

    ``from perfmodel.audit import run_audit`` gives two edges: to the package (its
    ``__init__`` runs) and to the module that defines ``run_audit`` according to
    the package's ``__init__.pyi`` stub (loaded on first use). The stub's own
    imports are edges too, marked ``lazy_export`` (and ``type_only``: they never run).
    """
    parsed = {m: ast.parse(p.read_text(encoding="utf-8"), filename=str(p)) for m, p in modules.items()}
    lazy: dict[tuple[str, str], str] = {}  # (package, name) -> defining module
    edges = []
    for module, path in modules.items():
        stub = path.with_suffix(".pyi")
        if path.name != "__init__.py" or not stub.is_file():
            continue
        for node, pairs in _imports(ast.parse(stub.read_text(encoding="utf-8"), filename=str(stub)), module):
            for base, name in pairs:
                lazy[(module, name)] = base
                imported = _resolve(f"{base}.{name}", modules)
                if imported is not None and imported != module:
                    file = stub.relative_to(package_dir.parent).as_posix()
                    edges.append(Edge(module, imported, file, node.lineno, type_only=True, lazy_export=True))
    for module, tree in parsed.items():
        path = modules[module]
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        type_only_lines = _type_checking_lines(tree)
        seen: set[tuple[str, int]] = set()
        for node, pairs in _imports(tree, package):
            targets = []
            for base, name in pairs:
                targets.append(f"{base}.{name}" if name else base)
                if (base, name) in lazy:
                    targets.append(lazy[(base, name)])
            for target in targets:
                if not (target == "perfmodel" or target.startswith("perfmodel.")):
                    continue
                imported = _resolve(target, modules)
                if imported is None or imported == module or (imported, node.lineno) in seen:
                    continue
                seen.add((imported, node.lineno))
                type_only = node.lineno in type_only_lines
                edges.append(
                    Edge(
                        importer=module,
                        imported=imported,
                        file=path.relative_to(package_dir.parent).as_posix(),
                        line=node.lineno,
                        type_only=type_only,
                        lazy_export=False,
                    )
                )
    return edges


def upward_edges(edges: list[Edge]) -> list[Edge]:
    return [e for e in edges if not e.lazy_export and layer_of(e.imported) > layer_of(e.importer)]


def import_cycles(edges: list[Edge], ignore: set[tuple[str, str]]) -> list[list[str]]:
    """Strongly connected groups (of two or more modules) of the runtime import graph."""
    graph: dict[str, set[str]] = {}
    for e in edges:
        if not e.type_only and (e.importer, e.imported) not in ignore:
            graph.setdefault(e.importer, set()).add(e.imported)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan; the graph has ~70 nodes, recursion is fine
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                group.append(top)
                if top == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


EDGES = import_edges()


def test_every_module_is_in_exactly_one_layer() -> None:
    unmapped = [m for m in MODULES if layer_key(m) is None]
    assert not unmapped, f"modules in no layer (add them to LAYERS in {Path(__file__).name}): {unmapped}"


def test_every_layer_key_names_existing_modules() -> None:
    used = {layer_key(m) for m in MODULES}
    stale = sorted(set(LAYERS) - used)
    assert not stale, f"LAYERS keys that match no module (remove or rename them): {stale}"


def test_reader_sees_function_level_relative_and_type_checking_imports() -> None:
    found = {(e.importer, e.imported, e.type_only) for e in EDGES}
    # function-level: the calibration step inside Evaluation
    assert ("perfmodel.evaluation", "perfmodel.calibrate.step", False) in found
    # TYPE_CHECKING-only
    assert ("perfmodel.calibrate.truth", "perfmodel.evaluation", True) in found
    # `from perfmodel import groups` resolves to the module
    assert ("perfmodel.audit.robustness", "perfmodel.groups", False) in found
    # (a lazy export resolving to its module: test_names_declared_in_a_package_stub_resolve_to_their_module)
    # the package stub's declarations are edges that never run and are exempt from the layer rule
    stub_edges = [e for e in EDGES if e.file == "perfmodel/__init__.pyi"]
    assert ("perfmodel", "perfmodel.evaluation") in {(e.importer, e.imported) for e in stub_edges}
    assert all(e.lazy_export and e.type_only for e in stub_edges)
    assert not [e for e in upward_edges(EDGES) if e.lazy_export]


def test_relative_imports_are_resolved(tmp_path: Path) -> None:
    pkg = tmp_path / "perfmodel"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("", encoding="utf-8")
    (pkg / "errors.py").write_text("", encoding="utf-8")
    (pkg / "sub" / "__init__.py").write_text("from . import b\n", encoding="utf-8")
    (pkg / "sub" / "b.py").write_text("def f():\n    from ..errors import X\n    from .c import y\n", encoding="utf-8")
    (pkg / "sub" / "c.py").write_text("", encoding="utf-8")
    edges = import_edges(module_files(pkg), pkg)
    found = {(e.importer, e.imported) for e in edges}
    assert found == {
        ("perfmodel.sub", "perfmodel.sub.b"),
        ("perfmodel.sub.b", "perfmodel.errors"),
        ("perfmodel.sub.b", "perfmodel.sub.c"),
    }


def test_names_declared_in_a_package_stub_resolve_to_their_module(tmp_path: Path) -> None:
    pkg = tmp_path / "perfmodel"
    (pkg / "audit").mkdir(parents=True)
    (pkg / "__init__.py").write_text("", encoding="utf-8")
    (pkg / "audit" / "__init__.py").write_text("", encoding="utf-8")
    (pkg / "audit" / "__init__.pyi").write_text("from .run import run_audit as run_audit\n", encoding="utf-8")
    (pkg / "audit" / "run.py").write_text("", encoding="utf-8")
    (pkg / "report.py").write_text("from perfmodel.audit import run_audit\n", encoding="utf-8")
    found = {(e.importer, e.imported, e.lazy_export) for e in import_edges(module_files(pkg), pkg)}
    assert found == {
        ("perfmodel.audit", "perfmodel.audit.run", True),
        ("perfmodel.report", "perfmodel.audit", False),
        ("perfmodel.report", "perfmodel.audit.run", False),
    }


def test_no_new_upward_import() -> None:
    new = [e for e in upward_edges(EDGES) if (e.importer, e.imported) not in KNOWN_UPWARD_EDGES]
    assert not new, (
        "upward imports (a module may import only its own layer or layers below; move the "
        "imported helper down, or the importer up):\n" + "\n".join(e.describe() for e in new)
    )


def test_known_upward_edges_still_exist() -> None:
    present = {(e.importer, e.imported) for e in upward_edges(EDGES)}
    gone = sorted(set(KNOWN_UPWARD_EDGES) - present)
    assert not gone, f"these known upward edges are gone; delete them from KNOWN_UPWARD_EDGES: {gone}"


def test_no_upward_edge_is_tolerated() -> None:
    """The list of tolerated upward edges is empty and stays so: fix an upward import, never list it."""
    assert KNOWN_UPWARD_EDGES == {}, "KNOWN_UPWARD_EDGES only shrinks; it reached empty in issue 12"


def test_an_upward_edge_is_found_and_described() -> None:
    """The check itself, on a made-up edge from the common layer to the report layer."""
    edge = Edge("perfmodel.groups", "perfmodel.report.render", "perfmodel/groups.py", 3, False, False)
    down = Edge("perfmodel.report.render", "perfmodel.groups", "perfmodel/report/render.py", 3, False, False)
    declared = Edge("perfmodel.audit", "perfmodel.report.audit", "perfmodel/audit/__init__.py", 9, True, True)
    assert upward_edges([edge, down, declared]) == [edge]
    assert edge.describe() == (
        "perfmodel/groups.py:3: perfmodel.groups (layer 1 common) imports perfmodel.report.render (layer 7 report)"
    )


def test_no_import_cycle() -> None:
    cycles = import_cycles(EDGES, ignore=set(KNOWN_UPWARD_EDGES))
    detail = [
        "\n".join(e.describe() for e in EDGES if e.importer in group and e.imported in group and not e.type_only)
        for group in cycles
    ]
    assert not cycles, "import cycles:\n" + "\n\n".join(detail)


def test_cycle_finder_finds_a_cycle() -> None:
    a_b = Edge("m.a", "m.b", "a.py", 1, False, False)
    b_a = Edge("m.b", "m.a", "b.py", 1, False, False)
    assert import_cycles([a_b, b_a], ignore=set()) == [["m.a", "m.b"]]
    assert import_cycles([a_b, b_a], ignore={("m.b", "m.a")}) == []


# --------------------------------------------------------------------------- type checking
TYPE_CHECKED_LAYERS = range(1, 6)
"""The core layers (common … evaluation) that ``[tool.mypy] files`` in pyproject.toml
lists, so that ``make test`` type-checks them."""


def checked_file(module: str, modules: dict[str, Path] = MODULES, package: Path = PACKAGE) -> str:
    """The file mypy should be given for ``module``: a package with a stub is read through its ``.pyi``."""
    path = modules[module]
    stub = path.with_suffix(".pyi")
    return (stub if stub.exists() else path).relative_to(package.parent).as_posix()


def mypy_files(pyproject: Path = PACKAGE.parent / "pyproject.toml") -> list[str]:
    return tomllib.loads(pyproject.read_text(encoding="utf-8"))["tool"]["mypy"]["files"]


def test_checked_file_prefers_a_package_stub(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    for name in ("__init__.py", "a.py", "sub/__init__.py", "sub/__init__.pyi"):
        (package / name).write_text("", encoding="utf-8")
    modules = module_files(package)
    assert {m: checked_file(m, modules, package) for m in modules} == {
        "pkg": "pkg/__init__.py",
        "pkg.a": "pkg/a.py",
        "pkg.sub": "pkg/sub/__init__.pyi",
    }


def test_mypy_checks_every_module_of_the_core_layers() -> None:
    listed = mypy_files()
    core = {checked_file(m) for m in MODULES if layer_of(m) in TYPE_CHECKED_LAYERS}
    missing = sorted(core - set(listed))
    assert not missing, f"modules of layers 1-5 that [tool.mypy] files in pyproject.toml leaves out: {missing}"
    absent = [f for f in listed if not (PACKAGE.parent / f).is_file()]
    assert not absent, f"[tool.mypy] files names files that do not exist: {absent}"
    assert len(set(listed)) == len(listed), "[tool.mypy] files lists a file twice"
