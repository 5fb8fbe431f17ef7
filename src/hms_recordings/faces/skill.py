"""The Agent Skill face: a ``SKILL.md`` folder that teaches an agent to use the capability with ``hms-recordings call``.

``hms-recordings skill export DIR`` writes ``DIR/<name>/SKILL.md``: front matter (``name``, ``description``), the
capability's own workflow text, how to set up credentials (and, when the caller gives it ``setup_text``, how to try
everything locally), one section per tool generated from the compiled schemas (arguments table and a command that
runs as written once its shell variables are set), and a troubleshooting section generated from
:mod:`hms_recordings.taxonomy`. A capability that declares ``type: skill`` exposes gets those skills instead (their
front matter fields, their ``tools`` as sections, and the files of their ``location`` folder).

Everything comes from the compiled inventory alone (``compile_inventory(capability).select()``): no upstream client,
no credential and no environment value is needed, or faked, to write a skill. Nothing here knows a particular API;
what is specific to one (a local stand-in, a token command) comes in as ``setup_text`` from whoever knows it.

Declared skills are also served over HTTP (see :func:`skill_routes`): ``GET /skills`` (the catalog),
``GET /skills/{name}`` (one skill and its file list), ``GET /skills/{name}.zip`` and
``GET /skills/{name}/files/{path}``.
"""

from __future__ import annotations

import io
import json
import mimetypes
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hms_recordings.capability.loader import BUILTIN_CAPABILITY
from hms_recordings.capability.model import Capability, ExposedSkill
from hms_recordings.faces.problems import problem_response
from hms_recordings.runtime.compiled import CompiledTool
from hms_recordings.runtime.inventory import compile_inventory
from hms_recordings.taxonomy import HTTP_ONLY, KINDS

__all__ = ["SkillBundle", "build_skills", "export_skill", "skill_routes"]

MAX_DESCRIPTION = 1024
MAX_LOCATION_BYTES = 5_000_000
_FRONT_MATTER_FIELDS = (
    "license",
    "compatibility",
    "metadata",
    "allowed-tools",
    "argument-hint",
    "user-invocable",
    "disable-model-invocation",
)


@dataclass(frozen=True)
class SkillBundle:
    """One skill: its name, description and files (relative POSIX path -> bytes; ``SKILL.md`` always among them)."""

    name: str
    description: str
    files: dict[str, bytes] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def zip_bytes(self) -> bytes:
        """The folder as a zip (entries under ``<name>/``), byte-for-byte reproducible."""
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(self.files):
                info = zipfile.ZipInfo(f"{self.name}/{path}", date_time=(1980, 1, 1, 0, 0, 0))
                info.external_attr = 0o644 << 16
                archive.writestr(info, self.files[path], zipfile.ZIP_DEFLATED)
        return buffer.getvalue()


# ------------------------------------------------------------------------------------------------------------ helpers


def skill_name(text: str) -> str:
    """A valid Agent Skills name (lowercase letters, digits, single hyphens, at most 64 characters)."""
    name = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:64].strip("-")
    return name or "hms-recordings"


def _cell(text: Any) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _yaml_scalar(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)  # JSON scalars, lists and objects are valid YAML flow values


def _front_matter(name: str, description: str, extra: dict[str, Any]) -> str:
    lines = ["---", f"name: {name}", f"description: {_yaml_scalar(description)}"]
    lines += [f"{key}: {_yaml_scalar(value)}" for key, value in extra.items()]
    return "\n".join([*lines, "---", ""])


def _variable(name: str) -> str:
    return re.sub(r"[^A-Z0-9_]", "_", name.upper())


def _example_value(name: str, prop: dict[str, Any]) -> str:
    """A required argument in an example: a literal when the schema pins it down, else a shell variable."""
    if isinstance(prop.get("enum"), list) and prop["enum"]:
        return str(prop.get("default", prop["enum"][0]))
    kind = prop.get("type")
    if kind == "boolean":
        return "false"
    if kind in ("integer", "number"):
        return str(prop.get("default", prop.get("minimum", 1)))
    return f'"${_variable(name)}"'


def _type_text(prop: dict[str, Any]) -> str:
    kind = prop.get("type", "any")
    text = "/".join(kind) if isinstance(kind, list) else str(kind)
    if isinstance(prop.get("enum"), list):
        text += ": " + ", ".join(f"`{v}`" for v in prop["enum"])
    if "pattern" in prop:
        text += f", pattern `{prop['pattern']}`"
    if "minimum" in prop or "maximum" in prop:
        text += f", {prop.get('minimum', '')}..{prop.get('maximum', '')}"
    if "default" in prop:
        text += f", default `{prop['default']}`"
    return text


