"""The MIME types the Studio drags and copies: a node type from the palette, a flow fragment,
an expression path from a run's data.

Both ends of a drag (palette, quick-add, canvas, clipboard) use these names and
helpers, so the format of a payload is decided in one place.
"""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QMimeData

#: A node type id (UTF-8), dragged from the palette onto the canvas.
NODE_TYPE_MIME = "application/x-opsflow-node-type"
#: Copied nodes, edges and notes as JSON (copy, paste, drag between windows).
FLOW_FRAGMENT_MIME = "application/x-opsflow-fragment+json"
#: The bare expression that reads a value of a run (`nodes.probe.output.stdout`), dragged
#: from the Run panel's trees into an inspector field.
EXPRESSION_MIME = "application/x-opsflow-expression"


def node_type_mime_data(type_id: str) -> QMimeData:
    """A drag payload for one node type; its text is the type id too, for text fields."""
    mime = QMimeData()
    mime.setData(NODE_TYPE_MIME, QByteArray(type_id.encode("utf-8")))
    mime.setText(type_id)
    return mime


def node_type_from_mime(mime: QMimeData) -> str | None:
    """The node type id a payload carries, or None when it carries none."""
    if not mime.hasFormat(NODE_TYPE_MIME):
        return None
    type_id = bytes(mime.data(NODE_TYPE_MIME).data()).decode("utf-8", errors="replace")
    return type_id or None


def expression_mime_data(path: str) -> QMimeData:
    """A drag payload for an expression path; its text is the bare path, for other editors."""
    mime = QMimeData()
    mime.setData(EXPRESSION_MIME, QByteArray(path.encode("utf-8")))
    mime.setText(path)
    return mime


def expression_from_mime(mime: QMimeData) -> str | None:
    """The expression path a payload carries, or None when it carries none."""
    if not mime.hasFormat(EXPRESSION_MIME):
        return None
    path = bytes(mime.data(EXPRESSION_MIME).data()).decode("utf-8", errors="replace")
    return path or None
