"""``validate``: one report for a capability file, lenient (can we serve it?) or strict (is it pure alpha2?).

Lenient mode reports only what would stop the runtime from serving the file by its evident intent; that check
belongs to the loader and is passed in as ``lenient_check`` so this module stays independent of it. Strict mode adds
every alpha2 deviation from :func:`~hms_recordings.capability.strict.validate_strict`, grouped so that the same
deviation at several places counts once::

    >>> report = validate_file("missing.yaml", strict=True)
    >>> report.unreadable, report.exit_code()
    (True, 2)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from hms_recordings.capability.ignored import ignored_constructs
from hms_recordings.capability.strict import RuleFinding, group_findings, validate_strict
from hms_recordings.capability.versions import ALPHA2, declared_version, normalise
from hms_recordings.capability.yamlsource import YamlDoc, read_yaml
from hms_recordings.errors import CapabilityError, Finding

__all__ = ["LenientCheck", "ValidationReport", "validate_file"]

#: The loader's "would this stop serving?" check: findings with severity ``error`` make the file unservable.
LenientCheck = Callable[[YamlDoc], list[Finding]]


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


@dataclass
class ValidationReport:
    """The outcome of validating one file. ``findings`` holds everything; the properties sort it by kind."""

    file: str
    strict: bool = False
    unreadable: bool = False
    findings: list[Finding] = field(default_factory=list)
    #: The subset of ``findings`` that stops serving (lenient check errors, or why the file could not be read).
    serving: list[Finding] = field(default_factory=list)
    #: Constructs the runtime does not carry out (``ignored.py``), listed in both modes; never errors.
    ignored: list[Finding] = field(default_factory=list)
    #: The version the file declares, as messages name it (``alpha2``, ``ikanos 1.0.0-beta5``).
    version: str = "alpha2"
    #: What ``serve`` would leave out of a face (a tool that cannot compile, a REST route that cannot be built), in
    #: the words it logs; the rest is served, so these are not errors either.
    left_out: list[str] = field(default_factory=list)

    @property
    def deviations(self) -> list[Finding]:
        """Strict findings that are alpha2 errors (each a :class:`RuleFinding`)."""
        return [f for f in self.findings if isinstance(f, RuleFinding) and f.severity == "error"]

    @property
    def extensions(self) -> list[Finding]:
        """``x-`` keys and other informational strict findings; they never make a file invalid."""
        return [f for f in self.findings if isinstance(f, RuleFinding) and f.severity != "error"]

    @property
    def serving_errors(self) -> list[Finding]:
        return [f for f in self.serving if f.severity == "error"]

    @property
    def ok(self) -> bool:
        """Valid for the mode asked: servable, and in strict mode also free of alpha2 deviations."""
        if self.unreadable or self.serving_errors:
            return False
        return not (self.strict and self.deviations)

    def exit_code(self) -> int:
        """0 valid, 1 invalid, 2 unreadable (missing, not UTF-8, YAML syntax error)."""
        if self.unreadable:
            return 2
        return 0 if self.ok else 1

    def render(self) -> str:
        """A human report: serving errors first, then one heading per deviation with all its locations, then a count."""
        mode = f"strict {self.version}" if self.strict else "lenient (can it be served?)"
        lines = [f"{self.file}: {mode} validation"]
        if self.unreadable:
            lines += [f"  {f.render()}" for f in self.serving] or ["  cannot read the file"]
            lines.append("unreadable: nothing was validated")
            return "\n".join(lines)
        if self.serving:
            lines += ["", f"errors that stop serving ({len(self.serving_errors)}):"]
            lines += [f"  {f.render()}" for f in self.serving]
        groups = group_findings(self.deviations)
        for (rule, _message), located in groups.items():
            lines += ["", f"[{rule}] {_plural(len(located), 'location')}:"]
            lines += [f"  {f.render()}" for f in located]
        if self.extensions:
            lines += ["", f"extensions ({len(self.extensions)}, not errors):"]
            lines += [f"  {f.render()}" for f in self.extensions]
        defaults = [f for f in self.ignored if getattr(f, "status", "") == "default"]
        ignored = [f for f in self.ignored if f not in defaults]
        if ignored:
            lines += ["", f"declared but not carried out ({len(ignored)}, not errors):"]
            lines += [f"  {f.render()}" for f in ignored]
        if defaults:
            lines += ["", f"left out by the file, supplied by default ({len(defaults)}, not errors):"]
            lines += [f"  {f.render()}" for f in defaults]
        if self.left_out:
            lines += ["", f"left out when served, the rest is served ({len(self.left_out)}, not errors):"]
            lines += [f"  {text}" for text in self.left_out]
        lines.append("")
        blocking = len(self.serving_errors)
        serving = f"{_plural(blocking, 'error')} that {'stops' if blocking == 1 else 'stop'} serving"
        if self.strict:
            where = _plural(len(self.deviations), "location")
            lines.append(f"{_plural(len(groups), 'deviation')} from {self.version} ({where}); {serving}")
        else:
            lines.append(f"{serving} (run with --strict to list {self.version} deviations)")
        lines.append("valid" if self.ok else "invalid")
        return "\n".join(lines)


def validate_file(path: str, *, strict: bool, lenient_check: LenientCheck | None = None) -> ValidationReport:
    """Read ``path`` and validate it; never raises for a bad file, the report says what is wrong."""
    try:
        doc = read_yaml(path)
    except CapabilityError as exc:
        reason = exc.findings or [
            Finding("(root)", 0, exc.message, "check the path and that the file is UTF-8", file=path)
        ]
        return ValidationReport(path, strict, unreadable=True, findings=list(reason), serving=list(reason))
    serving = list(lenient_check(doc)) if lenient_check is not None else []
    findings: list[Finding] = [*serving, *(validate_strict(doc) if strict else [])]
    normalised = normalise(doc)
    ignored: list[Finding] = [f for f in normalised.findings if f.severity != "error"]
    ignored += ignored_constructs(normalised.doc)
    version = declared_version(doc.data)[0] or ALPHA2
    label = "alpha2" if version == ALPHA2 else f"{version.key} {version.version}"
    return ValidationReport(path, strict, findings=findings, serving=serving, ignored=ignored, version=label)
