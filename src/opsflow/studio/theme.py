"""Light and dark themes: the application palette and the canvas colours.

The theme follows the system's colour scheme unless the user picks one. All
canvas colours come from the active `Theme`, so painting code never hard-codes
a colour and both themes stay readable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

from opsflow.studio.widget_style import StudioStyle

Mode = Literal["light", "dark"]


@dataclass(frozen=True)
class Theme:
    mode: Mode
    canvas: str
    grid_minor: str
    grid_major: str
    node_fill: str
    node_border: str
    node_text: str
    node_subtext: str
    selection: str
    note_fill: str
    note_text: str
    edge_label_fill: str
    #: Accent per node category (header strip, icon, palette).
    categories: dict[str, str]
    #: Edge colour per port kind.
    ports: dict[str, str]
    error: str
    warning: str
    disabled_alpha: float = 0.45
    #: Accent per group colour name (`opsflow.model.flow.GROUP_COLORS`): frame and title.
    groups: dict[str, str] = field(default_factory=dict)

    def category_color(self, category: str) -> str:
        return self.categories.get(category, self.categories["other"])

    def port_color(self, port: str) -> str:
        return self.ports.get(port_kind(port), self.ports["neutral"])

    def group_color(self, name: str) -> str:
        return self.groups.get(name, self.categories["other"])


def port_kind(port: str) -> str:
    """What a port means, for its colour: good, bad, waiting or neutral."""
    if port in ("success", "true", "approved", "done", "out"):
        return "good"
    if port in ("error", "false", "rejected"):
        return "bad"
    if port == "timeout":
        return "late"
    return "neutral"


LIGHT = Theme(
    mode="light",
    canvas="#f6f7f9",
    grid_minor="#e6e8ec",
    grid_major="#d5d9df",
    node_fill="#ffffff",
    node_border="#c3c8d0",
    node_text="#1d2330",
    node_subtext="#5b6474",
    selection="#2f6fed",
    note_fill="#fff5c2",
    note_text="#3d3520",
    edge_label_fill="#ffffff",
    categories={
        "trigger": "#7c4dcc",
        "condition": "#c27a00",
        "action": "#1f6fd1",
        "control": "#0f8a6c",
        "other": "#677185",
    },
    ports={"good": "#3b8d4f", "bad": "#c8423b", "late": "#b07a12", "neutral": "#6a7384"},
    error="#d93a32",
    warning="#d08a00",
    groups={
        "blue": "#2f6fed",
        "green": "#2e8a4a",
        "yellow": "#a88400",
        "orange": "#cf6a1d",
        "red": "#c8423b",
        "purple": "#7c4dcc",
        "grey": "#677185",
    },
)

DARK = Theme(
    mode="dark",
    canvas="#1c1f26",
    grid_minor="#242832",
    grid_major="#2e3340",
    node_fill="#2a2f3a",
    node_border="#454c5c",
    node_text="#e8ebf1",
    node_subtext="#a5adbd",
    selection="#5b93ff",
    note_fill="#4a4426",
    note_text="#f1e9c8",
    edge_label_fill="#2a2f3a",
    categories={
        "trigger": "#a883f0",
        "condition": "#e6a23c",
        "action": "#5a9cf0",
        "control": "#3cc49f",
        "other": "#9aa3b5",
    },
    ports={"good": "#5cbf72", "bad": "#ef6b63", "late": "#e0a93a", "neutral": "#9099ab"},
    error="#ff6b61",
    warning="#f0b43c",
    groups={
        "blue": "#5b93ff",
        "green": "#5cbf72",
        "yellow": "#e3c04a",
        "orange": "#f0954a",
        "red": "#ef6b63",
        "purple": "#a883f0",
        "grey": "#9aa3b5",
    },
)

_current: Theme = LIGHT


def current() -> Theme:
    return _current


def system_mode() -> Mode:
    hints = QGuiApplication.styleHints()
    return "dark" if hints.colorScheme() == Qt.ColorScheme.Dark else "light"


def apply(app: QApplication, mode: Mode | None = None) -> Theme:
    """Make `mode` (the system's when None) the theme of the application."""
    global _current
    _current = DARK if (mode or system_mode()) == "dark" else LIGHT
    if not isinstance(app.style(), StudioStyle):
        app.setStyle(StudioStyle())
    app.setPalette(_palette(_current))
    return _current


def _palette(theme: Theme) -> QPalette:
    palette = QPalette()
    if theme.mode == "light":
        window, base, text, button = "#eef0f3", "#ffffff", "#1d2330", "#e4e7ec"
        alternate, mid, tooltip = "#f4f5f7", "#b9bfc9", "#ffffe8"
    else:
        window, base, text, button = "#23272f", "#1b1e24", "#e8ebf1", "#2f3440"
        alternate, mid, tooltip = "#262a33", "#4a5162", "#2f3440"
    roles = {
        QPalette.ColorRole.Window: window,
        QPalette.ColorRole.WindowText: text,
        QPalette.ColorRole.Base: base,
        QPalette.ColorRole.AlternateBase: alternate,
        QPalette.ColorRole.Text: text,
        QPalette.ColorRole.Button: button,
        QPalette.ColorRole.ButtonText: text,
        QPalette.ColorRole.ToolTipBase: tooltip,
        QPalette.ColorRole.ToolTipText: text,
        QPalette.ColorRole.PlaceholderText: theme.node_subtext,
        QPalette.ColorRole.Highlight: theme.selection,
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.Link: theme.selection,
        QPalette.ColorRole.Mid: mid,
        QPalette.ColorRole.Midlight: alternate,
        QPalette.ColorRole.Dark: mid,
    }
    for role, color in roles.items():
        palette.setColor(role, QColor(color))
    for role in (
        QPalette.ColorRole.Text,
        QPalette.ColorRole.ButtonText,
        QPalette.ColorRole.WindowText,
    ):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor(theme.node_subtext))
    return palette
