"""`opsflow nodes`: the node types installed here and their parameters."""

from __future__ import annotations

import argparse
import difflib
import json
import sys
import textwrap
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from opsflow.catalog.builtin.triggers import ScheduleParams, next_fire_times
from opsflow.catalog.fields import KIND_KEY
from opsflow.catalog.icons import icon_file
from opsflow.catalog.registry import default_catalog
from opsflow.catalog.spec import NodeSpec
from opsflow.errors import OpsflowError
from opsflow.flowfile import load_flow

EXIT_OK = 0


def run_nodes(args: argparse.Namespace) -> int:
    catalog = default_catalog()
    for problem in catalog.load_problems:
        print(f"opsflow: warning: {problem}", file=sys.stderr)
    if args.nodes_action == "explain":
        return _explain(args)
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
    found = icon_file(spec.icon)
    return {
        "type": spec.type,
        "version": spec.version,
        "category": spec.category,
        "title": spec.title,
        "doc": spec.doc,
        "icon": spec.icon,
        "icon_file": str(found) if found else None,
        "executor": spec.executor,
        "pack": default_catalog().pack_of(spec.type),
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
    lines += ["", f"ports: {ports}{_flags(spec)}", *_origin_lines(spec), "", "parameters:"]
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


def _origin_lines(spec: NodeSpec) -> list[str]:
    """Where the type comes from, what runs it and which icon file the Studio draws."""
    pack = default_catalog().pack_of(spec.type)
    found = icon_file(spec.icon)
    icon = f"{spec.icon} ({found})" if found else f"{spec.icon} (not found: drawn as generic)"
    lines = [f"from: {pack}"] if pack else []
    if spec.executor:
        lines.append(f"executor: {spec.executor}")
    return [*lines, f"icon: {icon}"]


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


def _explain(args: argparse.Namespace) -> int:
    """One node of a flow: its type, what it is set to, where each port leads, next fires."""
    flow = load_flow(args.file)
    node = flow.node_map().get(args.node)
    if node is None:
        close = difflib.get_close_matches(args.node, list(flow.node_map()), n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise OpsflowError(f"{args.file}: the flow has no node '{args.node}'{hint}")
    spec = default_catalog().get(node.type)
    assert spec is not None  # load_flow refuses unknown types
    try:
        params = spec.params.model_validate(node.params)
    except ValidationError:
        raise OpsflowError(
            f"{args.file}: node '{node.id}' has invalid parameters; run `opsflow validate`"
        ) from None
    leads = {
        port: [e.target for e in flow.edges if e.source == node.id and e.port == port]
        for port in spec.output_ports(params)
    }
    fires: list[str] = []
    if node.type == "trigger.schedule":
        assert isinstance(params, ScheduleParams)
        now = datetime.now(UTC)
        fires = [t.isoformat() for t in next_fire_times(params, now, max(args.count, 0))]
    if args.json:
        document = {
            "node": node.id,
            "type": node.type,
            "title": node.title,
            "params": node.params,
            "ports": leads,
            "side_effects": spec.has_side_effects(params),
            "idempotent": spec.is_idempotent(params),
            "next_fires": fires,
        }
        print(json.dumps(document, indent=2, ensure_ascii=False))
        return EXIT_OK
    print(f"{node.id}: {node.title or spec.title} ({node.type})")
    print(textwrap.fill(spec.doc, 78, initial_indent="  ", subsequent_indent="  "))
    for name, value in node.params.items():
        print(f"  {name} = {json.dumps(value, ensure_ascii=False)}")
    flags = "changes things" if spec.has_side_effects(params) else "changes nothing"
    flags += ", safe to repeat" if spec.is_idempotent(params) else ", not safe to repeat"
    print(f"  {flags}")
    for port, targets in leads.items():
        print(f"  {port} → {', '.join(targets) if targets else '(nothing: the branch ends)'}")
    if fires:
        zone = getattr(params, "timezone", "UTC")
        print(f"  next {len(fires)} fire times ({zone}):")
        for moment in fires:
            print(f"    {moment}")
    return EXIT_OK
