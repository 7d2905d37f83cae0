"""The sub-commands of `opsflow` and their arguments, defined without importing their code.

Parsing the command line must stay fast (`opsflow --version` should take no longer than
starting Python), so this module imports only the standard library's `argparse`. Each
sub-command names its handler as "module:function"; `opsflow.cli.main` imports that
module only when the sub-command is chosen. Help that needs the catalog or other heavy
modules is written by a function run only when that help is shown (`describe=`).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, TypeAlias

#: The package of the handler modules named by the sub-commands.
_HANDLERS = "opsflow.cli"

RUN_EXIT_CODES = """\
exit codes:
  0    the run succeeded
  1    the run failed (or stayed interrupted)
  2    the run was not started: a file, flag, --input or --payload that cannot be
       used, a confirmation declined (or not possible without a terminal and
       --yes), or the run is driven by another live process
  3    the run waits for an approval (when no one is at a terminal to answer)
  4    the run took longer than its timeout (its steps were stopped)
  130  cancelled (Ctrl-C or SIGTERM; running steps are stopped: their process
       groups are killed)"""

RUN_STATES = ("running", "waiting", "paused", "succeeded", "failed", "cancelled", "interrupted")


class Formatter(argparse.HelpFormatter):
    """Wraps each paragraph of a description on its own; keeps indented lines as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        blocks: list[str] = []
        for paragraph in text.split("\n\n"):
            lines = paragraph.splitlines()
            if any(line.startswith(" ") for line in lines[1:]):
                blocks.append("\n".join(indent + line for line in lines))
            else:
                blocks.append(super()._fill_text(paragraph, width, indent))
        return "\n\n".join(blocks)


class Parser(argparse.ArgumentParser):
    """An ArgumentParser that knows its sub-commands and may describe itself late.

    `describe` is called the first time the help is shown, for descriptions that need
    modules too heavy to import for every command line.
    """

    def __init__(
        self, *args: Any, describe: Callable[[], str] | None = None, **kwargs: Any
    ) -> None:
        kwargs.setdefault("formatter_class", Formatter)
        super().__init__(*args, **kwargs)
        self.describe = describe
        #: The sub-commands of this parser, when it has some.
        self.commands: argparse._SubParsersAction[Parser] | None = None

    def add_commands(self, dest: str, metavar: str, title: str) -> Commands:
        """`add_subparsers`, remembering them for `opsflow.cli.main.misspelt_command`."""
        commands = self.add_subparsers(dest=dest, metavar=metavar, title=title, help="one of:")
        self.commands = commands
        return commands

    def format_help(self) -> str:
        if self.describe is not None:
            self.description, self.describe = self.describe(), None
        return super().format_help()


#: What `add_subparsers` returns (generic only to type checkers, hence the string).
Commands: TypeAlias = "argparse._SubParsersAction[Parser]"


def _handler(module: str, function: str) -> str:
    return f"{_HANDLERS}.{module}:{function}"


def _group(commands: Commands, name: str, **kwargs: Any) -> Commands:
    """A command with actions of its own (`runs list`); alone it prints its help."""
    group = commands.add_parser(name, **kwargs)
    group.set_defaults(handler=_help_of(group))
    return group.add_commands(dest=f"{name}_action", metavar="ACTION", title="actions")


def _help_of(parser: Parser) -> Callable[[argparse.Namespace], int]:
    def show_help(args: argparse.Namespace) -> int:
        parser.print_help()
        return 0

    return show_help


def _journal_option(parser: Parser) -> None:
    parser.add_argument(
        "--store",
        metavar="PATH",
        help="the run journal, a SQLite file (default: OPSFLOW_STORE, else the user's data folder)",
    )


# -- flow files ----------------------------------------------------------------------------


