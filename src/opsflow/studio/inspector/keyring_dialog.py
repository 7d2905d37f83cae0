"""Whether a declared credential is on this machine, and the dialog that stores one in the keyring.

Only where a credential was found is ever shown, never a value. The dialog asks for the fields
of the credential's kind (secrets masked, a private key read from its file) and stores them with
`opsflow.credentials.save`, as `opsflow credentials set` does; the values go nowhere else.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from opsflow import credentials
from opsflow.credentials import (
    KIND_FIELDS,
    Credential,
    CredentialError,
    CredentialNotFoundError,
    FieldSpec,
)
from opsflow.studio import theme
from opsflow.studio.inspector.flow_entries import EntryExtra

log = logging.getLogger(__name__)

#: The field read from a file rather than typed, as `opsflow credentials set` asks for it.
KEY_FILE_FIELD = "private_key"


def credential_status(name: str, kind: str) -> tuple[str, str]:
    """Where credential `name` of `kind` is found here ("" when it is not), and a sentence.

    The value is resolved as a run would resolve it, and dropped at once.
    """
    try:
        found = credentials.resolve(name, kind)
    except CredentialNotFoundError:
        return "", "not on this machine yet"
    except CredentialError as exc:
        return "", str(exc)
    except (OSError, RuntimeError) as exc:  # a keyring backend failing in its own way
        log.warning("credential %s could not be looked up: %s", name, exc)
        return "", f"could not be looked up: {exc}"
    where = {"keyring": "the keyring", "environment": "the environment"}
    return found.source, f"found in {where.get(found.source, found.source)}"


class CredentialStatus(EntryExtra):
    """A declared credential's status line and its "Create in keyring…" button."""

    #: The credential was stored in the keyring (its name).
    saved = Signal(str)

    def __init__(self, name: str, kind: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.kind = kind
        self.dialog: CreateCredentialDialog | None = None
        self.label = QLabel(self)
        self.label.setWordWrap(True)
        self.button = QPushButton("Create in keyring…", self)
        self.button.clicked.connect(self._on_button_clicked)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.button)
        self.found = False
        # Looked up when first shown: a window that never shows it never asks the keyring.
        self._stale = True

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._stale:
            self.refresh()

    def show_entry(self, name: str, value: Any) -> None:
        """Follow the declaration: a new name or kind is looked up again."""
        kind = str(getattr(value, "kind", self.kind))
        if (name, kind) != (self.name, self.kind):
            self.name, self.kind = name, kind
            if self.isVisible():
                self.refresh()
            else:
                self._stale = True

    def refresh(self) -> None:
        """Look the credential up again (after a save, or when its kind changed)."""
        self._stale = False
        source, text = credential_status(self.name, self.kind)
        found = bool(source)
        palette = theme.current()
        self.found = found
        self.label.setText(f"● {text}")
        self.label.setToolTip(text)
        self.label.setStyleSheet(f"color: {palette.ports['good'] if found else palette.warning};")
        usable = credentials.keyring_usable()
        self.button.setEnabled(usable)
        self.button.setText("Replace in keyring…" if source == "keyring" else "Create in keyring…")
        tip = f"Store the {self.kind} credential '{self.name}' in this machine's keyring."
        if source == "environment":
            tip += " Runs use the environment's value first, as long as it is set."
        self.button.setToolTip(
            tip
            if usable
            else "No keyring is available on this machine; store the credential with "
            f"`opsflow credentials set {self.name} --kind {self.kind}` (it goes to the "
            "credentials file) or set its OPSFLOW_CRED_ variables."
        )

    def _on_button_clicked(self) -> None:
        self.dialog = CreateCredentialDialog(self.name, self.kind, self)
        self.dialog.accepted.connect(self._on_dialog_accepted)
        self.dialog.open()

    def _on_dialog_accepted(self) -> None:
        self.refresh()
        self.saved.emit(self.name)


class CreateCredentialDialog(QDialog):
    """Asks for the fields of one credential and stores it in the keyring."""

    def __init__(self, name: str, kind: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.kind = kind
        self.setWindowTitle(f"Create credential '{name}'")
        intro = QLabel(
            f"A <b>{kind}</b> credential named <b>{name}</b>, stored in this machine's keyring. "
            "The flow keeps only the name; the values are never written to the flow, the log or "
            "the settings."
        )
        intro.setWordWrap(True)
        self.fields: dict[str, QLineEdit] = {}
        form = QFormLayout()
        for spec in KIND_FIELDS[kind]:
            form.addRow(_label(spec), self._field_widget(spec))
        self.error = QLabel(self)
        self.error.setWordWrap(True)
        self.error.setStyleSheet(f"color: {theme.current().error};")
        self.error.hide()
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(460)

    def _field_widget(self, spec: FieldSpec) -> QWidget:
        edit = QLineEdit(self)
        self.fields[spec.name] = edit
        if spec.name != KEY_FILE_FIELD:
            if spec.secret:
                edit.setEchoMode(QLineEdit.EchoMode.Password)
            return edit
        edit.setPlaceholderText("the key file, e.g. ~/.ssh/id_ed25519")
        browse = QPushButton("Choose…", self)
        browse.clicked.connect(lambda: self._on_browse_clicked(edit))
        row = QWidget(self)
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(edit, 1)
        layout.addWidget(browse)
        return row

    def _on_browse_clicked(self, edit: QLineEdit) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Private key file", str(Path.home() / ".ssh"))
        if path:
            edit.setText(path)

    def values(self) -> dict[str, str]:
        """The fields as typed; a private key is read from its file (keeping its last newline)."""
        values: dict[str, str] = {}
        for name, edit in self.fields.items():
            text = edit.text() if name != KEY_FILE_FIELD else edit.text().strip()
            if not text:
                continue
            if name == KEY_FILE_FIELD:
                path = Path(text).expanduser()
                try:
                    text = path.read_text(encoding="utf-8")
                except (OSError, UnicodeDecodeError) as exc:
                    raise CredentialError(f"the key file {path} cannot be read: {exc}") from None
            values[name] = text
        return values

    def save(self) -> None:
        """Store the credential; on a problem, say it and stay open."""
        try:
            credentials.save(Credential(self.name, self.kind, self.values()), to="keyring")
        except (CredentialError, OSError) as exc:
            self.error.setText(str(exc))
            self.error.show()
            return
        for edit in self.fields.values():
            edit.clear()
        self.accept()


def _label(spec: FieldSpec) -> str:
    text = spec.name.replace("_", " ")
    if spec.name == KEY_FILE_FIELD:
        text += " (file)"
    return f"{text}{' (optional)' if spec.optional else ''}:"
