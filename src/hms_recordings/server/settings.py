"""Server settings: ONE typed object, built once at the command-line edge with ``pydantic-settings``.

Precedence, highest first: command-line flag > environment variable (prefix ``HMS_RECORDINGS_``, an empty value counts
as unset) > the capability file (its MCP expose's ``transport``, ``address``, ``port``; its rest expose's ``port``) >
the default below. Every value is bounds-checked; a refused value is a :class:`~hms_recordings.errors.ConfigError`
naming where it came from (``--port``, ``HMS_RECORDINGS_PORT``, the capability file). ``tests/test_config.py`` checks
the precedence, ``tests/reliability/test_config_resilience.py`` the upstream part. The README's table is this one.

| setting | flag | environment | file | default | bounds |
| --- | --- | --- | --- | --- | --- |
| transport | --transport | HMS_RECORDINGS_TRANSPORT | exposes[mcp].transport | http | http, stdio |
| host | --host | HMS_RECORDINGS_HOST | exposes[mcp].address | 127.0.0.1 |  |
| port | --port | HMS_RECORDINGS_PORT | exposes[mcp].port | 9090 | 0-65535 |
| rest_port | --rest-port | HMS_RECORDINGS_REST_PORT | exposes[rest].port | none | 0-65535 |
| read_only | --read-only | HMS_RECORDINGS_READ_ONLY | - | off |  |
| tools | --tools a,b | HMS_RECORDINGS_TOOLS | - | all | known names |
| toolsets | --toolsets a,b | HMS_RECORDINGS_TOOLSETS | - | all | known x-toolsets |
| strict | --strict | HMS_RECORDINGS_STRICT | - | off |  |
| max_result_chars | --max-result-chars | HMS_RECORDINGS_MAX_RESULT_CHARS | - | 50000 | 1000-10000000 |
| retry_attempts | --retry-attempts | HMS_RECORDINGS_RETRY_ATTEMPTS | - | 12 | 1-20 |
| retry_deadline | --retry-deadline | HMS_RECORDINGS_RETRY_DEADLINE | - | 30 s | 0.1-3600 |
| timeout_connect | --timeout-connect | HMS_RECORDINGS_TIMEOUT_CONNECT | - | 5 s | 0.05-600 |
| timeout_read | --timeout-read | HMS_RECORDINGS_TIMEOUT_READ | - | 30 s | 0.05-3600 |
| max_concurrency | --max-concurrency | HMS_RECORDINGS_MAX_CONCURRENCY | - | 32 | 1-1024 |
| max_response_bytes | --max-response-bytes | HMS_RECORDINGS_MAX_RESPONSE_BYTES | - | 8388608 | 1024-1073741824 |
| max_sessions | --max-sessions | HMS_RECORDINGS_MAX_SESSIONS | - | 1000 | 1-100000 |
| session_idle_timeout | --session-idle-timeout | HMS_RECORDINGS_SESSION_IDLE_TIMEOUT | - | 300 s | 1-86400 |
| max_sessions_per_client | --max-sessions-per-client | HMS_RECORDINGS_MAX_SESSIONS_PER_CLIENT | - | 250 | 1-100000 |
| header_timeout | --header-timeout | HMS_RECORDINGS_HEADER_TIMEOUT | - | 10 s | 0.1-3600 |
| body_timeout | --body-timeout | HMS_RECORDINGS_BODY_TIMEOUT | - | 30 s | 0.1-3600 |
| keep_alive_timeout | --keep-alive-timeout | HMS_RECORDINGS_KEEP_ALIVE_TIMEOUT | - | 5 s | 0.1-3600 |
| max_request_bytes | --max-request-bytes | HMS_RECORDINGS_MAX_REQUEST_BYTES | - | 1048576 | 1024-67108864 |
| stateless | --stateless | HMS_RECORDINGS_STATELESS | - | off |  |
| json_response | --json-response | HMS_RECORDINGS_JSON_RESPONSE | - | off |  |
| log_level | --log-level | HMS_RECORDINGS_LOG_LEVEL | - | WARNING | DEBUG-CRITICAL |
| json_logs | --json-logs | HMS_RECORDINGS_JSON_LOGS | - | off |  |
| auth_token (secret) | - | HMS_RECORDINGS_AUTH_TOKEN | - | none | 16-4096 chars |
| allowed_hosts | - | HMS_RECORDINGS_ALLOWED_HOSTS=h1,h2 | - | loopback (+ --host) |  |
| oauth_issuer | - | HMS_RECORDINGS_OAUTH_ISSUER | - | none (OAuth off) | http(s) URL |
| oauth_audience | - | HMS_RECORDINGS_OAUTH_AUDIENCE | - | none | with the issuer |
| oauth_jwks_url | - | HMS_RECORDINGS_OAUTH_JWKS_URL | - | discovered from the issuer | http(s) URL |
| oauth_resource | - | HMS_RECORDINGS_OAUTH_RESOURCE | - | http://host:port/mcp | http(s) URL |
| oauth_rest_resource | - | HMS_RECORDINGS_OAUTH_REST_RESOURCE | - | http://host:rest-port | http(s) URL |
| oauth_leeway | - | HMS_RECORDINGS_OAUTH_LEEWAY | - | 30 s | 0-300 |
| oauth_read_scope | - | HMS_RECORDINGS_OAUTH_READ_SCOPE | - | recordings:read | a scope name |
| oauth_write_scope | - | HMS_RECORDINGS_OAUTH_WRITE_SCOPE | - | recordings:write | a scope name |
| jwks_cache_seconds | - | HMS_RECORDINGS_JWKS_CACHE_SECONDS | - | 600 s | 10-86400 |
| jwks_refetch_interval | - | HMS_RECORDINGS_JWKS_REFETCH_INTERVAL | - | 30 s | 1-3600 |
| rate_limit | - | HMS_RECORDINGS_RATE_LIMIT | - | 120 calls/min per caller | 1-100000 |
| rate_burst | - | HMS_RECORDINGS_RATE_BURST | - | 30 calls | 1-10000 |
| events_db | - | HMS_RECORDINGS_EVENTS_DB | - | user data dir, events.sqlite3 | a file path |
| audit_max_rows | - | HMS_RECORDINGS_AUDIT_MAX_ROWS | - | 100000 | 100-100000000 |
| insecure | --insecure | - | - | off |  |
| upstreams | --upstream NS=URL | - | - | none | http(s) URLs |
| emulator | --emulator | - | - | off | not with --upstream |
| single_port | --single-port | - | - | off |  |
| events_max | - | HMS_RECORDINGS_EVENTS_MAX | - | 100000 | 100-10000000 |
| events_max_age_days | - | HMS_RECORDINGS_EVENTS_MAX_AGE_DAYS | - | 30 | 0.01-3650 |
| webhook_header | - | HMS_RECORDINGS_WEBHOOK_HEADER | - | X-Webhook-Secret | an HTTP header name |
| webhook_secret (secret) | - | HMS_RECORDINGS_WEBHOOK_SECRET | - | none (loopback only) | 16-4096 chars |
| webhook_max_bytes | - | HMS_RECORDINGS_WEBHOOK_MAX_BYTES | - | 65536 | 1024-1048576 |
| redis_url (secret) | - | HMS_RECORDINGS_REDIS_URL | - | none (one process) | redis:// or rediss:// |
| dedupe_ttl | - | HMS_RECORDINGS_DEDUPE_TTL | - | 86400 s | 60-2592000 |
| sse_max_streams | - | HMS_RECORDINGS_SSE_MAX_STREAMS | - | 256 | 1-10000 |
| workers | --workers | HMS_RECORDINGS_WORKERS | - | 1 | 1-64 (more than 1 implies stateless) |
| drain_grace | --drain-grace | HMS_RECORDINGS_DRAIN_GRACE | - | 2 s | 0-600 |
| drain_timeout | --drain-timeout | HMS_RECORDINGS_DRAIN_TIMEOUT | - | 30 s | 1-3600 |
| state_key (secret) | - | HMS_RECORDINGS_STATE_KEY=k1,k2 | - | per process | 32-4096 chars each |

Why some are flag-only: ``--insecure``, ``--upstream`` and ``--emulator`` change where calls go or who may call, so
they must be visible on the command line; the inbound token is environment-only because flags show in ``ps``.
Why these session bounds: 1000 sessions of a few kilobytes each bound memory well below 100 MB, and 300 s idle
(five minutes) outlasts a client's think time between tool calls while reclaiming abandoned sessions. One client (one
remote address) may hold at most 250 of them (a quarter: several local agents share 127.0.0.1), past which it gets
429 with ``Retry-After``; when all 1000 are open, the most prolific client's least recently used idle session is
closed to admit a newcomer (``docs/reliability.md``, "Serving and input"). Why these connection deadlines: 10 s for a
request's line and headers and 30 s for a 1 MiB body (about 35 KB/s) are far beyond any client that means it, and
they free a connection held open by one that sends nothing or a byte at a time; 5 s keep-alive is uvicorn's default.
Why these drain bounds: on ``SIGTERM`` ``/health/ready`` answers 503 for ``drain_grace`` seconds while calls are still
served, long enough for a balancer checking every 500 ms to take the server out (two failed checks and margin); then
the listeners close and in-flight calls get ``drain_timeout`` seconds, the upstream read timeout's default, to finish.
The state key is a ring (the first key seals, every key unseals: rotate by prepending), environment-only like the
inbound token; without it each process seals under its own random key (``--workers`` share one generated at start).

``call`` uses :class:`CallSettings` (the upstream part: tools, toolsets, read_only, retries, timeouts, concurrency,
max_result_chars, upstreams, emulator; and the event log's file and bounds); ``serve`` uses :class:`ServeSettings`,
which adds the rest. Built directly (``ServeSettings(port=1)``), an object reads neither the environment nor a file:
that is for tests and library use.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from pydantic_settings.sources.utils import parse_env_vars

from hms_recordings.capability.model import Capability
from hms_recordings.errors import ConfigError
from hms_recordings.runtime.invoker import InvokerSettings
from hms_recordings.runtime.local import EventLog, Wakeups
from hms_recordings.runtime.upstream import DEFAULT_MAX_RESPONSE_BYTES, RetryPolicy, Timeouts

__all__ = ["ENV_PREFIX", "CallSettings", "ServeSettings", "default_events_db", "is_loopback", "parse_upstreams"]

ENV_PREFIX = "HMS_RECORDINGS_"
#: Fields no environment variable may set (see the module docstring for why).
FLAG_ONLY = frozenset({"insecure", "upstreams", "emulator", "single_port"})
#: Fields only the environment may set: secrets never travel as flags.
ENV_ONLY = frozenset({"auth_token", "allowed_hosts", "webhook_secret", "redis_url", "state_key"})
#: A scope token as RFC 6749 §3.3 spells it.
SCOPE_NAME = r"^[\x21\x23-\x5b\x5d-\x7e]+$"
URL = r"^https?://[^\s]+$"

Names = Annotated[tuple[str, ...] | None, NoDecode]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def default_events_db(env: Mapping[str, str] | None = None) -> str:
    """Where the event log and the audit trail live unless ``HMS_RECORDINGS_EVENTS_DB`` says: the user's data
    directory (``$XDG_DATA_HOME``, else ``~/.local/share``), ``hms-recordings/events.sqlite3``."""
    env = os.environ if env is None else env
    base = env.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(base, "hms-recordings", "events.sqlite3")


def parse_upstreams(values: list[str] | None) -> dict[str, str]:
    """``--upstream NS=URL`` (repeatable) into ``{NS: URL}``; a malformed one is refused with the expected shape."""
    out: dict[str, str] = {}
    for item in values or []:
        namespace, sep, url = item.partition("=")
        if not sep or not namespace or not url.startswith(("http://", "https://")):
            raise ConfigError(f"--upstream {item!r} must look like NAMESPACE=http(s)://host/prefix")
        out[namespace] = url.rstrip("/")
    return out


def _split_names(value: Any) -> Any:
    """``"a, b"`` (flag or variable) into ``("a", "b")``; an empty list means nothing given."""
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",")]
    if isinstance(value, list | tuple):
        names = tuple(str(v).strip() for v in value if str(v).strip())
        return names or None
    return value


@dataclass(frozen=True)
class _Inputs:
    """What :meth:`CallSettings.build` feeds the sources: the environment and the capability file's values."""

    env: Mapping[str, str]
    file: dict[str, Any]


