"""Node-type icons: SVG files in resources/icons, tinted to the theme and cached."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from PySide6.QtCore import QByteArray, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QImage, QPainter, QPixmap
from PySide6.QtSvg import QSvgRenderer

from opsflow.catalog.icons import icon_file

GENERIC = "node-generic"


def icon_path(name: str) -> Path | None:
    """A built-in icon's SVG, or a node pack's ("package:path.svg"); else the generic one."""
    return icon_file(name) or icon_file(GENERIC)


@lru_cache(maxsize=512)
def _renderer_data(name: str) -> bytes:
    path = icon_path(name)
    return path.read_bytes() if path is not None else b""


@lru_cache(maxsize=1024)
def tinted_image(name: str, color: str, size: int) -> QImage:
    """The icon drawn at `size` pixels in one colour (the SVGs are black line art)."""
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    data = _renderer_data(name)
    if not data:
        return image
    renderer = QSvgRenderer(QByteArray(data))
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter, QRectF(0, 0, size, size))
    painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_SourceIn)
    painter.fillRect(image.rect(), QColor(color))
    painter.end()
    return image


def node_icon(name: str, color: str) -> QIcon:
    """A QIcon for lists and menus (16 and 32 px renditions)."""
    icon = QIcon()
    for size in (16, 24, 32, 48):
        icon.addPixmap(QPixmap.fromImage(tinted_image(name, color, size)))
    return icon


def tinted_icon(icon: QIcon, color: QColor, disabled: QColor) -> QIcon:
    """`icon` redrawn in one colour, and in `disabled` for its disabled look.

    The style's stock icons (play, stop, arrows) are black, which vanishes on a dark theme.
    """
    tinted = QIcon()
    for size in (16, 24, 32):
        source = icon.pixmap(size, size).toImage()
        for mode, paint in ((QIcon.Mode.Normal, color), (QIcon.Mode.Disabled, disabled)):
            image = source.convertToFormat(QImage.Format.Format_ARGB32_Premultiplied)
            painter = QPainter(image)
            painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_SourceIn)
            painter.fillRect(image.rect(), paint)
            painter.end()
            tinted.addPixmap(QPixmap.fromImage(image), mode)
    return tinted


def app_icon() -> QIcon:
    path = icon_path("app")
    return QIcon(str(path)) if path is not None else QIcon()
