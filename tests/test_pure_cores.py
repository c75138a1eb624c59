"""The pure cores import no I/O: no sockets, no database, no event loop, no clock."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORES = [
    "chatserver/conversation.py", "chatserver/routing.py", "chatserver/routing_board.py",
    "chatserver/erlang.py", "chatserver/metrics.py", "chatserver/metrics_report.py",
    *(str(p.relative_to(ROOT)) for p in sorted((ROOT / "bot").glob("*.py"))
      if p.name != "evaluate.py"),  # the evaluation CLI reads files and times queries
    *(str(p.relative_to(ROOT)) for p in sorted((ROOT / "knowledge_base").glob("*.py"))),
]
FORBIDDEN = {"asyncio", "starlette", "aiosqlite", "sqlite3", "redis", "socket", "websockets",
             "uvicorn", "httpx", "time", "threading", "subprocess"}


@pytest.mark.parametrize("path", CORES)
def test_a_pure_core_imports_no_io(path: str) -> None:
    tree = ast.parse((ROOT / path).read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported.add(node.module.split(".")[0])
    assert not imported & FORBIDDEN, f"{path} imports {imported & FORBIDDEN}"