def register_flow_commands(commands: Commands) -> None:
    """validate, describe, fmt, export, schema: commands that read flow files."""
    validate = commands.add_parser(
        "validate",
        help="check flow files and list their problems",
        description="Check flow files and list their problems, one per line. Exit 0 when "
        "clean, 1 when a flow has errors (or warnings, with --strict), 2 when a file cannot "
        "be read.",
    )
    validate.add_argument("files", nargs="+", metavar="FILE", help="a *.flow.json file")
    validate.add_argument(
        "--json",
        action="store_true",
        help="print one JSON array: per file its name, whether it was readable and ok, "
        "and its diagnostics",
    )
    validate.add_argument("--strict", action="store_true", help="treat warnings as errors")
    validate.set_defaults(handler=_handler("flow_commands", "run_validate"))

    describe = commands.add_parser(
        "describe",
        help="summarise what flows do",
        description="Summarise flows: their nodes, triggers, inputs, the credentials they "
        "need and the nodes that may change things.",
    )
    describe.add_argument("files", nargs="+", metavar="FILE", help="a *.flow.json file")
    describe.set_defaults(handler=_handler("flow_commands", "run_describe"))

    fmt = commands.add_parser(
        "fmt",
        help="rewrite flow files in canonical form (stable order, two-space indent)",
        description="Rewrite flow files in canonical form: stable key order, two-space "
        "indent, so that diffs show only real changes. Exit 1 with --check when a file is "
        "not canonical, 2 when one cannot be read.",
    )
    fmt.add_argument("files", nargs="+", metavar="FILE", help="a *.flow.json file")
    fmt.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 if a file is not canonical"
    )
    fmt.set_defaults(handler=_handler("flow_commands", "run_fmt"))

    export = commands.add_parser(
        "export",
        help="write a checked, canonical copy of a flow for servers and sharing",
        description="Validate a flow, refuse literal secrets, and write canonical JSON.",
    )
    export.add_argument("file", metavar="FILE", help="the *.flow.json file to export")
    export.add_argument(
        "-o", "--output", required=True, metavar="PATH", help="where to write ('-' for stdout)"
    )
    export.add_argument(
        "--allow-secret",
        action="append",
        default=[],
        metavar="PATH",
        help="accept a secret-looking value at this path (as reported); repeatable",
    )
    export.add_argument(
        "--strip-layout", action="store_true", help="leave out positions and sticky notes"
    )
    export.set_defaults(handler=_handler("flow_commands", "run_export"))

    schema = commands.add_parser(
        "schema",
        help="print the JSON Schema of flow files",
        description="Print the JSON Schema (draft 2020-12) of flow files, with the parameters "
        "of every installed node type, for editors and other validators.",
    )
    schema.add_argument(
        "-o", "--output", metavar="PATH", help="write to this file instead of stdout"
    )
    schema.set_defaults(handler=_handler("flow_commands", "run_schema"))


# -- node types ----------------------------------------------------------------------------


def register_node_commands(commands: Commands) -> None:
    """nodes, nodes show, nodes explain."""
    nodes = commands.add_parser(
        "nodes",
        help="list node types, or show one with its parameters",
        description="Without an action, list every installed node type. "
        "`opsflow nodes show TYPE` documents one; `opsflow nodes explain FILE NODE` "
        "tells what one node of a flow does.",
    )
    nodes.add_argument("--json", action="store_true", help="print as JSON")
    nodes.set_defaults(handler=_handler("node_commands", "run_nodes"))
    actions = nodes.add_commands(dest="nodes_action", metavar="ACTION", title="actions")
    show = actions.add_parser(
        "show",
        help="document one node type",
        description="Document one node type: what it does, its ports and its parameters.",
    )
    show.add_argument("type", metavar="TYPE", help="the node type, e.g. action.http")
    show.add_argument(
        "--json", action="store_true", help="print as JSON, with the parameters' JSON Schema"
    )
    explain = actions.add_parser(
        "explain",
        help="what one node of a flow does, where it leads, and when it fires",
        description="Explain one node of a flow: its type, what it is set to, where each of "
        "its ports leads and, for schedules, the next fire times.",
    )
    explain.add_argument("file", metavar="FILE", help="the *.flow.json file")
    explain.add_argument("node", metavar="NODE", help="the id of the node in that flow")
    explain.add_argument(
        "--count",
        type=int,
        default=5,
        metavar="N",
        help="how many fire times to show for a schedule (default: %(default)s)",
    )
    explain.add_argument("--json", action="store_true", help="print as JSON")


