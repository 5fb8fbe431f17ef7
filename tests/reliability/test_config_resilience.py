"""Upstream resilience settings (server/settings.py): defaults, precedence, refusals, and the path from the settings
to every upstream client of the service that ``serve`` and ``call`` build."""

from __future__ import annotations

import pytest

from hms_recordings.errors import ConfigError
from hms_recordings.runtime.upstream import RetryPolicy, Timeouts
from hms_recordings.server.settings import CallSettings, ServeSettings
from hms_recordings.server.targets import emulation, open_service, select_inventory

from .conftest import builtin

pytestmark = pytest.mark.anyio

ENV = {
    "HMS_RECORDINGS_RETRY_ATTEMPTS": "3",
    "HMS_RECORDINGS_RETRY_DEADLINE": "7.5",
    "HMS_RECORDINGS_TIMEOUT_CONNECT": "1.5",
    "HMS_RECORDINGS_TIMEOUT_READ": "12",
    "HMS_RECORDINGS_MAX_CONCURRENCY": "8",
}


def test_without_settings_the_upstream_defaults_apply() -> None:
    settings = ServeSettings.build(None, flags={}, env={})
    assert settings.retry == RetryPolicy()
    assert settings.timeouts == Timeouts()
    assert settings.max_concurrency == 32


def test_the_environment_sets_attempts_deadline_timeouts_and_concurrency() -> None:
    settings = ServeSettings.build(None, flags={}, env=ENV)
    assert (settings.retry.attempts, settings.retry.deadline) == (3, 7.5)
    assert (settings.timeouts.connect, settings.timeouts.read) == (1.5, 12.0)
    assert settings.max_concurrency == 8
    # What is not configurable keeps its default (back-off shape, write and pool timeouts).
    assert settings.retry.backoff_base == RetryPolicy().backoff_base
    assert settings.timeouts.write == Timeouts().write


def test_a_flag_of_the_same_name_beats_the_environment() -> None:
    settings = ServeSettings.build(None, flags={"retry_attempts": 9, "timeout_read": 2}, env=ENV)
    assert (settings.retry.attempts, settings.timeouts.read) == (9, 2.0)


def test_the_command_line_has_the_retry_and_timeout_flags_for_serve_and_call() -> None:
    from hms_recordings.cli import build_parser

    flags = ["--retry-attempts", "2", "--retry-deadline", "4", "--timeout-connect", "0.5", "--timeout-read", "3"]
    flags += ["--max-concurrency", "4", "--max-result-chars", "5000"]
    for argv in (["serve", *flags], ["call", "hms-list-recordings", *flags]):
        settings = CallSettings.build(None, flags=vars(build_parser().parse_args(argv)), env=ENV)
        assert (settings.retry.attempts, settings.retry.deadline) == (2, 4.0)
        assert (settings.timeouts.connect, settings.timeouts.read) == (0.5, 3.0)
        assert (settings.max_concurrency, settings.max_result_chars) == (4, 5000)


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("HMS_RECORDINGS_RETRY_ATTEMPTS", "0", "between 1 and 20"),
        ("HMS_RECORDINGS_RETRY_ATTEMPTS", "2.5", "an integer"),
        ("HMS_RECORDINGS_RETRY_DEADLINE", "nan", "between 0.1 and 3600"),
        ("HMS_RECORDINGS_TIMEOUT_READ", "-1", "between 0.05 and 3600"),
        ("HMS_RECORDINGS_TIMEOUT_CONNECT", "soon", "a number"),
        ("HMS_RECORDINGS_MAX_CONCURRENCY", "100000", "between 1 and 1024"),
    ],
)
def test_an_unusable_value_is_refused_naming_the_variable(name: str, value: str, says: str) -> None:
    with pytest.raises(ConfigError, match=f"^{name} must be {says}, got '{value}'$"):
        ServeSettings.build(None, flags={}, env={name: value})


async def test_the_service_hands_the_settings_to_every_upstream_client() -> None:
    settings = CallSettings.build(None, flags={"emulator": True}, env=ENV)
    inventory = select_inventory(builtin(), settings)
    async with (
        emulation(settings, "inprocess", env={}) as emulated,
        open_service(inventory, settings, emulated=emulated, env={}) as service,
    ):
        upstreams = service.invoker.upstreams
        client = upstreams.clients["recordings"]
        assert client.retry == settings.retry
        assert upstreams.settings.timeouts == settings.timeouts
        assert upstreams.settings.max_concurrency == 8
        assert (await service.call("hms-list-recordings", {})).ok


async def test_without_settings_the_service_keeps_the_runtime_defaults() -> None:
    settings = CallSettings.build(None, flags={"emulator": True}, env={})
    async with (
        emulation(settings, "inprocess", env={}) as emulated,
        open_service(select_inventory(builtin(), settings), settings, emulated=emulated, env={}) as service,
    ):
        assert service.invoker.upstreams.clients["recordings"].retry == RetryPolicy()
        assert service.invoker.upstreams.settings.max_concurrency == 32
