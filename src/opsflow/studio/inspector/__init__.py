"""The inspector panel: edits the selected node's settings and parameters through commands."""

from opsflow.studio.inspector.panel import Inspector

__all__ = ["Inspector"]
