"""Reading and writing `*.flow.json` files: the only place flows touch the disk.

Loading reads bytes with a size cap, decodes UTF-8, parses JSON with a depth
cap, checks the header, migrates older formats, validates the shape with the
pydantic models and resolves node types against the catalog. Every failure is
a `FlowFileError` with one line naming the file and the place.

Saving is canonical (fixed key order, nodes and edges in a stable order,
two-space indent, UTF-8, trailing newline: saving an unchanged flow is
byte-identical) and atomic (`opsflow.atomicfile`: temporary file, fsync, rename).
"""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path
from typing import Any

import pydantic_core
from pydantic import ValidationError

from opsflow.atomicfile import write_atomic
from opsflow.catalog.registry import Catalog, default_catalog
from opsflow.errors import FlowFileError
from opsflow.model.flow import (
    FORMAT,
    FORMAT_VERSION,
    NODE_ID_PATTERN,
    PORT_PATTERN,
    SLUG_PATTERN,
    Flow,
)
from opsflow.model.migrations import migrate
from opsflow.perf import paused_gc

MAX_FILE_BYTES = 20 * 1024 * 1024


def load_flow(path: str | os.PathLike[str], catalog: Catalog | None = None) -> Flow:
    """Read a flow file; raise `FlowFileError` with a one-line reason if it cannot be used."""
    source = os.fspath(path)
    data = _read_bytes(Path(source), source)
    return parse_flow(data, source, catalog)


def parse_flow(data: bytes | str, source: str = "<flow>", catalog: Catalog | None = None) -> Flow:
    """Parse flow JSON (bytes or text) named `source` in messages."""
    text = _decode(data, source) if isinstance(data, bytes) else data
    if len(text) > MAX_FILE_BYTES:
        raise FlowFileError(source, f"is larger than {_megabytes(MAX_FILE_BYTES)}; refusing it")
    with paused_gc():
        document = _parse_json(text, source)
        document = _check_header_and_migrate(document, source)
        flow = _validate_shape(document, source)
        _resolve_node_types(flow, source, catalog or default_catalog())
    return flow


#: Flow-level maps written in name order: the order of their entries carries no meaning.
SORTED_MAPS = ("credentials",)


def dump_flow(flow: Flow) -> str:
    """The canonical text of a flow (UTF-8, two-space indent, trailing newline)."""
    with paused_gc():
        return pydantic_core.to_json(canonical_document(flow), indent=2).decode("utf-8") + "\n"


def canonical_document(flow: Flow) -> dict[str, Any]:
    """The flow as JSON-ready data in canonical order, defaults left out."""
    body = flow.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    body.pop("format", None)
    body.pop("version", None)
    document: dict[str, Any] = {"format": FORMAT, "version": FORMAT_VERSION, **body}
    if "nodes" in document:
        document["nodes"] = sorted(document["nodes"], key=lambda n: n["id"])
    if "edges" in document:
        document["edges"] = sorted(
            document["edges"], key=lambda e: (e["from"], e["port"], e["to"], e["id"])
        )
    for section in SORTED_MAPS:
        if section in document:
            document[section] = dict(sorted(document[section].items()))
    layout = document.get("layout")
    if layout is not None:
        if "nodes" in layout:
            layout["nodes"] = dict(sorted(layout["nodes"].items()))
        if "notes" in layout:
            layout["notes"] = sorted(layout["notes"], key=lambda n: n["id"])
        if "groups" in layout:
            for group in layout["groups"]:
                if "nodes" in group:
                    group["nodes"] = sorted(group["nodes"])
            layout["groups"] = sorted(layout["groups"], key=lambda g: g["id"])
    return document


def save_flow(flow: Flow, path: str | os.PathLike[str]) -> None:
    """Write the canonical text atomically: readers see the old file or the new one."""
    write_atomic(Path(path), dump_flow(flow).encode("utf-8"))


def _read_bytes(path: Path, source: str) -> bytes:
    try:
        if path.is_dir():
            raise FlowFileError(source, "is a folder, not a flow file; name a *.flow.json file")
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise FlowFileError(
                source,
                f"is {_megabytes(size)}; flow files are limited to "
                f"{_megabytes(MAX_FILE_BYTES)}, so this is probably not a flow file",
            )
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise FlowFileError(source, "does not exist; check the path") from None
    except PermissionError:
        raise FlowFileError(source, "cannot be read: permission denied") from None
    except IsADirectoryError:
        raise FlowFileError(source, "is a folder, not a flow file") from None
    except OSError as exc:
        raise FlowFileError(source, f"cannot be read: {exc.strerror or exc}") from None
    if len(data) > MAX_FILE_BYTES:
        raise FlowFileError(source, f"is larger than {_megabytes(MAX_FILE_BYTES)}; refusing it")
    return data


def _decode(data: bytes, source: str) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, column = _line_column(data[: exc.start].decode("utf-8", "replace"))
        raise FlowFileError(
            source,
            f"is not UTF-8 text (byte 0x{data[exc.start]:02x}); save it with UTF-8 encoding",
            line=line,
            column=column,
        ) from None


_JSON_ERROR = re.compile(r"^(?P<message>.*) at line (?P<line>\d+) column (?P<column>\d+)$")