# The sources are chosen in a classmethod pydantic-settings calls during construction, so build() hands them its
# inputs through this context variable (set and reset around the one construction; no state outlives it).
_INPUTS: ContextVar[_Inputs | None] = ContextVar("hms_recordings_settings_inputs", default=None)


class _EnvSource(EnvSettingsSource):
    """pydantic-settings' environment source over a given mapping (``os.environ`` in production, a dict in tests)."""

    def __init__(self, settings_cls: type[BaseSettings], env: Mapping[str, str]) -> None:
        self._mapping = env
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(self._mapping, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str)

    def __call__(self) -> dict[str, Any]:
        return {k: v for k, v in super().__call__().items() if k not in FLAG_ONLY}


class _FileSource(PydanticBaseSettingsSource):
    """The capability file's expose values, below the environment."""

    def __init__(self, settings_cls: type[BaseSettings], values: dict[str, Any]) -> None:
        super().__init__(settings_cls)
        self._values = values

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return {k: v for k, v in self._values.items() if k in self.settings_cls.model_fields}


class CallSettings(BaseSettings):
    """The upstream part, shared by ``call`` and ``serve``."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_ignore_empty=True, extra="forbid", frozen=True, case_sensitive=False
    )

    read_only: bool = False
    tools: Names = None
    toolsets: Names = None
    strict: bool = False
    max_result_chars: int = Field(50_000, ge=1_000, le=10_000_000)
    retry_attempts: int = Field(RetryPolicy.attempts, ge=1, le=20)
    retry_deadline: float = Field(RetryPolicy.deadline, ge=0.1, le=3600, allow_inf_nan=False)
    timeout_connect: float = Field(Timeouts.connect, ge=0.05, le=600, allow_inf_nan=False)
    timeout_read: float = Field(Timeouts.read, ge=0.05, le=3600, allow_inf_nan=False)
    max_concurrency: int = Field(32, ge=1, le=1024)
    max_response_bytes: int = Field(DEFAULT_MAX_RESPONSE_BYTES, ge=1024, le=1024**3)
    upstreams: dict[str, str] = Field(default_factory=dict)
    emulator: bool = False
    # The event log's database, which also holds the audit trail (server/audit.py).
    events_db: str | None = Field(None, min_length=1, max_length=4096)
    audit_max_rows: int = Field(100_000, ge=100, le=100_000_000)
    events_max: int = Field(100_000, ge=100, le=10_000_000)
    events_max_age_days: float = Field(30.0, ge=0.01, le=3650, allow_inf_nan=False)

    #: Where each field may come from in the capability file (for error messages); subclasses extend it.
    FILE_FIELDS: ClassVar[dict[str, str]] = {}

    @field_validator("tools", "toolsets", mode="before")
    @classmethod
    def _names(cls, value: Any) -> Any:
        return _split_names(value)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        inputs = _INPUTS.get()
        if inputs is None:  # built directly: the given values and the defaults, nothing read from outside
            return (init_settings,)
        return (init_settings, _EnvSource(settings_cls, inputs.env), _FileSource(settings_cls, inputs.file))

    @classmethod
    def file_values(cls, capability: Capability | None) -> dict[str, Any]:
        return {}

    @classmethod
    def build(
        cls,
        capability: Capability | None = None,
        *,
        flags: Mapping[str, object] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Self:
        """Merge flags (``None`` = not given), environment (default: the process's) and the file, then check."""
        env = os.environ if env is None else env
        given: dict[str, Any] = {}
        for name, value in (flags or {}).items():
            key = "upstreams" if name == "upstream" else name
            if value is None or key not in cls.model_fields or key in ENV_ONLY:
                continue
            given[key] = parse_upstreams(value) if name == "upstream" and isinstance(value, list) else value
        file = cls.file_values(capability)
        token = _INPUTS.set(_Inputs(env, file))
        try:
            settings = cls(**given)
        except ValidationError as exc:
            raise ConfigError(_explain(cls, exc, given, env, file)) from None
        finally:
            _INPUTS.reset(token)
        return settings

    @model_validator(mode="after")
    def _rules(self) -> Self:
        # A ConfigError is not a ValueError, so pydantic lets it through as it is: built directly or by build(),
        # an inconsistent object is never made.
        self.check()
        return self

    def check(self) -> None:
        """Rules across fields (single-field bounds are in the field declarations)."""
        if self.emulator and self.upstreams:
            raise ConfigError("--emulator and --upstream both choose the upstream; pass one of them")

    # -------------------------------------------------------------------------------------------- for the runtime

    @property
    def retry(self) -> RetryPolicy:
        return RetryPolicy(attempts=self.retry_attempts, deadline=self.retry_deadline)

    @property
    def timeouts(self) -> Timeouts:
        return Timeouts(connect=self.timeout_connect, read=self.timeout_read)

    def invoker_settings(
        self,
        observers: tuple[Any, ...] = (),
        lent: tuple[Any, ...] = (),
        *,
        wakeups: Wakeups | None = None,
        event_log: EventLog | None = None,
    ) -> InvokerSettings:
        """``lent``: objects told of state-changing calls (``on_action``) or lent to handlers (``extension_name``);
        ``wakeups`` and ``event_log``: the server's event hub and log, lent to handlers (runtime/local.py)."""
        return InvokerSettings(
            max_result_chars=self.max_result_chars,
            observers=observers,
            actions=tuple(o for o in lent if hasattr(o, "on_action")),
            extensions={o.extension_name: o for o in lent if isinstance(getattr(o, "extension_name", None), str)},
            wakeups=wakeups,
            event_log=event_log,
        )

    def events_db_path(self) -> str:
        return self.events_db or default_events_db()

    def events_path(self) -> str:
        """Where the event log lives: the same file as the audit trail (``HMS_RECORDINGS_EVENTS_DB``)."""
        return self.events_db_path()

    def selection(self) -> dict[str, Any]:
        """The arguments of :meth:`~hms_recordings.runtime.inventory.Inventory.select`."""
        return {"tools": self.tools, "toolsets": self.toolsets, "read_only": self.read_only}


class ServeSettings(CallSettings):
    """Everything ``serve`` needs (the table in the module docstring)."""

    transport: Literal["http", "stdio"] = "http"
    host: str = Field("127.0.0.1", min_length=1, max_length=253)
    port: int = Field(9090, ge=0, le=65535)
    rest_port: int | None = Field(None, ge=0, le=65535)
    auth_token: SecretStr | None = Field(None, min_length=16, max_length=4096)
    allowed_hosts: Names = None
    insecure: bool = False
    stateless: bool = False
    json_response: bool = False
    max_sessions: int = Field(1000, ge=1, le=100_000)
    session_idle_timeout: float = Field(300.0, ge=1, le=86_400, allow_inf_nan=False)
    max_sessions_per_client: int = Field(250, ge=1, le=100_000)
    header_timeout: float = Field(10.0, ge=0.1, le=3600, allow_inf_nan=False)
    body_timeout: float = Field(30.0, ge=0.1, le=3600, allow_inf_nan=False)
    keep_alive_timeout: float = Field(5.0, ge=0.1, le=3600, allow_inf_nan=False)
    max_request_bytes: int = Field(1_048_576, ge=1024, le=64 * 1_048_576)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "WARNING"
    json_logs: bool = False
    single_port: bool = False
    # OAuth 2.1 resource server (docs/operations.md): on when the issuer is set.
    oauth_issuer: str | None = Field(None, pattern=URL, max_length=2048)
    oauth_audience: str | None = Field(None, min_length=1, max_length=2048)
    oauth_jwks_url: str | None = Field(None, pattern=URL, max_length=2048)
    oauth_resource: str | None = Field(None, pattern=URL, max_length=2048)
    oauth_rest_resource: str | None = Field(None, pattern=URL, max_length=2048)
    oauth_leeway: float = Field(30.0, ge=0, le=300, allow_inf_nan=False)
    oauth_read_scope: str = Field("recordings:read", pattern=SCOPE_NAME, max_length=128)
    oauth_write_scope: str = Field("recordings:write", pattern=SCOPE_NAME, max_length=128)
    jwks_cache_seconds: float = Field(600.0, ge=10, le=86_400, allow_inf_nan=False)
    jwks_refetch_interval: float = Field(30.0, ge=1, le=3600, allow_inf_nan=False)
    rate_limit: float = Field(120.0, ge=1, le=100_000, allow_inf_nan=False)
    rate_burst: int = Field(30, ge=1, le=10_000)
    # Recording events (docs/events.md): the webhook receiver, replicas (the log's settings are CallSettings').
    webhook_header: str = Field("X-Webhook-Secret", pattern=r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$")
    webhook_secret: SecretStr | None = Field(None, min_length=16, max_length=4096)
    webhook_max_bytes: int = Field(65_536, ge=1024, le=1_048_576)
    redis_url: SecretStr | None = Field(None, min_length=8, max_length=4096)
    dedupe_ttl: int = Field(86_400, ge=60, le=2_592_000)
    sse_max_streams: int = Field(256, ge=1, le=10_000)
    workers: int = Field(1, ge=1, le=64)
    drain_grace: float = Field(2.0, ge=0, le=600, allow_inf_nan=False)
    drain_timeout: float = Field(30.0, ge=1, le=3600, allow_inf_nan=False)
    state_key: SecretStr | None = Field(None, min_length=32, max_length=4096)

    FILE_FIELDS: ClassVar[dict[str, str]] = {
        "transport": "exposes[mcp].transport",
        "host": "exposes[mcp].address",
        "port": "exposes[mcp].port",
        "rest_port": "exposes[rest].port",
    }

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _hosts(cls, value: Any) -> Any:
        return _split_names(value)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @classmethod
    def file_values(cls, capability: Capability | None) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if capability is not None and capability.mcp:
            expose = capability.mcp[0]
            out.update(transport=expose.transport, host=expose.address, port=expose.port)
        if capability is not None and capability.rest:
            out["rest_port"] = capability.rest[0].port
        return out

    def bearer_token(self) -> str | None:
        """The inbound token, for the auth middleware only (``repr`` and logs show ``**********``)."""
        return self.auth_token.get_secret_value() if self.auth_token is not None else None

    def state_keys(self) -> list[str] | None:
        """The request-state key ring (``HMS_RECORDINGS_STATE_KEY=new,old``), for the MCP face only."""
        if self.state_key is None:
            return None
        return [key.strip() for key in self.state_key.get_secret_value().split(",")]

    @property
    def effective_stateless(self) -> bool:
        """Several worker processes cannot share a session (it lives in one process's memory): they serve stateless."""
        return self.stateless or self.workers > 1

    @property
    def oauth(self) -> bool:
        return self.oauth_issuer is not None

    def check(self) -> None:
        super().check()
        if self.redis_url is not None and not self.redis_url.get_secret_value().startswith(("redis://", "rediss://")):
            raise ConfigError("HMS_RECORDINGS_REDIS_URL must start with redis:// or rediss://")
        if self.state_key is not None and any(len(k) < 32 for k in self.state_keys() or []):
            raise ConfigError(
                "HMS_RECORDINGS_STATE_KEY must be one key, or several separated by commas, each at least 32 characters "
                "of secret randomness (python -c 'import secrets; print(secrets.token_hex(32))')"
            )
        if self.workers > 1 and self.transport == "stdio":
            raise ConfigError("--workers needs the http transport: a stdio server has one client, its parent process")
        if (self.oauth_issuer is None) != (self.oauth_audience is None):
            raise ConfigError(
                "HMS_RECORDINGS_OAUTH_ISSUER and HMS_RECORDINGS_OAUTH_AUDIENCE go together: set both to accept OAuth "
                "access tokens, or neither"
            )
        if self.oauth_jwks_url is not None and self.oauth_issuer is None:
            raise ConfigError("HMS_RECORDINGS_OAUTH_JWKS_URL needs HMS_RECORDINGS_OAUTH_ISSUER (whose keys are they?)")
        if self.oauth and self.auth_token is not None:
            raise ConfigError(
                "HMS_RECORDINGS_AUTH_TOKEN and HMS_RECORDINGS_OAUTH_ISSUER both choose inbound authentication; set one"
            )
        authenticated = self.auth_token is not None or self.oauth
        if self.transport == "http" and not is_loopback(self.host) and not authenticated and not self.insecure:
            raise ConfigError(
                f"refusing to listen on {self.host} without inbound authentication: set HMS_RECORDINGS_AUTH_TOKEN "
                "(clients then send 'Authorization: Bearer <token>'), or pass --insecure if a proxy in front of this "
                "server authenticates callers"
            )


# ------------------------------------------------------------------------------------------------------- refusals


def _origin(
    cls: type[CallSettings], name: str, given: Mapping[str, Any], env: Mapping[str, str], file: Mapping[str, Any]
) -> tuple[str, Any]:
    """Where a refused value came from, and the value as given there."""
    if name in given:
        return ("--" + ("upstream" if name == "upstreams" else name).replace("_", "-")), given[name]
    variable = ENV_PREFIX + name.upper()
    if name not in FLAG_ONLY and env.get(variable):
        return variable, env[variable]
    if name in file:
        return f"the capability file's {cls.FILE_FIELDS.get(name, name)}", file[name]
    return name, None


def _number(value: float) -> str:
    """``1000``, ``0.05``: integers without a decimal point or an exponent."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _bounds(cls: type[CallSettings], name: str) -> tuple[float | None, float | None]:
    info = cls.model_fields.get(name)
    metadata = info.metadata if info is not None else []
    low = next((m.ge for m in metadata if getattr(m, "ge", None) is not None), None)
    high = next((m.le for m in metadata if getattr(m, "le", None) is not None), None)
    return low, high


def _explain(
    cls: type[CallSettings],
    exc: ValidationError,
    given: Mapping[str, Any],
    env: Mapping[str, str],
    file: Mapping[str, Any],
) -> str:
    """The first refused value, said the way a user fixes it: its source, what it must be, what it was."""
    error = exc.errors()[0]
    name = str(error["loc"][0]) if error["loc"] else "?"
    source, raw = _origin(cls, name, given, env, file)
    kind = error["type"]
    ctx = error.get("ctx") or {}
    low, high = _bounds(cls, name)
    if kind in ("int_parsing", "int_from_float", "int_type"):
        what = "an integer"
    elif kind in ("float_parsing", "float_type"):
        what = "a number"
    elif kind in ("bool_parsing", "bool_type"):
        what = "a boolean (1/0, true/false, yes/no, on/off)"
    elif kind in ("literal_error", "enum"):
        what = f"one of {ctx.get('expected', '?')}".replace("'", "")
    elif kind in ("greater_than_equal", "less_than_equal", "finite_number") and low is not None and high is not None:
        what = f"between {_number(low)} and {_number(high)}"
    elif kind in ("string_too_short", "too_short"):
        what = f"at least {ctx.get('min_length')} characters long"
    elif kind in ("string_too_long", "too_long"):
        what = f"at most {ctx.get('max_length')} characters long"
    else:
        what = error["msg"]
    shown = "" if name in ENV_ONLY or raw is None else f", got {raw!r}"  # a secret is never echoed
    return f"{source} must be {what}{shown}"
