"""Every corpus file, one test each: the lenient load never crashes and explains a refusal; strict validation agrees
with the official schema of the file's version; ``validate`` lists what the runtime does not carry out; a conversion
loads as the same model."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator

from hms_recordings.capability.convert import convert
from hms_recordings.capability.ignored import ignored_constructs
from hms_recordings.capability.loader import load_capability
from hms_recordings.capability.strict import strip_extensions, validate_strict
from hms_recordings.capability.validation import validate_file
from hms_recordings.capability.versions import ALPHA2, VERSIONS, declared_version, normalise, official_schema
from hms_recordings.capability.yamlsource import YamlDoc, parse_yaml
from hms_recordings.errors import CapabilityError
from tests.corpus.corpus import CORPUS, canonical, capability_files, doc, officially_valid

FILES = capability_files()
#: Strict findings that come from the checks the schema cannot express, not from the official schema.
SEMANTIC_RULES = frozenset(
    {"unique-namespace", "baseuri-trailing-slash", "path-query-string", "unique-tool-name", "call-target", "ref-target"}
)
#: Keys whose presence means a construct the runtime does not carry out, as ``ignored.py`` names them.
IGNORED_KEYS = frozenset({"ttlMs", "cacheScope", "maxBinarySize", "outputMediaType", "tunnel", "responseBinary"})


def _alpha2_accepts(document: YamlDoc) -> bool:
    return Draft202012Validator(official_schema(ALPHA2)).is_valid(strip_extensions(document.data))


def _model(document: YamlDoc) -> Any:
    try:
        return load_capability(document)
    except CapabilityError:
        return None


def _keys(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], str]]:
    if isinstance(node, dict):
        out = []
        for key, value in node.items():
            if key in ("with", "keys", "data", "properties", "metadata"):
                continue
            out.append((path, key))
            out += _keys(value, (*path, key))
        return out
    if isinstance(node, list):
        return [k for i, v in enumerate(node) for k in _keys(v, (*path, i))]
    return []


@pytest.mark.parametrize("file", FILES)
def test_the_lenient_load_never_crashes_and_every_refusal_has_a_line_and_a_fix(file: str) -> None:
    document = doc(file)
    refusal: CapabilityError | None = None
    try:
        load_capability(document)
    except CapabilityError as exc:  # any other exception fails the test: that is the crash it looks for
        refusal = exc

    if refusal is not None:
        assert refusal.findings, refusal.message
        for finding in refusal.findings:
            assert finding.file and finding.line >= 1 and finding.message and finding.fix, finding


@pytest.mark.parametrize("file", FILES)
def test_strict_validation_calls_a_file_deviant_exactly_when_its_official_schema_rejects_it(file: str) -> None:
    document = doc(file)
    version, declared = declared_version(document.data)
    findings = validate_strict(document)
    if version is None and declared:  # a version this runtime does not read (0.5): one finding says so
        assert [f.rule for f in findings] == ["bad-value"]
        return
    accepted = officially_valid(file) if version is not None else _alpha2_accepts(document)
    schema_findings = [f for f in findings if f.severity == "error" and f.rule not in SEMANTIC_RULES]

    assert bool(schema_findings) == (not accepted), [f.render() for f in schema_findings]
    for finding in schema_findings:
        assert finding.line >= 1 and finding.fix, finding


@pytest.mark.parametrize("file", FILES)
def test_validate_lists_every_construct_the_runtime_does_not_carry_out(file: str) -> None:
    document = doc(file)
    normalised = normalise(document)
    if any(f.severity == "error" for f in normalised.findings):
        return  # refused before anything is read; the refusal is the answer
    listed = {(f.line, f.path.rsplit(".", 1)[-1]) for f in ignored_constructs(normalised.doc)}
    declared = {(document.line_of((*path, key)), key) for path, key in _keys(document.data) if key in IGNORED_KEYS}

    assert declared <= listed
    if declared:  # and the command shows them (it reads the file again, so only where there is something to show)
        report = validate_file(str(CORPUS / file), strict=False)
        assert {(f.line, f.path.rsplit(".", 1)[-1]) for f in report.ignored} >= declared
        assert "declared but not carried out" in report.render()


@pytest.mark.parametrize("file", FILES)
@pytest.mark.parametrize("target", ["ikanos-1.0.0-beta5", "naftiko-1.0.0-alpha2"])
def test_a_converted_file_loads_as_the_same_model_unless_the_conversion_says_what_it_left_out(
    file: str, target: str
) -> None:
    document = doc(file)
    model = _model(document)
    conversion = convert(document, target, check=False)
    if model is None:
        return  # nothing to compare: the refusal is tested above
    assert not conversion.refused

    again = _model(YamlDoc(conversion.data, document.file))

    assert again is not None
    if not conversion.lossy:
        assert canonical(again) == canonical(model)
    elif canonical(again) != canonical(model):
        assert all(f.line >= 1 for f in conversion.lossy)


@pytest.mark.parametrize("file", FILES[::23])
def test_the_converted_text_parses_back_to_the_converted_data(file: str) -> None:
    conversion = convert(doc(file), "ikanos-1.0.0-beta5", check=False)
    if conversion.refused:
        return

    assert parse_yaml(conversion.text).data == conversion.data


@pytest.mark.parametrize("file", FILES)
def test_a_file_its_schema_accepts_converts_to_beta5_that_the_beta5_schema_accepts_or_says_why_not(file: str) -> None:
    if not officially_valid(file):
        return  # a deviant source converts to a deviant target; the round-trip test above covers it
    beta5 = Draft202012Validator(official_schema(VERSIONS[-1]))

    converted = convert(doc(file), "ikanos-1.0.0-beta5", check=False)
    if beta5.is_valid(strip_extensions(converted.data)):
        return
    checked = convert(doc(file), "ikanos-1.0.0-beta5")  # only now: what does it say about the deviations?

    assert any("cannot" in f.message for f in checked.lossy), [f.render() for f in checked.findings]
