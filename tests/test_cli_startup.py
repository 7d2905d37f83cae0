"""`opsflow` starts fast: parsing imports no command's code, commands load only what they use.

Structural, not timed: each check runs a fresh interpreter and looks at `sys.modules`.
`benchmarks/bench_startup.py` measures the times.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.flowdocs import check_flow, write

#: Third-party modules too heavy to load for a command that does not use them.
HEAVY = (
    "pydantic",
    "jsonschema",
    "croniter",
    "requests",
    "networkx",
    "watchdog",
    "paramiko",
    "keyring",
    "platformdirs",
    "jinja2",
)
#: Opsflow's own heavy parts: what argument parsing must not import.
CORE = ("opsflow.engine", "opsflow.catalog", "opsflow.model", "opsflow.flowfile")


def loaded_after(code: str) -> list[str]:
    """The top-level modules (and Opsflow's packages) a fresh interpreter has after `code`."""
    script = f"import contextlib, json, sys\n{code}\nprint(json.dumps(sorted(sys.modules)))\n"
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    return list(json.loads(result.stdout.splitlines()[-1]))


def heavy_in(modules: list[str], names: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == n or m.startswith(n + ".") for n in names))


@pytest.mark.parametrize("argv", [["--version"], ["--help"], []], ids=["version", "help", "bare"])
def test_version_and_help_import_nothing_heavy(argv: list[str]) -> None:
    modules = loaded_after(
        "from opsflow.cli.main import main\n"
        "with contextlib.redirect_stdout(sys.stderr), contextlib.suppress(SystemExit):\n"
        f"    main({argv!r})"
    )
    assert heavy_in(modules, HEAVY + CORE) == []


def test_parsing_any_command_line_imports_nothing_heavy() -> None:
    command_lines = [
        ["validate", "a.flow.json"],
        ["run", "a.flow.json", "--input", "x=1", "--dry-run"],
        ["runs", "resume", "RUN", "--rerun", "n"],
        ["approve", "RUN", "ask", "--approve", "--as", "alice"],
        ["nodes", "show", "action.http"],
        ["credentials", "set", "api", "--kind", "token"],
        ["serve", "a.flow.json", "--port", "0"],
        ["studio"],
    ]
    modules = loaded_after(
        "from opsflow.cli.main import build_parser\n"
        f"for argv in {command_lines!r}:\n"
        "    build_parser().parse_args(argv)"
    )
    assert heavy_in(modules, HEAVY + CORE) == []


def test_validate_loads_only_what_the_flow_uses(tmp_path: Path) -> None:
    """A flow with no schedule and no webhook body schema needs no cron or JSON Schema code."""
    path = write(tmp_path / "a.flow.json", check_flow())
    modules = loaded_after(
        f"from opsflow.cli.main import main\nassert main(['validate', {str(path)!r}]) == 0"
    )
    unused = tuple(name for name in HEAVY if name not in ("pydantic", "jinja2"))
    assert heavy_in(modules, unused) == []
    assert heavy_in(modules, ("opsflow.engine.local", "opsflow.serve", "opsflow.exporting")) == []


def test_every_handler_names_a_function() -> None:
    """A handler named as "module:function" that does not exist would fail only when run."""
    from opsflow.cli.commands import Parser
    from opsflow.cli.main import build_parser, load_handler

    def handlers(parser: Parser) -> list[Any]:
        found = [parser.get_default("handler")]
        if parser.commands is not None:
            for child in parser.commands.choices.values():
                found += handlers(child)
        return found

    named = [h for h in handlers(build_parser()) if h is not None]
    assert len(named) > 15
    for handler in named:
        assert callable(load_handler(handler)), handler
