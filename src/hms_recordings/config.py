"""Server configuration: one typed object, built once at the CLI edge.

Precedence, highest first: command-line flag > environment variable (prefix ``HMS_RECORDINGS_``) > the capability
file (``address``, ``port``, ``transport`` of its MCP expose) > built-in default. ``tests/test_config.py`` checks it.

| setting    | flag          | environment                    | file                  | default     |
|------------|---------------|--------------------------------|-----------------------|-------------|
| transport  | --transport   | HMS_RECORDINGS_TRANSPORT       | exposes[mcp].transport| http        |
| host       | --host        | HMS_RECORDINGS_HOST            | exposes[mcp].address  | 127.0.0.1   |
| port       | --port        | HMS_RECORDINGS_PORT            | exposes[mcp].port     | 9090        |
| rest port  | --rest-port   | HMS_RECORDINGS_REST_PORT       | exposes[rest].port    | (none)      |
| read-only  | --read-only   | HMS_RECORDINGS_READ_ONLY=1     | -                     | off         |
| tools      | --tools a,b   | HMS_RECORDINGS_TOOLS=a,b       | -                     | all         |
| auth token | -             | HMS_RECORDINGS_AUTH_TOKEN      | -                     | none        |
| allowed hosts | -          | HMS_RECORDINGS_ALLOWED_HOSTS=h1,h2 | -                  | loopback (+ --host) |
| attempts   | -             | HMS_RECORDINGS_RETRY_ATTEMPTS  | -                     | 6           |
| deadline   | -             | HMS_RECORDINGS_RETRY_DEADLINE  | -                     | 30 (s)      |
| connect    | -             | HMS_RECORDINGS_TIMEOUT_CONNECT | -                     | 5 (s)       |
| read       | -             | HMS_RECORDINGS_TIMEOUT_READ    | -                     | 30 (s)      |
| concurrency| -             | HMS_RECORDINGS_MAX_CONCURRENCY | -                     | 32          |

The last five shape the upstream client (docs/reliability.md; defaults from ``RetryPolicy``/``Timeouts``); a flag of
the same name (``retry_attempts``...) wins over the variable when the CLI defines one. ``tests/reliability/
test_config_resilience.py`` checks them.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from hms_recordings.capability.model import Capability
from hms_recordings.errors import ConfigError
from hms_recordings.runtime.upstream import RetryPolicy, Timeouts

__all__ = ["ENV_PREFIX", "ServeConfig", "is_loopback", "parse_upstreams"]

ENV_PREFIX = "HMS_RECORDINGS_"
TRANSPORTS = ("http", "stdio")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def parse_upstreams(values: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values or []:
        namespace, sep, url = item.partition("=")
        if not sep or not namespace or not url.startswith(("http://", "https://")):
            raise ConfigError(f"--upstream {item!r} must look like NAMESPACE=http(s)://host/prefix")
        out[namespace] = url.rstrip("/")
    return out


def _flag_bool(value: str | None) -> bool | None:
    if value is None or value == "":
        return None
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"cannot read {value!r} as a boolean (use 1/0, true/false)")


#: Upstream resilience settings: (field, environment suffix, type, lowest, highest, default).
_RESILIENCE: tuple[tuple[str, str, type, float, float, float], ...] = (
    ("retry_attempts", "RETRY_ATTEMPTS", int, 1, 20, RetryPolicy.attempts),
    ("retry_deadline", "RETRY_DEADLINE", float, 0.1, 3600, RetryPolicy.deadline),
    ("timeout_connect", "TIMEOUT_CONNECT", float, 0.05, 600, Timeouts.connect),
    ("timeout_read", "TIMEOUT_READ", float, 0.05, 3600, Timeouts.read),
    ("max_concurrency", "MAX_CONCURRENCY", int, 1, 1024, 32),
)


def _resilience(flags: Mapping[str, object], env: Mapping[str, str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, suffix, kind, low, high, default in _RESILIENCE:
        raw = flags.get(name)
        source = f"--{name.replace('_', '-')}"
        if raw is None:
            raw, source = env.get(ENV_PREFIX + suffix) or None, ENV_PREFIX + suffix
        if raw is None:
            out[name] = default
            continue
        try:
            value = kind(str(raw))
        except ValueError:
            raise ConfigError(f"{source} must be {'an integer' if kind is int else 'a number'}, got {raw!r}") from None
        if not low <= value <= high:  # also rejects NaN
            raise ConfigError(f"{source} must be between {low:g} and {high:g}, got {raw!r}")
        out[name] = value
    return out


@dataclass(frozen=True)
class ServeConfig:
    transport: str = "http"
    host: str = "127.0.0.1"
    port: int = 9090
    rest_port: int | None = None
    read_only: bool = False
    tools: tuple[str, ...] | None = None
    upstreams: dict[str, str] = field(default_factory=dict)
    emulator: bool = False
    auth_token: str | None = None
    allowed_hosts: tuple[str, ...] = ()  # extra Host names (HMS_RECORDINGS_ALLOWED_HOSTS) for non-loopback serving
    insecure: bool = False
    stateless: bool = False
    json_response: bool = False
    log_level: str = "WARNING"
    json_logs: bool = False
    retry_attempts: int = RetryPolicy.attempts
    retry_deadline: float = RetryPolicy.deadline
    timeout_connect: float = Timeouts.connect
    timeout_read: float = Timeouts.read
    max_concurrency: int = 32

    @classmethod
    def upstream_only(cls, env: Mapping[str, str] | None = None) -> ServeConfig:
        """Only the upstream client's settings (retries, timeouts, concurrency) from the environment: for ``call``."""
        return cls(**_resilience({}, os.environ if env is None else env))  # type: ignore[arg-type]

    @property
    def retry(self) -> RetryPolicy:
        return RetryPolicy(attempts=self.retry_attempts, deadline=self.retry_deadline)

    @property
    def timeouts(self) -> Timeouts:
        return Timeouts(connect=self.timeout_connect, read=self.timeout_read)

    def __repr__(self) -> str:  # the inbound token must not appear in logs or tracebacks
        token = "'***'" if self.auth_token else "None"
        return (
            f"ServeConfig(transport={self.transport!r}, host={self.host!r}, port={self.port}, "
            f"rest_port={self.rest_port}, read_only={self.read_only}, tools={self.tools}, "
            f"emulator={self.emulator}, auth_token={token}, insecure={self.insecure})"
        )

    @classmethod
    def build(
        cls,
        capability: Capability | None,
        *,
        flags: Mapping[str, object],
        env: Mapping[str, str] | None = None,
    ) -> ServeConfig:
        """Merge flags (``None`` = not given), environment and the file's MCP expose, then check the result."""
        env = os.environ if env is None else env
        expose = capability.mcp[0] if capability and capability.mcp else None
        rest = capability.rest[0] if capability and capability.rest else None

        def pick(name: str, env_name: str, from_file: object, default: object) -> object:
            flag = flags.get(name)
            if flag is not None:
                return flag
            raw = env.get(ENV_PREFIX + env_name)
            if raw:
                return raw
            return from_file if from_file is not None else default

        transport = str(pick("transport", "TRANSPORT", expose.transport if expose else None, "http"))
        if transport not in TRANSPORTS:
            raise ConfigError(f"transport {transport!r} is not one of {', '.join(TRANSPORTS)}")
        host = str(pick("host", "HOST", expose.address if expose else None, "127.0.0.1"))
        try:
            port = int(str(pick("port", "PORT", expose.port if expose else None, 9090)))
            rest_raw = pick("rest_port", "REST_PORT", rest.port if rest else None, None)
            rest_port = None if rest_raw is None else int(str(rest_raw))
        except ValueError as exc:
            raise ConfigError(f"a port must be a number: {exc}") from None
        read_only = flags.get("read_only") or _flag_bool(env.get(ENV_PREFIX + "READ_ONLY")) or False
        tools_raw = flags.get("tools") or env.get(ENV_PREFIX + "TOOLS")
        tools = tuple(t.strip() for t in str(tools_raw).split(",") if t.strip()) if tools_raw else None
        config = cls(
            transport=transport,
            host=host,
            port=port,
            rest_port=rest_port,
            read_only=bool(read_only),
            tools=tools,
            upstreams=parse_upstreams(flags.get("upstream")),  # type: ignore[arg-type]
            emulator=bool(flags.get("emulator")),
            auth_token=env.get(ENV_PREFIX + "AUTH_TOKEN") or None,
            allowed_hosts=tuple(h.strip() for h in env.get(ENV_PREFIX + "ALLOWED_HOSTS", "").split(",") if h.strip()),
            insecure=bool(flags.get("insecure")),
            stateless=bool(flags.get("stateless")),
            json_response=bool(flags.get("json_response")),
            log_level=str(flags.get("log_level") or env.get(ENV_PREFIX + "LOG_LEVEL") or "WARNING").upper(),
            json_logs=bool(flags.get("json_logs")) or bool(_flag_bool(env.get(ENV_PREFIX + "JSON_LOGS"))),
            **_resilience(flags, env),  # type: ignore[arg-type]
        )
        config.check()
        return config

    def check(self) -> None:
        if not 0 <= self.port <= 65535 or (self.rest_port is not None and not 0 <= self.rest_port <= 65535):
            raise ConfigError("ports must be between 0 and 65535")
        if self.transport == "http" and not is_loopback(self.host) and not self.auth_token and not self.insecure:
            raise ConfigError(
                f"refusing to listen on {self.host} without inbound authentication: set HMS_RECORDINGS_AUTH_TOKEN "
                "(clients then send 'Authorization: Bearer <token>'), or pass --insecure if a proxy in front of this "
                "server authenticates callers"
            )
        if self.emulator and self.upstreams:
            raise ConfigError("--emulator and --upstream both choose the upstream; pass one of them")
