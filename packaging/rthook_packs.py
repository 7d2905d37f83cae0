"""Runtime hook of the bundle: folders of installed node packs go on `sys.path` at start.

A bundle has no site-packages to `pip install` a node pack into, so packs are installed into a
folder (`pip install --target FOLDER PACK`): the module plus its `.dist-info`, where
`importlib.metadata` finds the pack's `opsflow.nodes` entry point. These folders are used, in
this order, when they exist:

1. each folder in `OPSFLOW_PACKS` (separated like PATH),
2. `packs` next to the Opsflow programs (for every user of this installation),
3. `packs` in the user's Opsflow data folder (where the run journal lives too):
   ~/.local/share/opsflow/packs on Linux, ~/Library/Application Support/opsflow/packs on
   macOS, %LOCALAPPDATA%\\opsflow\\opsflow\\packs on Windows.

They are appended, so a module in the bundle always wins over a copy in a pack folder (a pack
cannot replace pydantic or Opsflow itself by bringing its own).
"""

from __future__ import annotations

import os
import sys


def _pack_folders() -> list[str]:
    folders = [item for item in os.environ.get("OPSFLOW_PACKS", "").split(os.pathsep) if item]
    folders.append(os.path.join(os.path.dirname(os.path.abspath(sys.executable)), "packs"))
    try:
        import platformdirs

        folders.append(str(platformdirs.user_data_path("opsflow") / "packs"))
    except Exception:  # a broken data folder must not stop Opsflow starting
        pass
    return folders


def _add_pack_folders() -> None:
    for folder in _pack_folders():
        path = os.path.abspath(folder)
        if os.path.isdir(path) and path not in sys.path:
            sys.path.append(path)


_add_pack_folders()