def _examples_from_descriptions(tools: list[CompiledTool]) -> dict[str, str]:
    """``e.g. <value>`` in argument descriptions: sample values for the shell variables."""
    found: dict[str, str] = {}
    for tool in tools:
        for name, prop in (tool.input_schema.get("properties") or {}).items():
            match = re.search(r"e\.g\. (\S+?)[.,;)]?(?:\s|$)", str(prop.get("description", "")))
            if match and name not in found:
                found[name] = match.group(1)
    return found


# ----------------------------------------------------------------------------------------------------------- sections


def _command(tool: CompiledTool, capability_flag: str) -> str:
    schema = tool.input_schema
    properties: dict[str, Any] = schema.get("properties") or {}
    parts = ["hms-recordings", "call", tool.name]
    parts += [
        f"--arg {name}={_example_value(name, properties.get(name) or {})}" for name in schema.get("required") or ()
    ]
    if capability_flag:
        parts.append(capability_flag)
    parts.append("$UPSTREAM")
    return " ".join(parts)


def tool_section(tool: CompiledTool, capability_flag: str = "", heading: str = "###") -> str:
    """One tool: what it does, its arguments, a runnable command and what the result holds."""
    schema = tool.input_schema
    properties: dict[str, Any] = schema.get("properties") or {}
    required = set(schema.get("required") or ())
    label = f" ({tool.tool.label})" if tool.tool.label else ""
    kind = "read-only" if tool.read_only else "changes state"
    lines = [f"{heading} {tool.name}{label}", "", f"*{kind}.* {tool.tool.description}".rstrip(), ""]
    if properties:
        lines += ["| argument | type | required | description |", "|---|---|---|---|"]
        for name, prop in properties.items():
            lines.append(
                f"| `{name}` | {_cell(_type_text(prop))} | {'yes' if name in required else 'no'} "
                f"| {_cell(prop.get('description', ''))} |"
            )
        lines.append("")
    else:
        lines += ["No arguments.", ""]
    lines += ["```bash", _command(tool, capability_flag), "```", ""]
    output = tool.output_schema.get("properties") if isinstance(tool.output_schema, dict) else None
    if isinstance(output, dict) and output:
        lines += ["Result: a JSON object with " + ", ".join(f"`{k}`" for k in output) + ".", ""]
    return "\n".join(lines)


def troubleshooting_section() -> str:
    lines = [
        "## Troubleshooting",
        "",
        "A failed call prints one line on stderr, `kind: message`, and exits with 1 (2 for invalid arguments or an "
        "unknown tool, 3 when the configuration is refused, such as missing credentials). The message says what went "
        "wrong and what to do next; nothing was sent upstream for `invalid_arguments`.",
        "",
        "| kind | meaning | what to do |",
        "|---|---|---|",
    ]
    lines += [
        f"| `{kind}` | {_cell(k.meaning)} | {_cell(k.next_step)} |"
        for kind, k in KINDS.items()
        if kind not in HTTP_ONLY
    ]
    return "\n".join([*lines, ""])


def _setup_section(capability: Capability, tools: list[CompiledTool], setup_text: str | None) -> str:
    """Credentials, the ``UPSTREAM`` variable every command ends with, and the shell variables the commands read.

    ``setup_text``: shell lines appended to the setup block, after the line for the real API; they may set
    ``UPSTREAM`` to other ``--upstream`` flags (a local stand-in of the API, say) and export credentials for it."""
    keys = sorted({key for bind in capability.binds for key in bind.keys.values()})
    lines = ["## Setup", ""]
    if keys:
        lines += [
            f"The capability reads its credentials from {', '.join(f'`{k}`' for k in keys)}; a missing one is "
            "named in the error (exit code 3).",
            "",
        ]
    lines += ["```bash", "# against the real API, with the variables above exported:", 'UPSTREAM=""']
    if setup_text and setup_text.strip():
        lines += setup_text.strip("\n").splitlines()
    lines += ["```", ""]
    variables: dict[str, tuple[str, list[str]]] = {}
    for tool in tools:
        for name in tool.input_schema.get("required") or ():
            prop = (tool.input_schema.get("properties") or {}).get(name) or {}
            if _example_value(name, prop).startswith('"$'):
                variables.setdefault(name, (_variable(name), []))[1].append(tool.name)
    if variables:
        samples = _examples_from_descriptions(tools)
        lines += [
            "The commands below read these shell variables; set each from your own data or from an earlier result "
            "(ids are in the `id` fields of results), e.g. `RECORDING_ID=<id>`:",
            "",
            "| variable | argument | example value | used by |",
            "|---|---|---|---|",
        ]
        for name, (var, users) in variables.items():
            sample = f"`{samples[name]}`" if name in samples else ""
            lines.append(f"| `{var}` | `{name}` | {sample} | {', '.join(users)} |")
        lines.append("")
    lines += [
        "Each command prints the result as JSON on stdout. Arguments are `--arg NAME=VALUE` (numbers, booleans, "
        "objects and arrays are read as JSON) or all at once with `--args-json '{...}'`.",
        "",
    ]
    return "\n".join(lines)


