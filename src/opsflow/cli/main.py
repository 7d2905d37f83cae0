"""Entry point of the `opsflow` command: argument parsing and exit codes.

Exit codes: 0 success, 1 problems found in a flow, 2 a file or argument that
cannot be used, 130 interrupted. Errors meant for people are printed as one
line on stderr; a traceback means a bug and is shown only with OPSFLOW_DEBUG=1.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence

from opsflow import __version__
from opsflow.cli import (
    credential_commands,
    flow_commands,
    node_commands,
    run_commands,
    serve_command,
    studio_command,
)
from opsflow.engine.owners import set_role
from opsflow.errors import OpsflowError

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_UNUSABLE = 2
EXIT_INTERRUPTED = 130
EXIT_BUG = 70


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="opsflow",
        description="Design, check and run IT automation flows (*.flow.json).",
    )
    parser.add_argument("--version", action="version", version=f"opsflow {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    flow_commands.register(commands)
    node_commands.register(commands)
    run_commands.register(commands)
    credential_commands.register(commands)
    serve_command.register(commands)
    studio_command.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # How other processes name this one when it drives a run ("opsflow runs resume", ...).
    set_role(
        " ".join(["opsflow", args.command, *filter(None, [getattr(args, "runs_action", None)])])
    )
    try:
        code: int = args.handler(args)
        return code
    except OpsflowError as exc:
        print(f"opsflow: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    except KeyboardInterrupt:
        print("opsflow: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader (e.g. `head`) went away; nothing more to say.
        sys.stderr.close()
        return EXIT_OK
    except Exception as exc:  # a bug: say so plainly, details on request
        if os.environ.get("OPSFLOW_DEBUG"):
            traceback.print_exc()
        print(
            f"opsflow: internal error ({type(exc).__name__}: {exc}); this is a bug — "
            "run again with OPSFLOW_DEBUG=1 and report the traceback",
            file=sys.stderr,
        )
        return EXIT_BUG


if __name__ == "__main__":
    sys.exit(main())
