"""Every corpus tool sends exactly the request its file declares (issue 17).

For every corpus file the lenient load accepts, the real service is built with each consumed API pointed at the
session's recording upstream (``/<file-id>/<namespace>``); every served MCP tool is called once through
``service.call`` with arguments made from its published input schema, and what arrived is compared with what the
reference interpreter (``expected.py``) reads in the file: method, path, query, declared headers, the credential,
the body and its content type. The interpreter also names the values the request needs that the input schema does
not carry. Tools whose requests the file does not determine (a script step, a mock) are counted and reported.
"""

from __future__ import annotations

import email.parser
import email.policy
import functools
import hashlib
import json
import re
from typing import Any
from urllib.parse import parse_qsl, unquote

import pytest
from jsonschema import Draft202012Validator

from hms_recordings.capability.loader import load_capability
from hms_recordings.capability.model import Capability
from hms_recordings.capability.versions import normalise
from hms_recordings.errors import BindingError, CapabilityError
from hms_recordings.runtime.bodies import EncodedBody
from hms_recordings.runtime.inventory import ForwardEntry, compile_inventory
from hms_recordings.runtime.invoker import CallContext
from hms_recordings.runtime.service import CapabilityService, build_service
from hms_recordings.runtime.upstream import RetryPolicy
from hms_recordings.runtime.upstreams import RelayRequest, UpstreamSettings
from tests.corpus.corpus import CORPUS, capability_files, doc
from tests.corpus.expected import SKIPPED, Expectation, ExpectedRequest, Oracle, Unsupported
from tests.corpus.recording_upstream import RecordedRequest, RecordingUpstream

#: One attempt, no back-off: a fake that always answers 200 never needs a second one.
NO_RETRY = RetryPolicy(attempts=1, backoff_base=0.0, backoff_max=0.0, deadline=10.0, max_retry_after=0.0)
#: Headers any HTTP client adds on its own; every other header must be one the file declares.
TRANSPORT_HEADERS = frozenset({"host", "accept", "accept-encoding", "connection", "user-agent", "content-length"})
#: How deep sample arguments go into nested schemas.
MAX_SAMPLE_DEPTH = 4


@functools.cache
def _loads(file: str) -> Capability | None:
    try:
        return load_capability(doc(file))
    except CapabilityError:
        return None


FILES = [f for f in capability_files() if _loads(f) is not None]


def _file_id(file: str) -> str:
    return hashlib.sha1(file.encode()).hexdigest()[:12]


# -- sample arguments from a published schema ---------------------------------------------------------------------


def _slug(name: str) -> str:
    return "v-" + (re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower() or "x")


_FORMATS = {
    "date": "2026-01-02",
    "date-time": "2026-01-02T03:04:05Z",
    "time": "03:04:05",
    "email": "someone@example.com",
    "uuid": "123e4567-e89b-12d3-a456-426614174000",
    "uri": "https://example.com/x",
    "url": "https://example.com/x",
}


