"""File triggers watching real folders in tmp_path, starting real runs into a real journal."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from opsflow.catalog.builtin.triggers import FileParams
from opsflow.engine.journal import Journal
from opsflow.engine.local import LocalRunner
from opsflow.errors import OpsflowError
from opsflow.flowfile import parse_flow
from opsflow.model.flow import Flow
from opsflow.serve.filewatch import FileTrigger
from opsflow.serve.host import Runs, Target

#: Short enough for fast tests, long enough that a few chunks written in a row count as one.
DEBOUNCE_S = 0.3


def file_flow(**params: Any) -> Flow:
    document = {
        "format": "opsflow.flow",
        "version": 1,
        "id": "drops",
        "nodes": [
            {"id": "drop", "type": "trigger.file", "params": params},
            {
                "id": "remember",
                "type": "action.set_vars",
                "params": {"values": {"seen": "{{ trigger.path }}"}},
            },
        ],
        "edges": [{"id": "e0", "from": "drop", "port": "out", "to": "remember"}],
    }
    return parse_flow(json.dumps(document), "test")


class Watched:
    def __init__(self, journal: Journal, runs: Runs, debounce_s: float) -> None:
        self.journal = journal
        self.runs = runs
        self.debounce_s = debounce_s

    def payloads(self) -> list[dict[str, Any]]:
        runs = sorted(self.journal.list_runs(limit=100), key=lambda run: run.started_at)
        return [run.payload for run in runs]

    async def until(self, count: int, timeout_s: float = 10.0) -> list[dict[str, Any]]:
        """The payloads once `count` runs started, then after a further quiet spell."""
        async with asyncio.timeout(timeout_s):
            while len(self.payloads()) < count:
                await asyncio.sleep(0.02)
        await asyncio.sleep(self.debounce_s + 0.3)  # long enough for a wrong extra run to show
        while self.runs:
            await asyncio.sleep(0.01)
        return self.payloads()


@asynccontextmanager
async def watching(
    folder: Path, store: Path, debounce_s: float = DEBOUNCE_S, **params: Any
) -> AsyncIterator[Watched]:
    flow = file_flow(folder=str(folder), debounce_s=debounce_s, **params)
    with Journal(store) as journal:
        runs = Runs(log=lambda line: None)
        target = Target(flow.id, "drop", LocalRunner(flow, journal=journal))
        watch = FileParams.model_validate(flow.node_map()["drop"].params)
        trigger = FileTrigger(
            target.label, watch, partial(runs.fire, target), flow=flow.id, node="drop"
        )
        trigger.start()
        try:
            yield Watched(journal, runs, debounce_s)
        finally:
            await trigger.stop()
            await runs.stop()


def drive(tmp_path: Path, scenario: Callable[[Path, Path], Any]) -> None:
    folder = tmp_path / "drop"
    folder.mkdir(exist_ok=True)
    asyncio.run(scenario(folder, tmp_path / "runs.sqlite"))


def test_a_file_written_in_chunks_starts_exactly_one_run(tmp_path: Path) -> None:
    async def scenario(folder: Path, store: Path) -> None:
        # Chunks 0.1 s apart, well inside the quiet time even on a busy machine.
        async with watching(folder, store, debounce_s=1.0, glob="*.csv") as watched:
            with (folder / "export.csv").open("w") as handle:
                for index in range(5):
                    handle.write(f"row {index}\n")
                    handle.flush()
                    await asyncio.sleep(0.1)
            payloads = await watched.until(1)
        target = folder / "export.csv"
        assert payloads == [
            {"path": str(target), "event": "created", "folder": str(folder), "name": "export.csv"}
        ]
        with Journal(store) as journal:
            record = journal.list_runs()[0]
            assert record.trigger == "drop" and record.state == "succeeded"

    drive(tmp_path, scenario)


def test_only_names_matching_the_glob_start_runs(tmp_path: Path) -> None:
    async def scenario(folder: Path, store: Path) -> None:
        async with watching(folder, store, glob="*.csv") as watched:
            (folder / "notes.txt").write_text("skip me")
            (folder / "data.csv.part").write_text("skip me too")
            (folder / "b.csv").write_text("take me")
            (folder / "a.csv").write_text("and me")
            payloads = await watched.until(2)
        assert sorted(payload["name"] for payload in payloads) == ["a.csv", "b.csv"]

    drive(tmp_path, scenario)


def test_only_the_configured_events_start_runs(tmp_path: Path) -> None:
    async def scenario(folder: Path, store: Path) -> None:
        (folder / "old.log").write_text("stale")
        async with watching(folder, store, events=["deleted"]) as watched:
            (folder / "new.log").write_text("created, not deleted")
            (folder / "old.log").unlink()
            payloads = await watched.until(1)
        assert payloads == [
            {
                "path": str(folder / "old.log"),
                "event": "deleted",
                "folder": str(folder),
                "name": "old.log",
            }
        ]

    drive(tmp_path, scenario)


def test_a_move_reports_where_the_file_went(tmp_path: Path) -> None:
    async def scenario(folder: Path, store: Path) -> None:
        (folder / "in.csv").write_text("a,b\n")
        async with watching(folder, store, glob="*.csv", events=["moved"]) as watched:
            os.rename(folder / "in.csv", folder / "done.csv")
            payloads = await watched.until(1)
        assert payloads == [
            {
                "path": str(folder / "in.csv"),
                "event": "moved",
                "folder": str(folder),
                "name": "in.csv",
                "dest_path": str(folder / "done.csv"),
            }
        ]

    drive(tmp_path, scenario)


def test_write_then_rename_onto_a_matching_name_counts_as_created(tmp_path: Path) -> None:
    async def scenario(folder: Path, store: Path) -> None:
        async with watching(folder, store, glob="*.csv") as watched:
            (folder / "report.tmp").write_text("x" * 10_000)
            os.replace(folder / "report.tmp", folder / "report.csv")
            (folder / "first.csv").write_text("1")
            os.replace(folder / "first.csv", folder / "renamed.csv")
            payloads = await watched.until(2)
        assert sorted((p["name"], p["event"]) for p in payloads) == [
            ("renamed.csv", "created"),
            ("report.csv", "created"),
        ]

    drive(tmp_path, scenario)


def test_subfolders_are_watched_only_when_recursive(tmp_path: Path) -> None:
    async def scenario(folder: Path, store: Path) -> None:
        (folder / "deep").mkdir()
        async with watching(folder, store, recursive=True) as watched:
            (folder / "deep" / "inner.txt").write_text("found")
            payloads = await watched.until(1)
        assert [(p["folder"], p["name"]) for p in payloads] == [(str(folder / "deep"), "inner.txt")]
        async with watching(folder, store) as watched:
            (folder / "deep" / "ignored.txt").write_text("not watched")
            (folder / "top.txt").write_text("watched")
            payloads = await watched.until(2)
        assert [p["name"] for p in payloads] == ["inner.txt", "top.txt"]

    drive(tmp_path, scenario)


def test_a_missing_folder_stops_start_up_with_a_sentence(tmp_path: Path) -> None:
    flow = file_flow(folder=str(tmp_path / "nowhere"))
    params = FileParams.model_validate(flow.node_map()["drop"].params)
    with pytest.raises(OpsflowError) as caught:
        FileTrigger("drops/drop", params, _never, flow="drops", node="drop")
    assert str(caught.value) == (
        f"file trigger 'drop' of flow 'drops' watches {tmp_path / 'nowhere'}, which does not "
        "exist; create the folder or fix params.folder"
    )
    (tmp_path / "plain").write_text("a file")
    params = params.model_copy(update={"folder": str(tmp_path / "plain")})
    with pytest.raises(OpsflowError, match="which is not a folder"):
        FileTrigger("drops/drop", params, _never, flow="drops", node="drop")


def test_describe_says_what_is_watched(tmp_path: Path) -> None:
    params = FileParams(folder=str(tmp_path), glob="*.csv", events=["created", "moved"])
    trigger = FileTrigger("drops/drop", params, _never, flow="drops", node="drop")
    assert trigger.describe() == f"file  drops/drop  watching {tmp_path} (*.csv; created, moved)"


async def _never(payload: dict[str, Any]) -> str | None:
    raise AssertionError("no run expected")