def _description(capability: Capability, tools: Sequence[CompiledTool]) -> str:
    names = ", ".join(t.name for t in tools)
    what = (capability.description or capability.label or "Call the capability's tools.").strip()
    text = (
        f"{what} Use this skill when a task needs {capability.label or 'these operations'}: it runs the "
        f"tools {names} with the `hms-recordings call` command."
    )
    return text if len(text) <= MAX_DESCRIPTION else text[: MAX_DESCRIPTION - 1].rstrip() + "…"


def _capability_flag(capability: Capability) -> str:
    if not capability.file or Path(capability.file).resolve() == BUILTIN_CAPABILITY.resolve():
        return ""
    return '--capability "$CAPABILITY"'


def _capability_note(flag: str) -> list[str]:
    if not flag:
        return []
    return [
        "This skill's folder holds `capability.yaml`; set `CAPABILITY` to its path before running the commands.",
        "",
    ]


def capability_skill(
    capability: Capability, tools: Sequence[CompiledTool], setup_text: str | None = None
) -> SkillBundle:
    """The skill of a capability that declares none: every tool, in the file's order."""
    name = skill_name(capability.label)
    description = _description(capability, tools)
    flag = _capability_flag(capability)
    workflow = next((m.description for m in capability.mcp if m.description), "")
    body = [f"# {capability.label or name}", "", capability.description.strip(), ""]
    body += _capability_note(flag)
    if workflow:
        body += ["## Workflow", "", workflow.strip(), ""]
    body += [_setup_section(capability, list(tools), setup_text), "## Tools", ""]
    body += [tool_section(tool, flag) for tool in tools]
    body.append(troubleshooting_section())
    files = {"SKILL.md": (_front_matter(name, description, {}) + "\n" + "\n".join(body)).encode()}
    if flag:
        files["capability.yaml"] = Path(capability.file).read_bytes()
    return SkillBundle(name, description, files)


def _location_files(location: str, base: Path) -> dict[str, bytes]:
    """The files of a skill's ``location`` (``file:///abs``, or ``file:///./relative`` to the capability file), read
    once; symbolic links and anything outside the folder are left out."""
    raw = unquote(urlsplit(location).path)
    root = base / raw[3:] if raw.startswith("/./") else Path(raw)
    files: dict[str, bytes] = {}
    total = 0
    if not root.is_dir():
        return files
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink() and root.resolve() in path.resolve().parents:
            data = path.read_bytes()
            total += len(data)
            if total > MAX_LOCATION_BYTES:
                break
            files[path.relative_to(root).as_posix()] = data
    return files


def declared_skill(
    capability: Capability, expose: ExposedSkill, tools: dict[str, CompiledTool], setup_text: str | None = None
) -> SkillBundle:
    """A ``type: skill`` expose: its front matter fields, its tools (``from`` a served tool, or an ``instruction``)."""
    data = expose.data
    name = skill_name(expose.name)
    meta = {key: data[key] for key in _FRONT_MATTER_FIELDS if key in data}
    base = Path(capability.file).parent if capability.file else Path.cwd()
    files = _location_files(str(data["location"]), base) if isinstance(data.get("location"), str) else {}
    flag = _capability_flag(capability)
    if "SKILL.md" not in files:
        body = [f"# {expose.name}", "", expose.description.strip(), ""]
        body += _capability_note(flag)
        used: list[CompiledTool] = []
        sections: list[str] = []
        for item in data.get("tools") or ():
            if not isinstance(item, dict):
                continue
            source = item.get("from") if isinstance(item.get("from"), dict) else None
            tool = tools.get(str(source.get("action"))) if source else None
            if tool is not None:
                used.append(tool)
                sections.append(f"{str(item.get('description') or '').strip()}\n\n{tool_section(tool, flag, '####')}")
            elif source is None:
                sections.append(
                    f"### {item.get('name', '')}\n\n{item.get('description', '')}\n\n"
                    f"{str(item.get('instruction') or '').strip()}\n"
                )
            # a tool `from` an action that is not served (read-only, --tools) is left out, as on the other faces
        if used:
            body.append(_setup_section(capability, used, setup_text))
        body += ["## Tools", "", *sections, troubleshooting_section()]
        files["SKILL.md"] = (_front_matter(name, expose.description, meta) + "\n" + "\n".join(body)).encode()
        if flag:
            files["capability.yaml"] = Path(capability.file).read_bytes()
    return SkillBundle(name, expose.description, files, meta)


