"""Which shell runs a `shell: true` line: `/bin/sh -c` on POSIX, cmd.exe on Windows.

Windows (untested: no Windows machine runs the tests yet): `%COMSPEC% /d /s /c LINE`, where
/d skips the AutoRun commands of the registry. `subprocess` joins this list into one command
line with `list2cmdline`, which writes a `"` inside LINE as `\\"`; cmd.exe does not read
backslash escapes, so a line with double quotes probably reaches it altered (a Windows CI job
must run one). Quoting and exit codes follow cmd.exe's rules, not the POSIX shell's.
"""

from __future__ import annotations

import os
import sys


def shell_argv(line: str) -> list[str]:
    """The argument list that runs `line`, as written, with this OS's shell."""
    if sys.platform == "win32":
        return [os.environ.get("COMSPEC", "cmd.exe"), "/d", "/s", "/c", line]
    return ["/bin/sh", "-c", line]
