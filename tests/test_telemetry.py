"""chatserver/telemetry.py: the metrics directory of `serve --workers N` (real directories)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from chatserver.telemetry import metrics_dir_for_start


def dead_pid() -> int:
    """The pid of a process that has just exited."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_killed_start_leaves_no_metrics_directory_behind(tmp_path: Path) -> None:
    """A server SIGKILLed (the OOM killer, a stop that timed out) never removes its directory:
    the next start does, unless its server or one of its workers still runs (uvicorn's
    workers outlive a killed server and keep writing there)."""
    me, gone = os.getpid(), dead_pid()
    killed = tmp_path / f"chatserver-metrics-{gone}-a1"
    orphans = tmp_path / f"chatserver-metrics-{gone}-b2"
    running = tmp_path / f"chatserver-metrics-{me}-c3"
    other = tmp_path / "chatserver-metrics-d4"  # not one of ours by its name: left alone
    for folder, worker in ((killed, gone), (orphans, me), (running, gone), (other, gone)):
        folder.mkdir()
        (folder / f"counter_{worker}.db").write_bytes(b"\0" * 16)
    made = Path(metrics_dir_for_start(str(tmp_path)))
    assert made.name.startswith(f"chatserver-metrics-{me}-") and not list(made.iterdir())
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        p.name for p in (orphans, running, other, made))
