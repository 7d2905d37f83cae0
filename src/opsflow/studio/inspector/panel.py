"""The inspector: the side panel that edits the selected node through undoable commands.

It builds one row per node setting and per parameter (from the node type's
JSON Schema), pushes a merging `ChangeNode` for every edit, shows pydantic's
sentence under a field whose value the node type refuses, and follows the
document (undo, redo, removal) without disturbing the field being typed in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import ValidationError
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDockWidget,
    QFrame,
    QLabel,
    QScrollArea,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from opsflow.catalog.fields import FieldKind
from opsflow.model.flow import Node
from opsflow.studio import theme
from opsflow.studio.commands import ChangeNode
from opsflow.studio.document import FlowDocument
from opsflow.studio.inspector.credential import CredentialEditor
from opsflow.studio.inspector.cron import CronEditor
from opsflow.studio.inspector.expression import ContextCompleter
from opsflow.studio.inspector.fields import CodeFieldEditor, FieldEditor
from opsflow.studio.inspector.flow_panel import FlowPanel
from opsflow.studio.inspector.lists import LinesEditor
from opsflow.studio.inspector.node_id import NodeIdField
from opsflow.studio.inspector.rows import NODE_FIELDS, FieldRow, make_editor
from opsflow.studio.inspector.schema import FieldInfo, field_path_head, read_fields
from opsflow.studio.rename import NodeRenamer
from opsflow.validate.context import Completion, RunValues, completions
from opsflow.validate.nodes import check_expressions

#: The key under which an unknown node type's whole params are edited as JSON.
ALL_PARAMS = "params"
_UNKNOWN_PARAMS = FieldInfo(
    name=ALL_PARAMS,
    title="Parameters (JSON)",
    description="This node type is not in the catalog, so its parameters are edited as JSON.",
    schema={"type": "object"},
    kind=None,
    required=False,
    nullable=False,
    default={},
    editor="json",
)


class Inspector(QWidget):
    """Edits the shown node's settings and parameters; the Flow tab beside edits the flow's."""

    def __init__(self, document: FlowDocument, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.node_id: str | None = None
        self.rows: dict[str, FieldRow] = {}
        self._shown: dict[str, Any] = {}
        self._shown_type: str | None = None
        #: What the last run shown gave expressions to read, for completion (None: no run).
        self._run_values: Callable[[], RunValues | None] = lambda: None
        #: Renames the shown node from its id field (F2); the window shows what it says.
        self.renamer = NodeRenamer(document, self)
        self.id_field: NodeIdField | None = None
        self.general_errors = QLabel()
        self.scroll_area = QScrollArea(self)
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        #: The flow's own fields (inputs, credentials, settings, ...), in a tab beside the node's.
        self.flow_panel = FlowPanel(document)
        self.tabs = QTabWidget(self)
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.scroll_area, "Node")
        self.tabs.addTab(self.flow_panel, "Flow")
        self.tabs.setCurrentWidget(self.flow_panel)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tabs)
        self.setMinimumWidth(320)
        document.node_changed.connect(self._on_node_changed)
        document.node_removed.connect(self._on_node_removed)
        document.reset.connect(self._on_document_reset)
        document.flow_changed.connect(self._on_flow_changed)
        document.edge_added.connect(self._on_edges_changed)
        document.edge_removed.connect(self._on_edges_changed)
        self.show_node(None)

    # -- public ----------------------------------------------------------------------------

    def show_node(self, node_id: str | None) -> None:
        """Show a node's fields; None (or an id not in the flow) brings the Flow tab forward."""
        if node_id is not None and not self.document.has_node(node_id):
            node_id = None
        if node_id != self.node_id:  # a new selection: its tab (nothing selected: the flow's)
            self.tabs.setCurrentWidget(self.scroll_area if node_id else self.flow_panel)
        self.node_id = node_id
        self.rows = {}
        self.id_field = None
        self._shown = {}
        self._shown_type = None
        content = QWidget()
        self._layout = QVBoxLayout(content)
        self._layout.setContentsMargins(12, 10, 12, 12)
        self._layout.setSpacing(2)
        if node_id is None:
            self._build_flow_view()
        else:
            self._build_node_view(self.document.node(node_id))
        self._layout.addStretch(1)
        self.scroll_area.setWidget(content)

    def edit_id(self, node_id: str) -> bool:
        """Show a node with its id field focused and selected, to be typed over (F2)."""
        if self.node_id != node_id:
            self.show_node(node_id)
        if self.id_field is None:
            return False
        self.tabs.setCurrentWidget(self.scroll_area)
        dock = self.parentWidget()
        if isinstance(dock, QDockWidget):
            dock.show()
            dock.raise_()
        self.scroll_area.ensureWidgetVisible(self.id_field, 0, 40)
        self.id_field.start_editing()
        return True

    def show_flow(self, path: str = "") -> bool:
        """Open the Flow tab, at a flow-level path ("inputs.port", "credentials") when given.

        False, and the tab left as it was, when the Flow tab has nothing at `path`.
        """
        if path and not self.flow_panel.has_path(path):
            return False
        self.tabs.setCurrentWidget(self.flow_panel)
        return self.flow_panel.focus_path(path) if path else True

    def focus_field(self, path: str) -> bool:
        """Scroll to and focus the editor of a field path ("params.url", "retry.attempts")."""
        head, rest = field_path_head(path)
        row = self.rows.get(head) or self.rows.get(head.removeprefix("params."))
        if row is None and self.node_id is not None and ALL_PARAMS in self.rows:
            row, rest = self.rows[ALL_PARAMS], ""
        if row is None:
            return False
        self.scroll_area.ensureWidgetVisible(row, 0, 40)
        row.editor.focus_path(rest)
        return True

    def editor(self, path: str) -> FieldEditor | None:
        """The editor of a field path such as "params.url" or "title" (None when not shown)."""
        row = self.rows.get(path)
        return row.editor if row is not None else None

    # -- building --------------------------------------------------------------------------

    def _heading(self, text: str) -> None:
        label = QLabel(text.upper())
        font = label.font()
        font.setPointSizeF(font.pointSizeF() * 0.85)
        font.setWeight(font.Weight.Bold)
        font.setLetterSpacing(font.SpacingType.PercentageSpacing, 108)
        label.setFont(font)
        label.setStyleSheet(
            f"color: {theme.current().node_subtext}; padding-top: 12px; padding-bottom: 2px;"
            f" border-bottom: 1px solid {theme.current().node_border};"
        )
        self._layout.addWidget(label)

    def _muted(self, text: str) -> QLabel:
        label = QLabel(text)
        label.setWordWrap(True)
        label.setStyleSheet(f"color: {theme.current().node_subtext};")
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        return label

    def _build_flow_view(self) -> None:
        hint = self._muted(
            "Select a node to edit it. The flow's name, inputs, credentials, variables, "
            "outputs and settings are in the Flow tab."
        )
        hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        hint.setContentsMargins(0, 8, 0, 8)
        self._layout.addWidget(hint)

    def _build_node_view(self, node: Node) -> None:
        spec = self.document.catalog.get(node.type)
        title = QLabel(spec.title if spec else f"Unknown type {node.type}")
        font = title.font()
        font.setPointSizeF(font.pointSizeF() * 1.3)
        font.setWeight(font.Weight.Bold)
        title.setFont(font)
        title.setWordWrap(True)
        self._layout.addWidget(title)
        self._layout.addWidget(self._muted(node.type))
        doc = (
            spec.doc
            if spec
            else (
                "This node type is not in the catalog (is a node pack missing?). Its parameters "
                "are kept as they are and edited as JSON."
            )
        )
        doc_label = self._muted(doc)
        doc_label.setContentsMargins(0, 4, 0, 4)
        self._layout.addWidget(doc_label)
        self.id_field = NodeIdField(self.renamer, node.id)
        self._layout.addWidget(self.id_field)
        for name in ("title", "description"):
            self._add_row(NODE_FIELDS[name], name)
        self._heading("Parameters")
        self.general_errors = QLabel()
        self.general_errors.setWordWrap(True)
        self.general_errors.setStyleSheet(f"color: {theme.current().error};")
        self.general_errors.hide()
        self._layout.addWidget(self.general_errors)
        infos = read_fields(spec.params) if spec else [_UNKNOWN_PARAMS]
        for info in infos:
            self._add_row(info, f"params.{info.name}" if spec else ALL_PARAMS)
        if spec is not None and not infos:
            self._layout.addWidget(self._muted("This node type has no parameters."))
        self._heading("Run settings")
        for name in ("disabled", "timeout_s", "retry", "join"):
            self._add_row(NODE_FIELDS[name], name)
        self._refresh_model_errors(node)

    def _add_row(self, info: FieldInfo, key: str) -> None:
        value = self._stored(key)
        editor = make_editor(
            info,
            value,
            header=lambda: self.document.header,
            timezone=self._timezone,
            check=lambda text: self._check_expression(info, text),
        )
        # Fields that take expressions (and expressions dropped from a run) complete them.
        edit = editor.edit if isinstance(editor, CodeFieldEditor | LinesEditor) else None
        if edit is not None and edit.expression_kind is not None:
            edit.set_completer(ContextCompleter(self._completions, editor))
        editor.display(value)
        editor.committed.connect(lambda new, key=key, info=info: self._commit(key, info, new))
        editor.committed_apart.connect(
            lambda new, key=key, info=info: self._commit(key, info, new, merge=False)
        )
        row = FieldRow(editor)
        row.update_message()
        self.rows[key] = row
        self._shown[key] = value
        self._layout.addWidget(row)

    # -- values ----------------------------------------------------------------------------

    def _stored(self, key: str) -> Any:
        """The effective value of a row in the model: the stored one, or its default."""
        node = self.document.node(self.node_id) if self.node_id else None
        if node is None:
            return None
        if key == ALL_PARAMS:
            return dict(node.params)
        if key.startswith("params."):
            name = key.removeprefix("params.")
            if name in node.params:
                return node.params[name]
            info = self.rows[key].editor.info if key in self.rows else None
            spec = self.document.catalog.get(node.type)
            if info is None and spec is not None:
                info = next((i for i in read_fields(spec.params) if i.name == name), None)
            return info.default if info is not None and info.has_default else None
        return getattr(node, key)

    def _commit(self, key: str, info: FieldInfo, value: Any, *, merge: bool = True) -> None:
        """Push the change; typing in one field merges into one step, a drop never does."""
        if self.node_id is None:
            return
        node = self.document.node(self.node_id)
        row = self.rows[key]
        if key == ALL_PARAMS:
            new = node.model_copy(update={"params": dict(value)})
        elif key.startswith("params."):
            params = dict(node.params)
            if (info.has_default and value == info.default) or (
                value is None and not info.required
            ):
                params.pop(info.name, None)
            else:
                params[info.name] = value
            new = node.model_copy(update={"params": params})
        else:
            try:
                Node.model_validate({**node.model_dump(by_alias=True), key: value})
            except ValidationError as exc:
                row.set_model_errors([_sentence(exc.errors()[0])])
                return
            row.set_model_errors([])
            new = node.model_copy(update={key: value})
        if new == node:
            return
        field = key if merge else ""
        self.document.push(ChangeNode(self.document, new, f"Change {info.title}", field=field))

    def _refresh(self) -> None:
        """Bring rows whose stored value changed up to date (undo, redo, other views)."""
        assert self.node_id is not None
        node = self.document.node(self.node_id)
        if node.type != self._shown_type:
            self.show_node(self.node_id)
            return
        for key, row in self.rows.items():
            stored = self._stored(key)
            if key in self._shown and _same(self._shown[key], stored):
                continue
            self._shown[key] = stored
            if not _same(row.editor.current(), stored):
                row.editor.display(stored)
        self._refresh_model_errors(node)
        cron = next(
            (r.editor for r in self.rows.values() if isinstance(r.editor, CronEditor)), None
        )
        if cron is not None:
            cron.refresh_preview()

    def _refresh_model_errors(self, node: Node) -> None:
        self._shown_type = node.type
        spec = self.document.catalog.get(node.type)
        by_field: dict[str, list[str]] = {}
        general: list[str] = []
        if spec is not None:
            try:
                spec.params.model_validate(node.params)
            except ValidationError as exc:
                for error in exc.errors(include_url=False):
                    loc = error["loc"]
                    key = f"params.{loc[0]}" if loc else ""
                    if key in self.rows and error["type"] != "extra_forbidden":
                        by_field.setdefault(key, []).append(_sentence(error, loc[1:]))
                    elif error["type"] == "extra_forbidden":
                        general.append(f"'{loc[-1]}' is not a parameter of {spec.type}")
                    else:
                        general.append(_sentence(error, loc))
        for key, row in self.rows.items():
            if key.startswith("params."):
                row.set_model_errors(by_field.get(key, []))
        self.general_errors.setText("\n".join(general))
        self.general_errors.setVisible(bool(general))

    # -- context for editors ---------------------------------------------------------------

    def _timezone(self) -> str:
        if self.node_id is None or not self.document.has_node(self.node_id):
            return "UTC"
        zone = self.document.node(self.node_id).params.get("timezone", "UTC")
        return zone if isinstance(zone, str) else "UTC"

    def read_run_values_from(self, source: Callable[[], RunValues | None]) -> None:
        """Complete from what `source` says the last run gave (the window's run session)."""
        self._run_values = source

    def _completions(self, word: str) -> list[Completion]:
        node_id = self.node_id
        upstream = self.document.upstream().ancestors(node_id) if node_id is not None else set()
        return completions(
            self.document.flow(),
            node_id,
            upstream,
            word,
            self.document.catalog,
            self._run_values(),
        )

    def _check_expression(self, info: FieldInfo, text: str) -> tuple[str, str]:
        if self.node_id is None or info.kind not in ("template", "expression"):
            return "", ""
        node = self.document.node(self.node_id)
        kind: FieldKind = "expression" if info.kind == "expression" else "template"
        found = check_expressions(
            node,
            [(info.name, text, kind)],
            self.document.header,
            {n.id for n in self.document.nodes()},
            self.document.upstream(),
        )
        errors = [d.message for d in found if d.severity == "error"]
        warnings = [d.message for d in found if d.severity == "warning"]
        return (errors[0] if errors else ""), (warnings[0] if warnings else "")

    # -- document signals ------------------------------------------------------------------

    def _on_node_changed(self, node_id: str) -> None:
        if node_id == self.node_id:
            self._refresh()

    def _on_node_removed(self, node_id: str) -> None:
        if node_id == self.node_id:
            self.show_node(None)

    def _on_document_reset(self) -> None:
        self.show_node(self.node_id)

    def _on_flow_changed(self) -> None:
        if self.node_id is None:
            return
        for row in self.rows.values():
            if isinstance(row.editor, CredentialEditor):
                row.editor.reload()
        self._on_edges_changed()

    def _on_edges_changed(self) -> None:
        for row in self.rows.values():
            if isinstance(row.editor, CodeFieldEditor):
                row.editor.recheck()


def _same(a: Any, b: Any) -> bool:
    """Equal, and not merely because True == 1."""
    return bool(a == b) and isinstance(a, bool) == isinstance(b, bool)


def _sentence(error: Any, rest: tuple[Any, ...] = ()) -> str:
    """Pydantic's message as the problems panel words it, with the place inside the field."""
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "missing":
        message = "is required"
    place = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in rest).lstrip(".")
    return f"{place}: {message}" if place else message
