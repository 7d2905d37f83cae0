"""The approvals panel: approvals waiting in this flow's runs, and a form to decide each one.

The journal is the truth about what is still pending (a decision may come
from `opsflow approve` in a terminal); the shown run's events only make the
list react at once. Decisions go through `RunSession.decide`, as the user
this Studio runs as, and a refusal is shown as its sentence.
"""

from __future__ import annotations

import html
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QHideEvent, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from opsflow.engine.event_text import format_duration, local_datetime
from opsflow.engine.events import Event
from opsflow.errors import OpsflowError
from opsflow.studio import theme
from opsflow.studio.run.session import RunSession

POLL_MS = 2000
KEY_ROLE = Qt.ItemDataRole.UserRole + 1
#: Shown in an enum combo before anything is chosen.
NOT_CHOSEN = "— choose —"

Key = tuple[str, str]


@dataclass(frozen=True)
class PendingApproval:
    """One approval waiting for a decision: where it is and what it asks."""

    run_id: str
    node: str
    approvers: list[str]
    message: str
    form: dict[str, Any] | None
    deadline: float | None
    requested_at: float | None

    @property
    def key(self) -> Key:
        return (self.run_id, self.node)


def deadline_text(deadline: float | None, now: float) -> str:
    if deadline is None:
        return "none (waits until somebody decides)"
    left = deadline - now
    when = local_datetime(deadline)
    return f"{when} (in {format_duration(left)})" if left > 0 else f"{when} (passed)"


