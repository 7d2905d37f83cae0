"""Live validation of the open flow and the panel that lists its problems.

`Validator` re-validates the document a moment after each change and publishes
the diagnostics; `ProblemsPanel` lists them, and the canvas reads the worst
severity per node from the validator for its badges.
"""

from __future__ import annotations

import contextlib
import html
from collections.abc import Collection, Sequence
from concurrent.futures import ThreadPoolExecutor

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QIcon, QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QStyle,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from opsflow.studio import theme
from opsflow.studio.document import FlowDocument
from opsflow.validate import Diagnostic, validate_flow

DEBOUNCE_MS = 250
#: Item data roles of a problem row (column 0): the node id and the field it concerns.
NODE_ROLE = Qt.ItemDataRole.UserRole + 1
FIELD_ROLE = Qt.ItemDataRole.UserRole + 2
#: Severities from worst to mildest; unknown ones count as the mildest.
SEVERITY_ORDER = ("error", "warning", "info")

_ICONS = {
    "error": QStyle.StandardPixmap.SP_MessageBoxCritical,
    "warning": QStyle.StandardPixmap.SP_MessageBoxWarning,
    "info": QStyle.StandardPixmap.SP_MessageBoxInformation,
}


def _severity_rank(severity: str) -> int:
    return SEVERITY_ORDER.index(severity) if severity in SEVERITY_ORDER else len(SEVERITY_ORDER)


def worst_by_node(diagnostics: Sequence[Diagnostic]) -> dict[str, str]:
    """The worst severity of the problems of each node that has any."""
    worst: dict[str, str] = {}
    for diagnostic in diagnostics:
        if diagnostic.node is None:
            continue
        known = worst.get(diagnostic.node)
        if known is None or _severity_rank(diagnostic.severity) < _severity_rank(known):
            worst[diagnostic.node] = diagnostic.severity
    return worst


def summary_text(diagnostics: Sequence[Diagnostic]) -> str:
    """'2 errors, 1 warning', or 'No problems'."""
    counts = {severity: 0 for severity in SEVERITY_ORDER}
    for diagnostic in diagnostics:
        counts[diagnostic.severity if diagnostic.severity in counts else "info"] += 1
    parts = [
        f"{count} {name if count == 1 else name + 's'}"
        for name, count in (
            ("error", counts["error"]),
            ("warning", counts["warning"]),
            ("note", counts["info"]),
        )
        if count
    ]
    return ", ".join(parts) if parts else "No problems"


class Validator(QObject):
    """Validates a document `DEBOUNCE_MS` after its last change, on a worker thread.

    A 5,000-node flow takes about a second to check; the editor stays live
    meanwhile, and a result that a newer change has made stale is dropped.
    `validate_now` checks at once on the calling thread (before a run).
    """

    #: The flow was validated: the list of `Diagnostic`, errors first.
    validated = Signal(list)
    #: (internal) A background check finished: (generation, diagnostics).
    _checked = Signal(int, list)

    def __init__(
        self,
        document: FlowDocument,
        known_credentials: Collection[str] | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent if parent is not None else document)
        self._document = document
        self._known_credentials = known_credentials
        self._diagnostics: list[Diagnostic] = []
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DEBOUNCE_MS)
        self._timer.timeout.connect(self._validate_in_background)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="opsflow-validate")
        self._generation = 0
        self._in_flight = False
        self._checked.connect(self._on_checked)
        self.destroyed.connect(lambda: self._pool.shutdown(wait=False, cancel_futures=True))
        document.changed.connect(self.schedule)
        document.reset.connect(self.schedule)
        # Sub-flow paths are relative to the file, so saving elsewhere can change the problems.
        document.path_changed.connect(self.schedule)
        self.schedule()

    def diagnostics(self) -> list[Diagnostic]:
        """The problems found by the last validation."""
        return list(self._diagnostics)

    def diagnostics_by_node(self) -> dict[str, str]:
        """The worst severity ('error', 'warning') of each node that has problems."""
        return worst_by_node(self._diagnostics)

    def is_pending(self) -> bool:
        """Whether a change is waiting to be validated."""
        return self._timer.isActive() or self._in_flight

    def set_known_credentials(self, names: Collection[str] | None) -> None:
        """The credential names available on this machine (None: judge by the flow only)."""
        self._known_credentials = names
        self.schedule()

    def schedule(self) -> None:
        """Validate once the document has been quiet for `DEBOUNCE_MS`."""
        self._timer.start()

    def validate_now(self) -> list[Diagnostic]:
        """Validate at once (before a run or a save), cancelling any pending validation."""
        self._timer.stop()
        self._generation += 1
        self._in_flight = False
        document = self._document
        self._publish(
            validate_flow(
                document.flow(), document.catalog, self._known_credentials, flow_path=document.path
            )
        )
        return list(self._diagnostics)

    def _validate_in_background(self) -> None:
        self._generation += 1
        generation = self._generation
        flow = self._document.flow()  # a snapshot: models are never changed in place
        catalog, known = self._document.catalog, self._known_credentials
        path = self._document.path

        def check() -> None:
            diagnostics = validate_flow(flow, catalog, known, flow_path=path)
            with contextlib.suppress(RuntimeError):  # the window closed meanwhile
                self._checked.emit(generation, diagnostics)

        self._in_flight = True
        self._pool.submit(check)

    def _on_checked(self, generation: int, diagnostics: list[Diagnostic]) -> None:
        if generation != self._generation:
            return  # the flow changed again since: a newer check is coming
        self._in_flight = False
        self._publish(diagnostics)

    def _publish(self, diagnostics: list[Diagnostic]) -> None:
        self._diagnostics = diagnostics
        self.validated.emit(list(self._diagnostics))


