"""Settings precedence: flag > environment > capability file > default, and the refusals at the edge."""

from __future__ import annotations

import pytest

from hms_recordings.capability.loader import load_file
from hms_recordings.errors import ConfigError
from hms_recordings.server.settings import CallSettings, ServeSettings

NO_FLAGS: dict[str, object] = {}
TOKEN = "inbound-token-0123456789"


def test_defaults_come_from_the_capability_file() -> None:
    settings = ServeSettings.build(load_file(), flags=NO_FLAGS, env={})
    assert (settings.transport, settings.host, settings.port, settings.rest_port) == ("http", "127.0.0.1", 9090, 9091)


def test_the_environment_beats_the_file() -> None:
    env = {
        "HMS_RECORDINGS_PORT": "9500",
        "HMS_RECORDINGS_TRANSPORT": "stdio",
        "HMS_RECORDINGS_READ_ONLY": "1",
        "HMS_RECORDINGS_TOOLS": "hms-list-recordings, hms-get-recording",
        "HMS_RECORDINGS_TOOLSETS": "assets",
        "HMS_RECORDINGS_MAX_RESULT_CHARS": "2000",
    }
    settings = ServeSettings.build(load_file(), flags=NO_FLAGS, env=env)
    assert (settings.port, settings.transport, settings.read_only) == (9500, "stdio", True)
    assert settings.tools == ("hms-list-recordings", "hms-get-recording")
    assert settings.toolsets == ("assets",)
    assert settings.max_result_chars == 2000


def test_a_flag_beats_the_environment() -> None:
    env = {"HMS_RECORDINGS_PORT": "9500", "HMS_RECORDINGS_TRANSPORT": "stdio", "HMS_RECORDINGS_TOOLSETS": "assets"}
    settings = ServeSettings.build(
        load_file(), flags={"port": 9600, "transport": "http", "toolsets": "lifecycle"}, env=env
    )
    assert (settings.port, settings.transport, settings.toolsets) == (9600, "http", ("lifecycle",))


def test_an_empty_variable_counts_as_unset() -> None:
    assert ServeSettings.build(load_file(), flags=NO_FLAGS, env={"HMS_RECORDINGS_PORT": ""}).port == 9090


def test_without_a_file_the_built_in_defaults_apply() -> None:
    settings = ServeSettings.build(None, flags=NO_FLAGS, env={})
    assert (settings.transport, settings.host, settings.port, settings.rest_port) == ("http", "127.0.0.1", 9090, None)
    assert (settings.max_result_chars, settings.max_sessions, settings.session_idle_timeout) == (50_000, 1000, 300)
    assert (settings.strict, settings.toolsets, settings.max_request_bytes) == (False, None, 1_048_576)


def test_built_directly_settings_read_no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HMS_RECORDINGS_PORT", "9500")
    assert ServeSettings().port == 9090
    assert ServeSettings.build(None, flags=NO_FLAGS).port == 9500  # build() reads the process environment


def test_listening_beyond_loopback_needs_an_auth_token_or_insecure() -> None:
    with pytest.raises(ConfigError, match="HMS_RECORDINGS_AUTH_TOKEN"):
        ServeSettings.build(None, flags={"host": "0.0.0.0"}, env={})
    with_token = ServeSettings.build(None, flags={"host": "0.0.0.0"}, env={"HMS_RECORDINGS_AUTH_TOKEN": TOKEN})
    assert with_token.bearer_token() == TOKEN
    assert ServeSettings.build(None, flags={"host": "0.0.0.0", "insecure": True}, env={}).insecure


def test_the_inbound_token_never_shows_in_the_repr_nor_in_a_refusal() -> None:
    settings = ServeSettings.build(None, flags=NO_FLAGS, env={"HMS_RECORDINGS_AUTH_TOKEN": "sekrit-inbound-token"})
    assert "sekrit" not in repr(settings) and "sekrit" not in str(settings)
    with pytest.raises(ConfigError) as refused:
        ServeSettings.build(None, flags=NO_FLAGS, env={"HMS_RECORDINGS_AUTH_TOKEN": "sekrit"})
    assert refused.value.message == "HMS_RECORDINGS_AUTH_TOKEN must be at least 16 characters long"


def test_flag_only_settings_ignore_the_environment_and_env_only_ones_ignore_flags() -> None:
    settings = ServeSettings.build(
        None, flags={"auth_token": TOKEN}, env={"HMS_RECORDINGS_EMULATOR": "1", "HMS_RECORDINGS_INSECURE": "1"}
    )
    assert (settings.emulator, settings.insecure, settings.auth_token) == (False, False, None)


def test_call_settings_take_the_upstream_part_only() -> None:
    settings = CallSettings.build(
        None, flags={"upstream": ["recordings=http://127.0.0.1:1/v2/"], "port": 1}, env={"HMS_RECORDINGS_PORT": "x"}
    )
    assert settings.upstreams == {"recordings": "http://127.0.0.1:1/v2"}
    assert not hasattr(settings, "port")


@pytest.mark.parametrize(
    ("flags", "env", "message"),
    [
        ({"transport": "carrier-pigeon"}, {}, "--transport must be one of http or stdio, got 'carrier-pigeon'"),
        ({}, {"HMS_RECORDINGS_PORT": "ninety"}, "HMS_RECORDINGS_PORT must be an integer, got 'ninety'"),
        ({"port": 70000}, {}, "--port must be between 0 and 65535, got 70000"),
        ({"upstream": ["recordings"]}, {}, "--upstream 'recordings' must look like NAMESPACE=http"),
        ({"emulator": True, "upstream": ["recordings=http://127.0.0.1:1/v2"]}, {}, "--emulator and --upstream"),
        ({}, {"HMS_RECORDINGS_READ_ONLY": "perhaps"}, "HMS_RECORDINGS_READ_ONLY must be a boolean"),
        ({"max_result_chars": 10}, {}, "--max-result-chars must be between 1000 and 10000000, got 10"),
        ({}, {"HMS_RECORDINGS_MAX_SESSIONS": "0"}, "HMS_RECORDINGS_MAX_SESSIONS must be between 1 and 100000"),
        ({"session_idle_timeout": 0.5}, {}, "--session-idle-timeout must be between 1 and 86400, got 0.5"),
        ({}, {"HMS_RECORDINGS_LOG_LEVEL": "loud"}, "HMS_RECORDINGS_LOG_LEVEL must be one of DEBUG"),
    ],
)
def test_inconsistent_settings_are_refused_with_the_source_and_the_reason(
    flags: dict[str, object], env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=f"^{message}"):
        ServeSettings.build(None, flags=flags, env=env)


def test_a_value_from_the_capability_file_is_refused_naming_the_file() -> None:
    from dataclasses import replace

    capability = load_file()
    bad = replace(capability, mcp=(replace(capability.mcp[0], port=99999),))
    with pytest.raises(ConfigError, match=r"^the capability file's exposes\[mcp\]\.port must be between 0 and 65535"):
        ServeSettings.build(bad, flags=NO_FLAGS, env={})


def test_an_inconsistent_object_is_never_made_even_when_built_directly() -> None:
    with pytest.raises(ConfigError, match=r"refusing to listen on 0\.0\.0\.0"):
        ServeSettings(host="0.0.0.0")
    with pytest.raises(ConfigError, match="--emulator and --upstream"):
        CallSettings(emulator=True, upstreams={"recordings": "http://127.0.0.1:1"})
    with pytest.raises(ValueError, match="prot"):
        ServeSettings(prot=9091)  # type: ignore[call-arg]  # a misspelt setting is refused, not ignored
