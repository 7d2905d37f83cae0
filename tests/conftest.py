"""Shared test setup: Qt runs offscreen, the `opsflow` command runs in-process (`cli`) or as
real processes (`launch`), and Hypothesis has a steady profile for CI."""

from __future__ import annotations

import io
import os
import sys
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.database import DirectoryBasedExampleDatabase

from tests.processes import Launch, Opsflow, install_pack

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

#: Failing examples Hypothesis found, kept in the repository (see the README there).
EXAMPLES = Path(__file__).parent / "hypothesis-examples"
#: The Hypothesis profile: $HYPOTHESIS_PROFILE (`make unit` sets "ci"), else "ci" where
#: Hypothesis found itself on a CI service (it has loaded its own "ci" profile), else "dev".
PROFILE = os.environ.get("HYPOTHESIS_PROFILE") or (
    "ci" if settings.get_current_profile_name() == "ci" else "dev"
)

# The load varies with the other tests and programs on the machine: no deadline, and no
# health check that fails a test for being slow to generate data.
settings.register_profile(
    "dev",
    deadline=None,
    database=DirectoryBasedExampleDatabase(EXAMPLES),
    suppress_health_check=[HealthCheck.too_slow],
)
# CI: derandomized (the same examples on every run, whatever ran before), the kept failing
# examples tried first, and a failure prints a blob that reproduces it. Hypothesis refuses
# derandomize=True and a database in one settings object (the first implies no database),
# so the database is given on top of the derandomized settings, where it is used.
derandomized = settings(settings.get_profile("dev"), derandomize=True, print_blob=True)
settings.register_profile("ci", derandomized, database=DirectoryBasedExampleDatabase(EXAMPLES))
settings.load_profile(PROFILE)


# -- `opsflow` in-process ------------------------------------------------------------------


@dataclass(frozen=True)
class CliResult:
    """What an `opsflow` command line did; named as `subprocess.CompletedProcess` names it."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str


class Cli(Protocol):
    def __call__(
        self,
        *args: str | Path,
        stdin: str = "",
        env: Mapping[str, str | None] | None = None,
        cwd: Path | None = None,
    ) -> CliResult: ...


#: The name of every journal writer thread (`opsflow.engine.journal_writer`).
WRITER_THREAD = "opsflow-journal-writer "


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Cli:
    """Run `opsflow ARGS` in this process through `opsflow.cli.main.main`.

    As a child process with its output piped and stdin from the null device would see it:
    stdin is `stdin` (not a terminal), help is 80 columns wide, no OPSFLOW_DEBUG. The user's
    folders are in tmp_path: config and data (the default journal, the credentials file, a
    file keyring's file). `env` sets (None: removes) variables, `cwd` is the folder. What this
    process holds globally is given back after each call: the environment, the folder, the
    role named in the journal. Every journal the command opened must be closed when it ends.
    """
    from opsflow.cli.main import main
    from opsflow.engine.owners import role_of_this_process, set_role

    def run(
        *args: str | Path,
        stdin: str = "",
        env: Mapping[str, str | None] | None = None,
        cwd: Path | None = None,
    ) -> CliResult:
        argv = [str(arg) for arg in args]
        capsys.readouterr()  # what the test printed before is not the command's
        writers = {t for t in threading.enumerate() if t.name.startswith(WRITER_THREAD)}
        role = role_of_this_process()
        with monkeypatch.context() as patch:
            patch.setattr(sys, "stdin", io.StringIO(stdin))
            patch.setenv("COLUMNS", "80")
            patch.setenv("OPSFLOW_STORE", str(tmp_path / "default-runs.sqlite"))
            patch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
            patch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
            patch.setenv("OPSFLOW_CREDENTIALS_FILE", str(tmp_path / "credentials.json"))
            patch.delenv("OPSFLOW_DEBUG", raising=False)
            for name, value in (env or {}).items():
                if value is None:
                    patch.delenv(name, raising=False)
                else:
                    patch.setenv(name, value)
            if cwd is not None:
                patch.chdir(cwd)
            try:
                code = main(argv)
            except SystemExit as exit:  # argparse: --help, --version, usage errors
                code = _exit_status(exit.code)
            finally:
                set_role(role)
        out, err = capsys.readouterr()
        assert "Traceback" not in out + err, err
        left = [
            t.name
            for t in threading.enumerate()
            if t.name.startswith(WRITER_THREAD) and t not in writers
        ]
        assert not left, f"opsflow {argv} left journals open: {left}"
        return CliResult(argv, code, out, err)

    return run


def _exit_status(code: object) -> int:
    """The status a process would exit with after `sys.exit(code)`."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


# -- `opsflow` as real processes -----------------------------------------------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A site folder with the ledger node pack installed (see tests/processes.py)."""
    folder = tmp_path_factory.mktemp("crashpack") / "site"
    install_pack(folder)
    return folder


@pytest.fixture
def launch(site: Path) -> Iterator[Launch]:
    """Start `python -m opsflow ARGS` with the pack installed; kill what a failure left running."""
    started: list[Opsflow] = []

    def start(*args: str | Path) -> Opsflow:
        process = Opsflow(site, *args)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.popen.returncode is None:
            process.kill()
