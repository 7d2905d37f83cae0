"""`opsflow studio [FILE...]` and the `opsflow-studio` program: open the desktop designer.

Qt is imported only after the preflight found a display it can use, so neither entry point
can end in Qt's abort; both say what is missing in one sentence and exit 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from opsflow.errors import OpsflowError
from opsflow.studio.preflight import preflight, qt_import_problem


def open_studio(args: argparse.Namespace) -> int:
    missing = [name for name in args.files if not Path(name).is_file()]
    if missing:
        raise OpsflowError(f"{missing[0]} does not exist; check the path")
    # Before Qt is loaded: a Qt without a usable display aborts the process with a wrong hint.
    problem = preflight()
    if problem:
        raise OpsflowError(problem)
    try:
        from opsflow.studio.app import run
    except ImportError as exc:
        qt_problem = qt_import_problem(exc)
        if qt_problem is None:
            raise  # not Qt's: one of our modules is broken, which is a bug
        raise OpsflowError(qt_problem) from None
    return run([Path(name) for name in args.files])


def main(argv: Sequence[str] | None = None) -> int:
    """`opsflow-studio [FILE...]`: the same as `opsflow studio`, for desktop launchers."""
    parser = argparse.ArgumentParser(
        prog="opsflow-studio", description="Design, run and debug automation flows."
    )
    parser.add_argument("files", nargs="*", metavar="FILE", help="a *.flow.json file to open")
    args = parser.parse_args(argv)
    try:
        return open_studio(args)
    except OpsflowError as exc:
        print(f"opsflow-studio: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