def build_skills(
    capability: Capability, tools: Sequence[CompiledTool], *, setup_text: str | None = None
) -> list[SkillBundle]:
    """The declared skills, else the capability's own skill, over ``tools`` (the served ones: a selection made with
    ``--tools``, ``--toolsets`` or ``--read-only`` leaves the others out of the skill as of every other face)."""
    by_name = {tool.name: tool for tool in tools}
    if capability.skills:
        return [declared_skill(capability, expose, by_name, setup_text) for expose in capability.skills]
    return [capability_skill(capability, list(by_name.values()), setup_text)]


def export_skill(capability: Capability, directory: str | Path, *, setup_text: str | None = None) -> Path:
    """Write each skill to ``directory/<name>/``; returns the first skill's folder.

    The tools are the capability's compiled inventory, every tool (compiling needs no credential); an entry that
    cannot be compiled is left out, as the servers leave it out. ``setup_text``: see :func:`_setup_section`."""
    tools = compile_inventory(capability).select().tools.values()
    bundles = build_skills(capability, list(tools), setup_text=setup_text)
    out = Path(directory)
    for bundle in bundles:
        for relative, content in bundle.files.items():
            target = out / bundle.name / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
    return out / bundles[0].name


# -------------------------------------------------------------------------------------------------------------- HTTP


def skill_routes(bundles: list[SkillBundle]) -> list[Route]:
    """The skill catalog: ``/skills``, ``/skills/{name}``, ``/skills/{name}.zip``, ``/skills/{name}/files/{path}``."""
    by_name = {b.name: b for b in bundles}

    def summary(bundle: SkillBundle) -> dict[str, Any]:
        return {
            "name": bundle.name,
            "description": bundle.description,
            **bundle.meta,
            "url": f"/skills/{bundle.name}",
            "download": f"/skills/{bundle.name}.zip",
        }

    def missing(name: str) -> Response:
        known = ", ".join(by_name) or "none"
        return problem_response("no_route", 404, f"no skill {name!r}; skills: {known}")

    async def catalog(request: Request) -> Response:
        return JSONResponse({"skills": [summary(b) for b in bundles]})

    async def one(request: Request) -> Response:
        bundle = by_name.get(request.path_params["name"])
        if bundle is None:
            return missing(request.path_params["name"])
        files = [
            {"path": p, "size": len(c), "url": f"/skills/{bundle.name}/files/{p}"}
            for p, c in sorted(bundle.files.items())
        ]
        return JSONResponse({**summary(bundle), "files": files})

    async def download(request: Request) -> Response:
        bundle = by_name.get(request.path_params["name"])
        if bundle is None:
            return missing(request.path_params["name"])
        return Response(
            bundle.zip_bytes(),
            media_type="application/zip",
            headers={"Content-Disposition": f'attachment; filename="{bundle.name}.zip"'},
        )

    async def file(request: Request) -> Response:
        bundle = by_name.get(request.path_params["name"])
        if bundle is None:
            return missing(request.path_params["name"])
        path = request.path_params["path"]
        content = bundle.files.get(path)  # a lookup in what was read at start-up: no path reaches the filesystem
        if content is None:
            return problem_response("no_route", 404, f"skill {bundle.name} has no file {path!r}")
        kind = "text/markdown" if path.endswith(".md") else mimetypes.guess_type(path)[0] or "application/octet-stream"
        if kind.startswith("text/") or kind.endswith(("json", "yaml")):
            kind += "; charset=utf-8"
        return Response(content, media_type=kind)

    return [
        Route("/skills", catalog, methods=["GET"]),
        Route("/skills/{name}.zip", download, methods=["GET"]),
        Route("/skills/{name}", one, methods=["GET"]),
        Route("/skills/{name}/files/{path:path}", file, methods=["GET"]),
    ]
