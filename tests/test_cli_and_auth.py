"""The `chatserver` command, login sessions and who may open which socket."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from .harness import PASSWORD, Server, add_user

pytestmark = pytest.mark.anyio


def cli(tmp_path: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CHATSERVER_STORAGE_PATH": str(tmp_path / "chat.db")}
    return subprocess.run([sys.executable, "-m", "chatserver", *args], input=stdin, env=env,
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)


def test_first_command_creates_schema_and_admin_and_shows_the_password_once(
        tmp_path: Path) -> None:
    first = cli(tmp_path, "db", "migrate")
    assert first.returncode == 0, first.stderr
    assert "schema version" in first.stdout
    assert "one-time password" in first.stdout
    password = first.stdout.split("one-time password: ")[1].split()[0]
    assert password not in first.stderr  # never in the log stream
    second = cli(tmp_path, "user", "list")
    assert "one-time password" not in second.stdout and password not in second.stdout
    assert "admin" in second.stdout


def test_a_desk_left_without_an_admin_says_how_to_add_one(tmp_path: Path) -> None:
    """The first admin cannot be created when a user named 'admin' exists but is no admin
    (demoted by hand): the operator is told, instead of a desk nobody can administer."""
    cli(tmp_path, "db", "migrate")
    with sqlite3.connect(tmp_path / "chat.db") as db:
        db.execute("UPDATE users SET role = 'agent' WHERE username = 'admin'")
    done = cli(tmp_path, "user", "list")
    assert done.returncode == 0
    assert "no admin" in done.stderr and "--role admin" in done.stderr


def test_user_add_with_skills_and_capacity(tmp_path: Path) -> None:
    done = cli(tmp_path, "user", "add", "maryam", "--role", "agent", "--password-stdin",
               "--display-name", "Maryam", "--skills", "billing=4,lang:fa=5", "--capacity", "2",
               stdin="a good password\n")
    assert done.returncode == 0, done.stderr
    listing = cli(tmp_path, "user", "list").stdout
    line = next(row for row in listing.splitlines() if "maryam" in row)
    assert "agent" in line and '"lang:fa": 5' in line and '"billing": 4' in line
    assert " 2 " in line
    duplicate = cli(tmp_path, "user", "add", "Maryam", "--role", "agent", "--password-stdin",
                    stdin="a good password\n")
    assert duplicate.returncode == 1 and "already exists" in duplicate.stderr


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["--skills", "billing=9"], "a good password\n", "proficiency must be 1-5"),
        (["--skills", "bad skill=2"], "a good password\n", "bad skill name"),
        (["--capacity", "0"], "a good password\n", "--capacity must be 1-50"),
        ([], "short\n", "at least 8 characters"),
    ],
)
def test_user_add_refuses_bad_input(tmp_path: Path, args: list[str], stdin: str,
                                    message: str) -> None:
    done = cli(tmp_path, "user", "add", "x", "--role", "agent", "--password-stdin", *args,
               stdin=stdin)
    assert done.returncode == 2 and message in done.stderr


def test_a_bad_config_stops_with_one_line_naming_the_key(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("[server]\nprot = 1\n")
    done = cli(tmp_path, "user", "list")
    assert done.returncode == 2
    assert done.stderr.strip() == "configuration error: server.prot: unknown key"


def test_health_and_readiness(shared_server: Server) -> None:
    assert httpx.get(shared_server.url + "/healthz").json() == {"status": "ok"}
    assert httpx.get(shared_server.url + "/readyz").status_code == 200


def test_login_sets_a_hardened_cookie_and_wrong_passwords_fail(shared_server: Server) -> None:
    add_user(shared_server.db, "dana")
    wrong = httpx.post(shared_server.url + "/login", data={"username": "dana",
                                                           "password": "nope"})
    assert wrong.status_code == 303 and "failed" in wrong.headers["location"]
    assert "set-cookie" not in wrong.headers
    unknown = httpx.post(shared_server.url + "/login", data={"username": "nobody",
                                                             "password": PASSWORD},
                         headers={"accept": "application/json"})
    assert unknown.status_code == 401
    ok = httpx.post(shared_server.url + "/login", data={"username": "dana",
                                                        "password": PASSWORD})
    assert ok.status_code == 303 and ok.headers["location"] == "/console"
    cookie = ok.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie


def test_cross_site_login_is_refused(shared_server: Server) -> None:
    add_user(shared_server.db, "erin")
    response = httpx.post(shared_server.url + "/login",
                          data={"username": "erin", "password": PASSWORD},
                          headers={"origin": "https://evil.example"})
    assert response.status_code == 403 and "set-cookie" not in response.headers


async def closed_with(server: Server, cookie: str = "") -> tuple[int | None, str | None]:
    """Open the agent socket with this cookie and say how the server closed it."""
    headers = {"Cookie": cookie} if cookie else {}
    async with connect(server.ws + "/ws/agent", additional_headers=headers) as ws:
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 5)
    return ws.close_code, ws.close_reason


async def test_agent_socket_needs_a_valid_session(shared_server: Server) -> None:
    # Accepted, then closed with a code and reason a page can read (the console goes to
    # /login on it); a refused handshake reaches a page as a bare 1006, like a server down.
    assert await closed_with(shared_server) == (1008, "log in first")
    forged = await closed_with(shared_server, "chat_session=forged.value")
    assert forged == (1008, "log in first")


async def test_agent_socket_from_another_site_is_refused(shared_server: Server) -> None:
    add_user(shared_server.db, "fred")
    cookies = shared_server.login("fred")
    cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
    with pytest.raises(InvalidStatus):
        async with connect(shared_server.ws + "/ws/agent", origin="https://evil.example",
                           additional_headers={"Cookie": cookie}):
            pass


async def test_logout_ends_the_session(shared_server: Server) -> None:
    add_user(shared_server.db, "gina")
    cookies = shared_server.login("gina")
    cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
    async with connect(shared_server.ws + "/ws/agent",
                       additional_headers={"Cookie": cookie}) as ws:
        await ws.send(json.dumps({"type": "hello"}))
        assert json.loads(await ws.recv())["type"] == "welcome"
    out = httpx.post(shared_server.url + "/logout", cookies=cookies)
    assert out.status_code == 303
    assert await closed_with(shared_server, cookie) == (1008, "log in first")


def test_kb_eval_reports_accuracy_and_latency_as_json(tmp_path: Path) -> None:
    datasets = Path(__file__).resolve().parents[2] / "shared" / "datasets"
    if not (datasets / "xsid_zh.valid.jsonl").exists():
        pytest.skip("../shared/datasets is not beside the project")
    done = cli(tmp_path, "kb-eval", "--train", str(datasets / "clinc150_en.train.jsonl"),
               "--test", str(datasets / "clinc150_en.valid.jsonl"), "--shots", "10",
               "--oos", str(datasets / "clinc150_en.oos_valid.jsonl"), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["top1"] >= 0.80 and report["auroc"] >= 0.88
    assert report["top3"] >= report["top1"] and 0 < report["p50_ms"] <= report["p99_ms"]


def test_simulate_prints_each_figure_beside_erlang(tmp_path: Path) -> None:
    done = cli(tmp_path, "simulate", "--agents", "4", "--arrival-rate", "0.02",
               "--handle-time", "120", "--threshold", "20", "--duration", "20000",
               "--seed", "3", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    for key in ("p_wait", "service_level", "asa", "abandon_rate", "occupancy"):
        assert key in report and f"erlang_{key}" in report
    assert abs(report["occupancy"] - report["erlang_occupancy"]) < 0.1
