"""The layers hold: checks are pure (no I/O, no driver, transport, probe, device, emulation or lab
import), and no harness modules import each other in a cycle. Read from the source with `ast`,
so nothing is imported and a violation names the module and the import.

Unit tests (tests/conftest.py marks every test here `unit`).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

HARNESS = Path(__file__).resolve().parent.parent / "harness"
CHECKS = HARNESS / "checks"

# What a check may not import: anything that reaches a device, a bench or the lab. `harness.cell`
# holds test-cell backends (Osmocom, Amarisoft, a callbox); its `model` module is the exception
# below, because it is only the data a cell is told and reports (CellEvent, SmsDelivery), plain
# dataclasses without I/O, which the GSM check judges.
FORBIDDEN_HARNESS = (
    "harness.drivers",
    "harness.transports",
    "harness.probes",
    "harness.lab",
    "harness.device",
    "harness.emulation",
    "harness.capabilities",
    "harness.cell",
)
FORBIDDEN_STDLIB = (
    "subprocess",
    "socket",
    "select",
    "ssl",
    "serial",
    "pexpect",
    "threading",
    "multiprocessing",
    "asyncio",
    "urllib",
    "http",
    "usb",
)
# urllib.parse only splits strings (update_policy reads a declared URL's host); no I/O.
ALLOWED = ("harness.cell.model", "urllib.parse")
# Calls that read or write files or wait: a check gets its evidence handed in.
FORBIDDEN_CALLS = ("open", "read_text", "read_bytes", "write_text", "write_bytes", "sleep", "iterdir")

# Import cycles known today that are too large to untangle here: none. An entry is a sorted tuple
# of module names with a comment saying why it stays.
KNOWN_CYCLES: frozenset[tuple[str, ...]] = frozenset()


def module_name(path: Path, root: Path = HARNESS) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def imported_names(tree: ast.AST, importer: str, is_package: bool) -> Iterator[tuple[int, str]]:
    """(line, dotted name) of every import anywhere in the module, relative ones made absolute;
    `from a import b` gives `a.b` (b may be a module)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, importer, is_package)
            yield node.lineno, base
            for alias in node.names:
                yield node.lineno, f"{base}.{alias.name}"