class ApprovalForm(QWidget):
    """The message, the form and the buttons of one approval; used in the panel and dialogs."""

    #: A decision was recorded: (run id, node, "approved" or "rejected").
    decided = Signal(str, str, str)

    def __init__(
        self, session: RunSession, approval: PendingApproval, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.session = session
        self.approval = approval
        self.inputs: dict[str, QWidget] = {}
        form = approval.form or {}
        self._properties: Mapping[str, Any] = form.get("properties") or {}
        self._required: list[str] = list(form.get("required") or [])

        node_title = self._node_title(session, approval)
        title = QLabel(f"<b>{html.escape(node_title)}</b> in run {html.escape(approval.run_id)}")
        title.setWordWrap(True)
        self.message_label = QLabel(html.escape(approval.message).replace("\n", "<br>"))
        font = self.message_label.font()
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self.message_label.setFont(font)
        self.message_label.setContentsMargins(0, 4, 0, 4)
        self.message_label.setTextFormat(Qt.TextFormat.RichText)
        self.message_label.setWordWrap(True)
        self.message_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        muted = theme.current().node_subtext
        self.facts_label = QLabel(self._facts())
        self.facts_label.setWordWrap(True)
        if approval.deadline is not None:  # "in 4 min 10 s" counts down
            self._tick = QTimer(self)
            self._tick.setInterval(1000)
            self._tick.timeout.connect(lambda: self.facts_label.setText(self._facts()))
            self._tick.start()

        self.fields = QFormLayout()
        self.fields.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        for name, prop in self._properties.items():
            self._add_field(name, prop)
        self.comment = QPlainTextEdit()
        self.comment.setPlaceholderText("Optional: why you decide so (kept in the run's record)")
        self.comment.setFixedHeight(self.fontMetrics().height() * 3 + 12)
        self.fields.addRow("Comment", self.comment)

        self.user_label = QLabel(f"Deciding as <b>{html.escape(session.user)}</b>")
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet(f"color: {theme.current().error}")
        self.error_label.hide()
        self.approve_button = QPushButton("Approve")
        self.reject_button = QPushButton("Reject")
        self.approve_button.setDefault(True)

        buttons = QHBoxLayout()
        buttons.addWidget(self.user_label, 1)
        buttons.addWidget(self.reject_button)
        buttons.addWidget(self.approve_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.addWidget(title)
        layout.addWidget(self.message_label)
        layout.addWidget(self.facts_label)
        layout.addLayout(self.fields)
        if self._required:
            note = QLabel("* required")
            note.setStyleSheet(f"color: {muted}")
            layout.addWidget(note)
        layout.addWidget(self.error_label)
        layout.addLayout(buttons)
        layout.addStretch(1)

        self.approve_button.clicked.connect(lambda: self.decide("approved"))
        self.reject_button.clicked.connect(lambda: self.decide("rejected"))

    def _facts(self) -> str:
        muted = theme.current().node_subtext
        approval = self.approval
        return (
            f"<span style='color:{muted}'>Approvers:</span> "
            f"{html.escape(', '.join(approval.approvers))}<br>"
            f"<span style='color:{muted}'>Deadline:</span> "
            f"{html.escape(deadline_text(approval.deadline, time.time()))}"
        )

    @staticmethod
    def _node_title(session: RunSession, approval: PendingApproval) -> str:
        """`Title (id)` when the node still exists under that id with a title, else the id."""
        if session.document.has_node(approval.node):
            title = session.document.node(approval.node).title
            if title and title != approval.node:
                return f"{title} ({approval.node})"
        return approval.node

    def _add_field(self, name: str, prop: Mapping[str, Any]) -> None:
        kind = prop.get("type", "string")
        default = prop.get("default")
        widget: QWidget
        if prop.get("enum"):
            combo = QComboBox()
            if default is None:
                combo.addItem(NOT_CHOSEN, None)
            for value in prop["enum"]:
                combo.addItem(str(value), value)
            if default is not None:
                combo.setCurrentIndex(max(combo.findData(default), 0))
            widget = combo
        elif kind == "boolean":
            box = QCheckBox()
            box.setChecked(bool(default))
            widget = box
        else:
            line = QLineEdit()
            if default is not None:
                line.setText(str(default))
            line.setPlaceholderText(self._hint(kind, prop))
            widget = line
        if prop.get("description"):
            widget.setToolTip(str(prop["description"]))
        label = str(prop.get("title") or name) + (" *" if name in self._required else "")
        self.inputs[name] = widget
        self.fields.addRow(label, widget)

    @staticmethod
    def _hint(kind: str, prop: Mapping[str, Any]) -> str:
        hint = {"integer": "a whole number", "number": "a number"}.get(kind, "")
        low, high = prop.get("minimum"), prop.get("maximum")
        if low is not None and high is not None:
            hint += f" from {low:g} to {high:g}"
        elif low is not None:
            hint += f", at least {low:g}"
        elif high is not None:
            hint += f", at most {high:g}"
        if prop.get("pattern"):
            hint = f"matching {prop['pattern']}"
        if prop.get("description") and not hint:
            hint = str(prop["description"])
        return hint.strip(", ")

    def answers(self) -> dict[str, Any]:
        """The form as filled in; fields left empty are left out."""
        answers: dict[str, Any] = {}
        for name, widget in self.inputs.items():
            if isinstance(widget, QComboBox):
                value = widget.currentData()
                if value is not None:
                    answers[name] = value
            elif isinstance(widget, QCheckBox):
                answers[name] = widget.isChecked()
            elif isinstance(widget, QLineEdit) and widget.text().strip():
                answers[name] = widget.text()
        return answers

    def set_answer(self, name: str, value: Any) -> None:
        """Fill in one field (as a person would)."""
        widget = self.inputs[name]
        if isinstance(widget, QComboBox):
            widget.setCurrentIndex(widget.findData(value))
        elif isinstance(widget, QCheckBox):
            widget.setChecked(bool(value))
        elif isinstance(widget, QLineEdit):
            widget.setText(str(value))

    def error(self) -> str:
        return self.error_label.text() if not self.error_label.isHidden() else ""

    def decide(self, decision: str) -> bool:
        """Record the decision; on refusal show why and return False."""
        answers = self.answers()
        for name in self._required:
            if answers.get(name) in (None, ""):
                title = self._properties[name].get("title") or name
                self._refuse(f"'{title}' is required: fill it in, then decide again.")
                return False
        try:
            self.session.decide(
                self.approval.run_id,
                self.approval.node,
                decision,
                comment=self.comment.toPlainText().strip(),
                fields=answers,
            )
        except OpsflowError as exc:
            self._refuse(str(exc))
            return False
        self.error_label.hide()
        self.decided.emit(self.approval.run_id, self.approval.node, decision)
        return True

    def _refuse(self, sentence: str) -> None:
        text = sentence[:1].upper() + sentence[1:]
        self.error_label.setText(text if text.endswith(".") else text + ".")
        self.error_label.show()


class ApprovalPanel(QWidget):
    """Approvals waiting in the shown run and in the other runs of this flow."""

    #: How many approvals wait now (emitted when the number changes).
    approval_pending = Signal(int)

    def __init__(self, session: RunSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self._pending: dict[Key, PendingApproval] = {}
        self._decided: set[Key] = set()
        self._count = -1
        self.form: ApprovalForm | None = None
        self.dialogs: list[QDialog] = []

        self.summary = QLabel()
        self.summary.setContentsMargins(4, 2, 4, 2)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Node", "Run", "Asked at"])
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.tree.header()
        header.setStretchLastSection(True)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.placeholder = QLabel("Select an approval to decide it.")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setWordWrap(True)
        self.form_area = QScrollArea()
        self.form_area.setWidgetResizable(True)
        self.form_area.setWidget(self.placeholder)

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.setSpacing(2)
        left_layout.addWidget(self.summary)
        left_layout.addWidget(self.tree, 1)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.setChildrenCollapsible(False)
        splitter.addWidget(left)
        splitter.addWidget(self.form_area)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)
        splitter.setSizes([480, 520])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)

        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._on_timer_timeout)
        self.tree.currentItemChanged.connect(self._on_current_changed)
        session.events_added.connect(self._on_session_events_added)
        session.view_replaced.connect(lambda: self.refresh())
        session.phase_changed.connect(lambda _phase: self.refresh())
        self.refresh()

    # -- the list ------------------------------------------------------------------------

    def pending(self) -> list[PendingApproval]:
        """The approvals listed, oldest first."""
        return list(self._pending.values())

    def refresh(self) -> None:
        """Read what waits from the journal (and the shown run) and update the list."""
        try:
            found = self._collect()
        except OpsflowError as exc:  # an unreadable journal: say so, keep the panel
            self.summary.setText(f"Cannot read the run journal: {exc}")
            return
        self._decided &= set(found)  # forget decisions once the journal agrees
        pending = {key: item for key, item in found.items() if key not in self._decided}
        if list(pending) != list(self._pending):
            self._pending = pending
            self._rebuild()
        else:
            self._pending = pending
        count = len(pending)
        self.summary.setText(
            f"{count} approval{'s' if count != 1 else ''} waiting"
            if count
            else "No approvals waiting in this flow's runs."
        )
        if count != self._count:
            self._count = count
            self.approval_pending.emit(count)

    def _collect(self) -> dict[Key, PendingApproval]:
        found: dict[Key, PendingApproval] = {}
        for record in self.session.pending_approvals():
            found[(record.run_id, record.node)] = PendingApproval(
                record.run_id,
                record.node,
                list(record.approvers) + self._escalated(record.escalated_to),
                record.message or "",
                record.form if isinstance(record.form, dict) else None,
                record.deadline,
                record.requested_at,
            )
        view = self.session.view
        if view is not None and self.session.busy:
            # The live run: its events arrive before the next poll of the journal.
            for node, data in view.approvals.items():
                key = (view.run_id, node)
                if key not in found and self._still_pending(key):
                    found[key] = PendingApproval(
                        view.run_id,
                        node,
                        [str(a) for a in data.get("approvers") or []],
                        str(data.get("message") or ""),
                        data.get("form") if isinstance(data.get("form"), dict) else None,
                        data.get("deadline"),
                        None,
                    )
        return dict(sorted(found.items(), key=lambda kv: kv[1].requested_at or time.time()))

    def _still_pending(self, key: Key) -> bool:
        record = self.session.journal().approval(*key)
        return record is None or record.pending

    @staticmethod
    def _escalated(value: Any) -> list[str]:
        return [str(v) for v in value] if isinstance(value, list) else []

    def _rebuild(self) -> None:
        current = self._current_key()
        shown_run = self.session.view.run_id if self.session.view is not None else None
        self.tree.blockSignals(True)
        self.tree.clear()
        chosen: QTreeWidgetItem | None = None
        for key, approval in self._pending.items():
            run_text = approval.run_id + (" (shown)" if approval.run_id == shown_run else "")
            asked = local_datetime(approval.requested_at) if approval.requested_at else "just now"
            item = QTreeWidgetItem([approval.node, run_text, asked])
            item.setData(0, KEY_ROLE, key)
            item.setToolTip(0, approval.message)
            self.tree.addTopLevelItem(item)
            if key == current:
                chosen = item
        if chosen is None and self.tree.topLevelItemCount():
            chosen = self.tree.topLevelItem(0)
        if chosen is not None:
            self.tree.setCurrentItem(chosen)
        self.tree.blockSignals(False)
        self._show_form(self._current_key())

    def _current_key(self) -> Key | None:
        item = self.tree.currentItem()
        key = item.data(0, KEY_ROLE) if item is not None else None
        return (str(key[0]), str(key[1])) if key is not None else None

    def select(self, run_id: str, node: str) -> bool:
        """Make the approval of `node` in `run_id` the one the form shows."""
        for position in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(position)
            if item is not None and tuple(item.data(0, KEY_ROLE)) == (run_id, node):
                self.tree.setCurrentItem(item)
                return True
        return False

    def _on_current_changed(self) -> None:
        self._show_form(self._current_key())

    def _show_form(self, key: Key | None) -> None:
        if self.form is not None and key == self.form.approval.key:
            return  # keep what the user typed
        approval = self._pending.get(key) if key is not None else None
        if approval is None:
            self.form = None
            self.placeholder = QLabel(
                "Select an approval to decide it." if self._pending else "Nothing to decide."
            )
            self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
            self.form_area.setWidget(self.placeholder)
            return
        self.form = ApprovalForm(self.session, approval)
        self.form.decided.connect(self._on_form_decided)
        self.form_area.setWidget(self.form)

    def _on_form_decided(self, run_id: str, node: str, _decision: str) -> None:
        self._decided.add((run_id, node))
        self.form = None
        self.refresh()

    # -- keeping up ----------------------------------------------------------------------

    def _on_session_events_added(self, events: list[Event]) -> None:
        if any(event.kind.startswith("approval_") for event in events):
            self.refresh()

    def _on_timer_timeout(self) -> None:
        self.session.refresh_shown_run()  # a decision from a terminal shows on the canvas too
        self.refresh()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._timer.start()
        self.refresh()

    def hideEvent(self, event: QHideEvent) -> None:
        super().hideEvent(event)
        self._timer.stop()

    # -- a dialog on request -------------------------------------------------------------

    def open_dialog(self, run_id: str, node: str) -> QDialog | None:
        """Show the form of one approval in a window of its own (None: it is not waiting)."""
        self.refresh()
        approval = self._pending.get((run_id, node))
        if approval is None:
            return None
        dialog = QDialog(self.window())
        dialog.setWindowTitle(f"Approval: {node}")
        dialog.setModal(False)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        form = ApprovalForm(self.session, approval, dialog)
        form.decided.connect(self._on_form_decided)
        form.decided.connect(dialog.accept)
        layout = QVBoxLayout(dialog)
        layout.addWidget(form)
        dialog.finished.connect(lambda _result: self._forget_dialog(dialog))
        self.dialogs.append(dialog)
        dialog.resize(480, dialog.sizeHint().height())
        dialog.show()
        return dialog

    def _forget_dialog(self, dialog: QDialog) -> None:
        if dialog in self.dialogs:
            self.dialogs.remove(dialog)
