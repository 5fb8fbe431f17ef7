"""Configuration precedence: flag > environment > capability file > default, and the refusals at the edge."""

from __future__ import annotations

import pytest

from hms_recordings.capability.loader import load_file
from hms_recordings.config import ServeConfig
from hms_recordings.errors import ConfigError

NO_FLAGS: dict[str, object] = {}


def test_defaults_come_from_the_capability_file() -> None:
    config = ServeConfig.build(load_file(), flags=NO_FLAGS, env={})
    assert (config.transport, config.host, config.port, config.rest_port) == ("http", "127.0.0.1", 9090, 9091)


def test_the_environment_beats_the_file() -> None:
    env = {
        "HMS_RECORDINGS_PORT": "9500",
        "HMS_RECORDINGS_TRANSPORT": "stdio",
        "HMS_RECORDINGS_READ_ONLY": "1",
        "HMS_RECORDINGS_TOOLS": "hms-list-recordings, hms-get-recording",
    }
    config = ServeConfig.build(load_file(), flags=NO_FLAGS, env=env)
    assert (config.port, config.transport, config.read_only) == (9500, "stdio", True)
    assert config.tools == ("hms-list-recordings", "hms-get-recording")


def test_a_flag_beats_the_environment() -> None:
    env = {"HMS_RECORDINGS_PORT": "9500", "HMS_RECORDINGS_TRANSPORT": "stdio"}
    config = ServeConfig.build(load_file(), flags={"port": 9600, "transport": "http"}, env=env)
    assert (config.port, config.transport) == (9600, "http")


def test_without_a_file_the_built_in_defaults_apply() -> None:
    config = ServeConfig.build(None, flags=NO_FLAGS, env={})
    assert (config.transport, config.host, config.port, config.rest_port) == ("http", "127.0.0.1", 9090, None)


def test_listening_beyond_loopback_needs_an_auth_token_or_insecure() -> None:
    with pytest.raises(ConfigError, match="HMS_RECORDINGS_AUTH_TOKEN"):
        ServeConfig.build(None, flags={"host": "0.0.0.0"}, env={})
    assert ServeConfig.build(None, flags={"host": "0.0.0.0"}, env={"HMS_RECORDINGS_AUTH_TOKEN": "t" * 32}).auth_token
    assert ServeConfig.build(None, flags={"host": "0.0.0.0", "insecure": True}, env={}).insecure


def test_the_inbound_token_never_shows_in_the_config_repr() -> None:
    config = ServeConfig.build(None, flags=NO_FLAGS, env={"HMS_RECORDINGS_AUTH_TOKEN": "sekrit-inbound-token"})
    assert "sekrit" not in repr(config)


@pytest.mark.parametrize(
    ("flags", "env", "message"),
    [
        ({"transport": "carrier-pigeon"}, {}, "transport"),
        ({}, {"HMS_RECORDINGS_PORT": "ninety"}, "port"),
        ({"upstream": ["recordings"]}, {}, "NAMESPACE=http"),
        ({"emulator": True, "upstream": ["recordings=http://127.0.0.1:1/v2"]}, {}, "--emulator and --upstream"),
        ({}, {"HMS_RECORDINGS_READ_ONLY": "perhaps"}, "boolean"),
    ],
)
def test_inconsistent_settings_are_refused_with_the_reason(
    flags: dict[str, object], env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        ServeConfig.build(None, flags=flags, env=env)
