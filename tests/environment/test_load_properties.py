"""Property tests: any stack config (any bytes, any value written anywhere in the real one) yields an environment or
a ConfigError of located findings in that file, never a traceback."""

from __future__ import annotations

import copy
from pathlib import Path

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from agentiam.environment.load import CONFIG_KEY, parse_environment, project_files
from agentiam.environment.model import EnvironmentConfig
from agentiam.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
FILES = project_files(ROOT / "stacks")
FILE = "stacks/Pulumi.dev.yaml"
DEV = yaml.safe_load((ROOT / FILE).read_text())


def _leaves(value: object, path: tuple = ()) -> list[tuple]:
    if isinstance(value, dict):
        return [leaf for key, inner in value.items() for leaf in _leaves(inner, (*path, key))]
    return [path]


LEAVES = _leaves(DEV["config"][CONFIG_KEY])
# Raw YAML written where a value goes: numbers past any range, nesting, YAML features specs refuse, paths that
# leave the project or name what is not a PEM file.
RAW = st.sampled_from([
    "9" * 5000, "-" + "1" * 400, "1e999", "0.1e-999", "." + "5" * 60, "[" * 2000 + "]" * 2000,
    "{a: " * 500 + "1" + "}" * 500,
    "&a x", "*a", "!!python/object:os.system x", "<<: {a: 1}", "'\\x00'", "\"\\0\"", "~", "yes", "0x1F",
    "/etc/ssl/certs/ca-certificates.crt", "../../outside.pem", "stacks/ca", "stacks/Pulumi.dev.yaml", "''", "[]", "{}",
    "stacks/ca/staging-agents-ca.pem", "stacks/ca/../ca/dev-agents-ca.pem", "a" * 3000,
])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(LEAVES), RAW), max_size=3))
def test_any_value_anywhere_is_an_environment_or_located_findings(edits: list[tuple[tuple, str]]) -> None:
    document = copy.deepcopy(DEV)
    marks = {}
    for number, (path, raw) in enumerate(edits):
        node = document["config"][CONFIG_KEY]
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = f"@@{number}@@"
        marks[f"'@@{number}@@'"] = raw
    text = yaml.safe_dump(document, sort_keys=False, width=10**6)
    for mark, raw in marks.items():
        text = text.replace(mark, raw)
    _judged(text.encode())


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_any_bytes_are_an_environment_or_located_findings(raw: bytes) -> None:
    _judged(raw)


def _judged(raw: bytes) -> None:
    try:
        assert isinstance(parse_environment(FILE, raw, FILES), EnvironmentConfig)
    except ConfigError as exc:
        assert exc.findings and all(f.file == FILE and f.line >= 1 and f.column >= 1 for f in exc.findings)
        assert all(len(f.render()) < 1000 for f in exc.findings)  # a 5,000-digit value is never echoed whole
