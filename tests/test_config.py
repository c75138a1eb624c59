"""Configuration: defaults, overrides, errors that name the key, and every key documented."""

from __future__ import annotations

import functools
import re
import shlex
from pathlib import Path
from typing import Any

import pytest

from chatserver import config
from chatserver.config import ConfigError
from chatserver.core.routing import RelaxStep

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
        ("[server]\nport = \"80\"\n", "server.port: must be a whole number"),
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
        ("CHATSERVER_SERVER_PORT", "eighty", "CHATSERVER_SERVER_PORT: 'eighty'"),
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


DOC = ROOT / "docs" / "configuration.md"


def env_name(key: str) -> str:
    return config.ENV_PREFIX + key.replace(".", "_").upper()


def value_at(loaded: config.Config, key: str) -> Any:
    return functools.reduce(getattr, key.split("."), loaded)


def test_every_key_in_config_toml_is_in_the_configuration_doc() -> None:
    doc = DOC.read_text()
    missing = [key for key in sorted(config.documented_keys((ROOT / "config.toml").read_text()))
               if f"`{key}`" not in doc or env_name(key) not in doc]
    assert not missing, f"docs/configuration.md lacks {missing}"


def test_the_reference_in_the_doc_is_the_one_generated_from_config_toml() -> None:
    from chatserver import config_reference

    assert config_reference.markdown((ROOT / "config.toml").read_text()) in DOC.read_text(), (
        "docs/configuration.md is out of date: run python -m chatserver.config_reference")


# Keys whose changed value cannot be derived from the default (text, lists, tables): one valid
# value each, as the environment writes it, and what it loads as.
CHANGED_BY_HAND: dict[str, tuple[str, Any]] = {
    "server.host": ("0.0.0.0", "0.0.0.0"),
    "server.mode": ("production", "production"),
    "server.secret_key": ("k" * 40, "k" * 40),
    "server.allowed_origins": ("https://a.example,https://b.example",
                               ("https://a.example", "https://b.example")),
    "storage.path": ("/tmp/other.db", "/tmp/other.db"),
    "storage.synchronous": ("normal", "normal"),
    "storage.backend": ("postgres", "postgres"),
    "storage.url": ("postgresql://chat:pw@db.internal/chat", "postgresql://chat:pw@db.internal/chat"),
    "routing.steps": ('[{"after_seconds": 0}, {"after_seconds": 45, "level_cap": 1}]',
                      (RelaxStep(0.0), RelaxStep(45.0, level_cap=1))),
    "desk.topics": ('{"vip": "vip", "billing": "billing"}', {"vip": "vip", "billing": "billing"}),
    "desk.timezone": ("Asia/Tehran", "Asia/Tehran"),
    "desk.hours": ('{"sat": ["09:00-17:00"], "sun": ["09:00-13:00", "14:00-17:00"]}',
                   {"sat": ("09:00-17:00",), "sun": ("09:00-13:00", "14:00-17:00")}),
    "desk.closed_dates": ("2026-03-20,2026-03-21", ("2026-03-20", "2026-03-21")),
    "desk.language": ("fa", "fa"),
    "metrics.token": ("scrape-token", "scrape-token"),
    "identity.secret": ("site-signing-secret", "site-signing-secret"),
    "cluster.backend": ("redis", "redis"),
    "cluster.redis_url": ("redis://cache.internal:6380/2", "redis://cache.internal:6380/2"),
    "cluster.key_prefix": ("shop:", "shop:"),
    "privacy.notice_url": ("https://shop.example/privacy", "https://shop.example/privacy"),
    "abuse.exempt_addresses": ("10.0.0.1", ("10.0.0.1",)),
    "attachments.allowed_types": ("image/png,application/pdf", ("image/png", "application/pdf")),
    "email.host": ("smtp.shop.example", "smtp.shop.example"),
    "email.security": ("tls", "tls"),
    "email.user": ("mailer", "mailer"),
    "email.password": ("app-password", "app-password"),
    "email.from_address": ("Support <support@shop.example>", "Support <support@shop.example>"),
    "email.team_address": ("team@shop.example", "team@shop.example"),
    "email.topic_addresses": ('{"billing": "billing@shop.example"}',
                              {"billing": "billing@shop.example"}),
}


