"""Private files with real modes: created 0600, refused when group or others have a bit."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from opsflow.oscompat.private_file import (
    PRIVATE_MODE,
    create_private,
    make_private,
    privacy_problem,
)

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX mode bits")


@pytest.fixture
def open_umask() -> Iterator[None]:
    """A umask that takes nothing away, so only the code under test decides the mode."""
    previous = os.umask(0)
    yield
    os.umask(previous)


@posix_only
def test_create_private_makes_an_empty_0600_file(tmp_path: Path, open_umask: None) -> None:
    path = tmp_path / "secret.json"
    create_private(path)
    assert path.read_bytes() == b""
    assert path.stat().st_mode & 0o777 == PRIVATE_MODE == 0o600
    assert privacy_problem(path) is None


def test_create_private_never_replaces_a_file(tmp_path: Path) -> None:
    path = tmp_path / "secret.json"
    path.write_text("kept")
    with pytest.raises(FileExistsError):
        create_private(path)
    assert path.read_text() == "kept"


@posix_only
@pytest.mark.parametrize("mode", [0o640, 0o604, 0o610, 0o601, 0o660, 0o644, 0o777])
def test_any_bit_for_group_or_others_is_a_problem(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "secret.json"
    path.write_text("{}")
    path.chmod(mode)
    problem = privacy_problem(path)
    assert problem == (f"other users have access to it (mode {mode:04o}); run `chmod 600 {path}`")


@posix_only
@pytest.mark.parametrize("mode", [0o600, 0o400, 0o700])
def test_bits_for_the_owner_only_are_private(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "secret.json"
    path.write_text("{}")
    path.chmod(mode)
    assert privacy_problem(path) is None


@posix_only
def test_make_private_takes_away_what_others_had(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    path.write_text("x")
    path.chmod(0o664)
    make_private(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert privacy_problem(path) is None


@posix_only
def test_a_missing_file_raises_rather_than_passing(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        privacy_problem(tmp_path / "missing.json")


@pytest.mark.skipif(sys.platform != "win32", reason="Windows")
def test_windows_reports_no_problem_for_a_file_of_the_profile(tmp_path: Path) -> None:
    # Mode bits mean nothing there; privacy rests on the profile folder's ACL (module docs).
    path = tmp_path / "secret.json"
    create_private(path)
    make_private(path)
    assert privacy_problem(path) is None
    path.write_text("{}")  # still writable: 0600 only kept the read-only flag off
