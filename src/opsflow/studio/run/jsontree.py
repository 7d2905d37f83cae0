"""A search box over a lazily expanded tree of a JSON value (a node's input or output, a
payload), with "Copy value", "Copy path" and dragging a row out as its expression.

The rows come from `JsonTreeModel`; what a value's type, summary and path are, and the
search itself, come from the Qt-free `opsflow.jsonpaths`. A search runs in slices of
`SEARCH_SLICE_S`, so the window keeps painting while it looks through megabytes.
"""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import QEvent, QModelIndex, QPoint, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QBrush, QFont, QGuiApplication, QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from opsflow.jsonpaths import SEARCH_LIMIT, Key, Search, value_text
from opsflow.studio.inspector.expression import monospace_font
from opsflow.studio.run.jsonmodel import JsonTreeModel

#: A search gives the event loop back after this long, so the window keeps painting.
SEARCH_SLICE_S = 0.008
COPY_PATH = QKeySequence("Ctrl+Shift+C")


class JsonTreeView(QTreeView):
    """The tree; Ctrl+C copies the value of the current row and Ctrl+Shift+C its path."""

    #: Ctrl+C was pressed on a row.
    copy_value_requested = Signal()
    #: Ctrl+Shift+C was pressed on a row.
    copy_path_requested = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.matches(QKeySequence.StandardKey.Copy):
            self.copy_value_requested.emit()
        elif QKeySequence(event.keyCombination()) == COPY_PATH:
            self.copy_path_requested.emit()
        else:
            super().keyPressEvent(event)


