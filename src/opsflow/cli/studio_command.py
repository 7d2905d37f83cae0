"""`opsflow studio [FILE...]`: open the desktop designer (imports Qt only when asked)."""

from __future__ import annotations

import argparse
from pathlib import Path

from opsflow.errors import OpsflowError


def open_studio(args: argparse.Namespace) -> int:
    missing = [name for name in args.files if not Path(name).is_file()]
    if missing:
        raise OpsflowError(f"{missing[0]} does not exist; check the path")
    try:
        from opsflow.studio.app import run
    except ImportError as exc:  # PySide6 or a system Qt library is missing
        raise OpsflowError(
            f"the Studio cannot start because Qt is not available ({exc}); "
            "reinstall with `pip install opsflow` or use the command line"
        ) from None
    return run([Path(name) for name in args.files])