class ProblemsPanel(QWidget):
    """The problems of the open flow: a summary line over one row per diagnostic."""

    #: A problem was activated (click, Enter): the node and field it concerns, if any.
    problem_activated = Signal(object, object)

    def __init__(
        self,
        document: FlowDocument,
        validator: Validator | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.document = document
        self.validator = validator if validator is not None else Validator(document, parent=self)
        self._diagnostics: list[Diagnostic] = []

        self.summary_label = QLabel(self)
        self.summary_label.setContentsMargins(4, 2, 4, 2)

        self.tree = QTreeWidget(self)
        self.tree.setColumnCount(3)
        self.tree.setHeaderLabels(["Problem", "Node", "Field"])
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.tree.setTextElideMode(Qt.TextElideMode.ElideRight)
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.itemClicked.connect(self._on_item_chosen)
        self.tree.installEventFilter(self)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.summary_label)
        layout.addWidget(self.tree, 1)

        self.validator.validated.connect(self._on_validator_validated)
        self._on_validator_validated(self.validator.diagnostics())
        if self.validator.is_pending():
            self.summary_label.setText("Checking…")

    def diagnostics(self) -> list[Diagnostic]:
        """The problems the panel lists."""
        return list(self._diagnostics)

    def diagnostics_by_node(self) -> dict[str, str]:
        """The worst severity of each node that has problems (for the canvas badges)."""
        return worst_by_node(self._diagnostics)

    # -- Qt overrides ----------------------------------------------------------------------

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.tree and event.type() == QEvent.Type.KeyPress:
            assert isinstance(event, QKeyEvent)
            item = self.tree.currentItem()
            if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and item is not None:
                self._on_item_chosen(item)
                return True
        return super().eventFilter(watched, event)

    # -- internals -------------------------------------------------------------------------

    def _on_validator_validated(self, diagnostics: list[Diagnostic]) -> None:
        self._diagnostics = list(diagnostics)
        self.summary_label.setText(summary_text(self._diagnostics))
        self.tree.clear()
        self.tree.addTopLevelItems([self._row(d) for d in self._diagnostics])

    def _row(self, diagnostic: Diagnostic) -> QTreeWidgetItem:
        where = diagnostic.node or (f"edge {diagnostic.edge}" if diagnostic.edge else "")
        item = QTreeWidgetItem([diagnostic.message, where, diagnostic.field or ""])
        item.setIcon(0, self._icon(diagnostic.severity))
        item.setData(0, NODE_ROLE, diagnostic.node)
        item.setData(0, FIELD_ROLE, diagnostic.field)
        tooltip = self._tooltip(diagnostic)
        for column in range(3):
            item.setToolTip(column, tooltip)
        return item

    def _icon(self, severity: str) -> QIcon:
        return self.style().standardIcon(_ICONS.get(severity, _ICONS["info"]))

    @staticmethod
    def _tooltip(diagnostic: Diagnostic) -> str:
        muted = theme.current().node_subtext
        text = f"<b>{html.escape(diagnostic.message)}</b>"
        if diagnostic.hint:
            text += f"<br>{html.escape(diagnostic.hint)}"
        return text + f"<br><span style='color:{muted}'>{html.escape(diagnostic.code)}</span>"

    def _on_item_chosen(self, item: QTreeWidgetItem) -> None:
        self.problem_activated.emit(item.data(0, NODE_ROLE), item.data(0, FIELD_ROLE))