# -- runs ----------------------------------------------------------------------------------


def register_run_commands(commands: Commands) -> None:
    """run, runs list|show|resume, approve."""
    run = commands.add_parser(
        "run",
        help="run a flow on this machine",
        description="Run a flow and show its progress, then a table of its nodes and the "
        "flow's outputs. A flow with validation errors is refused. A manual trigger with "
        "`confirm` asks before the run starts. Sub-flows started without waiting are "
        "waited for before it exits.",
        epilog=RUN_EXIT_CODES,
    )
    run.add_argument("file", metavar="FILE", help="the *.flow.json file to run")
    run.add_argument(
        "--trigger",
        metavar="NODE",
        help="the trigger to start from (needed when there are several)",
    )
    run.add_argument(
        "--payload",
        metavar="JSON|@FILE",
        help="the trigger's payload: JSON text, or @FILE to read it from a file",
    )
    run.add_argument(
        "--input",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a value for one of the flow's inputs; repeatable (`opsflow describe` lists them)",
    )
    run.add_argument(
        "--dry-run",
        action="store_true",
        help="only show what nodes with side effects would do; read-only steps still run",
    )
    run.add_argument(
        "-y",
        "--yes",
        action="store_true",
        help="start without asking when the trigger asks for confirmation (needed when no "
        "one is at a terminal)",
    )
    run.add_argument(
        "--pin",
        action="append",
        default=[],
        metavar="NODE[:PORT]=@FILE",
        help="use this output (JSON, or @FILE) instead of running the node; repeatable",
    )
    run.add_argument(
        "--break",
        dest="breaks",
        action="append",
        default=[],
        metavar="NODE",
        help="pause before this node and ask to continue, step or abort (needs a terminal); "
        "repeatable",
    )
    run.add_argument(
        "--from",
        dest="start_at",
        metavar="NODE",
        help="run from this node, reusing the outputs of everything upstream from --reuse RUN",
    )
    run.add_argument("--reuse", metavar="RUN", help="the earlier run whose outputs --from reuses")
    _journal_option(run)
    run.add_argument(
        "--json", action="store_true", help="print the run's events as JSON lines, nothing else"
    )
    run.set_defaults(handler=_handler("run_commands", "run_flow"))

    actions = _group(
        commands,
        "runs",
        help="past and current runs in the journal",
        description="List, show and resume the runs recorded in the run journal.",
    )
    listing = actions.add_parser(
        "list",
        help="recent runs, newest first",
        description="List recent runs, newest first: id, flow, state, start time and duration.",
    )
    listing.add_argument("--flow", metavar="FLOW_ID", help="only runs of this flow id")
    listing.add_argument(
        "--state",
        choices=RUN_STATES,
        help="only runs in this state (interrupted includes runs whose process is gone)",
    )
    listing.add_argument(
        "--limit",
        type=int,
        default=20,
        metavar="N",
        help="show at most this many runs (default: %(default)s)",
    )
    _journal_option(listing)
    listing.add_argument(
        "--json",
        action="store_true",
        help="print one JSON array of run records (id, flow, state, owner, times, ...)",
    )
    listing.set_defaults(handler=_handler("run_commands", "list_runs"))

    show = actions.add_parser(
        "show",
        help="one run: its state, its nodes and the approvals it waits for",
        description="Show one run: its state and who drives it, a table of its nodes, and "
        "the approvals it waits for with the command that answers them.",
    )
    show.add_argument(
        "run_id", metavar="RUN", help="the run id, or its start (as `opsflow runs list` shows)"
    )
    _journal_option(show)
    show.add_argument(
        "--json",
        action="store_true",
        help="print one JSON document: the run record, the result of each node, and every "
        "event of the run",
    )
    show.set_defaults(handler=_handler("run_commands", "show_run"))

    resume = actions.add_parser(
        "resume",
        help="continue an interrupted or waiting run",
        description="Continue a run from the journal: after a crash, a restart, or answered "
        "approvals. Refused while another live process (opsflow run, serve, the Studio) "
        "drives the run.",
        epilog=RUN_EXIT_CODES,
    )
    resume.add_argument("run_id", metavar="RUN", nargs="?", help="the run to continue (or --all)")
    resume.add_argument(
        "--all",
        action="store_true",
        help="resume every interrupted run, also those whose process is gone (oldest first); "
        "exit 1 if any failed or stays interrupted, else 2 if any could not be resumed, "
        "else 3 if any waits for an approval",
    )
    resume.add_argument(
        "--rerun",
        action="append",
        default=[],
        metavar="NODE",
        help="run again a node that was in flight when the run stopped; repeatable",
    )
    resume.add_argument(
        "--skip",
        action="append",
        default=[],
        metavar="NODE",
        help="count a node that was in flight when the run stopped as done; repeatable",
    )
    _journal_option(resume)
    resume.add_argument(
        "--json", action="store_true", help="print the run's events as JSON lines, nothing else"
    )
    resume.set_defaults(handler=_handler("run_commands", "resume_flow"))

    approve = commands.add_parser(
        "approve",
        help="answer an approval a run is waiting for",
        description="Approve or reject at an approval node a run waits at. The process "
        "driving the run continues it; when none does, continue it with `opsflow runs "
        "resume RUN`.",
    )
    approve.add_argument("run_id", metavar="RUN", help="the run that waits")
    approve.add_argument("node", metavar="NODE", help="the approval node it waits at")
    decision = approve.add_mutually_exclusive_group(required=True)
    decision.add_argument(
        "--approve",
        dest="decision",
        action="store_const",
        const="approved",
        help="approve: the run goes on through the node's 'approved' port",
    )
    decision.add_argument(
        "--reject",
        dest="decision",
        action="store_const",
        const="rejected",
        help="reject: the run goes on through the node's 'rejected' port",
    )
    approve.add_argument(
        "--as", dest="by", required=True, metavar="NAME", help="who decides (one of its approvers)"
    )
    approve.add_argument(
        "--comment", default="", metavar="TEXT", help="a note kept with the decision"
    )
    approve.add_argument(
        "--field",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an answer to the approval's form; repeatable",
    )
    _journal_option(approve)
    approve.add_argument(
        "--json",
        action="store_true",
        help="print the recorded decision as one JSON object",
    )
    approve.set_defaults(handler=_handler("run_commands", "approve_run"))


