"""The error taxonomy shared by every face: each ``kind`` an error can have, what it means, and what to do next.

This table is the single source of truth for the words around an error: the REST face's problem ``title``, the
Agent Skill's troubleshooting section and ``docs/rest.md`` all come from it. The ``kind`` itself and the error's own
text are decided in one place, :func:`hms_recordings.runtime.outcome.failure_from_exception`, so the MCP tool error,
the REST problem and the CLI's stderr line say the same thing for the same cause.

``tests/faces/test_taxonomy.py`` checks that every kind the runtime and the faces can produce is listed here.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["HTTP_ONLY", "KINDS", "PROBLEM_BASE", "Kind", "problem_type", "title"]

#: Problem ``type`` URIs are ``PROBLEM_BASE + kind``: a relative reference (RFC 9457 allows one), resolved against
#: the request's URL to a page that every HTTP face serves (:func:`hms_recordings.faces.problems.problem_pages`).
PROBLEM_BASE = "/problems/"


class Kind(NamedTuple):
    meaning: str
    next_step: str


KINDS: dict[str, Kind] = {
    # The caller's input: nothing was sent upstream.
    "invalid_arguments": Kind(
        "the arguments were rejected before anything was sent upstream",
        "fix the fields the message names (the tool's input schema says what is allowed) and call again",
    ),
    "unknown_tool": Kind(
        "no tool of that name is served",
        "list the tools (`hms-recordings tools`, MCP tools/list or /openapi.json); --read-only, --tools and --toolsets "
        "hide some",
    ),
    # Credentials and permissions.
    "credentials": Kind(
        "there is no upstream credential to send, or the upstream refused the one sent",
        "set or fix the variables the message names (the credentials the capability binds), then call again",
    ),
    "forbidden": Kind(
        "the upstream refused this action on this resource",
        "check that the resource exists and belongs to the account of the credential",
    ),
    # The upstream's answer about the resource.
    "not_found": Kind(
        "the resource does not exist, or is not in a state where the call applies",
        "follow the message: it names the call that lists valid ids or shows the current state",
    ),
    "conflict": Kind(
        "the call clashes with the resource's current state",
        "follow the message: it says what is in the way and which call or option resolves it",
    ),
    "not_ready": Kind(
        "the resource is not ready for this call yet",
        "check its status, wait until it is ready, then call again",
    ),
    "invalid_request": Kind(
        "the upstream rejected the request as invalid",
        "fix the values the message names; the upstream's own words are included",
    ),
    "too_large": Kind("the request is too large", "send a smaller request"),
    "upstream_rejected": Kind(
        "the upstream refused the request (another 4xx status, passed through)",
        "read the upstream's message included in the text",
    ),
    # The upstream's health.
    "rate_limited": Kind(
        "the upstream is rate limiting us",
        "wait for `retry_after` seconds (or a few seconds) and call again",
    ),
    "upstream_error": Kind(
        "the upstream failed (5xx) even after the allowed retries",
        "try again later; a write that failed this way may still have happened: check with a read first",
    ),
    "upstream_timeout": Kind(
        "the upstream did not answer in time",
        "try again later; for a write, check with a read whether it happened before repeating it",
    ),
    "upstream_unavailable": Kind(
        "the upstream could not be reached, or dropped the connection",
        "check the network and the upstream URL (--upstream), then try again",
    ),
    # This server and its configuration.
    "unsupported": Kind(
        "the capability file uses a feature this runtime does not run",
        "change the capability file as the message says",
    ),
    "internal_error": Kind(
        "a bug in hms-recordings",
        "look for the request id in the server log and report it",
    ),
    "capability_error": Kind("the capability file cannot be used", "fix the file at the YAML path the message names"),
    "binding_error": Kind("a variable the capability binds is not set", "set the variable the message names"),
    "config_error": Kind("the server's configuration cannot work", "change the flags or variables the message names"),
    "error": Kind("the call failed", "read the message"),
    # HTTP faces only: the request never reached a tool.
    "no_route": Kind("no route has this path", "see /openapi.json or /docs for the routes this server has"),
    "method_not_allowed": Kind(
        "the route does not take this HTTP method", "use a method the `Allow` header or /openapi.json lists"
    ),
    "unauthorized": Kind(
        "the inbound bearer token is missing or wrong",
        "send `Authorization: Bearer <HMS_RECORDINGS_AUTH_TOKEN>`",
    ),
    "invalid_token": Kind(
        "the OAuth access token is not accepted (expired, for another audience or issuer, or not signed by the "
        "issuer's keys)",
        "get a fresh token from the authorization server the protected-resource metadata names, then call again",
    ),
    "insufficient_scope": Kind(
        "the caller's access token lacks a scope this tool needs",
        "ask the authorization server for a token with the scopes the `WWW-Authenticate` challenge names",
    ),
    "caller_rate_limited": Kind(
        "this caller has used up its share of calls for now (a per-caller limit of this server)",
        "wait for `retry_after` seconds (the `Retry-After` header), then call again",
    ),
    "host_not_allowed": Kind(
        "the request's Host or Origin header is not one this server answers",
        "call it by an allowed name (loopback, --host, or HMS_RECORDINGS_ALLOWED_HOSTS)",
    ),
    "webhook_secret": Kind(
        "the webhook delivery does not carry the configured secret header",
        "add the header named by HMS_RECORDINGS_WEBHOOK_HEADER with HMS_RECORDINGS_WEBHOOK_SECRET to the webhook",
    ),
    "busy": Kind("the server cannot take this request now", "retry after the seconds the `Retry-After` header says"),
    "draining": Kind(
        "this server is stopping (SIGTERM): /health/ready says so while calls in flight finish",
        "send new calls to another replica; a load balancer does so once its health check sees this",
    ),
}

#: Kinds only the HTTP faces produce: the request never reached a tool (the CLI and MCP tools never see them).
HTTP_ONLY = frozenset(
    {
        "no_route",
        "method_not_allowed",
        "unauthorized",
        "host_not_allowed",
        "invalid_token",
        "caller_rate_limited",
        "webhook_secret",
        "busy",
        "draining",
    }
)


def title(kind: str) -> str:
    """The problem ``title``: the kind in words (``upstream_timeout`` -> ``Upstream timeout``)."""
    return kind.replace("_", " ").capitalize()


def problem_type(kind: str) -> str:
    return PROBLEM_BASE + kind