def sample(name: str, schema: Any, depth: int = 0) -> Any:
    """A value ``schema`` accepts, safe as a path segment when it is a string."""
    if not isinstance(schema, dict):
        return _slug(name)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        if isinstance(schema.get(key), list) and schema[key]:
            options = [s for s in schema[key] if isinstance(s, dict) and s.get("type") != "null"]
            return sample(name, {**(options or schema[key])[0], **{k: v for k, v in schema.items() if k != key}})
    kind = schema.get("type", "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind == "integer":
        return max(int(schema.get("minimum", 7)), min(7, int(schema.get("maximum", 7))))
    if kind == "number":
        return max(float(schema.get("minimum", 2.5)), min(2.5, float(schema.get("maximum", 2.5))))
    if kind == "boolean":
        return True
    if kind == "array":
        count = max(1, int(schema.get("minItems", 1)))
        return [sample(f"{name}-{i}", schema.get("items"), depth + 1) for i in range(count)] if depth < 4 else []
    if kind == "object":
        props = schema.get("properties") or {}
        return {k: sample(k, v, depth + 1) for k, v in props.items()} if depth < MAX_SAMPLE_DEPTH else {}
    text = _FORMATS.get(str(schema.get("format")), _slug(name))
    pattern = schema.get("pattern")
    if isinstance(pattern, str):
        candidates = [
            text,
            "abc123",
            "ABC123",
            "123456",
            "a",
            "abcdef0123456789abcdef01",
            "A1",
            "abc-123",
            "2026-01-02",
        ]
        text = next((c for c in candidates if re.search(pattern, c)), text)
    low, high = int(schema.get("minLength", 0)), int(schema.get("maxLength", 10_000))
    return (text + "x" * max(0, low - len(text)))[:high]


def arguments(schema: dict[str, Any]) -> dict[str, Any]:
    """Every property of the tool's input schema, required or not."""
    return {name: sample(name, prop) for name, prop in (schema.get("properties") or {}).items()}


# -- comparing one recorded request with one expected -------------------------------------------------------------


def _multipart(record: RecordedRequest) -> list[tuple[str, str | None, str | None, str]]:
    raw = f"Content-Type: {record.header('content-type')}\r\n\r\n".encode() + record.body
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(raw)
    parts = []
    for part in message.iter_parts() if message.is_multipart() else []:
        payload = part.get_payload(decode=True)
        payload = payload if isinstance(payload, bytes) else b""
        declared = part.get("content-type")
        parts.append(
            (
                str(part.get_param("name", header="content-disposition") or ""),
                part.get_filename(),
                str(declared).split(";")[0] if declared else None,
                payload.decode("utf-8", "replace"),
            )
        )
    return parts


def _body(record: RecordedRequest, kind: str | None) -> Any:
    if kind == "json":
        text = record.body.decode("utf-8", "replace")
        try:
            return json.loads(text)
        except ValueError:
            return text
    if kind == "text":
        return record.body.decode("utf-8", "replace")
    if kind == "form":
        return sorted(parse_qsl(record.body.decode("utf-8", "replace"), keep_blank_values=True))
    if kind == "multipart":
        return _multipart(record)
    return record.body.decode("utf-8", "replace") or None


def differences(record: RecordedRequest, expected: ExpectedRequest, prefix: str) -> list[str]:
    """Each way ``record`` differs from ``expected``, as ``[cause] expected ... got ...`` lines."""
    found = []
    if record.method != expected.method:
        found.append(f"[method] expected {expected.method}, got {record.method}")
    path = unquote(record.raw_path.removeprefix(prefix))
    if path != unquote(expected.path):
        found.append(f"[path] expected {unquote(expected.path)!r}, got {path!r}")
    query = tuple(sorted(parse_qsl(record.query_string, keep_blank_values=True)))
    if query != expected.query:
        found.append(f"[query] expected {list(expected.query)}, got {list(query)}")
    declared = dict(expected.headers)
    for name, value in expected.headers:
        got = record.header(name)
        if name == "content-type":
            got = got.split(";")[0].strip() if got else got
        if got != value:
            cause = "credential" if name == "authorization" or value.startswith("t-") else f"header {name}"
            found.append(f"[{cause}] {name}: expected {value!r}, got {got!r}")
    extra = sorted({k for k, _ in record.headers} - TRANSPORT_HEADERS - set(declared))
    if extra:
        found.append(f"[extra headers] {extra}")
    body = _body(record, expected.body_kind)
    if body != expected.body:
        found.append(f"[body {expected.body_kind}] expected {expected.body!r:.300}, got {body!r:.300}")
    return found


# -- one file --------------------------------------------------------------------------------------------------------


def _mcp_tools(data: dict[str, Any], oracle: Oracle) -> dict[str, tuple[dict[str, Any], str]]:
    cap = data.get("capability") or {}
    tools: dict[str, tuple[dict[str, Any], str]] = {}
    exposes = [e for e in cap.get("exposes") or [] if isinstance(e, dict)]
    for expose in exposes:
        if expose.get("type") == "mcp":
            for tool in expose.get("tools") or []:
                if isinstance(tool, dict) and tool.get("name"):
                    tools.setdefault(str(tool["name"]), (tool, str(expose.get("namespace") or "")))
    if not _declares_entries(exposes):
        # A file that exposes nothing is served one tool per consumed operation (docs/capability-format.md):
        # the oracle expects each to send its operation's request, as a tool with no `with` would.
        for namespace, api in oracle.consumes.items():
            for resource in api.get("resources") or []:
                for op in (resource.get("operations") or []) if isinstance(resource, dict) else []:
                    if isinstance(op, dict) and op.get("name"):
                        name = re.sub(r"[^A-Za-z0-9._-]", "-", f"{namespace}-{op['name']}")[:128]
                        tools.setdefault(name, ({"name": name, "call": f"{namespace}.{op['name']}"}, "default-mcp"))
    return tools


def _declares_entries(exposes: list[dict[str, Any]]) -> bool:
    for expose in exposes:
        kind = expose.get("type")
        if kind == "skill" or (kind == "mcp" and any(expose.get(k) for k in ("tools", "resources", "prompts"))):
            return True
        resources = [r for r in expose.get("resources") or [] if isinstance(r, dict)]
        if kind == "rest" and any(r.get("operations") for r in resources):
            return True
    return False


def _service(capability: Capability, upstream: RecordingUpstream, fid: str, env: dict[str, str]) -> CapabilityService:
    settings = UpstreamSettings(
        upstreams={ns: f"{upstream.base}/{fid}/{ns}" for ns in capability.consumes},
        env=env,
        retry=NO_RETRY,
    )
    return build_service(compile_inventory(capability), settings)


async def _check_tool(
    service: CapabilityService,
    oracle: Oracle,
    name: str,
    decl: tuple[dict[str, Any], str],
    upstream: RecordingUpstream,
    fid: str,
) -> list[str]:
    entry = service.tool(name)
    assert entry is not None
    args = arguments(entry.input_schema)
    try:
        expectation: Expectation = oracle.expect(decl[0], decl[1], args)
    except Unsupported as why:
        SKIPPED[str(why)] += 1
        return []
    problems = []
    props = set(entry.input_schema.get("properties") or {})
    if expectation.missing:
        problems.append(
            f"[schema] the request needs {sorted(expectation.missing)}, not in the input schema {sorted(props)}"
        )
    if not Draft202012Validator(entry.input_schema).is_valid(args):
        problems.append(f"[sample] the generated arguments {args} do not fit the schema (test limitation)")
    upstream.forget(f"/{fid}/")
    outcome = await service.call(name, args, CallContext(face="mcp"))
    records = upstream.under(f"/{fid}/")
    if expectation.stops:
        SKIPPED[f"partly checked: {expectation.stops}"] += 1
        records = records[: len(expectation.requests)]
    if len(records) != len(expectation.requests):
        error = outcome.error.message if outcome.error else "no error"
        problems.append(f"[call] expected {len(expectation.requests)} request(s), got {len(records)}: {error[:300]}")
    for index, (record, expected) in enumerate(zip(records, expectation.requests, strict=False)):
        ns = record.raw_path.removeprefix(f"/{fid}/").split("/")[0]
        for line in differences(record, expected, f"/{fid}/{ns}"):
            problems.append(f"{line} (request {index + 1})" if len(expectation.requests) > 1 else line)
    return [f"{name}: {p}" for p in problems]


@pytest.mark.anyio
@pytest.mark.parametrize("file", FILES)
async def test_every_served_tool_sends_exactly_the_request_its_file_declares(
    file: str, upstream: RecordingUpstream
) -> None:
    capability = _loads(file)
    assert capability is not None
    data = normalise(doc(file)).doc.data
    oracle = Oracle(data, CORPUS / file)
    fid = _file_id(file)
    if oracle.bind_files_missing():
        # The values live in a file the corpus does not have: the service must refuse to start, naming it.
        with pytest.raises(BindingError):
            _service(capability, upstream, fid, oracle.env)
        SKIPPED["bind file absent (refusal checked)"] += 1
        return
    declared = _mcp_tools(data, oracle)
    service = _service(capability, upstream, fid, oracle.env)
    problems: list[str] = []
    async with service:
        for entry in service.tools():
            if entry.kind != "tool" or entry.name not in declared:
                continue
            if entry.handler is not None:
                SKIPPED["a registered handler (x-handler)"] += 1
                continue
            problems += await _check_tool(service, oracle, entry.name, declared[entry.name], upstream, fid)
        for forward in service.forwards():
            problems += await _check_forward(service, forward, upstream, fid)
    assert not problems, "\n".join(problems)


async def _check_forward(
    service: CapabilityService, forward: ForwardEntry, upstream: RecordingUpstream, fid: str
) -> list[str]:
    """A REST forward relays a request under its API's base: the path, the query and the body as they came."""
    prefix = f"/{fid}/{forward.forward.target}"
    upstream.forget(prefix)
    body = EncodedBody("application/json", content=b'{"probe": true}')
    relayed = await service.relay(forward, RelayRequest("POST", "/corpus/probe", (("q", "1"),), (), body))
    records = upstream.under(prefix)
    where = f"forward {forward.resource.path}"
    if relayed.error is not None or len(records) != 1:
        return [f"{where}: [call] {relayed.error.message if relayed.error else f'{len(records)} requests'}"]
    [record] = records
    sent = (record.method, record.raw_path, record.query_string, record.body)
    if sent != ("POST", f"{prefix}/corpus/probe", "q=1", b'{"probe": true}'):
        return [f"{where}: [path] sent {sent}"]
    return []
