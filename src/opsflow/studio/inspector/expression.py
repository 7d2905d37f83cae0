"""Text editors for templates, expressions and code: highlighting, completion, as-you-type checks.

`CodeEdit` is a plain-text editor that can behave as a single line (so the same
`QSyntaxHighlighter` colours `{{ }}` in one-line fields and in long texts), and takes
an expression dragged from the Run panel as `{{ path }}` in a template or bare in an
expression; `ContextCompleter` offers what the word under the cursor can go on with
(`trigger`, `inputs.x`, `nodes.<id>.output.stdout`, `…items[0]`), each with its type
and a sample value from the last run.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Literal

from PySide6.QtCore import QMimeData, Qt, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFocusEvent,
    QFont,
    QFontDatabase,
    QFontMetrics,
    QKeyEvent,
    QResizeEvent,
    QStandardItem,
    QStandardItemModel,
    QSyntaxHighlighter,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCompleter,
    QFrame,
    QPlainTextEdit,
    QTreeView,
    QWidget,
)

from opsflow.studio import theme
from opsflow.studio.mime import expression_from_mime
from opsflow.validate.context import Completion, insertion_text

#: A template block: `{{ ... }}`, `{% ... %}` or a `{# ... #}` comment.
_BLOCK = re.compile(r"\{\{.*?(?:\}\}|$)|\{%.*?(?:%\}|$)|\{#.*?(?:#\}|$)")
_STRING = re.compile(r"'[^']*'|\"[^\"]*\"")
_CONTEXT_ROOT = re.compile(r"\b(trigger|inputs|nodes|vars|item|index|run)\b")
#: What completion completes: a name and the steps after it (`.key`, `[0]`).
_WORD_BEFORE_CURSOR = re.compile(r"[A-Za-z_][A-Za-z0-9_.\[\]]*$")
#: Widest a completion popup grows, in average characters.
POPUP_CHARS = 110


def monospace_font() -> QFont:
    font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
    font.setStyleHint(QFont.StyleHint.Monospace)
    return font


class TemplateHighlighter(QSyntaxHighlighter):
    """Colours template blocks; with `whole=True` the whole text is one expression."""

    def __init__(self, document: QTextDocument, *, whole: bool = False) -> None:
        super().__init__(document)
        self.whole = whole
        palette = theme.current()
        self._block = QTextCharFormat()
        self._block.setForeground(QColor(palette.categories["trigger"]))
        tint = QColor(palette.categories["trigger"])
        tint.setAlpha(40)  # a faint wash of the accent reads on light and dark fields alike
        self._block.setBackground(tint)
        self._root = QTextCharFormat()
        self._root.setForeground(QColor(palette.categories["action"]))
        self._root.setFontWeight(QFont.Weight.Bold)
        self._string = QTextCharFormat()
        self._string.setForeground(QColor(palette.ports["good"]))

    def highlightBlock(self, text: str) -> None:
        spans = [(0, len(text))] if self.whole else [m.span() for m in _BLOCK.finditer(text)]
        for start, end in spans:
            if not self.whole:
                self.setFormat(start, end - start, self._block)
            piece = text[start:end]
            for match in _CONTEXT_ROOT.finditer(piece):
                self.setFormat(start + match.start(), match.end() - match.start(), self._root)
            for match in _STRING.finditer(piece):
                self.setFormat(start + match.start(), match.end() - match.start(), self._string)


class CodeEdit(QPlainTextEdit):
    """A plain-text editor; `single_line` makes it look and behave like a line edit."""

    #: The user finished an edit (Enter in a single line, or focus left the editor).
    editing_finished = Signal()
    #: An expression dragged from a run's data was dropped in (its text as inserted); the
    #: text changes right after, in one step.
    expression_dropped = Signal(str)

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        single_line: bool = False,
        lines: tuple[int, int] = (2, 12),
    ) -> None:
        super().__init__(parent)
        self.single_line = single_line
        self.lines = lines
        self.completer: ContextCompleter | None = None
        #: How a dropped expression is written here; None: as plain text (not a code field).
        self.expression_kind: Literal["template", "expression"] | None = None
        self.setTabChangesFocus(True)
        if single_line:
            self.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
            self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
            self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
            self.document().setDocumentMargin(3)
            line = self.fontMetrics().lineSpacing()
            frame = 2 * self.frameWidth()
            self.setFixedHeight(line + 2 * 3 + frame + 4)
        else:
            self.document().contentsChanged.connect(self.fit_height)
            self.fit_height()

    def set_lines(self, fewest: int, most: int) -> None:
        """Grow with the text between `fewest` and `most` lines, then scroll."""
        self.lines = (fewest, most)
        self.fit_height()

    def fit_height(self) -> None:
        if self.single_line:
            return
        fewest, most = self.lines
        shown = min(max(int(self.document().size().height()), fewest), most)
        margins = self.contentsMargins()
        frame = margins.top() + margins.bottom() + 2 * self.document().documentMargin()
        self.setFixedHeight(int(shown * self.fontMetrics().lineSpacing() + frame + 4))

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.fit_height()

    def text(self) -> str:
        return self.toPlainText()

    def set_text(self, text: str) -> None:
        """Replace the text, keeping the cursor where it was when it still fits."""
        position = self.textCursor().position()
        self.setPlainText(text)
        cursor = self.textCursor()
        cursor.setPosition(min(position, len(text)))
        self.setTextCursor(cursor)

    def set_completer(self, completer: ContextCompleter) -> None:
        self.completer = completer
        completer.setWidget(self)
        completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.activated.connect(self._insert_completion)

    def word_before_cursor(self) -> str:
        cursor = self.textCursor()
        line = cursor.block().text()[: cursor.positionInBlock()]
        match = _WORD_BEFORE_CURSOR.search(line)
        return match.group(0) if match else ""

    def keyPressEvent(self, event: QKeyEvent) -> None:
        popup = self.completer.popup() if self.completer else None
        keys = (Qt.Key.Key_Enter, Qt.Key.Key_Return, Qt.Key.Key_Escape, Qt.Key.Key_Tab)
        if popup is not None and popup.isVisible() and event.key() in keys:
            event.ignore()  # the completer's popup takes these
            return
        if self.single_line and event.key() in (Qt.Key.Key_Enter, Qt.Key.Key_Return):
            self.editing_finished.emit()
            return
        super().keyPressEvent(event)
        self._update_completion(event)

    def focusOutEvent(self, event: QFocusEvent) -> None:
        super().focusOutEvent(event)
        if event.reason() != Qt.FocusReason.PopupFocusReason:
            self.editing_finished.emit()

    def insertFromMimeData(self, source: QMimeData) -> None:
        # Qt calls this for a drop too, with the cursor already where the drop landed.
        path = expression_from_mime(source)
        if path is not None and self.expression_kind is not None:
            inside = self.expression_kind == "expression" or self._inside_expression()
            text = insertion_text(path, "expression" if inside else "template")
            self.expression_dropped.emit(text)
            self.insertPlainText(text)
            return
        if self.single_line and source.hasText():
            self.insertPlainText(" ".join(source.text().splitlines()))
            return
        super().insertFromMimeData(source)

    def _update_completion(self, event: QKeyEvent) -> None:
        if self.completer is None or not event.text():
            return
        word = self.word_before_cursor()
        popup = self.completer.popup()
        if popup is None:  # a QCompleter always makes a default popup; the stubs allow None
            return
        if len(word) < 1 or not self._inside_expression():
            popup.hide()
            return
        if word != self.completer.completionPrefix():
            self.completer.setCompletionPrefix(word)
            popup.setCurrentIndex(self.completer.completionModel().index(0, 0))
        if self.completer.completionCount() == 0:
            popup.hide()
            return
        rect = self.cursorRect()
        rect.setWidth(self.completer.fit_popup())
        self.completer.complete(rect)

    def _inside_expression(self) -> bool:
        """Whether the cursor is where a context name makes sense."""
        highlighter = self.document().findChild(TemplateHighlighter)
        if highlighter is not None and highlighter.whole:
            return True
        before = self.toPlainText()[: self.textCursor().position()]
        opened = max(before.rfind("{{"), before.rfind("{%"))
        closed = max(before.rfind("}}"), before.rfind("%}"))
        return opened > closed

    def _insert_completion(self, completion: str) -> None:
        cursor = self.textCursor()
        cursor.movePosition(
            QTextCursor.MoveOperation.Left,
            QTextCursor.MoveMode.KeepAnchor,
            len(self.word_before_cursor()),
        )
        cursor.insertText(completion)
        self.setTextCursor(cursor)


class ContextCompleter(QCompleter):
    """Completes run-context names in a popup of three columns: the name, its type and a
    sample value. The list is asked for again, for the word typed so far, each time."""

    def __init__(
        self, names: Callable[[str], list[Completion]], parent: QWidget | None = None
    ) -> None:
        self._model = QStandardItemModel()
        super().__init__(self._model, parent)
        self._names = names
        popup = QTreeView()
        popup.setHeaderHidden(True)
        popup.setRootIsDecorated(False)
        popup.setUniformRowHeights(True)
        popup.setAllColumnsShowFocus(True)
        popup.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        popup.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        popup.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.setPopup(popup)
        self.setModelSorting(QCompleter.ModelSorting.UnsortedModel)
        self.setFilterMode(Qt.MatchFlag.MatchStartsWith)
        self.setMaxVisibleItems(12)

    def setCompletionPrefix(self, prefix: str) -> None:
        self._model.clear()
        muted = QBrush(QColor(theme.current().node_subtext))
        mono = monospace_font()
        for completion in self._names(prefix):
            name = QStandardItem(completion.text)
            kind = QStandardItem(completion.type)
            kind.setForeground(muted)
            sample = QStandardItem(completion.sample)
            sample.setFont(mono)
            sample.setForeground(muted)
            self._model.appendRow([name, kind, sample])
        super().setCompletionPrefix(prefix)

    def fit_popup(self) -> int:
        """Size the popup's columns to the rows it offers; its width to show them."""
        popup = self.popup()
        assert isinstance(popup, QTreeView)
        offered = self.completionModel()
        metrics = popup.fontMetrics()
        sample_metrics = QFontMetrics(monospace_font())
        padding = 3 * metrics.averageCharWidth()
        widths = []
        for column in range(self._model.columnCount()):
            texts = [offered.index(r, column).data() or "" for r in range(offered.rowCount())]
            font_metrics = metrics if column < 2 else sample_metrics
            wide = max((font_metrics.horizontalAdvance(text) for text in texts), default=0)
            widths.append(wide + padding if wide else 0)
        for column, width in enumerate(widths):
            popup.setColumnWidth(column, width)
        total = sum(widths) + popup.verticalScrollBar().sizeHint().width() + 8
        return min(total, POPUP_CHARS * metrics.averageCharWidth())


def style_invalid(widget: QWidget, message: str | None) -> None:
    """Give an editor a red border while it holds a problem."""
    widget.setProperty("invalid", bool(message))
    color = theme.current().error
    if message:
        name = type(widget).__name__
        widget.setStyleSheet(f"{name} {{ border: 1px solid {color}; border-radius: 2px; }}")
    else:
        widget.setStyleSheet("")
    if isinstance(widget, QFrame):
        widget.update()
