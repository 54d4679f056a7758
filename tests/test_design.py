"""The package's design, read from its source: dependencies point down, never in a circle;
the core stays pure; no module, class or function outgrows what a newcomer reads at once."""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "tap_hindsight"
#: The modules that hold streams, and the tap that builds them: nothing else imports them.
TOP = {"tap", "streams", "deal_streams", "__main__"}
#: From the bottom up: each imports only modules listed before it (and outside modules).
LAYERS = [
    {
        "window",
        "polling",
        "redact",
        "schemas",
        "transcript",
        "state",
        "absence",
        "api",
        "workers",
        "config_check",
        "discovery_policy",
    },
    {"records", "encoding", "limiter"},
    {"scan", "recheck", "progress", "answers", "declare"},
    {"lifecycle"},
    {"store"},
    {"deal_store"},
    {"settings", "deals", "counter"},
    {"proofs", "schedule"},
    {"planner"},
    {"environment", "client", "discovery", "judge"},
    {"summary"},
    {"context", "interview_run"},
    {"seams"},
    {"checkpoints"},
]


def module_name(path: Path) -> str:
    relative = path.relative_to(PACKAGE).with_suffix("")
    parts = [part for part in relative.parts if part != "__init__"]
    return ".".join(parts) or "__init__"


def imports(path: Path) -> set[str]:
    """The package's modules that `path` imports, at run time or for type checking alike."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] if node.level == 0 else []
            if node.module == "tap_hindsight":
                names = [f"tap_hindsight.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        found.update(
            name.removeprefix("tap_hindsight.")
            for name in names
            if name.startswith("tap_hindsight.")
        )
    return found


@functools.cache
def graph() -> dict[str, set[str]]:
    """Each module of the package and the package's modules it imports (read once)."""
    modules = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    return {
        name: {target for target in imports(path) if target in modules and target != name}
        for name, path in modules.items()
    }


def find_circle(edges: dict[str, set[str]]) -> list[str]:
    """One import circle (its modules in order, the first repeated at the end), or []."""
    done: set[str] = set()
    path: list[str] = []

    def visit(node: str) -> list[str]:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in done:
            return []
        path.append(node)
        for target in sorted(edges.get(node, ())):
            circle = visit(target)
            if circle:
                return circle
        path.pop()
        done.add(node)
        return []

    for node in sorted(edges):
        circle = visit(node)
        if circle:
            return circle
    return []


def test_no_import_circle_anywhere_in_the_package():
    edges = graph()
    assert len(edges) > 20  # every module was read
    assert find_circle(edges) == []


def test_the_circle_finder_finds_a_circle_through_type_checking_imports(tmp_path):
    source = (
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from tap_hindsight.b import B\n"
    )
    (tmp_path / "a.py").write_text(source)
    assert imports(tmp_path / "a.py") == {"b"}
    assert find_circle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_circle({"a": {"b"}, "b": set()}) == []


def test_every_module_is_placed_in_a_layer_or_at_the_top():
    placed = TOP | set().union(*LAYERS)
    assert set(graph()) - {"__init__"} == placed


def test_the_tap_never_imports_the_simulator():
    # The simulator (hindsight_simulator, beside the package) uses the tap's rules to
    # answer as the API would; the tap never needs it, and its wheel does not carry it.
    for path in PACKAGE.rglob("*.py"):
        assert "hindsight_simulator" not in path.read_text(), path


@pytest.mark.parametrize("level", range(len(LAYERS)))
def test_dependencies_point_down(level):
    below = set().union(*LAYERS[:level])
    edges = graph()
    for module in LAYERS[level]:
        upward = edges[module] - below - {"__init__"}
        assert not upward, f"{module} imports {sorted(upward)}, which are not below it"


#: The pure core: the rules, with no SDK, no HTTP, no logging and no clock (the time is
#: passed in). Each is tested in the test process, in milliseconds.
CORE = {
    "absence",
    "answers",
    "store",
    "deal_store",
    "counter",
    "deals",
    "discovery",
    "discovery_policy",
    "encoding",
    "judge",
    "lifecycle",
    "planner",
    "polling",
    "proofs",
    "schedule",
    "recheck",
    "records",
    "scan",
    "state",
    "summary",
    "transcript",
    "window",
}
#: What the core never imports: the SDK, HTTP, threads, logging, the clock.
IMPURE = {"singer_sdk", "requests", "backoff", "threading", "logging", "time", "urllib"}


def outside_imports(path: Path) -> set[str]:
    """The top-level names of the modules outside the package that `path` imports."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
    return found


@pytest.mark.parametrize("module", sorted(CORE))
def test_the_core_has_no_sdk_no_http_no_logging_and_no_clock(module):
    assert not outside_imports(PACKAGE / f"{module}.py") & IMPURE
    assert not graph()[module] - CORE, "the core imports only the core"


def test_the_impurity_finder_sees_a_clock(tmp_path):
    (tmp_path / "a.py").write_text("import time\nfrom singer_sdk.typing import X\n")
    assert outside_imports(tmp_path / "a.py") == {"time", "singer_sdk"}


#: The thin shell: the only modules that import the SDK.
SHELL = {"tap", "streams", "deal_streams", "checkpoints", "seams"}


def test_only_the_shell_imports_the_sdk_and_only_the_client_speaks_http():
    sdk = {
        module_name(path) for path in PACKAGE.rglob("*.py") if "singer_sdk" in outside_imports(path)
    }
    assert sdk == SHELL
    http = {
        module_name(path)
        for path in PACKAGE.rglob("*.py")
        if outside_imports(path) & {"requests", "urllib3", "http"}
    }
    assert http == {"client"}


#: Sizes a newcomer can hold in mind (issue 35): lines of a module, a class, a function,
#: and of the shell (the modules that import the SDK) in all.
MOST_LINES = {"module": 400, "class": 250, "function": 60, "shell": 1_500}


def oversized(root: Path) -> list[str]:
    """Every module, class and function of `root` longer than MOST_LINES allows."""
    found = []
    for path in sorted(root.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        length = len(source.splitlines())
        if length > MOST_LINES["module"]:
            found.append(f"module {path.name}: {length} lines")
        for node in ast.walk(ast.parse(source)):
            if not isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            kind = "class" if isinstance(node, ast.ClassDef) else "function"
            lines = (node.end_lineno or node.lineno) - node.lineno + 1
            if lines > MOST_LINES[kind]:
                found.append(f"{kind} {path.name}:{node.name}: {lines} lines")
    return found


def test_no_module_class_or_function_outgrows_what_a_newcomer_reads_at_once():
    assert oversized(PACKAGE) == []
    shell = sum(len((PACKAGE / f"{name}.py").read_text().splitlines()) for name in SHELL)
    assert shell <= MOST_LINES["shell"]


def test_the_size_finder_sees_a_long_class_and_a_long_function(tmp_path):
    body = "\n".join(f"    x{i} = {i}" for i in range(MOST_LINES["class"]))
    calls = "\n".join(f"    print({i})" for i in range(MOST_LINES["function"]))
    (tmp_path / "big.py").write_text(f"class Big:\n{body}\n\n\ndef long():\n{calls}\n")
    assert oversized(tmp_path) == ["class big.py:Big: 251 lines", "function big.py:long: 61 lines"]
