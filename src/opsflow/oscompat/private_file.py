"""Files only this user may use: the credentials file, the run journal, known_hosts.

POSIX: private means no permission bit for group or others, what `chmod 600` gives; such
files are created, or set, with mode 0600 (`PRIVATE_MODE`).

Windows (untested: no Windows machine runs the tests yet): mode bits say nothing there
(every file reports 0o666, or 0o444 when read-only), so `privacy_problem` checks nothing and
reports no problem, and creating or setting 0600 only leaves the file writable. Privacy
then rests on the folder: a file created under the user's profile (the config and data
folders platformdirs gives, under %LOCALAPPDATA%) inherits an ACL that admits only that user,
SYSTEM and Administrators. No ACL is read or set here, so a file put elsewhere (say
`OPSFLOW_CREDENTIALS_FILE` on a shared drive) is not checked; reading its ACL
(GetNamedSecurityInfoW) would close that gap and needs a Windows machine to test.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

#: The mode of a private file on POSIX: read and write for its owner only.
PRIVATE_MODE = 0o600


def privacy_problem(path: Path) -> str | None:
    """Why other users may use `path` and how to stop it, or None when it is private.

    The text completes "PATH is not used because ...". Raises FileNotFoundError (or another
    OSError) when `path` cannot be looked at. Never a problem on Windows: see the module.
    """
    if sys.platform == "win32":
        return None
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        return (
            f"other users have access to it (mode {stat.S_IMODE(mode):04o}); run `chmod 600 {path}`"
        )
    return None


def create_private(path: Path) -> None:
    """Create `path` empty and private (mode 0600); FileExistsError when it already exists."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE))


def make_private(path: Path) -> None:
    """Take every permission of group and others away from the existing file `path` (0600)."""
    os.chmod(path, PRIVATE_MODE)