def _parse_json(text: str, source: str) -> Any:
    """Parse with pydantic-core's JSON parser: fast, and it bounds nesting depth."""
    if not text.strip():
        raise FlowFileError(source, "is empty; a flow file is a JSON object")
    try:
        return pydantic_core.from_json(text, allow_inf_nan=False)
    except ValueError as exc:
        match = _JSON_ERROR.match(str(exc))
        if match is None:
            raise FlowFileError(source, f"is not valid JSON: {exc}") from None
        message = match["message"]
        line, column = int(match["line"]), int(match["column"])
        if message == "recursion limit exceeded":
            raise FlowFileError(
                source, "is nested too deeply to be a flow file; flatten the data", line=line
            ) from None
        if message.startswith("EOF while parsing"):
            message += " (the file ends too early: was it cut off?)"
        elif message == "expected value":
            rest = text.splitlines()[line - 1][column - 1 :] if line <= text.count("\n") + 1 else ""
            for word in ("NaN", "Infinity", "-Infinity"):
                if rest.startswith(word):
                    message = f"{word} is not a JSON number; use a number or null"
        raise FlowFileError(
            source, f"is not valid JSON: {message}", line=line, column=column
        ) from None


def _check_header_and_migrate(document: Any, source: str) -> dict[str, Any]:
    if not isinstance(document, dict):
        kind = type(document).__name__.replace("dict", "object").replace("list", "array")
        raise FlowFileError(source, f"holds a JSON {kind}; a flow file is a JSON object")
    fmt = document.get("format")
    if fmt != FORMAT:
        shown = "missing" if fmt is None else repr(fmt)
        raise FlowFileError(
            source, f"is not an Opsflow flow file (format is {shown}; expected '{FORMAT}')"
        )
    version = document.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise FlowFileError(
            source, f"has an invalid format version {version!r}; expected a whole number"
        )
    if version > FORMAT_VERSION:
        raise FlowFileError(
            source,
            f"was written in flow format version {version}, but this Opsflow reads versions "
            f"up to {FORMAT_VERSION}; upgrade Opsflow to open it",
        )
    header_checked: dict[str, Any] = document
    if version < FORMAT_VERSION:
        try:
            header_checked = migrate(header_checked, version, FORMAT_VERSION)
        except (ValueError, TypeError, KeyError) as exc:
            raise FlowFileError(
                source, f"could not be upgraded from format version {version}: {exc}"
            ) from None
    return header_checked


def _validate_shape(document: dict[str, Any], source: str) -> Flow:
    try:
        return Flow.model_validate(document)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        first = errors[0]
        node, field = _locate(document, first["loc"])
        message = _describe_error(first)
        if len(errors) > 1:
            message += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
        raise FlowFileError(source, message, node=node, field=field) from None


def _locate(document: dict[str, Any], loc: tuple[Any, ...]) -> tuple[str | None, str]:
    """Turn a pydantic location into (node id, dotted field) for people."""
    node: str | None = None
    parts: list[str] = []
    rest = list(loc)
    if len(rest) >= 2 and rest[0] == "nodes" and isinstance(rest[1], int):
        nodes = document.get("nodes")
        index = rest[1]
        candidate = nodes[index] if isinstance(nodes, list) and index < len(nodes) else None
        if isinstance(candidate, dict) and isinstance(candidate.get("id"), str):
            node = candidate["id"][:64]
            rest = rest[2:]
        else:
            parts.append(f"nodes[{index}]")
            rest = rest[2:]
    for item in rest:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
    return node, "".join(parts)


def _pattern_sentence(pattern: str, field_name: object) -> str | None:
    if field_name == "port" and pattern == PORT_PATTERN:
        return "must be a port name: lower-case letters, digits and underscores"
    if pattern == NODE_ID_PATTERN:
        return (
            "must be lower-case letters, digits and underscores, starting with a letter or "
            "underscore (e.g. restart_nginx), because expressions use it as nodes.<id>"
        )
    if pattern == SLUG_PATTERN:
        return "must be letters, digits, '_', '-' or '.', at most 128 characters"
    return None


def _describe_error(error: Any) -> str:
    message = str(error["msg"])
    if error["type"] == "string_pattern_mismatch":
        pattern = str(error.get("ctx", {}).get("pattern"))
        sentence = _pattern_sentence(pattern, error["loc"][-1] if error["loc"] else None)
        if sentence is not None:
            return f"{sentence} (got {error.get('input')!r:.60})"
    if error["type"] == "extra_forbidden":
        return "is not a known field; check its spelling or remove it"
    if error["type"] == "missing":
        return "is required but missing"
    shown = repr(error.get("input"))
    if len(shown) <= 60 and error["type"] not in ("model_type", "dict_type"):
        message += f" (got {shown})"
    return message


def _resolve_node_types(flow: Flow, source: str, catalog: Catalog) -> None:
    """Check node types exist here and bring older node-type versions up to date."""
    for node in flow.nodes:
        spec = catalog.get(node.type)
        if spec is None:
            known = [s.type for s in catalog]
            close = difflib.get_close_matches(node.type, known, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise FlowFileError(
                source,
                f"unknown node type '{node.type}'; {hint}run `opsflow nodes` to list the "
                "installed types, or install the node pack that provides it",
                node=node.id,
                field="type",
            )
        if node.type_version > spec.version:
            raise FlowFileError(
                source,
                f"uses {node.type} version {node.type_version}, but this Opsflow knows up to "
                f"version {spec.version}; upgrade Opsflow or the node pack",
                node=node.id,
                field="type_version",
            )
        if node.type_version < spec.version:
            try:
                node.params = spec.migrate_params(dict(node.params), node.type_version)
            except (KeyError, ValueError, TypeError) as exc:
                raise FlowFileError(
                    source,
                    f"could not upgrade {node.type} from version {node.type_version}: {exc}",
                    node=node.id,
                    field="params",
                ) from None
            node.type_version = spec.version


def _line_column(prefix: str) -> tuple[int, int]:
    line = prefix.count("\n") + 1
    column = len(prefix) - (prefix.rfind("\n") + 1) + 1
    return line, column


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"
