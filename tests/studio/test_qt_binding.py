"""The installed PySide6 must not leak or drop references on plain painter calls.

PySide6 6.12.0 dropped a reference to None on every call of a method that
returns nothing; on Python 3.11 the Studio then crashed after a few thousand
node paints. pyproject pins it out; this test catches a regression.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

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


def test_quitting_with_nodes_on_the_clipboard_exits_cleanly(tmp_path: object) -> None:
    """Qt crashes at exit if the clipboard still owns Python-made QMimeData; the app hands
    it plain text when it quits (a real process, so a crash shows as its exit status)."""
    script = textwrap.dedent(
        """
        from PySide6.QtCore import QTimer
        from opsflow.studio.app import application
        from opsflow.studio.clipboard import put_on_clipboard
        app = application()
        put_on_clipboard(app.clipboard(), '{"format": "opsflow.flow"}')
        QTimer.singleShot(0, app.quit)
        app.exec()
        print(app.clipboard().text())
        """
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert '"opsflow.flow"' in done.stdout
