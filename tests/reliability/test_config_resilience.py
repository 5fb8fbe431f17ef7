"""Upstream resilience settings from the environment (config.py): defaults, precedence, refusals, and the path from
ServeConfig to the engine's upstream clients."""

from __future__ import annotations

import pytest

from hms_recordings.config import ServeConfig
from hms_recordings.errors import ConfigError
from hms_recordings.runtime.upstream import RetryPolicy, Timeouts
from hms_recordings.targets import open_engine

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
    config = ServeConfig.build(None, flags={}, env={})
    assert config.retry == RetryPolicy()
    assert config.timeouts == Timeouts()
    assert config.max_concurrency == 32


def test_the_environment_sets_attempts_deadline_timeouts_and_concurrency() -> None:
    config = ServeConfig.build(None, flags={}, env=ENV)
    assert (config.retry.attempts, config.retry.deadline) == (3, 7.5)
    assert (config.timeouts.connect, config.timeouts.read) == (1.5, 12.0)
    assert config.max_concurrency == 8
    # What is not configurable keeps its default (back-off shape, write and pool timeouts).
    assert config.retry.backoff_base == RetryPolicy().backoff_base
    assert config.timeouts.write == Timeouts().write


def test_a_flag_of_the_same_name_beats_the_environment() -> None:
    config = ServeConfig.build(None, flags={"retry_attempts": 9, "timeout_read": 2}, env=ENV)
    assert (config.retry.attempts, config.timeouts.read) == (9, 2.0)


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
    with pytest.raises(ConfigError, match=f"{name} must be {says}"):
        ServeConfig.build(None, flags={}, env={name: value})


async def test_open_engine_hands_the_settings_to_every_upstream_client() -> None:
    config = ServeConfig.build(None, flags={}, env=ENV)
    async with open_engine(
        builtin(),
        emulator="inprocess",
        env={},
        retry=config.retry,
        timeouts=config.timeouts,
        max_concurrency=config.max_concurrency,
    ) as engine:
        client = engine.clients["recordings"]
        assert client.retry == config.retry
        assert engine.settings.timeouts == config.timeouts
        assert client._limiter.total_tokens == 8
        assert (await engine.call("hms-list-recordings", {})).ok


async def test_open_engine_without_settings_keeps_the_runtime_defaults() -> None:
    async with open_engine(builtin(), emulator="inprocess", env={}) as engine:
        assert engine.clients["recordings"].retry == RetryPolicy()
        assert engine.settings.max_concurrency == 32
