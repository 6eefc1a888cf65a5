"""docs/stack-config.md is generated from the environment model and names every field the loader accepts."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from agentiam.environment.model import EnvironmentConfig
from agentiam.environment.reference import stack_config_reference

ROOT = Path(__file__).resolve().parents[2]


def test_the_committed_reference_is_the_generated_one():
    assert (ROOT / "docs" / "stack-config.md").read_text(encoding="utf-8") == stack_config_reference(), \
        "docs/stack-config.md is stale: python -m agentiam.environment.reference > docs/stack-config.md"


def _paths(model: type[BaseModel], prefix: str = "") -> list[str]:
    out = []
    for name, info in model.model_fields.items():
        path = f"{prefix}.{name}" if prefix else name
        out.append(path)
        args = getattr(info.annotation, "__args__", ())
        if getattr(info.annotation, "__origin__", None) is dict:  # dict[name, model]: one section per field
            out += _paths(args[1], f"{path}.<name>")
            continue
        for kind in (info.annotation, *args):
            if isinstance(kind, type) and issubclass(kind, BaseModel):
                out += _paths(kind, path)
    return out


def test_every_field_of_the_model_has_its_section():
    page = stack_config_reference()
    paths = _paths(EnvironmentConfig)
    assert "vault.audit.api_managed" in paths and "databases.<name>.connection_url" in paths
    for path in paths:
        assert f"### `{path}`" in page, path
