"""The JSON tree of run outputs: lazy rows, pages, search, copying, and a responsive 5 MB value."""

from __future__ import annotations

import html
import json
from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtCore import QModelIndex, Qt, QTimer
from PySide6.QtGui import QClipboard, QColor, QGuiApplication, QPalette
from pytestqt.qtbot import QtBot

from opsflow.jsonpaths import CELL_CHARS, format_path, summary
from opsflow.studio.run.jsonmodel import PAGE_SIZE, TOOLTIP_CHARS, JsonTreeModel, tooltip_html
from opsflow.studio.run.jsontree import JsonTree

NESTED: dict[str, Any] = {
    "status": 200,
    "ok": True,
    "ratio": 0.25,
    "missing": None,
    "message": "line one\nline two",
    "items": [
        {"id": 1, "name": "alpha", "tags": ["a", "b"]},
        {"id": 2, "name": "beta", "owner": {"team": "ops", "on call": "kim"}},
        {"id": 3, "name": "gamma", "deep": {"deeper": {"needle_key": "found me"}}},
    ],
    "empty": {},
    "headers": {"content-type": "application/json", "x-request-id": "4f2c"},
}


@pytest.fixture
def tree(qtbot: QtBot) -> JsonTree:
    widget = JsonTree()
    qtbot.addWidget(widget)
    widget.resize(720, 420)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


@pytest.fixture
def clipboard() -> Iterator[QClipboard]:
    board = QGuiApplication.clipboard()
    board.setText("")
    yield board
    board.setText("")  # only plain text: Qt crashes at exit on Python-made QMimeData


def top_row(model: JsonTreeModel, key: str) -> QModelIndex:
    for row in range(model.rowCount()):
        index = model.index(row, 0)
        if index.data() == key:
            return index
    raise AssertionError(f"no top-level row {key!r}")


def cells(model: JsonTreeModel, index: QModelIndex) -> tuple[str, str, str]:
    return tuple(model.index(index.row(), c, index.parent()).data() for c in range(3))  # type: ignore[return-value]


def more_rows(model: JsonTreeModel, parent: QModelIndex) -> list[QModelIndex]:
    rows = (model.index(r, 0, parent) for r in range(model.rowCount(parent)))
    return [index for index in rows if model.is_more_row(index)]


def search(qtbot: QtBot, tree: JsonTree, text: str | None = None) -> bool:
    """Type `text` (if given) into the search box, press Enter and wait for the outcome."""
    if text is not None:
        tree.search_box.clear()
        qtbot.keyClicks(tree.search_box, text)
    with qtbot.waitSignal(tree.search_finished, timeout=20_000) as blocker:
        qtbot.keyClick(tree.search_box, Qt.Key.Key_Return)
    return bool(blocker.args[0])


# --- rows -------------------------------------------------------------------


def test_rows_show_keys_compact_values_and_types(tree: JsonTree) -> None:
    tree.set_value(NESTED, root="output")
    model = tree.model
    assert model.rowCount() == len(NESTED)
    assert [model.index(r, 0).data() for r in range(model.rowCount())] == list(NESTED)
    assert cells(model, top_row(model, "status")) == ("status", "200", "integer")
    assert cells(model, top_row(model, "ok")) == ("ok", "true", "boolean")
    assert cells(model, top_row(model, "ratio")) == ("ratio", "0.25", "number")
    assert cells(model, top_row(model, "missing")) == ("missing", "null", "null")
    assert cells(model, top_row(model, "message")) == ("message", '"line one\\nline two"', "string")
    assert cells(model, top_row(model, "items")) == ("items", "[3 items]", "array")
    assert cells(model, top_row(model, "empty")) == ("empty", "{0 keys}", "object")
    assert cells(model, top_row(model, "headers")) == ("headers", "{2 keys}", "object")
    assert not model.hasChildren(top_row(model, "empty"))
    assert not model.hasChildren(top_row(model, "status"))

    items = top_row(model, "items")
    tree.view.expand(items)
    assert model.rowCount(items) == 3
    second = model.index(1, 0, items)
    assert cells(model, second) == ("[1]", "{3 keys}", "object")
    tree.view.expand(second)
    owner = model.index(2, 0, second)
    tree.view.expand(owner)
    assert cells(model, model.index(1, 0, owner)) == ("on call", '"kim"', "string")
    assert tree.value() is NESTED


