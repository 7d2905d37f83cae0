"""File → New from template (the sample flows), and what an empty canvas says."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QPointF
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QDialog, QFileDialog
from pytestqt.qtbot import QtBot

from opsflow.flowfile import load_flow
from opsflow.studio import mainwindow, templates, theme
from opsflow.studio.canvas.scene import FlowScene
from opsflow.studio.canvas.view import FlowView
from opsflow.studio.document import FlowDocument
from opsflow.studio.editing import FlowEditor
from opsflow.studio.mainwindow import MainWindow
from tests.studio.conftest import SAMPLE_FLOWS, SAMPLES


def by_file(name: str) -> templates.Template:
    return next(t for t in templates.list_templates() if t.path.name == name)


@pytest.fixture
def window(qtbot: QtBot, tmp_path: Path) -> MainWindow:
    window = MainWindow(autosave_folder=tmp_path / "recovery")
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    return window


def test_every_sample_flow_is_a_template_with_its_description() -> None:
    # In a checkout the templates are the sample flows; installed, the wheel carries them.
    assert templates.templates_folder() == SAMPLES
    found = templates.list_templates()
    assert sorted(t.path for t in found) == SAMPLE_FLOWS
    assert [t.title for t in found] == sorted((t.title for t in found), key=str.lower)
    for template in found:
        assert template.flow.description, template.path.name
        assert template.flow.description in templates.describe(template).replace("&amp;", "&")


def test_a_folder_without_readable_flows_gives_no_templates(tmp_path: Path) -> None:
    (tmp_path / "broken.flow.json").write_text("{", encoding="utf-8")
    assert templates.list_templates(folder=tmp_path) == []


def test_templates_that_run_other_files_say_so() -> None:
    outage = by_file("web-outage-remediation.flow.json")
    assert outage.called_files() == [
        "web-outage-remediation/check-alert.flow.json",
        "web-outage-remediation/resolve-alert.flow.json",
        "web-outage-remediation/restart-nginx.flow.json",
        "web-outage-remediation/verify-host.flow.json",
    ]
    assert "they are not copied with it" in templates.describe(outage)
    assert by_file("patch-window.flow.json").called_files() == []


def test_a_new_flow_from_a_template_is_untitled_with_its_own_id(
    qtbot: QtBot, window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    template = by_file("patch-window.flow.json")
    opened = templates.open_template(window, template)
    assert opened is window  # the empty window is used
    document = window.document
    assert document.path is None and not document.is_modified()
    assert document.header.id == "patch-window-copy"
    assert document.header.name == template.flow.name
    assert {n.id for n in document.nodes()} == {n.id for n in template.flow.nodes}
    assert window.windowTitle().startswith("Untitled")
    # Save asks where to keep it, and the file is the template with the new id.
    target = tmp_path / "my-patching.flow.json"
    asked: list[str] = []

    def save_name(*args: object, **kwargs: object) -> tuple[str, str]:
        asked.append(str(args[2]))
        return str(target), ""

    monkeypatch.setattr(QFileDialog, "getSaveFileName", save_name)
    window.actions_by_name["save"].trigger()
    assert asked == ["patch-window-copy.flow.json"]
    saved = load_flow(target)
    assert saved == template.flow.model_copy(update={"id": "patch-window-copy"})
    # The template itself is untouched.
    assert load_flow(template.path) == template.flow


def test_a_window_with_a_flow_opens_the_template_in_a_new_one(window: MainWindow) -> None:
    templates.open_template(window, by_file("patch-window.flow.json"))
    other = templates.open_template(window, by_file("nightly-disk-cleanup.flow.json"))
    assert other is not window
    assert other.document.header.id == "nightly-disk-cleanup-copy"
    assert window.document.header.id == "patch-window-copy"
    assert len(mainwindow.WINDOWS) == 2


def test_the_dialog_lists_templates_and_opens_the_chosen_one(
    window: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    titles: list[str] = []

    def pick(dialog: templates.TemplateDialog) -> int:
        titles.extend(dialog.list.item(i).text() for i in range(dialog.list.count()))
        row = next(
            i for i, t in enumerate(dialog.templates) if t.path.name == "phishing-triage.flow.json"
        )
        dialog.list.setCurrentRow(row)
        assert "Phishing" in dialog.details.toPlainText()
        return int(QDialog.DialogCode.Accepted.value)

    monkeypatch.setattr(templates.TemplateDialog, "exec", pick)
    window.actions_by_name["new_from_template"].trigger()
    assert len(titles) == len(SAMPLE_FLOWS)
    assert any(t.startswith("Phishing report triage\n") for t in titles)
    assert window.document.header.id == "phishing-triage-copy"


def test_cancelling_the_dialog_changes_nothing(
    window: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        templates.TemplateDialog, "exec", lambda self: int(QDialog.DialogCode.Rejected.value)
    )
    assert templates.choose(window) is None
    assert not any(window.document.nodes())


# -- the empty canvas ------------------------------------------------------------------------


def hint_pixels(view: FlowView) -> int:
    """Pixels in the middle of the view that have the hint's card colour, not the canvas's."""
    image = view.viewport().grab().toImage()
    card, canvas = QColor(theme.current().node_fill), QColor(theme.current().canvas)

    def distance(one: QColor, other: QColor) -> int:
        return sum(abs(a - b) for a, b in zip(one.getRgb()[:3], other.getRgb()[:3], strict=True))

    middle_x, middle_y = image.width() // 2, image.height() // 2
    return sum(
        distance(QColor(image.pixel(x, y)), card) < distance(QColor(image.pixel(x, y)), canvas)
        for y in range(middle_y - 40, middle_y + 40, 2)
        for x in range(middle_x - 150, middle_x + 150, 2)
    )


def test_an_empty_canvas_says_how_to_start_until_it_has_a_node(qtbot: QtBot) -> None:
    document = FlowDocument()
    scene = FlowScene(document)
    view = FlowView(scene)
    qtbot.addWidget(view)
    view.resize(900, 600)
    view.show()
    qtbot.waitExposed(view)
    assert hint_pixels(view) > 2000
    FlowEditor(document, scene).add_node("action.shell", QPointF(5000, 5000))  # out of sight
    assert hint_pixels(view) == 0  # the hint is gone
    document.undo_stack.undo()
    assert hint_pixels(view) > 2000  # and back
