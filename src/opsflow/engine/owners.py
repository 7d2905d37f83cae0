"""Who drives a run: this process's identity, and whether another process is provably gone.

A run is driven by exactly one process (its owner). The journal keeps one row per
process that drives runs (`ProcessRecord`: host, boot, pid, the pid's start time, a
heartbeat) and each active run names its owner. Another process may take a run over
only when its owner is provably gone:

- same host and boot, and the pid no longer runs with the recorded start time (exact
  on Linux, where /proc gives the start time; elsewhere, the pid no longer exists);
- the host rebooted since (another boot id);
- another host, and the heartbeat is older than `STALE_AFTER_S`;
- the owner's row is missing (it closed its journal, or the run predates owners).

A live owner on this host is never taken over however old its heartbeat: a stuck
process must be stopped by a person first, and the refusal names its pid.
"""

from __future__ import annotations

import os
import socket
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import datetime

#: How often a process that owns runs refreshes its heartbeat.
HEARTBEAT_S = 5.0
#: After how long without a heartbeat an owner on another host counts as gone.
STALE_AFTER_S = 60.0


@dataclass(frozen=True)
class ProcessRecord:
    """A process that drives (or drove) runs of the journal."""

    id: str
    host: str
    boot: str | None
    pid: int
    #: The pid's start time as the OS tells it (Linux: clock ticks since boot), or None.
    start: str | None
    role: str
    began_at: float
    heartbeat: float

    def describe(self) -> str:
        """`opsflow serve (pid 4242 on web01, since 2026-12-08 10:02:11)`."""
        since = datetime.fromtimestamp(self.began_at).strftime("%Y-%m-%d %H:%M:%S")
        return f"{self.role} (pid {self.pid} on {self.host}, since {since})"

    def gone(self, now: float | None = None) -> bool:
        """Whether this process provably no longer runs (see the module docstring)."""
        me = this_process()
        now = time.time() if now is None else now
        if self.host != me.host:
            return now - self.heartbeat > STALE_AFTER_S
        if self.boot is not None and me.boot is not None and self.boot != me.boot:
            return True
        return not _pid_runs(self.pid, self.start)


@dataclass(frozen=True)
class _Identity:
    id: str
    host: str
    boot: str | None
    pid: int
    start: str | None


_identity: _Identity | None = None


def this_process() -> _Identity:
    """This process's identity (computed again after a fork)."""
    global _identity
    pid = os.getpid()
    if _identity is None or _identity.pid != pid:
        _identity = _Identity(uuid.uuid4().hex, socket.gethostname(), _boot_id(), pid, _start(pid))
    return _identity


def role_of_this_process() -> str:
    """How people know this process: `opsflow run`, `opsflow serve`, `Opsflow Studio`, ..."""
    return _role


_role = "opsflow"


def set_role(role: str) -> None:
    """Say what this process is, for the sentences that name a run's owner."""
    global _role
    _role = role


def _boot_id() -> str | None:
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as file:
            return file.read().strip() or None
    except OSError:
        return None


def _start(pid: int) -> str | None:
    """The pid's start time in clock ticks since boot (Linux), or None where unknown."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as file:
            stat = file.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ')'.
    fields = stat[stat.rfind(")") + 2 :].split()
    return fields[19] if len(fields) > 19 else None


def _pid_runs(pid: int, start: str | None) -> bool:
    """Whether the pid runs (with that start time where the OS tells it)."""
    if start is not None and os.path.isdir("/proc/self"):
        return _start(pid) == start
    return process_exists(pid)


def process_exists(pid: int) -> bool:
    """Whether a process with this pid exists (any owner), without disturbing it."""
    if pid == os.getpid():
        return True
    if sys.platform == "win32":  # os.kill(pid, 0) would terminate the process on Windows
        import ctypes

        kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined,unused-ignore]
        handle = kernel32.OpenProcess(0x1000, False, pid)  # query limited information
        if not handle:
            return False
        kernel32.CloseHandle(handle)
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True
