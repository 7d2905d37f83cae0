"""Commands that read flow files: validate, describe, fmt, export, schema."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from opsflow.atomicfile import write_atomic
from opsflow.catalog.registry import Catalog, default_catalog
from opsflow.errors import FlowFileError, OpsflowError
from opsflow.flowfile import dump_flow, load_flow
from opsflow.model.flow import Flow, Node
from opsflow.validate import has_errors, validate_flow

EXIT_OK, EXIT_PROBLEMS, EXIT_UNUSABLE = 0, 1, 2


def run_validate(args: argparse.Namespace) -> int:
    worst = EXIT_OK
    report: list[dict[str, Any]] = []
    for name in args.files:
        try:
            flow = load_flow(name)
        except FlowFileError as exc:
            worst = EXIT_UNUSABLE
            if args.json:
                report.append({"file": name, "readable": False, "error": str(exc)})
            else:
                print(f"{exc}", file=sys.stderr)
            continue
        diagnostics = validate_flow(flow, flow_path=Path(name))
        failed = has_errors(diagnostics) or (args.strict and bool(diagnostics))
        if failed and worst == EXIT_OK:
            worst = EXIT_PROBLEMS
        if args.json:
            report.append(
                {
                    "file": name,
                    "readable": True,
                    "ok": not failed,
                    "diagnostics": [d.to_json() for d in diagnostics],
                }
            )
            continue
        for diagnostic in diagnostics:
            print(diagnostic.format(name))
        errors = sum(d.severity == "error" for d in diagnostics)
        warnings = len(diagnostics) - errors
        status = "ok" if not failed else "FAILED"
        counts = f"{_count(len(flow.nodes), 'node')}, {_count(errors, 'error')}, " + _count(
            warnings, "warning"
        )
        print(f"{name}: {status} ({counts})")
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
    return worst


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def run_describe(args: argparse.Namespace) -> int:
    catalog = default_catalog()
    for index, name in enumerate(args.files):
        flow = load_flow(name)
        if index:
            print()
        print(_describe(flow, name, catalog))
    return EXIT_OK


def _describe(flow: Flow, name: str, catalog: Catalog) -> str:
    lines = [f"{flow.name or flow.id}  ({name})"]
    if flow.description:
        lines.append(f"  {flow.description}")
    specs = [catalog.get(n.type) for n in flow.nodes]
    kinds = Counter(spec.category for spec in specs if spec is not None)
    parts = ", ".join(f"{count} {kind}{'s' if count != 1 else ''}" for kind, count in kinds.items())
    lines.append(f"  nodes: {len(flow.nodes)} ({parts}); edges: {len(flow.edges)}")
    triggers = [
        n for n, spec in zip(flow.nodes, specs, strict=True) if spec and spec.category == "trigger"
    ]
    for trigger in triggers:
        lines.append(f"  starts by: {trigger.type.split('.', 1)[1]} '{trigger.id}'")
    if flow.inputs:
        shown = ", ".join(
            f"{key} ({spec.type}{', required' if spec.required else ''})"
            for key, spec in flow.inputs.items()
        )
        lines.append(f"  inputs: {shown}")
    if flow.credentials:
        shown = ", ".join(f"{key} ({spec.kind})" for key, spec in flow.credentials.items())
        lines.append(f"  needs credentials: {shown}")
    acting = [n.id for n in flow.nodes if not n.disabled and _may_change_things(n, catalog)]
    if acting:
        lines.append(f"  may change things: {', '.join(acting)}")
    return "\n".join(lines)


def _may_change_things(node: Node, catalog: Catalog) -> bool:
    spec = catalog.get(node.type)
    if spec is None:
        return True
    try:
        params = spec.params.model_validate(node.params)
    except ValidationError:
        return spec.has_side_effects()
    return spec.has_side_effects(params)


def run_fmt(args: argparse.Namespace) -> int:
    worst = EXIT_OK
    for name in args.files:
        try:
            flow = load_flow(name)
        except FlowFileError as exc:
            print(f"{exc}", file=sys.stderr)
            worst = EXIT_UNUSABLE
            continue
        canonical = dump_flow(flow).encode("utf-8")
        current = Path(name).read_bytes()
        if canonical == current:
            continue
        if args.check:
            print(f"{name}: not in canonical form; run `opsflow fmt {name}`")
            worst = max(worst, EXIT_PROBLEMS)
        else:
            write_atomic(Path(name), canonical)
            print(f"{name}: rewritten")
    return worst


def run_export(args: argparse.Namespace) -> int:
    from opsflow.exporting import ExportRefused, export_text

    flow = load_flow(args.file)
    try:
        text = export_text(
            flow,
            args.file,
            allow_secret=frozenset(args.allow_secret),
            strip_layout=args.strip_layout,
        )
    except ExportRefused as refused:
        for problem in refused.problems:
            print(problem, file=sys.stderr)
        print(refused, file=sys.stderr)
        return EXIT_PROBLEMS
    if args.output == "-":
        sys.stdout.write(text)
    else:
        try:
            write_atomic(Path(args.output), text.encode("utf-8"))
        except OSError as exc:
            raise OpsflowError(f"cannot write {args.output}: {exc.strerror or exc}") from None
        print(f"exported {args.file} -> {args.output}")
    return EXIT_OK


def run_schema(args: argparse.Namespace) -> int:
    from opsflow.schema import flow_json_schema

    text = json.dumps(flow_json_schema(), indent=2, ensure_ascii=False) + "\n"
    if args.output:
        try:
            write_atomic(Path(args.output), text.encode("utf-8"))
        except OSError as exc:
            raise OpsflowError(f"cannot write {args.output}: {exc.strerror or exc}") from None
    else:
        sys.stdout.write(text)
    return EXIT_OK
