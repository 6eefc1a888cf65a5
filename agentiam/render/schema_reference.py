"""Reference pages generated from a model's JSON Schema: one section per field with its type, whether it is
required, its default, its constraints, an example and its description, as the model declares them.

The spec reference (`docs/spec-reference.md`) and the stack-config reference (`docs/stack-config.md`) are both
written by `field_sections`, so a page cannot drift from what the loader accepts (`tests/test_docs.py` compares the
committed pages with this output).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from agentiam.render.escape import markdown_code

Schema = dict[str, Any]


def _resolve(schema: Schema, node: Schema) -> Schema:
    ref = node.get("$ref")
    if ref is None:
        return node
    target = schema["$defs"][ref.rsplit("/", 1)[1]]
    merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    if "description" not in node:  # the field says nothing of its own: the model's docstring does
        merged["description"] = target.get("description", "")
    return merged


def _type(schema: Schema, node: Schema) -> str:
    node = _resolve(schema, node)
    if "enum" in node:
        return " or ".join(markdown_code(json.dumps(v)) for v in node["enum"])
    if "const" in node:
        return markdown_code(json.dumps(node["const"]))
    if "anyOf" in node:
        return " or ".join(_type(schema, option) for option in node["anyOf"])
    kind = node.get("type")
    if kind == "array":
        return f"list of {_type(schema, node.get('items', {}))}"
    if kind == "object" and "patternProperties" in node:
        return "mapping of name to object"
    if kind == "null":
        return "null (left out)"
    return {"string": "string", "integer": "integer", "number": "number", "boolean": "boolean",
            "object": "object"}.get(str(kind), "value")


def _constraints(node: Schema) -> list[str]:
    out = []
    if "pattern" in node:
        out.append(f"pattern {markdown_code(node['pattern'])}")
    for key, word in (("minimum", "at least"), ("exclusiveMinimum", "above"), ("maximum", "at most"),
                      ("maxLength", "at most"), ("minItems", "at least"), ("maxItems", "at most")):
        if key in node:
            unit = " characters" if key == "maxLength" else " items" if key in ("minItems", "maxItems") else ""
            out.append(f"{word} {node[key]}{unit}")
    return out


def _field(schema: Schema, path: str, node: Schema, required: bool) -> list[str]:
    resolved = _resolve(schema, node)
    lines = [f"### {markdown_code(path)}", ""]
    facts = [f"type: {_type(schema, node)}", "required" if required else
             f"optional, default {markdown_code(json.dumps(resolved['default']))}" if "default" in resolved
             else "optional"]
    facts += _constraints(resolved)
    if resolved.get("examples"):
        facts.append(f"example: {markdown_code(json.dumps(resolved['examples'][0]))}")
    lines += [f"- {fact}" for fact in facts]
    description = resolved.get("description", "")
    if description:
        lines += ["", description]
    lines.append("")
    return lines


def _object_of(schema: Schema, node: Schema) -> Schema | None:
    """The object a field holds directly, or through one optional (`X | None`) alternative."""
    resolved = _resolve(schema, node)
    if "properties" in resolved:
        return resolved
    for option in resolved.get("anyOf", []):
        option = _resolve(schema, option)
        if "properties" in option:
            return option
    return None


def field_sections(schema: Schema, prefix: str = "", node: Schema | None = None,
                   key_names: Mapping[str, str] | None = None) -> list[str]:
    """One section per field under `node` (the schema's root by default), depth first, in the model's order.

    A list of objects continues with `path[].field`, a mapping keyed by name with `path.<name>.field`
    (`key_names` may name the key per path, e.g. `{"overrides": "<env>"}`)."""
    node = _resolve(schema, schema if node is None else node)
    key_names = key_names or {}
    lines: list[str] = []
    required = set(node.get("required", []))
    for name, child in node.get("properties", {}).items():
        path = f"{prefix}.{name}" if prefix else name
        lines += _field(schema, path, child, name in required)
        inner = _object_of(schema, child)
        if inner is not None:
            lines += field_sections(schema, path, inner, key_names)
        resolved = _resolve(schema, child)
        items = resolved.get("items")
        if items is not None and (item_object := _object_of(schema, items)) is not None:
            lines += field_sections(schema, f"{path}[]", item_object, key_names)
        for pattern_node in resolved.get("patternProperties", {}).values():
            lines += field_sections(schema, f"{path}.{key_names.get(path, '<name>')}", pattern_node, key_names)
    return lines
