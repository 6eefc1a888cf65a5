"""The JSON Schema of an agent spec, generated from the pydantic model (editors validate specs while typing)."""

from __future__ import annotations

import json
from typing import Any

from agentiam.spec.model import AgentSpec
from agentiam.spec.types import format_duration

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_ID = "urn:agentiam:agent-spec:v1"
SCHEMA_FILE_NAME = "agent-spec.schema.json"
_DURATION_PATTERN = r"^(\d+h)?(\d+m)?(\d+s)?$"


def _durations_as_text(node: Any) -> None:
    """Durations are ints in the model but strings in YAML: show their defaults as users write them (`1h`)."""
    if isinstance(node, dict):
        if node.get("pattern") == _DURATION_PATTERN and isinstance(node.get("default"), int):
            node["default"] = format_duration(node["default"])
        for value in node.values():
            _durations_as_text(value)
    elif isinstance(node, list):
        for value in node:
            _durations_as_text(value)


def spec_json_schema() -> dict[str, Any]:
    """The schema of `AgentSpec` with `$schema`, `$id` and a title, keys in a stable order."""
    schema = AgentSpec.model_json_schema()
    _durations_as_text(schema)
    schema.pop("title", None)
    return {"$schema": SCHEMA_DIALECT, "$id": SCHEMA_ID, "title": "agentiam agent spec", **schema}


def spec_json_schema_text() -> str:
    """The schema as committed in agent_specs/agent-spec.schema.json (2-space indent, trailing newline)."""
    return json.dumps(spec_json_schema(), indent=2, ensure_ascii=False) + "\n"
