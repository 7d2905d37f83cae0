"""Entry point of the `opsflow` command: argument parsing and exit codes.

Exit codes: 0 success, 1 problems found in a flow, 2 a file or argument that
cannot be used, 130 interrupted. Errors meant for people are printed as one
line on stderr; a traceback means a bug and is shown only with OPSFLOW_DEBUG=1.

`opsflow` alone (and a command group such as `opsflow runs` alone) prints its help on
stdout and exits 0: asking what there is is not a mistake. A mistyped sub-command is:
one line naming the closest commands, exit 2.

Parsing imports no sub-command's code (see `opsflow.cli.commands`): the chosen
handler's module is imported after parsing, so `opsflow --version` stays cheap.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence

from opsflow import __version__
from opsflow.cli.commands import REGISTER, Parser
from opsflow.errors import OpsflowError

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_UNUSABLE = 2
EXIT_INTERRUPTED = 130
EXIT_BUG = 70

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> Parser:
    parser = Parser(
        prog="opsflow",
        description="Design, check and run IT automation flows (*.flow.json). "
        "`opsflow COMMAND --help` tells more about each command.",
    )
    parser.add_argument(
        "--version", action="version", version=f"opsflow {__version__}", help="print the version"
    )
    commands = parser.add_commands(dest="command", metavar="COMMAND", title="commands")
    for register in REGISTER:
        register(commands)
    return parser


def misspelt_command(parser: Parser, argv: Sequence[str]) -> str | None:
    """The one-line complaint about a sub-command that does not exist, or None.

    Follows the words of `argv` down the command groups (`runs resume`); a word that
    names no command at its place gets the closest existing names.
    """
    level, words, path = parser, list(argv), ["opsflow"]
    while level.commands is not None and words and not words[0].startswith("-"):
        word, words = words[0], words[1:]
        choices = level.commands.choices
        if word not in choices:
            import difflib  # only for a mistyped command

            close = difflib.get_close_matches(word, list(choices), n=3, cutoff=0.5)
            where = " ".join(path)
            hint = f"did you mean {' or '.join(close)}? " if close else ""
            return f"{where}: '{word}' is not a command; {hint}`{where} --help` lists the commands"
        level = choices[word]
        path.append(word)
    return None


def load_handler(handler: str | Handler) -> Handler:
    """The function a sub-command runs, imported now if it is named as "module:function"."""
    if callable(handler):
        return handler
    module, _, function = handler.partition(":")
    found: Handler = getattr(importlib.import_module(module), function)
    return found


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not words:
        parser.print_help()
        return EXIT_OK
    complaint = misspelt_command(parser, words)
    if complaint is not None:
        print(complaint, file=sys.stderr)
        return EXIT_UNUSABLE
    args = parser.parse_args(words)
    if args.command is None:  # only options that are not commands, e.g. `opsflow --`
        parser.print_help()
        return EXIT_OK
    try:
        handler = load_handler(args.handler)
        # How other processes name this one when it drives a run ("opsflow runs resume", ...).
        from opsflow.engine.owners import set_role

        action = getattr(args, f"{args.command}_action", None)
        set_role(" ".join(["opsflow", args.command, *filter(None, [action])]))
        return handler(args)
    except Exception as exc:
        return _failed(exc)
    except KeyboardInterrupt:
        print("opsflow: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _failed(exc: Exception) -> int:
    """Say why a command failed, in one line; the exit code."""
    if isinstance(exc, OpsflowError):
        print(f"opsflow: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    if isinstance(exc, BrokenPipeError):
        # The reader (e.g. `head`) went away; nothing more to say.
        sys.stderr.close()
        return EXIT_OK
    # A bug: say so plainly, details on request.
    if os.environ.get("OPSFLOW_DEBUG"):
        import traceback

        traceback.print_exception(exc)
    print(
        f"opsflow: internal error ({type(exc).__name__}: {exc}); this is a bug — "
        "run again with OPSFLOW_DEBUG=1 and report the traceback",
        file=sys.stderr,
    )
    return EXIT_BUG


if __name__ == "__main__":
    sys.exit(main())
