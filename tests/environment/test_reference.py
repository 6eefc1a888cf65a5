"""docs/stack-config.md names every field the loader accepts (tests/test_docs.py keeps the page current)."""

from __future__ import annotations

from pydantic import BaseModel

from agentiam.environment.model import EnvironmentConfig
from agentiam.environment.reference import stack_config_reference


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
