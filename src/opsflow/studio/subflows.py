"""Opening the flow a node calls: a sub-flow (`action.subflow`) or a for-each body.

Both name the other file in their `flow` parameter, relative to the calling flow's file,
and the engine resolves it the same way. "Open sub-flow" (the node's menu, File menu, or a
double-click on the node) opens that file in a window; when it does not exist yet, the
Studio offers to create a starter flow there, with a manual trigger and the inputs the
calling node passes, and opens it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtWidgets import QMenu, QMessageBox

from opsflow.atomicfile import write_atomic
from opsflow.catalog.builtin.actions_flow import FLOW_SUFFIX, check_flow_file
from opsflow.expr import is_template
from opsflow.flowfile import dump_flow
from opsflow.model.flow import Flow, FlowInput, InputType, Node, NodePlacement
from opsflow.studio import files
from opsflow.validate.subflows import CALLING_TYPES

if TYPE_CHECKING:
    from opsflow.studio.document import FlowDocument
    from opsflow.studio.mainwindow import MainWindow

_LONE_EXPRESSION = re.compile(r"^\s*\{\{(?:(?!\{\{|\}\}).)*\}\}\s*$", re.DOTALL)


@dataclass(frozen=True)
class Target:
    """Where a calling node's `flow` parameter leads, or why it leads nowhere yet."""

    #: The path as the node writes it ("" when the parameter is not set).
    written: str
    #: The file, resolved as the engine resolves it; None with a `problem`.
    path: Path | None = None
    #: Why the file cannot be opened (a sentence for the status bar).
    problem: str = ""


def calls_flow(document: FlowDocument, node_id: str) -> bool:
    """Whether the node runs another flow file (sub-flow or for-each body)."""
    return document.has_node(node_id) and document.node(node_id).type in CALLING_TYPES


def target(document: FlowDocument, node_id: str) -> Target:
    """The file a Run sub-flow or For each node names (assumes `calls_flow`)."""
    written = document.node(node_id).params.get("flow")
    if not isinstance(written, str) or not written.strip():
        return Target("", problem="Set the node's flow file first (in the inspector).")
    if is_template(written):
        return Target(
            written, problem=f"The node chooses its flow when it runs ({written}); open it by hand."
        )
    try:
        check_flow_file(written)
    except ValueError as exc:
        return Target(written, problem=f"The node's flow file is not usable: {exc}.")
    if document.path is None:
        return Target(
            written,
            problem=f"Save this flow first: {written} is found relative to the flow's file.",
        )
    return Target(written, (document.path.parent / written).resolve())


def open_for_node(window: MainWindow, node_id: str) -> MainWindow | None:
    """Open the flow the node calls, offering to create it when it is missing."""
    document = window.document
    if not calls_flow(document, node_id):
        return None
    where = target(document, node_id)
    if where.path is None:
        window.say(where.problem)
        return None
    if where.path.is_file():
        return files.open_path(window, where.path)
    if where.path.exists():
        window.say(f"{where.written} is not a file.")
        return None
    answer = QMessageBox.question(
        window,
        "Sub-flow not found",
        f"{where.written} does not exist yet (looked for {where.path}).\n\n"
        "Create it as a new flow with a manual trigger and the inputs this node passes, "
        "and open it?",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        QMessageBox.StandardButton.Yes,
    )
    if answer != QMessageBox.StandardButton.Yes:
        return None
    flow = starter_flow(where.path, document.header, document.node(node_id))
    try:
        where.path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(where.path, dump_flow(flow).encode("utf-8"))
    except OSError as exc:
        QMessageBox.warning(
            window, "Not created", f"{where.path} could not be written ({exc.strerror or exc})."
        )
        return None
    window.say(f"Created {where.path}")
    return files.open_path(window, where.path)


def open_selected(window: MainWindow) -> MainWindow | None:
    nodes = [n for n in window.scene.selected_node_ids() if calls_flow(window.document, n)]
    if len(nodes) != 1:
        window.say("Select one Run sub-flow or For each node to open the flow it runs.")
        return None
    return open_for_node(window, nodes[0])


def add_node_action(menu: QMenu, window: MainWindow, node_id: str) -> None:
    """Add "Open sub-flow" (or "Open for-each body") to a node's menu when it calls a flow."""
    if not calls_flow(window.document, node_id):
        return
    body = window.document.node(node_id).type == "control.foreach"
    written = target(window.document, node_id).written
    text = "Open for-each body" if body else "Open sub-flow"
    text += f" ({written})" if written else ""
    menu.addAction(text, lambda: open_for_node(window, node_id))


# -- the starter flow (no Qt) ---------------------------------------------------------------


def starter_flow(path: Path, caller: Flow, node: Node) -> Flow:
    """A flow that the calling node can run at once: a manual trigger and its inputs."""
    stem = path.name[: -len(FLOW_SUFFIX)] if path.name.endswith(FLOW_SUFFIX) else path.stem
    flow_id = re.sub(r"[^A-Za-z0-9_.-]+", "-", stem).strip("-.")[:128] or "subflow"
    words = re.sub(r"[-_.]+", " ", stem).strip()
    caller_name = caller.name or caller.id
    role = "For-each body" if node.type == "control.foreach" else "Sub-flow"
    passed = node.params.get("inputs")
    inputs = {
        name: _input_for(name, value, node.id)
        for name, value in (passed.items() if isinstance(passed, dict) else ())
    }
    return Flow(
        id=flow_id,
        name=words[:1].upper() + words[1:] if words else flow_id,
        description=f"{role} run by node '{node.id}' of {caller_name}.",
        inputs=inputs,
        nodes=[Node(id="start", type="trigger.manual", title=f"Called by {caller_name}")],
        layout={"nodes": {"start": NodePlacement(x=0, y=0)}},
    )


def _input_for(name: str, value: Any, node_id: str) -> FlowInput:
    kind: InputType = "string"
    description = ""
    if isinstance(value, bool):
        kind = "boolean"
    elif isinstance(value, int):
        kind = "integer"
    elif isinstance(value, float):
        kind = "number"
    elif isinstance(value, dict):
        kind = "object"
    elif isinstance(value, list):
        kind = "array"
    elif isinstance(value, str) and _LONE_EXPRESSION.match(value):
        description = (
            f"Node '{node_id}' passes {value.strip()}; if that is not text, change the type."
        )
    elif isinstance(value, str) and is_template(value):
        description = f"Node '{node_id}' passes {value.strip()!r}."
    return FlowInput(type=kind, title=name.replace("_", " ").capitalize(), description=description)
