"""Replacing a file atomically: a reader, or a crash, sees the old file or the new one, never
a mix. Every file Opsflow writes in place goes through `write_atomic`: flow files, the
Studio's recovery files, the credentials file and its index, known_hosts, a flow's file steps.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

#: What to write: the bytes, or a function that writes them to the open temporary file.
Content = bytes | Callable[[BinaryIO], object]


def write_atomic(path: Path, content: Content, *, new_mode: int = 0o666) -> None:
    """Replace `path` with `content` through a temporary file in the same folder.

    The data, then the folder entry, reach the disk before this returns. The file keeps the
    permission bits of the one it replaces; a new file gets `new_mode` less the umask. On
    failure the temporary file is removed and `path` is left as it was.
    """
    folder = path.parent if str(path.parent) else Path(".")
    try:
        mode = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = new_mode & ~umask
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as handle:
            if isinstance(content, bytes):
                handle.write(content)
            else:
                content(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp_name, mode)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    _fsync_folder(folder)


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # not supported here (e.g. Windows); the rename is still atomic
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
