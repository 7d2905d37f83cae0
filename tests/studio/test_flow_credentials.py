"""The credentials of the Flow tab: whether this machine has each, and "Create in keyring…",
which stores the fields of the credential's kind as `opsflow credentials set` does, and only
there. A real file keyring in tmp_path stands in for the OS keyring."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from keyring.backends import fail
from keyrings.alt.file import PlaintextKeyring
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox, QLineEdit
from pytestqt.qtbot import QtBot

from opsflow import credentials
from opsflow.credentials import Credential
from opsflow.studio.document import FlowDocument
from opsflow.studio.inspector.flow_panel import FlowPanel
from opsflow.studio.inspector.keyring_dialog import CredentialStatus
from tests.studio.flow_tab import (
    Open,
    add_entry,
    choose,
    panels,
    private_keyring,
    row,
    service_flow,
)


@pytest.fixture
def open_panel(qtbot: QtBot) -> Iterator[Open]:
    yield from panels(qtbot)


@pytest.fixture
def keyring_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    yield from private_keyring(tmp_path, monkeypatch)


def test_a_declared_credential_is_created_in_the_keyring_and_only_there(
    open_panel: Open, qtbot: QtBot, keyring_home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    document, panel = open_panel(service_flow())
    card = add_entry(qtbot, panel, "credentials", "web-api")
    choose(row(card, "kind").editor, "token")
    assert document.header.credentials["web-api"].kind == "token"
    status = card.extra
    assert isinstance(status, CredentialStatus)
    assert status.label.text() == "● not on this machine yet"

    qtbot.mouseClick(status.button, Qt.MouseButton.LeftButton)
    dialog = status.dialog
    assert dialog is not None and dialog.isVisible()
    assert list(dialog.fields) == ["token"]
    assert dialog.fields["token"].echoMode() == QLineEdit.EchoMode.Password
    save = dialog.buttons.button(QDialogButtonBox.StandardButton.Save)
    qtbot.mouseClick(save, Qt.MouseButton.LeftButton)
    assert "has no token" in dialog.error.text() and dialog.isVisible()
    qtbot.keyClicks(dialog.fields["token"], "s3cret-t0ken-value")
    with qtbot.waitSignal(status.saved):
        qtbot.mouseClick(save, Qt.MouseButton.LeftButton)

    assert not dialog.isVisible() and dialog.fields["token"].text() == ""
    assert credentials.resolve("web-api", "token").fields == {"token": "s3cret-t0ken-value"}
    assert status.label.text() == "● found in the keyring"
    assert status.button.text() == "Replace in keyring…"
    assert "s3cret" not in document.text() and "s3cret" not in caplog.text
    written = [p for p in keyring_home.rglob("*") if p.is_file() and p.name != "keyring.cfg"]
    assert written, "the keyring's index of names was written"
    assert all("s3cret" not in p.read_text(errors="replace") for p in written)


def test_the_status_says_when_the_stored_credential_is_of_another_kind(
    open_panel: Open, keyring_home: Path
) -> None:
    credentials.save(Credential("db", "basic", {"username": "u", "password": "p"}), to="keyring")
    _, panel = open_panel(service_flow(credentials={"db": {"kind": "token"}}))
    status = panel.lists["credentials"].cards[0].extra
    assert isinstance(status, CredentialStatus)
    assert "is a basic credential" in status.label.text() and not status.found


def test_an_ssh_key_is_read_from_its_file_and_optional_fields_may_stay_empty(
    open_panel: Open, qtbot: QtBot, keyring_home: Path
) -> None:
    key = keyring_home / "id_test"
    key.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n")
    _, panel = open_panel(service_flow(credentials={"web-ssh": {"kind": "ssh-key"}}))
    status = panel.lists["credentials"].cards[0].extra
    assert isinstance(status, CredentialStatus)
    qtbot.mouseClick(status.button, Qt.MouseButton.LeftButton)
    dialog = status.dialog
    assert dialog is not None
    assert list(dialog.fields) == ["username", "private_key", "passphrase"]
    assert dialog.fields["username"].echoMode() == QLineEdit.EchoMode.Normal
    assert dialog.fields["passphrase"].echoMode() == QLineEdit.EchoMode.Password
    qtbot.keyClicks(dialog.fields["username"], "deploy")
    qtbot.keyClicks(dialog.fields["private_key"], str(key))
    dialog.save()
    stored = credentials.resolve("web-ssh", "ssh-key")
    assert stored.fields == {"username": "deploy", "private_key": key.read_text()}
    assert status.label.text() == "● found in the keyring"


class CountingKeyring(PlaintextKeyring):
    """A file keyring that counts how often it is read."""

    reads = 0

    def get_password(self, service: str, username: str) -> str | None:
        CountingKeyring.reads += 1
        return super().get_password(service, username)


def test_credentials_are_looked_up_only_when_shown(
    qtbot: QtBot, keyring_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = CountingKeyring()
    backend.file_path = str(keyring_home / "counting.cfg")
    keyring.set_keyring(backend)
    monkeypatch.setattr(CountingKeyring, "reads", 0)
    panel = FlowPanel(FlowDocument(service_flow(credentials={"db": {"kind": "token"}})))
    qtbot.addWidget(panel)
    assert CountingKeyring.reads == 0, "a panel never shown never asks the keyring"
    panel.show()
    qtbot.waitExposed(panel)
    assert CountingKeyring.reads == 1


def test_a_credential_in_the_environment_is_found_there(
    open_panel: Open, keyring_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPSFLOW_CRED_DB_TOKEN", "t0k3n")
    _, panel = open_panel(service_flow(credentials={"db": {"kind": "token"}}))
    status = panel.lists["credentials"].cards[0].extra
    assert isinstance(status, CredentialStatus)
    assert status.label.text() == "● found in the environment"
    assert status.button.text() == "Create in keyring…"
    assert "environment's value first" in status.button.toolTip()


def test_without_a_keyring_the_button_says_what_to_do_instead(
    open_panel: Open, keyring_home: Path
) -> None:
    keyring.set_keyring(fail.Keyring())
    _, panel = open_panel(service_flow(credentials={"db": {"kind": "token"}}))
    status = panel.lists["credentials"].cards[0].extra
    assert isinstance(status, CredentialStatus)
    assert not status.button.isEnabled()
    assert "opsflow credentials set db --kind token" in status.button.toolTip()
