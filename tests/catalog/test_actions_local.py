"""The command, script and file action types: their parameters, rules and behaviour flags."""

from __future__ import annotations

from typing import Any

import pytest

from opsflow.catalog.builtin.actions_local import SPECS, FileParams, ScriptParams, ShellParams
from opsflow.catalog.fields import walk_strings
from tests.catalog.helpers import rejection

SPEC = {spec.type: spec for spec in SPECS}

SHELL_FULL: dict[str, Any] = {
    "command": ["systemctl", "restart", "{{ inputs.service }}"],
    "shell": False,
    "cwd": "/var/tmp",
    "env": {"SYSTEMD_PAGER": "", "TICKET": "{{ nodes.ticket.output.id }}"},
    "inherit_env": False,
    "stdin": "{{ vars.answer }}",
    "max_output_bytes": 65536,
    "success_exit_codes": [0, 3010],
}
SCRIPT_MINIMAL: dict[str, Any] = {"language": "bash", "body": "df -h /"}
SCRIPT_FULL: dict[str, Any] = {
    "language": "python",
    "body": "import sys, os\nprint(sys.argv[1], os.environ['LIMIT'])\n",
    "args": ["{{ inputs.host }}", "--verbose"],
    "env": {"LIMIT": "{{ vars.limit }}"},
    "cwd": "C:\\Jobs",
    "max_output_bytes": 4096,
    "success_exit_codes": [0, 1],
}
FILE_FULL: dict[str, Any] = {
    "operation": "copy",
    "path": "/var/log/app/{{ inputs.day }}.log",
    "destination": "/srv/archive/{{ inputs.day }}.log",
    "recursive": False,
    "overwrite": True,
    "create_dirs": True,
}


def test_file_doc_says_paths_outside_the_roots_are_refused() -> None:
    assert "settings.file_roots" in SPEC["action.file"].doc


def test_shell_minimal_gets_safe_defaults() -> None:
    params = ShellParams.model_validate({"command": ["uptime"]})
    assert params.shell is False
    assert params.inherit_env is True
    assert params.success_exit_codes == [0]
    assert params.max_output_bytes == 1024 * 1024
    assert params.cwd is None and params.stdin is None and params.env == {}


def test_shell_full_and_shell_line_are_valid() -> None:
    ShellParams.model_validate(SHELL_FULL)
    ShellParams.model_validate(
        {"command": ['df -h "$MOUNT" | tail -n 1'], "shell": True, "env": {"MOUNT": "{{ x }}"}}
    )
    ShellParams.model_validate({"command": ["C:\\Program Files\\Tool\\tool.exe", "/q"]})


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"command": []}, "command: List should have at least 1 item"),
        ({"command": "uptime"}, "command: Input should be a valid list"),
        ({"command": [" ", "x"]}, "must name the program"),
        ({"command": ["ls -la"]}, "put each argument in its own item"),
        ({"command": ["ls", "|", "wc"], "shell": True}, "must be exactly one item"),
        # Rendered data in a shell line would be run as code: templates are refused there.
        (
            {"command": ["df -h {{ inputs.mount }} | tail -n 1"], "shell": True},
            "with shell: true the line may not contain templates",
        ),
        ({"command": ["echo {% if x %}y{% endif %}"], "shell": True}, "may not contain templates"),
        ({"cwd": "tmp"}, "relative path"),
        ({"env": {"BAD-NAME": "x"}}, "env.BAD-NAME.[key]: String should match"),
        ({"success_exit_codes": [0, 0]}, "exit code 0 is listed twice"),
        ({"success_exit_codes": [2**32]}, "success_exit_codes.0: Input should be less"),
        ({"max_output_bytes": 10**9}, "max_output_bytes: Input should be less"),
        ({"timeout_s": 5}, "timeout_s: Extra inputs are not permitted"),
    ],
)
def test_shell_rules(changes: dict[str, Any], message: str) -> None:
    assert message in rejection(ShellParams, {"command": ["uptime"], **changes})


def test_script_minimal_and_full_are_valid() -> None:
    assert ScriptParams.model_validate(SCRIPT_MINIMAL).args == []
    assert ScriptParams.model_validate(SCRIPT_FULL).language == "python"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"language": "perl"}, "language: Input should be"),
        ({"body": ""}, "body: String should have at least 1 character"),
        ({"body": "  \n"}, "`body` is blank"),
        ({"body": "echo {{ inputs.host }}"}, "scripts are never templated"),
        ({"body": "echo {{inputs.host}}"}, "read it as $1"),
        ({"language": "powershell", "body": "Write-Host {{ vars.x }}"}, "read it as $args[0]"),
        ({"cwd": "jobs"}, "relative path"),
        ({"success_exit_codes": []}, "success_exit_codes: List should have at least 1 item"),
    ],
)
def test_script_rules(changes: dict[str, Any], message: str) -> None:
    assert message in rejection(ScriptParams, {**SCRIPT_MINIMAL, **changes})


def test_script_body_may_use_braces_that_are_not_run_templates() -> None:
    ScriptParams.model_validate({"language": "python", "body": "print(f'{{literal}}')"})
    ScriptParams.model_validate({"language": "bash", "body": "echo ${HOME} {a,b}"})


