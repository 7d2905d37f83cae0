"""Where a node type's icon file is: a built-in name, or an SVG that a node pack ships.

`NodeSpec.icon` is either the name of a built-in icon (`resources/icons/NAME.svg`, such as
"action-shell") or "package:path/in/package.svg" for a pack's own SVG, found through
`importlib.resources` in the installed (or editable) package. This module only finds files;
the Studio draws them (`opsflow.studio.icons`).
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path, PurePosixPath


def resources_folder() -> Path:
    """The resources folder: inside the installed package, or at the top of a checkout."""
    inside = Path(__file__).resolve().parent.parent / "resources"
    if inside.is_dir():
        return inside
    return Path(__file__).resolve().parents[3] / "resources"


def icon_file(icon: str) -> Path | None:
    """The SVG file `icon` names, or None when there is none (the generic icon is drawn)."""
    package, colon, inside = icon.partition(":")
    if not colon:
        path = resources_folder() / "icons" / f"{icon}.svg"
        return path if "/" not in icon and path.is_file() else None
    relative = PurePosixPath(inside)
    if not package or relative.is_absolute() or ".." in relative.parts or not relative.parts:
        return None
    try:
        root = importlib.resources.files(package)
    except (ImportError, TypeError, ValueError):  # no such package, or not a package
        return None
    if not isinstance(root, Path):  # a zipped or namespace package has no single folder
        return None
    path = root.joinpath(*relative.parts)
    return path if path.is_file() else None
