"""The JSON Schema of the flow file, generated from the models and the catalog.

Each node type's parameter schema is attached to `Node` with an if/then on
`type`, so editors and independent validators check parameters too.
"""

from __future__ import annotations

from typing import Any

from opsflow.catalog.registry import Catalog, default_catalog
from opsflow.model.flow import FORMAT, FORMAT_VERSION, Flow

SCHEMA_ID = f"https://opsflow.dev/schema/flow-v{FORMAT_VERSION}.json"


def flow_json_schema(catalog: Catalog | None = None) -> dict[str, Any]:
    catalog = catalog or default_catalog()
    schema = Flow.model_json_schema(by_alias=True, mode="validation")
    definitions: dict[str, Any] = schema.setdefault("$defs", {})
    rules = []
    for spec in catalog:
        prefix = spec.type.replace(".", "_") + "__"
        params_schema = spec.params.model_json_schema(
            by_alias=True, mode="validation", ref_template=f"#/$defs/{prefix}{{model}}"
        )
        for name, definition in params_schema.pop("$defs", {}).items():
            definitions[prefix + name] = definition
        params_schema["title"] = f"{spec.title} parameters"
        rules.append(
            {
                "if": {"properties": {"type": {"const": spec.type}}, "required": ["type"]},
                "then": {"properties": {"params": params_schema}},
            }
        )
    definitions["Node"]["allOf"] = rules
    header = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "Opsflow flow file",
        "description": f"A `*.flow.json` file, format '{FORMAT}' version {FORMAT_VERSION}.",
    }
    schema.pop("title", None)
    schema.pop("description", None)
    properties = schema["properties"]
    properties["format"]["const"] = FORMAT
    properties["version"]["const"] = FORMAT_VERSION
    return {**header, **schema}
