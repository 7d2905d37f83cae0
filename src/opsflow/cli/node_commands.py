"""`opsflow nodes`: the node types installed here and their parameters."""

from __future__ import annotations

import argparse
import difflib
import json
import sys
import textwrap
from typing import Any

from opsflow.catalog.fields import KIND_KEY
from opsflow.catalog.registry import default_catalog
from opsflow.catalog.spec import NodeSpec
from opsflow.errors import OpsflowError

EXIT_OK = 0


def register(commands: Any) -> None:
    nodes = commands.add_parser(
        "nodes",
        help="list node types, or show one with its parameters",
        description="Without arguments, list every installed node type. "
        "`opsflow nodes show TYPE` documents one.",
    )
    nodes.add_argument("--json", action="store_true", help="print as JSON")
    actions = nodes.add_subparsers(dest="nodes_action", metavar="ACTION")
    show = actions.add_parser("show", help="document one node type")
    show.add_argument("type", metavar="TYPE", help="e.g. action.http")
    show.add_argument("--json", action="store_true", help="print as JSON")
    nodes.set_defaults(handler=run_nodes)


def run_nodes(args: argparse.Namespace) -> int:
    catalog = default_catalog()
    for problem in catalog.load_problems:
        print(f"opsflow: warning: {problem}", file=sys.stderr)
    if args.nodes_action == "show":
        spec = catalog.get(args.type)
        if spec is None:
            close = difflib.get_close_matches(args.type, [s.type for s in catalog], n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise OpsflowError(f"no node type '{args.type}'{hint}; `opsflow nodes` lists them")
        if args.json:
            print(json.dumps(_spec_json(spec), indent=2, ensure_ascii=False))
        else:
            print(_spec_text(spec))
        return EXIT_OK
    if args.json:
        print(json.dumps([_spec_json(spec) for spec in catalog], indent=2, ensure_ascii=False))
        return EXIT_OK
    width = max(len(spec.type) for spec in catalog)
    category = ""
    for spec in catalog:
        if spec.category != category:
            category = spec.category
            print(f"{category.upper()}S")
        flags = _flags(spec)
        print(f"  {spec.type:<{width}}  {spec.title:<22} ports: {', '.join(spec.ports)}{flags}")
    return EXIT_OK


def _flags(spec: NodeSpec) -> str:
    marks = []
    if spec.side_effects is True:
        marks.append("side effects")
    elif spec.side_effects is not False:
        marks.append("side effects (depends)")
    if spec.idempotent is True:
        marks.append("idempotent")
    return f"  [{'; '.join(marks)}]" if marks else ""


def _spec_json(spec: NodeSpec) -> dict[str, Any]:
    return {
        "type": spec.type,
        "version": spec.version,
        "category": spec.category,
        "title": spec.title,
        "doc": spec.doc,
        "icon": spec.icon,
        "ports": list(spec.ports),
        "dynamic_ports": spec.dynamic_ports is not None,
        "side_effects": spec.side_effects if isinstance(spec.side_effects, bool) else "depends",
        "idempotent": spec.idempotent if isinstance(spec.idempotent, bool) else "depends",
        "params": spec.params.model_json_schema(by_alias=True),
    }


def _spec_text(spec: NodeSpec) -> str:
    lines = [f"{spec.type} (version {spec.version}) — {spec.title}", ""]
    lines += textwrap.wrap(spec.doc, 78)
    ports = ", ".join(spec.ports) + (" (plus one per case)" if spec.dynamic_ports else "")
    lines += ["", f"ports: {ports}{_flags(spec)}", "", "parameters:"]
    schema = spec.params.model_json_schema(by_alias=True)
    required = set(schema.get("required", []))
    for name, prop in schema.get("properties", {}).items():
        kind = prop.get(KIND_KEY)
        default = f" = {json.dumps(prop['default'])}" if "default" in prop else ""
        tags = [t for t in (_type_name(prop), kind, "required" if name in required else "") if t]
        lines.append(f"  {name}{default}  [{', '.join(tags)}]")
        description = prop.get("description", "")
        lines += [f"      {line}" for line in textwrap.wrap(description, 72)]
    return "\n".join(lines)


def _type_name(prop: dict[str, Any]) -> str:
    if "enum" in prop:
        return " | ".join(json.dumps(v) for v in prop["enum"])
    if "const" in prop:
        return json.dumps(prop["const"])
    if "type" in prop:
        return str(prop["type"])
    options = prop.get("anyOf") or prop.get("oneOf") or []
    names = [_type_name(option) or "object" for option in options]
    return " | ".join(names)
