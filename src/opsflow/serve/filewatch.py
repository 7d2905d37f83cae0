"""File triggers: a watchdog observer per trigger; once a changed file has been quiet for
`debounce_s`, one run starts with what happened to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

from opsflow.catalog.builtin.triggers import FileParams
from opsflow.errors import OpsflowError

if TYPE_CHECKING:
    from opsflow.serve.host import Fire

#: The watchdog event types a file trigger reacts to (opened/closed are ignored).
KINDS = frozenset({"created", "modified", "deleted", "moved"})
#: Seconds to wait for the observer's thread when stopping.
JOIN_TIMEOUT_S = 5.0


@dataclass
class _Change:
    """What happened to one path since it was last quiet."""

    kind: str
    source: str | None
    timer: asyncio.TimerHandle


class FileTrigger:
    """Watches one folder for one file trigger and starts a run per settled change.

    Changes to a path are merged until it has been quiet for `debounce_s`: created then
    modified stays created, a later delete wins. A file renamed onto a matching name from a
    non-matching one counts as created there (the usual write-then-rename), one renamed away
    to a non-matching name as deleted. Payload: {"path", "event", "folder" (the file's
    folder), "name"} and, for moves, "dest_path"; "path" is where the file was before a move.
    """

    def __init__(self, label: str, params: FileParams, fire: Fire, *, flow: str, node: str) -> None:
        self.label = label
        self.params = params
        self.fire = fire
        folder = Path(params.folder).expanduser()
        if not folder.is_dir():
            problem = "is not a folder" if folder.exists() else "does not exist"
            raise OpsflowError(
                f"file trigger '{node}' of flow '{flow}' watches {folder}, which {problem}; "
                "create the folder or fix params.folder"
            )
        self.folder = folder.resolve()
        self._pending: dict[str, _Change] = {}
        self._firing: set[asyncio.Task[str | None]] = set()
        self._observer: BaseObserver | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def describe(self) -> str:
        events = ", ".join(self.params.events)
        recursive = "; with subfolders" if self.params.recursive else ""
        return (
            f"file  {self.label}  watching {self.folder} ({self.params.glob}; {events}{recursive})"
        )

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        observer = Observer()
        handler = _Forward(self._loop, self._on_change)
        try:
            observer.schedule(handler, str(self.folder), recursive=self.params.recursive)
            observer.start()
        except OSError as exc:
            raise OpsflowError(
                f"cannot watch {self.folder} for {self.label}: {exc.strerror or exc}"
            ) from None
        self._observer = observer

    async def stop(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            await asyncio.to_thread(self._observer.join, JOIN_TIMEOUT_S)
            self._observer = None
        for change in self._pending.values():
            change.timer.cancel()
        self._pending.clear()
        for task in list(self._firing):
            task.cancel()
        if self._firing:
            await asyncio.wait(list(self._firing))

    # -- on the event loop ----------------------------------------------------------------

    def _matches(self, path: str) -> bool:
        return fnmatch.fnmatch(os.path.basename(path), self.params.glob)

    def _on_change(self, kind: str, path: str, dest: str | None) -> None:
        if kind != "moved" or dest is None:
            if self._matches(path):
                self._touch(path, kind)
            return
        before = self._pending.pop(path, None)
        if before is not None:
            before.timer.cancel()
        if self._matches(dest):
            if not self._matches(path) or (before is not None and before.kind == "created"):
                self._touch(dest, "created")
            else:
                source = before.source if before is not None and before.kind == "moved" else None
                self._touch(dest, "moved", source or path)
        elif self._matches(path):
            self._touch(path, "deleted")

    def _touch(self, path: str, kind: str, source: str | None = None) -> None:
        assert self._loop is not None
        previous = self._pending.pop(path, None)
        if previous is not None:
            previous.timer.cancel()
            if kind == "modified" and previous.kind in ("created", "moved"):
                kind, source = previous.kind, previous.source
        timer = self._loop.call_later(self.params.debounce_s, self._settle, path)
        self._pending[path] = _Change(kind, source, timer)

    def _settle(self, path: str) -> None:
        change = self._pending.pop(path, None)
        if change is None or change.kind not in self.params.events:
            return
        where = Path(change.source or path)
        payload: dict[str, Any] = {
            "path": str(where),
            "event": change.kind,
            "folder": str(where.parent),
            "name": where.name,
        }
        if change.kind == "moved":
            payload["dest_path"] = path
        assert self._loop is not None
        task = self._loop.create_task(self.fire(payload))
        self._firing.add(task)
        task.add_done_callback(self._firing.discard)


class _Forward(FileSystemEventHandler):
    """Hands file events from watchdog's thread to the event loop."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        callback: Callable[[str, str, str | None], None],
    ) -> None:
        super().__init__()
        self.loop = loop
        self.callback = callback

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.is_directory or event.event_type not in KINDS:
            return
        path = os.fsdecode(event.src_path)
        dest = os.fsdecode(event.dest_path) if event.event_type == "moved" else None
        with contextlib.suppress(RuntimeError):  # the loop closed while the observer stopped
            self.loop.call_soon_threadsafe(self.callback, event.event_type, path, dest)