def test_children_are_made_only_when_a_row_is_expanded(tree: JsonTree) -> None:
    value = {"big": [{"n": i, "child": {"x": i}} for i in range(5000)], "small": [1, 2]}
    tree.set_value(value)
    model = tree.model
    assert model.node_count() == 2  # just the two top-level rows
    big = top_row(model, "big")
    assert model.hasChildren(big)
    assert model.rowCount(big) == 0
    assert model.canFetchMore(big)

    tree.view.expand(big)  # the view asks the model to fetch
    assert not model.canFetchMore(big)
    assert model.rowCount(big) == PAGE_SIZE + 1  # a page and the "more" row
    assert model.node_count() == 2 + PAGE_SIZE + 1
    first = model.index(0, 0, big)
    assert model.rowCount(first) == 0 and model.canFetchMore(first)

    model.fetchMore(first)
    assert model.rowCount(first) == 2
    assert model.node_count() == 2 + PAGE_SIZE + 1 + 2


def test_a_ten_thousand_item_list_is_shown_a_thousand_at_a_time(
    qtbot: QtBot, tree: JsonTree
) -> None:
    tree.set_value({"rows": list(range(10_000))})
    model = tree.model
    rows = top_row(model, "rows")
    tree.view.expand(rows)
    assert model.rowCount(rows) == PAGE_SIZE + 1
    more = model.index(PAGE_SIZE, 0, rows)
    assert more.data() == "… 9,000 more"
    assert model.is_more_row(more)
    assert not model.hasChildren(more)

    # Activating the row (a double click here) shows the next page in its place.
    tree.view.scrollTo(more)
    qtbot.wait(10)  # the view lays out the new rows before it can say where one is
    rect = tree.view.visualRect(more)
    assert tree.view.indexAt(rect.center()) == more
    # As a hand does it: the first click of a double click arrives as a click.
    qtbot.mouseClick(tree.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(tree.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert model.rowCount(rows) == 2 * PAGE_SIZE + 1
    assert model.index(2 * PAGE_SIZE, 0, rows).data() == "… 8,000 more"
    assert tree.model.path_of(tree.view.currentIndex()) == ["rows", PAGE_SIZE]

    # Enter on the "more" row activates it too.
    tree.view.setCurrentIndex(model.index(2 * PAGE_SIZE, 0, rows))
    qtbot.keyClick(tree.view, Qt.Key.Key_Return)
    assert model.rowCount(rows) == 3 * PAGE_SIZE + 1

    # Going to the last item makes its page only; a "more" row stands for those between.
    assert tree.expand_to(["rows", 9_999])
    assert cells(model, tree.view.currentIndex()) == ("[9999]", "9999", "integer")
    assert model.rowCount(rows) == 3 * PAGE_SIZE + 1 + PAGE_SIZE
    assert model.index(3 * PAGE_SIZE, 0, rows).data() == "… 6,000 more"
    assert model.index(3 * PAGE_SIZE + 1, 0, rows).data() == "[9000]"

    # Going into the middle of that splits it round the page.
    assert tree.expand_to(["rows", 6_500])
    assert cells(model, tree.view.currentIndex()) == ("[6500]", "6500", "integer")
    labels = [model.index(r, 0, rows).data() for r in range(model.rowCount(rows))]
    assert [label for label in labels if label.startswith("…")] == ["… 3,000 more", "… 2,000 more"]
    assert labels.index("[6000]") == labels.index("… 3,000 more") + 1
    assert labels.index("… 2,000 more") == labels.index("[6999]") + 1

    # Opening every "more" row leaves the whole list and no "more" rows.
    while mores := more_rows(model, rows):
        model.load_next_page(mores[0])
    assert [model.index(r, 1, rows).data() for r in range(model.rowCount(rows))] == [
        str(n) for n in range(10_000)
    ]
    assert not tree.expand_to(["rows", 10_000])
    assert not tree.expand_to(["nope"])


def test_a_lone_scalar_and_clear(tree: JsonTree) -> None:
    tree.set_value("just text", root="output")
    assert tree.model.rowCount() == 1
    assert cells(tree.model, tree.model.index(0, 0)) == ("output", '"just text"', "string")
    tree.clear()
    assert tree.model.rowCount() == 0
    assert tree.value() is None


def test_long_strings_are_elided_in_the_cell_with_an_escaped_capped_tooltip(
    tree: JsonTree,
) -> None:
    long_text = "<b>not bold</b> " + "y" * 5000
    tree.set_value({"log": long_text, "short": "hi"})
    log = top_row(tree.model, "log").siblingAtColumn(1)
    shown = log.data()
    assert shown.startswith('"<b>not bold</b> yyy') and shown.endswith('…"')
    assert len(shown) == CELL_CHARS + 3  # the quotes and the ellipsis
    tip = log.data(Qt.ItemDataRole.ToolTipRole)
    assert tip == tooltip_html(long_text)
    assert "&lt;b&gt;not bold&lt;/b&gt;" in tip
    assert "(3,016 more characters)" in tip
    assert tip.count("y") <= TOOLTIP_CHARS
    assert top_row(tree.model, "short").siblingAtColumn(1).data(Qt.ItemDataRole.ToolTipRole) is None
    assert summary("x" * 10) == '"xxxxxxxxxx"'


def test_values_use_a_monospace_font_and_palette_roles(tree: JsonTree) -> None:
    tree.set_value(NESTED)
    value_cell = top_row(tree.model, "status").siblingAtColumn(1)
    font = value_cell.data(Qt.ItemDataRole.FontRole)
    assert font.fixedPitch() or font.styleHint() == font.StyleHint.Monospace
    dark = QPalette(QColor(40, 42, 48))
    tree.setPalette(dark)
    type_cell = top_row(tree.model, "status").siblingAtColumn(2)
    brush = type_cell.data(Qt.ItemDataRole.ForegroundRole)
    assert brush.color() == dark.color(QPalette.ColorRole.PlaceholderText)


# --- search -----------------------------------------------------------------


def test_search_finds_a_deep_key_expands_to_it_and_selects_it(qtbot: QtBot, tree: JsonTree) -> None:
    tree.set_value(NESTED)
    assert search(qtbot, tree, "NEEDLE_key")
    current = tree.view.currentIndex()
    assert tree.model.path_of(current) == ["items", 2, "deep", "deeper", "needle_key"]
    parent = current.parent()
    while parent.isValid():
        assert tree.view.isExpanded(parent)
        parent = parent.parent()
    assert tree.search_status.text() == ""


def test_enter_again_finds_the_next_match_and_wraps_round(qtbot: QtBot, tree: JsonTree) -> None:
    tree.set_value(NESTED)
    found = []
    assert search(qtbot, tree, "a")  # "status" is the first key holding an "a"
    found.append(tree.model.path_of(tree.view.currentIndex()))
    for _ in range(3):
        assert search(qtbot, tree)
        found.append(tree.model.path_of(tree.view.currentIndex()))
    assert found == [["status"], ["ratio"], ["message"], ["items", 0, "name"]]

    assert search(qtbot, tree, "4f2c")  # only one: Enter again stays on it
    assert search(qtbot, tree)
    assert tree.model.path_of(tree.view.currentIndex()) == ["headers", "x-request-id"]

    tree.view.setCurrentIndex(top_row(tree.model, "headers"))
    assert search(qtbot, tree, "gamma")  # after the selection, wrapping to the top
    assert tree.model.path_of(tree.view.currentIndex()) == ["items", 2, "name"]


def test_no_match_says_so(qtbot: QtBot, tree: JsonTree) -> None:
    tree.set_value(NESTED)
    assert not search(qtbot, tree, "zebra")
    assert tree.search_status.text() == "No match"
    qtbot.keyClicks(tree.search_box, "s")
    assert tree.search_status.text() == ""


def test_a_new_value_stops_a_running_search(qtbot: QtBot, tree: JsonTree) -> None:
    tree.set_value({"rows": [{"n": "x" * 20} for _ in range(200_000)] + [{"n": "needle"}]})
    results: list[bool] = []
    tree.search_finished.connect(results.append)
    qtbot.keyClicks(tree.search_box, "needle")
    qtbot.keyClick(tree.search_box, Qt.Key.Key_Return)
    assert tree.is_searching()  # a time slice could not get through 400,000 values
    tree.set_value(NESTED)
    qtbot.wait(100)
    assert not tree.is_searching()
    assert results == []
    assert not tree.view.currentIndex().isValid()


def test_a_deeply_nested_value_is_searched_and_opened_without_recursion(
    qtbot: QtBot, tree: JsonTree
) -> None:
    value: Any = {"bottom": "here"}
    for _ in range(5000):
        value = {"down": value}
    tree.set_value(value)
    assert search(qtbot, tree, "bottom")
    assert len(tree.model.path_of(tree.view.currentIndex())) == 5001


# --- copying ----------------------------------------------------------------


def test_context_menu_copies_the_value_and_path(
    qtbot: QtBot, tree: JsonTree, clipboard: QClipboard
) -> None:
    tree.set_value(NESTED, root="output")
    assert tree.expand_to(["items", 1, "owner"])
    row = tree.view.currentIndex()
    menu = tree.context_menu(tree.view.visualRect(row).center())
    assert menu is not None
    assert [a.text() for a in menu.actions()] == ["Copy value", "Copy path"]
    menu.actions()[0].trigger()
    assert clipboard.text() == json.dumps(
        {"team": "ops", "on call": "kim"}, indent=2, ensure_ascii=False
    )
    with qtbot.waitSignal(tree.path_copied) as copied:
        menu.actions()[1].trigger()
    assert clipboard.text() == copied.args[0] == "output.items[1].owner"
    menu.deleteLater()


def test_ctrl_c_copies_the_value_and_ctrl_shift_c_the_path(
    qtbot: QtBot, tree: JsonTree, clipboard: QClipboard
) -> None:
    tree.set_value(NESTED, root="output")
    tree.expand_to(["items", 1, "owner", "on call"])
    tree.view.setFocus()
    qtbot.keyClick(tree.view, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert clipboard.text() == '"kim"'
    shift_ctrl = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    qtbot.keyClick(tree.view, Qt.Key.Key_C, shift_ctrl)
    assert clipboard.text() == 'output.items[1].owner["on call"]'


def test_paths_read_as_expressions() -> None:
    assert format_path("output", ["items", 3, "name"]) == "output.items[3].name"
    assert format_path("", ["items", 3]) == "items[3]"
    assert format_path("", [0, "a"]) == "[0].a"
    assert format_path("output", ["content-type"]) == 'output["content-type"]'
    assert format_path("output", ['say "hi"', "1st"]) == 'output["say \\"hi\\""]["1st"]'
    assert format_path("output", []) == "output"


# --- a big value ------------------------------------------------------------


def big_value() -> dict[str, Any]:
    items = [
        {
            "id": i,
            "name": "x" * 40,
            "tags": ["alpha", "beta"],
            "meta": {"owner": f"team-{i % 7}", "ok": i % 2 == 0},
        }
        for i in range(50_000)
    ]
    items[-1]["meta"]["owner"] = "the-needle"
    return {"count": len(items), "items": items}


def test_a_five_megabyte_value_is_made_lazily_and_searched_in_slices(
    qtbot: QtBot, tree: JsonTree
) -> None:
    """Behaviour only: benchmarks/bench_jsontree.py measures the event loop's worst gap."""
    value = big_value()
    assert len(json.dumps(value)) >= 5_000_000
    tree.set_value(value, root="output")
    assert tree.model.node_count() == len(value), "only the top level is made"
    for row in range(tree.model.rowCount()):
        tree.view.expand(tree.model.index(row, 0))
    # One page of the 50,000 items, and the row that says how many more there are.
    assert tree.model.node_count() == len(value) + PAGE_SIZE + 1
    ticks: list[int] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start()
    try:
        assert search(qtbot, tree, "the-needle")
    finally:
        timer.stop()
    assert tree.model.path_of(tree.view.currentIndex()) == ["items", 49_999, "meta", "owner"]
    # A search that kept the event loop to itself would let the timer fire once, at the end.
    assert len(ticks) >= 2, "the search did not give the event loop back between slices"
    # Opening the match made the page around it, not the 49,000 items before it.
    assert tree.model.node_count() < 3 * PAGE_SIZE


# --- looks ------------------------------------------------------------------


def test_screenshot_of_a_nested_value(qtbot: QtBot, tree: JsonTree) -> None:
    tree.set_value(NESTED, root="output")
    tree.expand_to(["items", 2, "deep", "deeper", "needle_key"])
    tree.expand_to(["items", 1, "owner", "team"])
    qtbot.keyClicks(tree.search_box, "needle")
    qtbot.wait(20)
    shot = tree.grab()
    assert shot.save("/tmp/jsontree.png")
    tree.setPalette(QPalette(QColor(40, 42, 48)))
    qtbot.wait(20)
    assert tree.grab().save("/tmp/jsontree-dark.png")
    image = shot.toImage()
    assert len({image.pixel(x, 60) for x in range(0, image.width(), 4)}) > 2  # rows were painted


def test_html_in_tooltips_is_escaped() -> None:
    assert html.escape("<script>") in tooltip_html("<script>" * 20)
