"""`make system-deps` (run by `make test`): says what it installs and why before apt-get runs.

The real apt-get and id are replaced by stubs on a PATH that holds nothing else, so chromium and
redis-server look missing and nothing is installed.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAKE = shutil.which("make")
pytestmark = pytest.mark.skipif(MAKE is None, reason="make is not installed")


def system_deps(tmp_path: Path, uid: int, *args: str) -> tuple[subprocess.CompletedProcess[str],
                                                                str]:
    """Run `make system-deps` as if `uid`; returns the result and what apt-get was asked."""
    stubs = tmp_path / "bin"
    stubs.mkdir()
    calls = tmp_path / "apt-calls"
    (stubs / "apt-get").write_text(f'#!/bin/sh\necho "$*" >> {calls}\n')
    (stubs / "id").write_text(f"#!/bin/sh\necho {uid}\n")
    for stub in stubs.iterdir():
        stub.chmod(0o755)
    assert MAKE is not None
    done = subprocess.run([MAKE, "--no-print-directory", "-s", "system-deps", *args], cwd=ROOT,
                          env={"PATH": str(stubs)}, capture_output=True, text=True, timeout=30)
    return done, calls.read_text() if calls.exists() else ""


def test_as_root_it_names_each_package_and_why_before_installing(tmp_path: Path) -> None:
    done, apt = system_deps(tmp_path, 0)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "apt-get" in out
    chromium = next(line for line in out.splitlines() if "chromium" in line)
    redis = next(line for line in out.splitlines() if "redis-server" in line)
    assert "browser tests" in chromium and "cluster tests" in redis
    assert "SYSTEM_DEPS=" in out  # how to skip it next time
    npm = next(line for line in out.splitlines() if line.strip().startswith("npm"))
    assert "accessibility tests" in npm
    assert "install -y -qq chromium redis-server npm" in apt


def test_not_root_it_names_what_is_missing_and_installs_nothing(tmp_path: Path) -> None:
    done, apt = system_deps(tmp_path, 1000)
    assert done.returncode == 0, done.stderr
    assert "browser tests" in done.stdout and "cluster tests" in done.stdout
    assert "skipped" in done.stdout and apt == ""


def test_an_empty_list_skips_the_step(tmp_path: Path) -> None:
    done, apt = system_deps(tmp_path, 0, "SYSTEM_DEPS=")
    assert done.returncode == 0 and done.stdout == "" and apt == ""