# -- credentials ---------------------------------------------------------------------------


def _describe_credential_set() -> str:
    from opsflow.credentials import KIND_FIELDS

    kinds = "; ".join(
        f"{kind}: {', '.join(s.name for s in specs)}" for kind, specs in KIND_FIELDS.items()
    )
    return (
        "Store a credential. On a terminal each field is prompted for (secrets hidden); "
        "otherwise give --field NAME=@FILE or --field NAME=env:VAR. Kinds and their fields: "
        f"{kinds}."
    )


def register_credential_commands(commands: Commands) -> None:
    """credentials set|list|delete|test."""
    actions = _group(
        commands,
        "credentials",
        help="named credentials in the OS keyring",
        description="Store, list, delete and test the named credentials flows use. Values "
        "live in the OS keyring (or a 0600 file where there is none); flows hold only names.",
    )
    setter = actions.add_parser(
        "set", help="store a credential (prompts on a terminal)", describe=_describe_credential_set
    )
    setter.add_argument("name", metavar="NAME", help="the name flows use for it")
    setter.add_argument(
        "--kind",
        required=True,
        metavar="KIND",
        help="the kind of credential (the kinds and their fields are listed above)",
    )
    setter.add_argument(
        "--field",
        action="append",
        default=[],
        metavar="FIELD=@FILE|env:VAR",
        help="a field value from a file or an environment variable "
        "(non-secret fields may be literal); repeatable",
    )
    setter.add_argument(
        "--store",
        choices=["auto", "keyring", "file"],
        default="auto",
        help="where to keep it; auto is the keyring when there is one, else the file "
        "(default: %(default)s)",
    )
    setter.set_defaults(handler=_handler("credential_commands", "set_credential"))

    listing = actions.add_parser(
        "list",
        help="names, kinds and where each lives (no values)",
        description="List the stored credentials: name, kind and where each lives. Values "
        "are never shown.",
    )
    listing.add_argument(
        "--json", action="store_true", help="print one JSON array of {name, kind, location}"
    )
    listing.set_defaults(handler=_handler("credential_commands", "list_credentials"))

    remover = actions.add_parser(
        "delete",
        help="remove a stored credential",
        description="Remove a credential from the keyring and the credentials file.",
    )
    remover.add_argument("name", metavar="NAME", help="the credential's name")
    remover.set_defaults(handler=_handler("credential_commands", "delete_credential"))

    tester = actions.add_parser(
        "test",
        help="check a credential is complete and usable (exit 0 ok, 1 not)",
        description="Check that a credential can be found and is complete; an SSH key is "
        "also read. Exit 0 when usable, 1 when not, 2 when there is none by that name.",
    )
    tester.add_argument("name", metavar="NAME", help="the credential's name")
    tester.set_defaults(handler=_handler("credential_commands", "test_credential"))


