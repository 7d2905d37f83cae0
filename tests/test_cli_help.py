"""Every command and option of `opsflow` explains itself, and says what it really prints.

The commands run in-process (the `cli` fixture).
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

from opsflow.cli.main import build_parser
from tests.conftest import Cli
from tests.flowdocs import edge, flow_doc, node, write


def parsers(parser: argparse.ArgumentParser, path: str = "opsflow") -> list[tuple[str, Any]]:
    """Every parser under `parser` (itself included), with its command line."""
    found: list[tuple[str, Any]] = [(path, parser)]
    for action in commands_of(parser):
        for name, child in action.choices.items():
            found += parsers(child, f"{path} {name}")
    return found


def commands_of(parser: argparse.ArgumentParser) -> list[Any]:
    # argparse keeps a parser's arguments only in this attribute.
    return [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]


def test_every_command_and_option_has_help() -> None:
    missing = []
    for path, parser in parsers(build_parser()):
        parser.format_help()  # writes descriptions that are computed late
        if not parser.description:
            missing.append(f"{path}: no description")
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            name = "/".join(action.option_strings) or str(action.metavar or action.dest)
            if not (action.help or "").strip():
                missing.append(f"{path} {name}: no help")
        for commands in commands_of(parser):
            listed = {choice.dest: choice.help for choice in commands._choices_actions}
            for name in commands.choices:
                if not (listed.get(name) or "").strip():
                    missing.append(f"{path} {name}: no help in the list of commands")
    assert missing == []


def test_serve_help_shows_defaults(cli: Cli) -> None:
    shown = " ".join(cli("serve", "--help").stdout.split())
    assert "(default: 127.0.0.1)" in shown
    assert "(default: 8080)" in shown


def test_run_help_lists_every_exit_code(cli: Cli) -> None:
    for command in (["run"], ["runs", "resume"]):
        text = cli(*command, "--help").stdout
        listed = re.findall(r"^  (\d+) {2,}\S", text, flags=re.MULTILINE)
        assert listed == ["0", "1", "2", "3", "4", "130"], text
        assert "  2    the run was not started" in text


def test_runs_list_and_show_json_are_what_their_help_says(cli: Cli, tmp_path: Path) -> None:
    store = tmp_path / "j.sqlite"
    flow = flow_doc(
        [node("start", "trigger.manual"), node("note", "action.set_vars", values={"a": 1})],
        [edge("start", "out", "note")],
    )
    ran = cli("run", write(tmp_path / "f.flow.json", flow), "--store", store, "--json")
    run_id = json.loads(ran.stdout.splitlines()[0])["run"]

    listing_help = " ".join(cli("runs", "list", "--help").stdout.split())
    assert "--json print one JSON array of run records" in listing_help
    listed = json.loads(cli("runs", "list", "--json", "--store", store).stdout)
    assert isinstance(listed, list) and listed[0]["id"] == run_id

    show_help = " ".join(cli("runs", "show", "--help").stdout.split())
    assert (
        "--json print one JSON document: the run record, the result of each node, and every "
        "event of the run" in show_help
    )
    shown = json.loads(cli("runs", "show", run_id, "--json", "--store", store).stdout)
    assert set(shown) == {"run", "nodes", "events"}
    assert shown["run"]["id"] == run_id and set(shown["nodes"]) == {"start", "note"}
    assert shown["events"][0]["kind"] == "run_started"


def test_approve_json_prints_the_decision(cli: Cli, tmp_path: Path) -> None:
    store = tmp_path / "j.sqlite"
    flow = flow_doc(
        [
            node("start", "trigger.manual"),
            node("ask", "control.approval", approvers=["alice"], message="Go?", timeout_s=600),
        ],
        [edge("start", "out", "ask")],
    )
    ran = cli("run", write(tmp_path / "f.flow.json", flow), "--store", store, "--json")
    assert ran.returncode == 3, ran.stderr
    run_id = json.loads(ran.stdout.splitlines()[0])["run"]
    assert "one JSON object" in " ".join(cli("approve", "--help").stdout.split())
    decided = cli(
        "approve", run_id, "ask", "--approve", "--as", "alice", "--json", "--store", store
    )
    assert decided.returncode == 0, decided.stderr
    assert json.loads(decided.stdout) == {
        "run": run_id,
        "node": "ask",
        "decision": "approved",
        "by": "alice",
        "driven_by": None,
    }