class JsonTree(QWidget):
    """A search box over a lazily expanded tree of one JSON value."""

    #: A row's path was put on the clipboard, e.g. `nodes.probe.output.items[3].name`.
    path_copied = Signal(str)
    #: A search ended: True when it selected a match.
    search_finished = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._search: Search | None = None
        self.model = JsonTreeModel(self)
        #: What the tree shows, in rich text left of the search box (hidden while empty).
        self.caption = QLabel()
        self.caption.setTextFormat(Qt.TextFormat.RichText)
        self.caption.setContentsMargins(4, 0, 6, 0)
        self.caption.hide()
        self.search_box = QLineEdit()
        self.search_box.setPlaceholderText("Find…")
        self.search_box.setToolTip("Find a key or value: type, then press Enter (again: next)")
        self.search_box.setClearButtonEnabled(True)
        self.search_status = QLabel()
        self.search_status.setContentsMargins(6, 0, 6, 0)
        self.view = JsonTreeView()
        self.view.setModel(self.model)
        self.view.setUniformRowHeights(True)  # no measuring of every row of a long page
        self.view.setAlternatingRowColors(True)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        # Rows of a value expressions can read drag out as their expression (the model says
        # which); nothing is dropped here.
        self.view.setDragEnabled(True)
        self.view.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.view.setDefaultDropAction(Qt.DropAction.CopyAction)
        header = self.view.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        metrics = self.fontMetrics()
        header.resizeSection(0, metrics.horizontalAdvance("x") * 16)
        header.resizeSection(2, metrics.horizontalAdvance("boolean") + 4 * metrics.height())
        self.copy_value_action = QAction("Copy value", self)
        self.copy_value_action.setShortcut(QKeySequence.StandardKey.Copy)
        self.copy_path_action = QAction("Copy path", self)
        self.copy_path_action.setShortcut(COPY_PATH)
        for action in (self.copy_value_action, self.copy_path_action):
            action.setShortcutVisibleInContextMenu(True)

        search_row = QHBoxLayout()
        search_row.addWidget(self.caption)
        search_row.addWidget(self.search_box, 1)
        search_row.addWidget(self.search_status)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(search_row)
        layout.addWidget(self.view, 1)
        self._apply_palette()

        self.search_box.returnPressed.connect(self.find_next)
        self.search_box.textChanged.connect(self._on_search_text_changed)
        self.view.activated.connect(self._on_row_activated)
        self.view.expanded.connect(self.model.fetchMore)  # now, not at the next layout
        self.view.customContextMenuRequested.connect(self._on_context_menu_requested)
        self.view.copy_value_requested.connect(self.copy_value)
        self.view.copy_path_requested.connect(self.copy_path)
        self.copy_value_action.triggered.connect(self.copy_value)
        self.copy_path_action.triggered.connect(self.copy_path)

    # --- the value ----------------------------------------------------------

    def set_value(self, value: Any, root: str | None = None) -> None:
        """Show `value`. `root` is the expression that reads it in a run ("nodes.probe.output",
        or "" for a value shaped like the context): copied paths are full expressions and rows
        drag out as them. None: expressions cannot read it; paths are its own, no drags."""
        self._stop_search()
        self.search_status.clear()
        self.model.set_value(value, root)

    def set_caption(self, text: str) -> None:
        """Say what the tree shows (rich text; "" hides the caption)."""
        self.caption.setText(text)
        self.caption.setVisible(bool(text))

    def clear(self) -> None:
        """Show nothing; `value()` is None again."""
        self._stop_search()
        self.search_status.clear()
        self.model.clear()

    def value(self) -> Any:
        return self.model.value()

    def expand_to(self, path: list[Key]) -> bool:
        """Open the rows down to `path`, then select and show it; False when it is not there."""
        index = self.model.index_of(path)
        if index is None:
            return False
        parent = index.parent()
        while parent.isValid():
            self.view.expand(parent)
            parent = parent.parent()
        self.view.setCurrentIndex(index)
        self.view.scrollTo(index)
        return True

    # --- copying ------------------------------------------------------------

    def copy_value(self) -> None:
        index = self.view.currentIndex()
        if index.isValid() and not self.model.is_more_row(index):
            QGuiApplication.clipboard().setText(value_text(self.model.value_at(index)))

    def copy_path(self) -> None:
        index = self.view.currentIndex()
        if index.isValid() and not self.model.is_more_row(index):
            path = self.model.expression_of(index)
            QGuiApplication.clipboard().setText(path)
            self.path_copied.emit(path)

    def context_menu(self, pos: QPoint) -> QMenu | None:
        """The menu for the row at `pos` (viewport coordinates), which becomes current."""
        index = self.view.indexAt(pos)
        if not index.isValid() or self.model.is_more_row(index):
            return None
        self.view.setCurrentIndex(index)
        menu = QMenu(self)
        menu.addAction(self.copy_value_action)
        menu.addAction(self.copy_path_action)
        return menu

    def _on_context_menu_requested(self, pos: QPoint) -> None:
        menu = self.context_menu(pos)
        if menu is not None:
            menu.exec(self.view.viewport().mapToGlobal(pos))
            menu.deleteLater()

    def _on_row_activated(self, index: QModelIndex) -> None:
        if self.model.is_more_row(index):
            first = self.model.load_next_page(index)
            self.view.setCurrentIndex(first)

    # --- searching ----------------------------------------------------------

    def find_next(self) -> None:
        """Look for the search text after the current row, wrapping round once."""
        needle = self.search_box.text().strip().casefold()
        if not needle:
            return
        current = self.view.currentIndex()
        start = self.model.path_of(current) if current.isValid() else None
        if start is not None and self.model.is_more_row(current):
            start = None
        previous = self._search
        if previous is not None and previous.running:
            return  # Enter pressed again while it looks: it is already on its way
        if previous is not None and previous.needle == needle and previous.last == start:
            search = previous  # Enter again on the last match: carry on from there
            search.resume_after_last()
        else:
            self._stop_search()
            search = Search(self.model.value(), needle, start)
        self._search = search
        search.running = True
        self.search_status.setText("Searching…")
        self._search_step(search)

    def _search_step(self, search: Search) -> None:
        if search is not self._search or not search.running:
            return  # replaced, stopped or the value changed
        outcome = search.advance(time.perf_counter() + SEARCH_SLICE_S)
        if outcome == "busy":
            # 1 ms, not 0: a chain of zero-timers keeps other timers waiting two or three
            # slices. With `self` as context the step is dropped if the widget goes away.
            QTimer.singleShot(1, self, lambda: self._search_step(search))
            return
        search.running = False
        if outcome == "found":
            assert search.last is not None
            self.search_status.clear()
            self.expand_to(search.last)
        else:
            self.search_status.setText(
                "No match" if outcome == "none" else f"Stopped after {SEARCH_LIMIT:,} values"
            )
        self.search_finished.emit(outcome == "found")

    def _stop_search(self) -> None:
        if self._search is not None:
            self._search.running = False
        self._search = None

    def is_searching(self) -> bool:
        return self._search is not None and self._search.running

    def _on_search_text_changed(self, text: str) -> None:
        self._stop_search()
        self.search_status.clear()

    # --- looks --------------------------------------------------------------

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.FontChange):
            self._apply_palette()

    def _apply_palette(self) -> None:
        self.model.muted = QBrush(self.palette().color(self.palette().ColorRole.PlaceholderText))
        font = monospace_font()
        if self.font().pointSizeF() > 0:
            font.setPointSizeF(self.font().pointSizeF())
        self.model.mono = font
        self.model.italic = QFont(self.font())
        self.model.italic.setItalic(True)
        self.view.viewport().update()
