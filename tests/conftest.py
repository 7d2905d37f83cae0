"""Shared test setup: Qt runs offscreen, and flows are built from small dicts."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.processes import Launch, Opsflow, install_pack

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


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
