"""The credential picker: names of stored and declared credentials of the kinds a field accepts.

Only names and kinds are ever read. A machine without a keyring or with an
unreadable credentials file still gets the flow's declared names, and the user
can always type a name.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QWidget

from opsflow.credentials import CredentialError, list_names
from opsflow.model.flow import Flow
from opsflow.studio.inspector.fields import FieldEditor
from opsflow.studio.inspector.schema import FieldInfo

log = logging.getLogger(__name__)


def stored_credentials() -> list[tuple[str, str]]:
    """(name, kind) of every stored credential; empty when they cannot be listed."""
    try:
        return list_names()
    except (CredentialError, OSError, RuntimeError) as exc:
        log.warning("stored credentials could not be listed: %s", exc)
        return []


def credential_choices(
    header: Flow, kinds: tuple[str, ...], stored: list[tuple[str, str]]
) -> list[tuple[str, str]]:
    """(name, where-from) for the picker: the flow's declared names first, then stored ones."""

    def fits(kind: str) -> bool:
        return not kinds or kind in kinds

    choices = [
        (name, f"declared by this flow ({req.kind})")
        for name, req in sorted(header.credentials.items())
        if fits(req.kind)
    ]
    declared = {name for name, _ in choices}
    choices += [
        (name, f"stored ({kind})") for name, kind in stored if fits(kind) and name not in declared
    ]
    return choices


class CredentialEditor(FieldEditor):
    """An editable combo box of credential names."""

    def __init__(
        self,
        info: FieldInfo,
        header: Callable[[], Flow],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(info, parent)
        self.header = header
        self.combo = QComboBox(self)
        self.combo.setEditable(True)
        self.combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.combo.setMinimumContentsLength(16)
        kinds = ", ".join(info.credential_kinds) or "any kind"
        self.combo.setToolTip(f"{info.description}\nAccepted kinds: {kinds}.")
        line = self.combo.lineEdit()
        assert line is not None  # an editable combo box has one
        line.setPlaceholderText("(none)" if info.nullable else "credential name")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.combo, 1)
        self.reload()
        self.combo.currentTextChanged.connect(lambda _text: self._emit())

    def focus_target(self) -> QWidget:
        return self.combo

    def names(self) -> list[str]:
        return [self.combo.itemText(i) for i in range(self.combo.count())]

    def reload(self) -> None:
        """Fill the list again (the flow's declared credentials may have changed)."""
        text = self.combo.currentText()
        self._loading = True
        try:
            self.combo.clear()
            choices = credential_choices(
                self.header(), self.info.credential_kinds, stored_credentials()
            )
            for index, (name, source) in enumerate(choices):
                self.combo.addItem(name)
                self.combo.setItemData(index, source, Qt.ItemDataRole.ToolTipRole)
            self.combo.setEditText(text)
        finally:
            self._loading = False

    def current(self) -> Any:
        text = self.combo.currentText().strip()
        if not text and self.info.nullable:
            return None
        return text

    def _show(self, value: Any) -> None:
        text = value if isinstance(value, str) else ""
        if self.combo.currentText() != text:
            self.combo.setEditText(text)
