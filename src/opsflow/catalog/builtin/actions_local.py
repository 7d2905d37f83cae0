"""Actions that run on this machine: commands, scripts and file operations.

It also owns the process settings the SSH action shares: environment, output cap, exit codes.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Collection, Mapping
from pathlib import PurePosixPath, PureWindowsPath
from typing import Annotated, Any, Literal, Self

from pydantic import AfterValidator, BaseModel, Field, field_validator, model_validator

from opsflow.catalog.fields import Params, kind_field, template
from opsflow.catalog.spec import ACTION_PORTS, NodeSpec
from opsflow.expr import CONTEXT_NAMES, is_template

MIB = 1024 * 1024

EnvName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")]
#: Windows exit codes are unsigned 32-bit (msiexec's 3010 means "reboot needed").
ExitCode = Annotated[int, Field(ge=0, le=2**32 - 1)]


def _distinct_codes(codes: list[int]) -> list[int]:
    for code in codes:
        if codes.count(code) > 1:
            raise ValueError(f"exit code {code} is listed twice")
    return codes


ExitCodes = Annotated[list[ExitCode], AfterValidator(_distinct_codes)]


def env_field() -> Any:
    return template(
        default_factory=dict,
        description="Environment variables for the command, NAME -> value; values are "
        "templates, the safe way to hand run data to a command.",
    )


def max_output_field() -> Any:
    return Field(
        MIB,
        ge=1024,
        le=64 * MIB,
        description="Most bytes of stdout and of stderr kept each; the rest is cut off "
        "and the output is marked truncated.",
    )


#: What a command run here or over SSH returns (the SSH action has no `duration_s`).
COMMAND_OUTPUT = {
    "exit_code": "integer",
    "stdout": "string",
    "stderr": "string",
    "stdout_truncated": "boolean",
    "stderr_truncated": "boolean",
}


def exit_codes_field() -> Any:
    return Field(
        default_factory=lambda: [0],
        min_length=1,
        max_length=64,
        description="Exit codes that count as success (taking `success`); any other takes "
        "`error`. E.g. [0, 3010] for installers that ask for a reboot.",
    )


def check_argv(command: list[str], field: str = "command") -> None:
    """The program (first item) of an argv list must be named."""
    if not command[0].strip():
        raise ValueError(f"`{field}[0]` is empty; it must name the program to run")


def check_literal_path(value: str | None, field: str) -> None:
    """A path without template syntax must be absolute: runs may start in any folder."""
    if value is None or is_template(value):
        return
    if "\0" in value:
        raise ValueError(f"`{field}` contains a NUL character")
    if not (PurePosixPath(value).is_absolute() or PureWindowsPath(value).is_absolute()):
        raise ValueError(
            f"`{field}` is '{value}', a relative path; give an absolute one "
            "(e.g. /srv/reports or C:\\Reports), since the flow may run from any folder"
        )


def check_only_for(
    params: BaseModel, selector: str, applies: Mapping[str, Collection[str]]
) -> None:
    """Refuse fields set away from their default for a `selector` value they do not apply to."""
    chosen = getattr(params, selector)
    for name, allowed in applies.items():
        if chosen in allowed or name not in params.model_fields_set:
            continue
        default = type(params).model_fields[name].get_default(call_default_factory=True)
        if getattr(params, name) != default:
            raise ValueError(
                f"`{name}` applies only when {selector} is {' or '.join(sorted(allowed))}, "
                f"not {chosen}; remove it or change `{selector}`"
            )


class ShellParams(Params):
    command: list[str] = template(
        min_length=1,
        max_length=1024,
        description="The program and its arguments, one item each, e.g. "
        '["systemctl", "restart", "{{ inputs.service }}"]. Each rendered item is one '
        "argument; nothing is parsed by a shell.",
    )
    shell: bool = Field(
        False,
        description="Run `command` as one line of the platform's shell instead, for pipes "
        "and redirections. `command` must then be a single item written out in full: "
        "templates are refused there, because rendered data would be read by the shell "
        'as code. Hand run data over in `env` and write "$NAME" in the line.',
    )
    cwd: str | None = template(
        None,
        description="Absolute working folder; empty means the runner's temporary folder.",
    )
    env: dict[EnvName, str] = env_field()
    inherit_env: bool = Field(
        True,
        description="Start from the runner's own environment and add `env`; off, the "
        "command sees only `env`.",
    )
    stdin: str | None = template(None, description="Text written to the command's stdin.")
    max_output_bytes: int = max_output_field()
    success_exit_codes: ExitCodes = exit_codes_field()

    @model_validator(mode="after")
    def _check(self) -> Self:
        check_argv(self.command)
        program = self.command[0]
        if self.shell and len(self.command) != 1:
            raise ValueError(
                "with shell: true, `command` must be exactly one item, the shell line "
                "(e.g. `df -h | tail -n 1`)"
            )
        if self.shell and is_template(program):
            raise ValueError(
                "with shell: true the line may not contain templates ({{ }} or {% %}): the "
                "shell would run rendered data as code; put the value in `env` (e.g. "
                '`MOUNT: "{{ inputs.mount }}"`) and write "$MOUNT" in the line, or use the '
                "argument-list form (shell: false), where each rendered item is one argument"
            )
        if (
            not self.shell
            and not is_template(program)
            and any(char.isspace() for char in program)
            and "/" not in program
            and "\\" not in program
        ):
            raise ValueError(
                f"`command[0]` is '{program}', a program name with spaces; put each "
                "argument in its own item (e.g. ['ls', '-la']), or set shell: true"
            )
        check_literal_path(self.cwd, "cwd")
        return self


ScriptLanguage = Literal["bash", "python", "powershell"]

_ARG_HINT: dict[str, str] = {"bash": "$1", "python": "sys.argv[1]", "powershell": "$args[0]"}
_TEMPLATE_IN_SCRIPT = re.compile(r"\{\{-?\s*(" + "|".join(sorted(CONTEXT_NAMES)) + r")\b")


class ScriptParams(Params):
    language: ScriptLanguage = Field(description="The interpreter that runs `body`.")
    body: str = kind_field(
        "script",
        min_length=1,
        max_length=256 * 1024,
        description="The script, run as written: it is never templated. Hand it run data "
        "through `args` or `env`.",
    )
    args: list[str] = template(
        default_factory=list,
        max_length=1024,
        description="Arguments for the script, one rendered value each ($1, sys.argv[1], "
        "$args[0]).",
    )
    env: dict[EnvName, str] = env_field()
    stdin: str | None = template(
        None,
        description="Text written to the script's standard input: the way to hand it large "
        "data such as a whole e-mail (arguments and environment are capped by the OS).",
    )
    cwd: str | None = template(
        None,
        description="Absolute working folder; empty means the runner's temporary folder.",
    )
    max_output_bytes: int = max_output_field()
    success_exit_codes: ExitCodes = exit_codes_field()

    @model_validator(mode="after")
    def _check(self) -> Self:
        if not self.body.strip():
            raise ValueError("`body` is blank; write the script to run")
        found = _TEMPLATE_IN_SCRIPT.search(self.body)
        if found:
            raise ValueError(
                f"`body` contains a template ('{found.group(0)}...'), but scripts are never "
                f"templated; put the value in `args` and read it as {_ARG_HINT[self.language]}, "
                "or pass it in `env`"
            )
        check_literal_path(self.cwd, "cwd")
        return self


FileOperation = Literal["copy", "move", "delete", "read", "write", "list", "disk_free"]
_READ_ONLY_FILE_OPERATIONS = frozenset({"read", "list", "disk_free"})

_FILE_FIELD_OPERATIONS: dict[str, tuple[str, ...]] = {
    "destination": ("copy", "move"),
    "content": ("write",),
    "glob": ("list",),
    "recursive": ("list", "copy", "delete"),
    "overwrite": ("copy", "move", "write"),
    "encoding": ("read", "write"),
    "max_read_bytes": ("read",),
    "create_dirs": ("copy", "move", "write"),
}


class FileParams(Params):
    operation: FileOperation = Field(description="What to do with `path`.")
    path: str = template(
        min_length=1,
        description="Absolute path of the file or folder; for disk_free, any path on the "
        "volume to measure.",
    )
    destination: str | None = template(
        None,
        description="copy and move: the new absolute path (the full path, not only the "
        "folder it goes into).",
    )
    content: str | None = template(None, description="write: the text to write.")
    glob: str = Field(
        "*",
        min_length=1,
        description="list: pattern of names to return, e.g. `*.log`; matched inside `path`.",
    )
    recursive: bool = Field(
        False,
        description="list: descend into subfolders. copy and delete: required to copy or "
        "delete a folder with everything in it.",
    )
    overwrite: bool = Field(
        False,
        description="copy, move and write: replace an existing target instead of failing.",
    )
    encoding: str = Field(
        "utf-8", min_length=1, description="read and write: the text encoding, e.g. utf-8."
    )
    max_read_bytes: int = Field(
        10 * MIB, ge=1, le=512 * MIB, description="read: largest file accepted, in bytes."
    )
    create_dirs: bool = Field(
        False,
        description="copy, move and write: create missing parent folders of the target.",
    )

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, encoding: str) -> str:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise ValueError(f"'{encoding}' is not a known text encoding") from None
        return encoding

    @field_validator("glob")
    @classmethod
    def _glob_inside(cls, glob: str) -> str:
        if glob.startswith(("/", "\\")) or ".." in re.split(r"[/\\]", glob):
            raise ValueError(
                f"glob '{glob}' leaves the listed folder; use a pattern relative to `path` "
                "without '..'"
            )
        return glob

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.operation in ("copy", "move") and self.destination is None:
            raise ValueError(f"{self.operation} needs `destination`, the new path")
        if self.operation == "write" and self.content is None:
            raise ValueError("write needs `content`, the text to write (may be empty)")
        check_only_for(self, "operation", _FILE_FIELD_OPERATIONS)
        check_literal_path(self.path, "path")
        check_literal_path(self.destination, "destination")
        return self


def _file_changes_things(params: FileParams) -> bool:
    return params.operation not in _READ_ONLY_FILE_OPERATIONS


def _file_idempotent(params: FileParams) -> bool:
    # Copy and write give the same result again only if they may replace their target.
    if params.operation in ("copy", "write"):
        return params.overwrite
    return params.operation in _READ_ONLY_FILE_OPERATIONS


SPECS = [
    NodeSpec(
        type="action.shell",
        category="action",
        title="Run command",
        doc="Runs a program on the machine running the flow and captures its exit code, "
        "stdout and stderr. The command is an argument list, so values from the run "
        "cannot inject shell syntax; switch on `shell` only for pipes or redirections "
        "(a shell line may not contain templates: hand data over in `env`). "
        "Use it to restart a service, call a CLI tool such as kubectl or az, or collect "
        "diagnostics.",
        icon="action-shell",
        params=ShellParams,
        executor="opsflow.executors.process:shell",
        ports=ACTION_PORTS,
        side_effects=True,
        idempotent=False,
        output_fields={**COMMAND_OUTPUT, "duration_s": "number"},
    ),
    NodeSpec(
        type="action.script",
        category="action",
        title="Run script",
        doc="Runs a Bash, Python or PowerShell script written in the node, passing run "
        "data as arguments and environment variables (the script itself is never "
        "templated). Use it for logic too long for one command: parsing a report, "
        "rotating logs, cleaning up a user profile.",
        icon="action-script",
        params=ScriptParams,
        executor="opsflow.executors.process:script",
        ports=ACTION_PORTS,
        side_effects=True,
        idempotent=False,
        output_fields={**COMMAND_OUTPUT, "duration_s": "number"},
    ),
    NodeSpec(
        type="action.file",
        category="action",
        title="File operation",
        doc="Copies, moves, deletes, reads, writes or lists files, or measures free disk "
        "space. Paths outside the flow's `settings.file_roots` are refused, and with no "
        "roots set every path is. Use it to archive logs, publish a report, check a "
        "drop folder or guard a volume before a backup.",
        icon="action-file",
        params=FileParams,
        executor="opsflow.executors.files:file_operation",
        ports=ACTION_PORTS,
        side_effects=_file_changes_things,
        idempotent=_file_idempotent,
    ),
]
