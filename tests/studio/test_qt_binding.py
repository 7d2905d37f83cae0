"""The installed PySide6 must not leak or drop references on plain painter calls.

PySide6 6.12.0 dropped a reference to None on every call of a method that
returns nothing; on Python 3.11 the Studio then crashed after a few thousand
node paints. pyproject pins it out; this test catches a regression.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QPointF
from PySide6.QtGui import QColor, QImage, QPainter


def test_void_painter_calls_keep_none_alive(qapp: object) -> None:
    image = QImage(16, 16, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    before = sys.getrefcount(None)
    for _ in range(3000):
        painter.setPen(QColor("#000000"))
        painter.drawEllipse(QPointF(4, 4), 2, 2)
    after = sys.getrefcount(None)
    painter.end()
    assert after >= before - 50, f"None lost {before - after} references over 6,000 calls"