def changed(value: Any) -> tuple[str, Any]:
    """A different valid value for a boolean or number key: (environment text, loaded value)."""
    if isinstance(value, bool):
        return str(not value).lower(), not value
    if isinstance(value, int):
        return str(value + 1), value + 1
    assert isinstance(value, float), value
    new = value / 2 if value else 0.5  # halved: stays inside every range and order check
    return str(new), new


def test_every_key_can_be_set_through_its_environment_variable() -> None:
    default = config.Config()
    wanted = {key: CHANGED_BY_HAND.get(key) or changed(value_at(default, key))
              for key in sorted(config.all_keys())}
    loaded = config.load(None, environ={env_name(k): text for k, (text, _) in wanted.items()})
    wrong = {k: value_at(loaded, k) for k, (_, v) in wanted.items() if value_at(loaded, k) != v}
    assert not wrong


def test_no_two_keys_share_an_environment_variable() -> None:
    assert len({env_name(key) for key in config.all_keys()}) == len(config.all_keys())


def test_every_assignment_the_doc_shows_loads() -> None:
    # The reference sets each key to its default, so each must load back to the default; the
    # examples of table values must load at all.
    doc = DOC.read_text()
    shown = re.findall(r"(CHATSERVER_[A-Z0-9_]+)=('[^']*'|[^\s`$\"]*)", doc)
    assert len(shown) > len(config.all_keys())
    default = config.Config()
    reference = doc.split("## Every setting")[1]
    for name, text in shown:
        if name == "CHATSERVER_SERVER_MODE" and text == "production":
            continue  # needs the secret the example reads from a file
        (value,) = shlex.split(text) or [""]
        loaded = config.load(None, environ={name: value})
        key = next((k for k in config.all_keys() if env_name(k) == name), None)
        assert key is not None, name
        if f"`{name}={text}`" in reference:
            assert value_at(loaded, key) == value_at(default, key), name


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("CHATSERVER_SERVER_PORT", "eighty", "CHATSERVER_SERVER_PORT: 'eighty' is not a whole "
         "number"),
        ("CHATSERVER_LIMITS_FRAMES_PER_SECOND", "fast", "'fast' is not a number"),
        ("CHATSERVER_SERVER_SECURE_COOKIES", "maybe", "'maybe' is not true or false"),
        ("CHATSERVER_BOT_MATCH_K9", "1", "unknown key bot.match.k9"),
        ("CHATSERVER_BOT_MATCH", "1", "bot.match is a table; set each of its keys, e.g. "
         "CHATSERVER_BOT_MATCH_ENTRY_WORDS"),
        ("CHATSERVER_DESK_TOPICS", "billing=billing", "is not valid JSON"),
        ("CHATSERVER_DESK_TOPICS", '["billing"]', "desk.topics: must be a table of strings"),
        ("CHATSERVER_DESK_HOURS", '{"mon": "09:00-17:00"}',
         "desk.hours.mon: must be a list of strings"),
        ("CHATSERVER_ROUTING_STEPS", '{"after_seconds": 0}',
         "routing.steps: must be a list of tables"),
    ],
)
def test_environment_mistakes_read_in_plain_words(name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        config.load(None, environ={name: value})
    text = str(error.value)
    assert message in text
    for python in ("typing", "Mapping", "<class", "tuple[", "a valid an", "an integer"):
        assert python not in text


@pytest.mark.parametrize(("environ", "message"), [
    ({"CHATSERVER_STORAGE_BACKEND": "mysql"}, "storage.backend: must be 'sqlite' or 'postgres'"),
    ({"CHATSERVER_STORAGE_BACKEND": "postgres"}, "storage.url: backend = 'postgres' needs"),
    ({"CHATSERVER_STORAGE_BACKEND": "postgres", "CHATSERVER_STORAGE_URL": "db.internal/chat"},
     "storage.url: backend = 'postgres' needs"),
])
def test_a_storage_backend_without_what_it_needs_is_refused(environ: dict[str, str],
                                                            message: str) -> None:
    with pytest.raises(config.ConfigError, match=re.escape(message)):
        config.load(None, environ=environ)


def test_the_store_opens_the_path_or_the_url_the_backend_names() -> None:
    sqlite = config.load(None, environ={"CHATSERVER_STORAGE_PATH": "/tmp/x.db"})
    assert sqlite.storage.location == "/tmp/x.db"
    url = "postgresql://chat:secret@db.internal/chat"
    postgres = config.load(None, environ={"CHATSERVER_STORAGE_BACKEND": "postgres",
                                          "CHATSERVER_STORAGE_URL": url})
    assert postgres.storage.location == url