@pytest.mark.parametrize(
    "params",
    [
        {"operation": "read", "path": "/etc/hosts"},
        {"operation": "list", "path": "/var/log", "glob": "*.log", "recursive": True},
        {"operation": "disk_free", "path": "D:\\"},
        {"operation": "delete", "path": "/tmp/old", "recursive": True},
        {"operation": "write", "path": "/tmp/x.txt", "content": ""},
        {"operation": "move", "path": "/a", "destination": "/b", "overwrite": True},
        FILE_FULL,
    ],
)
def test_file_valid(params: dict[str, Any]) -> None:
    FileParams.model_validate(params)


def test_file_defaults() -> None:
    params = FileParams.model_validate({"operation": "list", "path": "/srv"})
    assert (params.glob, params.recursive, params.overwrite) == ("*", False, False)
    assert (params.encoding, params.max_read_bytes, params.create_dirs) == (
        "utf-8",
        10 * 1024 * 1024,
        False,
    )


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"operation": "chmod", "path": "/a"}, "operation: Input should be"),
        ({"operation": "copy", "path": "/a"}, "copy needs `destination`"),
        ({"operation": "move", "path": "/a"}, "move needs `destination`"),
        ({"operation": "write", "path": "/a"}, "write needs `content`"),
        ({"operation": "read", "path": "logs/app.log"}, "`path` is 'logs/app.log', a relative"),
        ({"operation": "copy", "path": "/a", "destination": "b"}, "`destination` is 'b'"),
        ({"operation": "read", "path": "/a\0b"}, "NUL character"),
        (
            {"operation": "read", "path": "/a", "destination": "/b"},
            "`destination` applies only when operation is copy or move, not read",
        ),
        ({"operation": "read", "path": "/a", "content": "x"}, "`content` applies only when"),
        ({"operation": "read", "path": "/a", "glob": "*.log"}, "`glob` applies only when"),
        ({"operation": "write", "path": "/a", "content": "", "recursive": True}, "`recursive`"),
        ({"operation": "delete", "path": "/a", "overwrite": True}, "`overwrite` applies only"),
        ({"operation": "list", "path": "/a", "encoding": "latin-1"}, "`encoding` applies only"),
        ({"operation": "write", "path": "/a", "content": "", "max_read_bytes": 5}, "max_read"),
        ({"operation": "delete", "path": "/a", "create_dirs": True}, "`create_dirs` applies"),
        ({"operation": "read", "path": "/a", "encoding": "klingon"}, "not a known text encoding"),
        ({"operation": "list", "path": "/a", "glob": "../*"}, "leaves the listed folder"),
        ({"operation": "list", "path": "/a", "glob": "/etc/*"}, "leaves the listed folder"),
        ({"operation": "read", "path": "/a", "max_read_bytes": 0}, "max_read_bytes: Input"),
    ],
)
def test_file_rules(params: dict[str, Any], message: str) -> None:
    assert message in rejection(FileParams, params)


def test_file_fields_at_their_defaults_are_accepted_for_any_operation() -> None:
    FileParams.model_validate(
        {
            "operation": "disk_free",
            "path": "/",
            "glob": "*",
            "recursive": False,
            "encoding": "utf-8",
        }
    )


@pytest.mark.parametrize(
    ("params", "side_effects", "idempotent"),
    [
        ({"operation": "read", "path": "/a"}, False, True),
        ({"operation": "list", "path": "/a"}, False, True),
        ({"operation": "disk_free", "path": "/a"}, False, True),
        ({"operation": "write", "path": "/a", "content": "x", "overwrite": True}, True, True),
        ({"operation": "write", "path": "/a", "content": "x"}, True, False),
        ({"operation": "copy", "path": "/a", "destination": "/b", "overwrite": True}, True, True),
        ({"operation": "copy", "path": "/a", "destination": "/b"}, True, False),
        ({"operation": "move", "path": "/a", "destination": "/b", "overwrite": True}, True, False),
        ({"operation": "delete", "path": "/a"}, True, False),
    ],
)
def test_file_flags_follow_the_operation(
    params: dict[str, Any], side_effects: bool, idempotent: bool
) -> None:
    validated = FileParams.model_validate(params)
    assert SPEC["action.file"].has_side_effects(validated) is side_effects
    assert SPEC["action.file"].is_idempotent(validated) is idempotent


@pytest.mark.parametrize("type_id", ["action.shell", "action.script"])
def test_commands_always_have_side_effects_and_are_not_idempotent(type_id: str) -> None:
    params = SPEC[type_id].params.model_validate(
        {"command": ["true"]} if type_id == "action.shell" else SCRIPT_MINIMAL
    )
    assert SPEC[type_id].has_side_effects(params) is True
    assert SPEC[type_id].is_idempotent(params) is False


def test_walk_strings_sees_templates_but_not_script_bodies_as_templates() -> None:
    shell = {(path, kind) for path, _, kind in walk_strings(ShellParams.model_validate(SHELL_FULL))}
    assert shell == {
        ("command[0]", "template"),
        ("command[1]", "template"),
        ("command[2]", "template"),
        ("cwd", "template"),
        ("env.SYSTEMD_PAGER", "template"),
        ("env.TICKET", "template"),
        ("stdin", "template"),
    }
    script = {
        (path, kind) for path, _, kind in walk_strings(ScriptParams.model_validate(SCRIPT_FULL))
    }
    assert script == {
        ("body", "script"),
        ("args[0]", "template"),
        ("args[1]", "template"),
        ("env.LIMIT", "template"),
        ("cwd", "template"),
    }
    file = {(path, kind) for path, _, kind in walk_strings(FileParams.model_validate(FILE_FULL))}
    assert file == {("path", "template"), ("destination", "template")}
