"""The import rules of the house, checked from the source with `ast` (docs/architecture.md).

- The pure cores (`chatserver/core`, `bot`, `knowledge_base`) import no I/O (no sockets,
  database, event loop, clock or global randomness) and nothing above them.
- Each package of `chatserver` imports only the parts below it (`MAY_IMPORT`); `web` is the
  top, and only the command line imports it.
- No import circles among chatserver's modules, nor among its packages (imports under
  `if TYPE_CHECKING:` and inside functions count too: a circle there is still a knot).
- `web` uses the store's public modules only (`store.store`, `store.kb_store`), never its
  schema or writer thread.
- Reports read through their own read path: `reports_query` says what a report asks,
  `reports_facts` opens the one read-only connection; no report module touches the `Store`.
- No Python file of the product or the benchmark over 500 lines (tests aside).
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SERVER = ROOT / "chatserver"
IO = frozenset({"asyncio", "starlette", "aiosqlite", "sqlite3", "redis", "socket", "websockets",
                "uvicorn", "httpx", "time", "random", "threading", "subprocess"})
MAX_LINES = 500

# chatserver's packages and top-level modules, and what each may import of chatserver.
MAY_IMPORT: dict[str, frozenset[str]] = {
    "core": frozenset(),
    "store": frozenset({"core"}),
    "cluster": frozenset({"core", "tokens"}),
    "attachments": frozenset({"core", "tokens"}),
    "service": frozenset({"core", "store", "cluster", "config", "telemetry", "tokens",
                          "attachments"}),
    "privacy": frozenset({"core", "store", "config"}),
    "reports": frozenset({"core", "config"}),
    "web": frozenset({"core", "store", "cluster", "service", "privacy", "reports", "config",
                      "passwords", "tokens", "secrets_file", "telemetry", "accounts",
                      "attachments"}),
    # top-level modules: configuration, secrets and the command line
    "config_values": frozenset(),
    "config": frozenset({"core", "config_values", "config_email"}),
    "config_email": frozenset({"core", "config_values"}),
    "config_reference": frozenset({"config"}),
    "secrets_file": frozenset({"config"}),
    "passwords": frozenset(),
    "tokens": frozenset(),
    "telemetry": frozenset({"core"}),
    "accounts": frozenset({"store", "privacy", "config", "passwords"}),
    "cli": frozenset({"core", "store", "service", "privacy", "web", "config", "accounts",
                      "passwords", "telemetry"}),
    "__main__": frozenset({"cli"}),
    "__init__": frozenset(),
}
# The simulations draw from a seeded `random.Random` they are given or make from --seed.
SEEDED = {"chatserver/core/simulation.py", "chatserver/core/simulation_eta.py"}
WEB_MAY_USE_OF_STORE = frozenset({"chatserver.store.store", "chatserver.store.kb_store",
                                  "chatserver.store.search"})


def sources() -> list[Path]:
    return sorted(p for p in SERVER.rglob("*.py") if "__pycache__" not in p.parts)


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def part(module: str) -> str:
    """The package (or top-level module) a chatserver module belongs to: `core`, `cli`…"""
    return module.split(".")[1] if module != "chatserver" else "__init__"


@cache
def imported(path: Path) -> frozenset[str]:
    """Every absolute module name `path` imports, relative imports resolved, at any depth."""
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(
        ".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            found.add(module)
            # `from chatserver.core import routing` imports the module chatserver.core.routing
            found |= {f"{module}.{alias.name}" for alias in node.names}
    return frozenset(found)


@cache
def graph() -> dict[str, frozenset[str]]:
    """chatserver module -> the chatserver modules it imports (packages' __init__ included)."""
    modules = {module_name(p): p for p in sources()}
    return {name: frozenset(m for m in imported(path) if m in modules and m != name)
            for name, path in modules.items()}


def cycles(edges: dict[str, frozenset[str]]) -> list[list[str]]:
    """Strongly connected components with more than one member (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def top(modules: frozenset[str]) -> set[str]:
    return {m.split(".")[0] for m in modules}


PURE = {
    **{str(p.relative_to(ROOT)): IO - {"random"} if str(p.relative_to(ROOT)) in SEEDED else IO
       for p in sorted((SERVER / "core").glob("*.py"))},
    **{str(p.relative_to(ROOT)): IO | {"chatserver", "knowledge_base"}
       for p in sorted((ROOT / "bot").glob("*.py")) if p.name != "evaluate.py"},
    # The evaluation CLI reads files, times queries and samples shots: only the boundary holds.
    "bot/evaluate.py": frozenset({"chatserver", "knowledge_base", "asyncio", "starlette",
                                  "aiosqlite", "redis"}),
    **{str(p.relative_to(ROOT)): IO | {"chatserver"}
       for p in sorted((ROOT / "knowledge_base").glob("*.py"))},
}


@pytest.mark.parametrize("path", sorted(PURE))
def test_a_pure_core_imports_nothing_it_must_not(path: str) -> None:
    bad = top(imported(ROOT / path)) & PURE[path]
    assert not bad, f"{path} imports {sorted(bad)}"


def test_the_core_imports_only_the_core() -> None:
    bad = {m: sorted(t for t in targets if not t.startswith("chatserver.core"))
           for m, targets in graph().items() if part(m) == "core"}
    assert not {m: t for m, t in bad.items() if t}


def test_every_part_imports_only_what_it_may() -> None:
    assert {part(m) for m in graph()} <= set(MAY_IMPORT), "a new part: state what it may import"
    bad = {m: sorted(t for t in targets
                     if part(t) not in {part(m), "__init__", *MAY_IMPORT[part(m)]})
           for m, targets in graph().items()}
    assert not {m: t for m, t in bad.items() if t}


def test_no_import_circles_among_modules() -> None:
    assert cycles(graph()) == []


def test_no_import_circles_among_packages() -> None:
    parts: dict[str, set[str]] = {}
    for m, targets in graph().items():
        parts.setdefault(part(m), set()).update(part(t) for t in targets
                                                if part(t) not in {part(m), "__init__"})
    assert cycles({p: frozenset(t) for p, t in parts.items()}) == []


def test_web_uses_the_store_through_its_public_modules_only() -> None:
    bad = {m: sorted(t for t in targets if part(t) == "store" and t != "chatserver.store"
                     and t not in WEB_MAY_USE_OF_STORE)
           for m, targets in graph().items() if part(m) == "web"}
    assert not {m: t for m, t in bad.items() if t}


def opens_a_database(path: Path) -> bool:
    return any(isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
               and node.func.attr == "connect" and isinstance(node.func.value, ast.Name)
               and node.func.value.id in {"sqlite3", "aiosqlite", "psycopg"}
               for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))))


def test_reports_read_through_their_read_path() -> None:
    reporting = [p for p in sources() if part(module_name(p)) == "reports"
                 or p.name.startswith("reports")]
    assert reporting
    opening = [str(p.relative_to(ROOT)) for p in sources() if opens_a_database(p)]
    assert opening and all(p.startswith("chatserver/store/") for p in opening), (
        "only the store's backends open a database; reports get a read-only connection "
        f"from the web layer: {opening}")
    # The page's module opens the read-only connection (Store.backend.read_only()) and hands
    # it to the reports package, which never sees the store.
    opener = {"chatserver.store.store", "chatserver.store.store.Store",
              "chatserver.store.store.Conn"}
    for p in reporting:
        allowed = opener if module_name(p) == "chatserver.web.reports" else set()
        forbidden = {t for t in imported(p) if t.startswith("chatserver.store")
                     and t not in allowed} | (top(imported(p)) & {"aiosqlite", "psycopg"})
        assert not forbidden, f"{p.relative_to(ROOT)} reads past reports_facts: {forbidden}"
    page = graph()["chatserver.web.reports"]
    assert {"chatserver.reports.reports_query", "chatserver.reports.reports_facts"} <= page


@pytest.mark.parametrize("folder", ["chatserver", "bot", "knowledge_base", "bench"])
def test_no_python_file_over_500_lines(folder: str) -> None:
    long = {str(p.relative_to(ROOT)): n for p in sorted((ROOT / folder).rglob("*.py"))
            if "__pycache__" not in p.parts
            and (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, f"over {MAX_LINES} lines: {long}"
