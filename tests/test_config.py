"""Configuration: defaults, overrides, errors that name the key, and every key documented."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatserver import config
from chatserver.config import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_the_shipped_config_file_loads_with_the_defaults() -> None:
    loaded = config.load(ROOT / "config.toml", environ={})
    assert loaded == config.Config()


def test_every_key_is_documented_in_config_toml() -> None:
    documented = config.documented_keys((ROOT / "config.toml").read_text())
    assert config.all_keys() <= documented, config.all_keys() - documented
    assert documented <= config.all_keys(), documented - config.all_keys()


def test_secret_is_hidden_from_repr() -> None:
    loaded = config.load(None, environ={"CHATSERVER_SERVER_SECRET_KEY": "s3cr3t-value"})
    assert "s3cr3t-value" not in repr(loaded)
    assert loaded.server.secret_key == "s3cr3t-value"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[server]\nprot = 1\n", "server.prot: unknown key"),
        ("[srever]\nport = 1\n", "srever: unknown key"),
        ("[server]\nport = \"80\"\n", "server.port: must be an integer"),
        ("[server]\nport = 70000\n", "server.port"),
        ("[limits]\nframes_per_second = true\n", "limits.frames_per_second: must be a number"),
        ("[server]\nallowed_origins = \"https://a.example\"\n", "server.allowed_origins: must"),
        ("[server]\nallowed_origins = [\"a.example\"]\n", "server.allowed_origins"),
        ("[server]\nmode = \"prod\"\n", "server.mode"),
        ("[server]\nmode = \"production\"\n", "server.secret_key"),
        ("[limits]\nmax_text_chars = 0\n", "limits.max_text_chars: must be greater than 0"),
        ("[limits]\nmax_frame_bytes = 1000\n", "limits.max_frame_bytes"),
        ("server = 3\n", "server: must be a table"),
        ("[server\n", "not valid TOML"),
    ],
)
def test_a_wrong_file_stops_start_up_naming_the_key(tmp_path: Path, text: str,
                                                      message: str) -> None:
    with pytest.raises(ConfigError) as error:
        config.load(write(tmp_path, text), environ={})
    assert message in str(error.value)


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[server]\nport = 9000\n")
    loaded = config.load(path, environ={
        "CHATSERVER_SERVER_PORT": "9100",
        "CHATSERVER_SERVER_SECURE_COOKIES": "true",
        "CHATSERVER_SERVER_ALLOWED_ORIGINS": "https://a.example, https://b.example",
        "CHATSERVER_LIMITS_FRAMES_PER_SECOND": "2.5",
    })
    assert loaded.server.port == 9100
    assert loaded.server.secure_cookies is True
    assert loaded.server.allowed_origins == ("https://a.example", "https://b.example")
    assert loaded.limits.frames_per_second == 2.5


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("CHATSERVER_SERVER_PORT", "eighty", "CHATSERVER_SERVER_PORT: 'eighty' is not a valid"),
        ("CHATSERVER_SERVER_PROT", "1", "unknown key server.prot"),
        ("CHATSERVER_NOPE_X", "1", "unknown section"),
        ("CHATSERVER_SERVER_SECURE_COOKIES", "maybe", "CHATSERVER_SERVER_SECURE_COOKIES"),
    ],
)
def test_a_wrong_environment_variable_names_itself(name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        config.load(None, environ={name: value})
    assert message in str(error.value)


def test_production_with_a_long_secret_starts() -> None:
    loaded = config.load(None, environ={"CHATSERVER_SERVER_MODE": "production",
                                        "CHATSERVER_SERVER_SECRET_KEY": "k" * 40})
    assert loaded.server.mode == "production"


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        config.load(tmp_path / "nope.toml", environ={})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[routing]\nsteps = [{after_seconds = 5.0}]\n", "first step must start at 0"),
        ("[routing]\nsteps = [{after_seconds = 0.0, level = 2}]\n",
         "routing.steps[0].level: unknown key"),
        ("[routing]\noffer_timeout_seconds = 0\n", "routing.offer_timeout_seconds"),
        ("[desk]\ntimezone = \"Mars/Olympus\"\n", "desk.timezone: unknown time zone"),
        ("[desk]\nhours = { funday = [\"09:00-17:00\"] }\n", "desk.hours: unknown day"),
        ("[desk]\nhours = { mon = [\"9am-5pm\"] }\n", "desk.hours.mon: bad range"),
        ("[desk]\ntopics = { billing = \"Billing Team\" }\n", "desk.topics.billing"),
        ("[desk]\ntopics = [\"billing\"]\n", "desk.topics: must be a table"),
    ],
)
def test_routing_and_desk_mistakes_name_the_key(tmp_path: Path, text: str,
                                                message: str) -> None:
    with pytest.raises(ConfigError) as error:
        config.load(write(tmp_path, text), environ={})
    assert message in str(error.value)


def test_routing_steps_and_topics_load_from_the_file(tmp_path: Path) -> None:
    loaded = config.load(write(tmp_path, (
        "[routing]\nsteps = [{after_seconds = 0.0}, {after_seconds = 10.0, level_cap = 1}]\n"
        "[desk]\ntopics = { vip = \"vip\" }\nhours = { mon = [\"09:00-17:00\"] }\n")),
        environ={"CHATSERVER_ROUTING_AUTO_ACCEPT": "true"})
    assert loaded.routing.steps[1].level_cap == 1 and loaded.routing.auto_accept is True
    assert loaded.desk.topics == {"vip": "vip"}
    assert loaded.desk.hours == {"mon": ("09:00-17:00",)}
