"""The node palette, the quick-add popup and the drag payload they share."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QDrag
from pytestqt.qtbot import QtBot

from opsflow.catalog import default_catalog
from opsflow.studio import palette as palette_module
from opsflow.studio.mime import NODE_TYPE_MIME, node_type_from_mime, node_type_mime_data
from opsflow.studio.palette import Palette, match_rank, matches
from opsflow.studio.quickadd import WIRE_TARGET_CATEGORIES, QuickAdd


@pytest.fixture
def palette(qtbot: QtBot) -> Palette:
    widget = Palette(default_catalog())
    qtbot.addWidget(widget)
    widget.resize(260, 600)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


@pytest.fixture
def quick_add(qtbot: QtBot) -> QuickAdd:
    popup = QuickAdd(default_catalog())
    qtbot.addWidget(popup)
    return popup


# -- matching ----------------------------------------------------------------------------


def test_search_words_match_title_type_id_and_doc_case_insensitively() -> None:
    ssh = default_catalog().get("action.ssh")
    assert ssh is not None
    assert matches(ssh, "SSH")
    assert matches(ssh, "action.ss")
    assert matches(ssh, "restart service")
    assert not matches(ssh, "ssh zzzz")
    assert match_rank(ssh, "") == 0


def test_a_title_hit_ranks_before_a_doc_hit() -> None:
    catalog = default_catalog()
    email, ssh = catalog.get("action.email"), catalog.get("action.ssh")
    assert email is not None and ssh is not None
    assert match_rank(email, "mail") == 0
    doc_rank = match_rank(ssh, "server")
    assert doc_rank is not None and doc_rank > 0


# -- palette -----------------------------------------------------------------------------


def test_palette_lists_every_type_under_its_category(palette: Palette) -> None:
    catalog = default_catalog()
    headings = [
        palette.tree.topLevelItem(i).text(0) for i in range(palette.tree.topLevelItemCount())
    ]
    assert headings == ["Triggers", "Conditions", "Actions", "Control"]
    assert sorted(palette.visible_types()) == sorted(spec.type for spec in catalog)
    for spec in catalog:
        item = palette.item_for_type(spec.type)
        assert item is not None
        assert item.parent() is palette.category_item(spec.category)
        assert item.text(0) == spec.title
        assert not item.icon(0).isNull()
        assert spec.type in item.toolTip(0)
    assert all(palette.category_item(c).isExpanded() for c in ("trigger", "action"))


def test_search_filters_and_hides_empty_categories(palette: Palette, qtbot: QtBot) -> None:
    qtbot.keyClicks(palette.search_edit, "ssh")
    assert "action.ssh" in palette.visible_types()
    assert palette.category_item("trigger").isHidden()
    assert not palette.category_item("action").isHidden()

    palette.search_edit.setText("MAIL")
    assert palette.visible_types()[0] == "action.email"

    palette.search_edit.clear()
    assert len(palette.visible_types()) == len(default_catalog())
    assert palette.tree.isVisible() and not palette.empty_label.isVisible()


def test_nonsense_shows_the_no_match_label(palette: Palette, qtbot: QtBot) -> None:
    qtbot.keyClicks(palette.search_edit, "qwzx")
    assert palette.visible_types() == []
    assert palette.empty_label.isVisible()
    assert palette.empty_label.text() == "No node matches 'qwzx'"
    assert not palette.tree.isVisible()


def test_enter_on_a_single_match_activates_it(palette: Palette, qtbot: QtBot) -> None:
    qtbot.keyClicks(palette.search_edit, "action.ssh")
    assert palette.visible_types() == ["action.ssh"]
    with qtbot.waitSignal(palette.activated_type) as blocker:
        qtbot.keyClick(palette.search_edit, Qt.Key.Key_Return)
    assert blocker.args == ["action.ssh"]


def test_down_arrow_moves_into_the_list_and_enter_activates(palette: Palette, qtbot: QtBot) -> None:
    palette.activateWindow()
    palette.search_edit.setFocus()
    qtbot.keyClicks(palette.search_edit, "trigger")
    qtbot.keyClick(palette.search_edit, Qt.Key.Key_Down)
    current = palette.tree.currentItem()
    assert current is not None
    assert current.data(0, palette_module.TYPE_ROLE) == palette.visible_types()[0]
    with qtbot.waitSignal(palette.activated_type) as blocker:
        qtbot.keyClick(palette.tree, Qt.Key.Key_Return)
    assert blocker.args == [palette.visible_types()[0]]


def test_double_click_activates_the_type(palette: Palette, qtbot: QtBot) -> None:
    item = palette.item_for_type("condition.if")
    assert item is not None
    rect = palette.tree.visualItemRect(item)
    with qtbot.waitSignal(palette.activated_type) as blocker:
        # QTest sends the double-click event alone; views need the press before it.
        qtbot.mouseClick(palette.tree.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        qtbot.mouseDClick(palette.tree.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert blocker.args == ["condition.if"]


def test_drag_payload_carries_the_type_id(palette: Palette) -> None:
    # QDrag.exec runs a nested event loop until the drop, so the payload is
    # checked through the tree's mimeData(), which startDrag hands to the drag.
    item = palette.item_for_type("action.http")
    assert item is not None
    mime = palette.tree.mimeData([item])
    assert mime is not None
    assert palette.tree.mimeTypes() == [NODE_TYPE_MIME]
    assert bytes(mime.data(NODE_TYPE_MIME).data()) == b"action.http"
    assert mime.text() == "action.http"
    assert palette.tree.mimeData([palette.category_item("action")]).formats() == []


def test_start_drag_hands_the_payload_to_a_copy_drag(
    palette: Palette, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: dict[str, Any] = {}

    class RecordingDrag(QDrag):
        def exec(self, *args: Any) -> Qt.DropAction:  # no nested event loop in a test
            started["type"] = node_type_from_mime(self.mimeData())
            started["actions"] = args
            return Qt.DropAction.IgnoreAction

    monkeypatch.setattr(palette_module, "QDrag", RecordingDrag)
    item = palette.item_for_type("action.ssh")
    assert item is not None
    palette.tree.setCurrentItem(item)
    palette.tree.startDrag(Qt.DropAction.CopyAction)
    assert started == {"type": "action.ssh", "actions": (Qt.DropAction.CopyAction,)}


def test_mime_helpers_round_trip() -> None:
    mime = node_type_mime_data("control.foreach")
    assert node_type_from_mime(mime) == "control.foreach"
    mime.removeFormat(NODE_TYPE_MIME)
    assert node_type_from_mime(mime) is None


# -- quick add ---------------------------------------------------------------------------


def test_quick_add_typing_and_enter_chooses(quick_add: QuickAdd, qtbot: QtBot) -> None:
    quick_add.open_at(QPoint(40, 40))
    qtbot.waitExposed(quick_add)
    assert len(quick_add.shown_types()) == len(default_catalog())
    qtbot.keyClicks(quick_add.search_edit, "ssh")
    assert quick_add.shown_types()[0] == "action.ssh"
    with qtbot.waitSignal(quick_add.chosen) as blocker:
        qtbot.keyClick(quick_add.search_edit, Qt.Key.Key_Return)
    assert blocker.args == ["action.ssh"]
    assert not quick_add.isVisible()


def test_quick_add_arrows_move_the_choice(quick_add: QuickAdd, qtbot: QtBot) -> None:
    quick_add.open_at(QPoint(40, 40))
    qtbot.keyClicks(quick_add.search_edit, "trigger")
    shown = quick_add.shown_types()
    assert len(shown) > 2
    qtbot.keyClick(quick_add.search_edit, Qt.Key.Key_Down)
    qtbot.keyClick(quick_add.search_edit, Qt.Key.Key_Down)
    qtbot.keyClick(quick_add.search_edit, Qt.Key.Key_Up)
    with qtbot.waitSignal(quick_add.chosen) as blocker:
        qtbot.keyClick(quick_add.search_edit, Qt.Key.Key_Enter)
    assert blocker.args == [shown[1]]


def test_quick_add_click_chooses(quick_add: QuickAdd, qtbot: QtBot) -> None:
    quick_add.open_at(QPoint(40, 40))
    qtbot.keyClicks(quick_add.search_edit, "mail")
    item = quick_add.list.item(0)
    rect = quick_add.list.visualItemRect(item)
    with qtbot.waitSignal(quick_add.chosen) as blocker:
        qtbot.mouseClick(quick_add.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert blocker.args == ["action.email"]


def test_quick_add_escape_cancels(quick_add: QuickAdd, qtbot: QtBot) -> None:
    quick_add.open_at(QPoint(40, 40))
    with (
        qtbot.waitSignal(quick_add.cancelled),
        qtbot.assertNotEmitted(quick_add.chosen),
    ):
        qtbot.keyClick(quick_add.search_edit, Qt.Key.Key_Escape)
    assert not quick_add.isVisible()


def test_quick_add_from_a_wire_offers_no_triggers(quick_add: QuickAdd, qtbot: QtBot) -> None:
    quick_add.open_at(QPoint(40, 40), filter_categories=set(WIRE_TARGET_CATEGORIES))
    shown = quick_add.shown_types()
    assert shown and not any(t.startswith("trigger.") for t in shown)
    qtbot.keyClicks(quick_add.search_edit, "webhook")
    assert "trigger.webhook" not in quick_add.shown_types()

    quick_add.hide()
    quick_add.open_at(QPoint(40, 40))
    assert quick_add.search_edit.text() == ""
    assert "trigger.webhook" in quick_add.shown_types()