def _absolute(node: ast.ImportFrom, importer: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    package = importer if is_package else importer.rpartition(".")[0]
    for _ in range(node.level - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{node.module}" if node.module else package


def impurities(source: str, module: str, is_package: bool = False) -> list[str]:
    """What makes a check impure: each forbidden import and I/O call, naming module and line."""
    tree = ast.parse(source)
    problems = []
    named: set[tuple[int, str]] = set()  # one line per import statement and forbidden layer
    for line, name in imported_names(tree, module, is_package):
        if any(_within(name, allowed) for allowed in ALLOWED):
            continue
        for forbidden in FORBIDDEN_HARNESS + FORBIDDEN_STDLIB:
            if _within(name, forbidden) and (line, forbidden) not in named:
                named.add((line, forbidden))
                problems.append(f"{module}:{line} imports {name} (no {forbidden} in a check)")
                break
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            called = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
            if called in FORBIDDEN_CALLS:
                problems.append(
                    f"{module}:{node.lineno} calls {called}() (a check gets its evidence handed in)"
                )
    return sorted(set(problems))


def test_checks_do_no_io_and_import_no_driver_transport_probe_or_lab_module():
    paths = sorted(CHECKS.rglob("*.py"))
    assert len(paths) > 10, f"expected the checks in {CHECKS}"
    problems = [
        problem
        for path in paths
        for problem in impurities(path.read_text(), module_name(path), path.name == "__init__.py")
    ]
    assert not problems, "checks must be pure (evidence in, Outcome out):\n" + "\n".join(problems)


def test_the_purity_test_names_what_it_finds():
    """The walk above can fail: a check importing a transport, a lab service (relative or not),
    a socket, or opening a file is named with its line; allowed data modules are not."""
    source = (
        "import socket\n"
        "from harness.transports.console import Console\n"
        "from ..lab.services import syslog\n"
        "from harness.cell.model import CellEvent\n"
        "from urllib.parse import urlparse\n"
        "def f(path):\n"
        "    import subprocess\n"
        "    return open(path).read() + path.read_text()\n"
    )
    problems = impurities(source, "harness.checks.example")
    assert problems == [
        "harness.checks.example:1 imports socket (no socket in a check)",
        "harness.checks.example:2 imports harness.transports.console (no harness.transports in a check)",
        "harness.checks.example:3 imports harness.lab.services (no harness.lab in a check)",
        "harness.checks.example:7 imports subprocess (no subprocess in a check)",
        "harness.checks.example:8 calls open() (a check gets its evidence handed in)",
        "harness.checks.example:8 calls read_text() (a check gets its evidence handed in)",
    ]


# --- import cycles -------------------------------------------------------------------------------


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _module_level_imports(body: list[ast.stmt]) -> Iterator[ast.Import | ast.ImportFrom]:
    """Imports that run when the module is imported: top level, in top-level if/try blocks, not
    under `if TYPE_CHECKING:`, not inside functions or classes."""
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If):
            if not _is_type_checking(node):
                yield from _module_level_imports(node.body)
            yield from _module_level_imports(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, *(h.body for h in node.handlers), node.orelse, node.finalbody):
                yield from _module_level_imports(block)


def import_graph(root: Path = HARNESS) -> dict[str, set[str]]:
    """Module -> the harness modules it imports at module level, with the packages around them
    (a name that is not a module of its own is its package's __init__)."""
    paths = {module_name(path, root): path for path in root.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for module, path in paths.items():
        is_package = path.name == "__init__.py"
        targets = set()
        for node in _module_level_imports(ast.parse(path.read_text()).body):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                base = _absolute(node, module, is_package)
                names = [f"{base}.{alias.name}" for alias in node.names]
            for name in names:
                while name and name not in paths:
                    name = name.rpartition(".")[0]
                # importing harness.a.b runs harness/a/__init__.py first (unless it is the importer's own)
                parts = name.split(".")
                for end in range(2, len(parts) + 1):
                    target = ".".join(parts[:end])
                    if target in paths and not _within(module, target):
                        targets.add(target)
        graph[module] = targets
    return graph


def cycles(graph: Mapping[str, set[str]]) -> list[tuple[str, ...]]:
    """The strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[tuple[str, ...]] = []

    def visit(start: str) -> None:  # iterative, so a deep graph cannot hit the recursion limit
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(graph.get(successor, ())))))
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        found.append(tuple(sorted(group)))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return sorted(found)


def test_no_import_cycles_among_harness_modules():
    graph = import_graph()
    assert "harness.checks.bootloader" in graph and graph["harness.probes.bootloader"]
    new = [group for group in cycles(graph) if group not in KNOWN_CYCLES]
    assert not new, "harness modules import each other in a cycle:\n" + "\n".join(
        " -> ".join(group) for group in new
    )


def test_the_cycle_finder_finds_cycles():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e2"}, "e2": {"e"}, "f": {"a"}}
    assert cycles(graph) == [("a", "b", "c"), ("e", "e2")]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_graph_skips_type_checking_and_function_imports(tmp_path):
    package = tmp_path / "harness"
    (package / "x").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "x" / "__init__.py").write_text("")
    (package / "x" / "a.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "from harness.x import b\n"
        "if TYPE_CHECKING:\n    from harness.x.c import C\n"
        "def f():\n    from harness.x import c\n"
    )
    (package / "x" / "b.py").write_text("from . import a\n")
    (package / "y.py").write_text("from harness.x.b import a\n")
    (package / "x" / "c.py").write_text("from harness.x.a import f\n")
    graph = import_graph(package)
    assert graph["harness.x.a"] == {"harness.x.b"}
    assert graph["harness.x.b"] == {"harness.x.a"}  # its own package harness.x is not an edge
    assert graph["harness.y"] == {"harness.x", "harness.x.b"}  # harness/x/__init__.py runs first
    assert cycles(graph) == [("harness.x.a", "harness.x.b")]


# --- nothing below the checks imports a check -----------------------------------------------------

# Who may import harness.checks: the checks themselves and the pytest plugin that runs suites
# (testsuites/ lie outside harness/). Anything else importing a check is a driver, probe or
# service reaching up for a data type, which belongs in harness/observations or harness/analysis.
MAY_IMPORT_CHECKS = ("harness.checks", "harness.plugin")
# Imports of a check from below that are known today, as (importer, imported) with why: none.
KNOWN_UPWARD_IMPORTS: frozenset[tuple[str, str]] = frozenset()


def upward_imports(root: Path = HARNESS) -> list[tuple[str, int, str]]:
    """(module, line, name) of every import of harness.checks.* by a module outside the checks
    and the plugin, anywhere in the module (also inside functions and TYPE_CHECKING blocks)."""
    found: dict[tuple[str, int], str] = {}  # one name per import statement: the first, its module
    for path in sorted(root.rglob("*.py")):
        module = module_name(path, root)
        if any(_within(module, allowed) for allowed in MAY_IMPORT_CHECKS):
            continue
        for line, name in imported_names(ast.parse(path.read_text()), module, path.name == "__init__.py"):
            if _within(name, "harness.checks"):
                found.setdefault((module, line), name)
    return [(module, line, name) for (module, line), name in found.items()]


def test_no_module_below_the_checks_imports_a_check():
    found = [
        f"{module}:{line} imports {name}"
        for module, line, name in upward_imports()
        if (module, name) not in KNOWN_UPWARD_IMPORTS
    ]
    assert not found, (
        "only harness.checks and harness.plugin (and testsuites/) import checks; move the data type "
        "to harness/observations or harness/analysis:\n" + "\n".join(found)
    )


def test_the_upward_import_finder_finds_them(tmp_path):
    package = tmp_path / "harness"
    for folder in ("checks", "probes", "plugin"):
        (package / folder).mkdir(parents=True)
        (package / folder / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "checks" / "x.py").write_text("from harness.checks import y\n")
    (package / "plugin" / "run.py").write_text("from harness.checks.x import judge\n")
    (package / "probes" / "p.py").write_text("import os\ndef f():\n    from ..checks.x import Thing\n")
    (package / "probes" / "q.py").write_text("from harness import checks\n")
    assert upward_imports(package) == [
        ("harness.probes.p", 3, "harness.checks.x"),
        ("harness.probes.q", 1, "harness.checks"),
    ]


SUITES = HARNESS.parent / "testsuites"
# A suite binds to capabilities; what differs between benches (QEMU, the emulated board, the
# reference image, one cell product) lives in drivers and backends it never imports.
SUITE_FORBIDDEN = ("harness.emulation", "harness.drivers.qemu", "harness.drivers.emulated",
                   "harness.cell.osmocom", "harness.lab.network")  # fmt: skip


def test_no_suite_reaches_into_the_emulation():
    found = []
    for path in sorted(SUITES.glob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for line, name in imported_names(tree, f"testsuites.{path.stem}", False):
            if any(_within(name, prefix) for prefix in SUITE_FORBIDDEN):
                found.append(f"testsuites/{path.name}:{line} imports {name}")
    assert not found, "\n".join(found)