# -- serve and studio ----------------------------------------------------------------------


def register_serve_command(commands: Commands) -> None:
    """serve FLOW...: host the triggers of flows."""
    serve = commands.add_parser(
        "serve",
        help="host the webhook, schedule, file and poll triggers of flows",
        description="Host the webhook, schedule, file-watch and HTTP-poll triggers of one or "
        "more flows and start a run each time one fires (manual triggers are not hosted). "
        "Webhooks listen on loopback unless --host says otherwise. Flows with validation "
        "errors are refused. SIGTERM or Ctrl+C stops it; runs in flight are interrupted "
        "(their running steps are stopped) and can be resumed. When the journal stays "
        "locked by another process, webhooks answer 503 with Retry-After.",
    )
    serve.add_argument("flows", nargs="+", metavar="FLOW", help="a *.flow.json file")
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="the address webhooks listen on (default: %(default)s)",
    )
    serve.add_argument(
        "--port",
        type=int,
        default=8080,
        help="the port webhooks listen on; 0 picks any free port (default: %(default)s)",
    )
    _journal_option(serve)
    serve.add_argument(
        "--resume-interrupted",
        action="store_true",
        help="resume the runs of these flows that were left interrupted, also by a process "
        "that died (steps in flight run again only if they are safe to repeat)",
    )
    serve.set_defaults(handler=_handler("serve_command", "serve_flows"))


def register_studio_command(commands: Commands) -> None:
    """studio [FILE...]: the desktop designer."""
    studio = commands.add_parser(
        "studio",
        help="open flows in Opsflow Studio, the desktop designer",
        description="Open Opsflow Studio, optionally with one or more flow files.",
    )
    studio.add_argument("files", nargs="*", metavar="FILE", help="a *.flow.json file to open")
    studio.set_defaults(handler=_handler("studio_command", "open_studio"))


#: Every group of sub-commands, in the order `opsflow --help` lists them.
REGISTER = (
    register_flow_commands,
    register_node_commands,
    register_run_commands,
    register_credential_commands,
    register_serve_command,
    register_studio_command,
)
