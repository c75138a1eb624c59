"""The pure cores import no I/O (no sockets, database, event loop, clock or global randomness),
and the packages keep their boundaries: `bot` stands alone, `knowledge_base` needs no server.
The one place these rules are checked."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
IO = frozenset({"asyncio", "starlette", "aiosqlite", "sqlite3", "redis", "socket", "websockets",
                "uvicorn", "httpx", "time", "random", "threading", "subprocess"})
SERVER = frozenset({"chatserver"})
CORES = {
    **{f"chatserver/{name}.py": IO for name in (
        "conversation", "routing", "routing_board", "routing_board_state", "routing_board_views",
        "erlang", "metrics", "metrics_report")},
    **{str(p.relative_to(ROOT)): IO | SERVER | {"knowledge_base"}
       for p in sorted((ROOT / "bot").glob("*.py")) if p.name != "evaluate.py"},
    # The evaluation CLI reads files, times queries and samples shots: only the boundary holds.
    "bot/evaluate.py": SERVER | {"knowledge_base", "asyncio", "starlette", "aiosqlite", "redis"},
    **{str(p.relative_to(ROOT)): IO | SERVER
       for p in sorted((ROOT / "knowledge_base").glob("*.py"))},
}


def imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("path", sorted(CORES))
def test_a_pure_core_imports_nothing_it_must_not(path: str) -> None:
    bad = imports(ROOT / path) & CORES[path]
    assert not bad, f"{path} imports {sorted(bad)}"
