"""Autosave to recovery files, and finding what a crashed Studio left behind.

Each open window writes its unsaved flow to `<state>/recovery/<key>.flow.json`
with a small `<key>.json` beside it (the file it belongs to, the process that
wrote it, when). A clean save or close deletes both; files whose process is
gone at the next start are offered for recovery.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from opsflow.atomicfile import write_atomic
from opsflow.engine.owners import process_exists


def recovery_folder() -> Path:
    override = os.environ.get("OPSFLOW_RECOVERY_DIR")
    if override:
        return Path(override)
    return platformdirs.user_state_path("opsflow") / "recovery"


@dataclass(frozen=True)
class Recoverable:
    """An autosaved flow whose Studio did not close cleanly."""

    flow_file: Path
    info_file: Path
    original: Path | None
    saved_at: float

    def describe(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.saved_at))
        name = str(self.original) if self.original else "an unsaved new flow"
        return f"{name} (autosaved {when})"

    def discard(self) -> None:
        for path in (self.flow_file, self.info_file):
            path.unlink(missing_ok=True)


class Autosaver:
    """Writes one window's unsaved text to its recovery file."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder or recovery_folder()
        self.key = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"

    @property
    def flow_file(self) -> Path:
        return self.folder / f"{self.key}.flow.json"

    @property
    def info_file(self) -> Path:
        return self.folder / f"{self.key}.json"

    def save(self, text: str, original: Path | None) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        write_atomic(self.flow_file, text.encode("utf-8"))
        info = {
            "original": str(original) if original else None,
            "pid": os.getpid(),
            "saved_at": time.time(),
        }
        write_atomic(self.info_file, json.dumps(info).encode("utf-8"))

    def clear(self) -> None:
        for path in (self.flow_file, self.info_file):
            path.unlink(missing_ok=True)


def find_recoverable(folder: Path | None = None) -> list[Recoverable]:
    """Autosaves left by Studios that are no longer running, newest first."""
    folder = folder or recovery_folder()
    found: list[Recoverable] = []
    if not folder.is_dir():
        return found
    for info_file in folder.glob("*.json"):
        if info_file.name.endswith(".flow.json"):
            continue
        flow_file = info_file.with_name(info_file.stem + ".flow.json")
        try:
            info = json.loads(info_file.read_text(encoding="utf-8"))
            pid = int(info["pid"])
            saved_at = float(info["saved_at"])
            original = Path(info["original"]) if info.get("original") else None
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if not flow_file.is_file() or process_exists(pid):
            continue
        found.append(Recoverable(flow_file, info_file, original, saved_at))
    return sorted(found, key=lambda r: r.saved_at, reverse=True)
