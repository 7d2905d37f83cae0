"""The set-up scripts `make run` and `make test` rely on, run for real.

`tools/venv.sh` makes or repairs a virtualenv; `tools/test_peers.sh` installs (or names) the
programs the tests start as real peers. Where the condition cannot be produced on this machine
(a Python without its venv part, a user who is not root), a stand-in program on PATH plays it.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_SH = ROOT / "tools" / "venv.sh"
PEERS_SH = ROOT / "tools" / "test_peers.sh"


def script(path: Path, text: str) -> Path:
    path.write_text("#!/bin/sh\n" + text, encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def run_sh(*args: str | Path, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["/bin/sh", *map(str, args)],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_half_made_venv_is_made_again(tmp_path: Path) -> None:
    # `python3 -m venv` on a Debian without python3-venv leaves exactly this: a venv with no pip.
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", "env"], cwd=tmp_path, check=True)
    result = run_sh(VENV_SH, "env", cwd=tmp_path, PYTHON=sys.executable)
    assert result.returncode == 0, result.stderr
    assert "env is incomplete (its python or pip does not run); making it again." in result.stdout
    pip = subprocess.run(
        [tmp_path / "env" / "bin" / "python", "-m", "pip", "--version"], capture_output=True
    )
    assert pip.returncode == 0


def test_a_working_venv_is_left_alone(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "venv", "env"], cwd=tmp_path, check=True)
    marker = tmp_path / "env" / "kept"
    marker.write_text("", encoding="utf-8")
    result = run_sh(VENV_SH, "env", cwd=tmp_path, PYTHON=sys.executable)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert marker.exists()


def test_a_python_without_venv_gets_the_package_to_install(tmp_path: Path) -> None:
    # A stand-in for Debian's python3 without python3-venv: `-m venv` leaves a folder and
    # prints Debian's own message; everything else goes to the real interpreter.
    debian_python = script(
        tmp_path / "python3",
        f"""if [ "$1" = -m ] && [ "$2" = venv ]; then
  mkdir -p "$3/bin"
  echo "The virtual environment was not created successfully because ensurepip is not"
  echo "available.  On Debian/Ubuntu systems, you need to install the python3-venv package"
  exit 1
fi
exec "{sys.executable}" "$@"
""",
    )
    result = run_sh(VENV_SH, ".venv", cwd=tmp_path, PYTHON=str(debian_python))
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert result.returncode == 2
    assert result.stderr == (
        f"Cannot create .venv: {debian_python} cannot make virtualenvs because its venv/ensurepip"
        " part is not installed; on Debian/Ubuntu run 'sudo apt-get install python3-venv"
        f" python{version}-venv', then run make again.\n"
    )
    assert not (tmp_path / ".venv").exists()  # nothing half-made is left for the next make


def test_a_missing_or_old_python_is_named(tmp_path: Path) -> None:
    result = run_sh(VENV_SH, ".venv", cwd=tmp_path, PYTHON="python2.99-missing")
    assert result.returncode == 2
    assert result.stderr.startswith("Cannot create .venv: python2.99-missing was not found;")
    old = script(tmp_path / "python3", 'case "$1" in -V) echo "Python 3.9.2";; *) exit 1;; esac\n')
    result = run_sh(VENV_SH, ".venv", cwd=tmp_path, PYTHON=str(old))
    assert result.returncode == 2
    assert "Opsflow needs Python 3.11 or newer and" in result.stderr
    assert "is Python 3.9.2;" in result.stderr


def test_missing_peers_are_named_with_the_command_to_run(tmp_path: Path) -> None:
    # Not root (a stand-in `id`), on a system with apt-get, with only the shell's own tools on
    # PATH: every peer that is not in /usr/sbin or /sbin is missing.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script(bin_dir / "id", "echo 1000\n")
    script(bin_dir / "apt-get", "echo apt-get must not run when not root >&2; exit 99\n")
    result = run_sh(PEERS_SH, cwd=ROOT, PATH=str(bin_dir))
    assert result.returncode == 2
    line = result.stderr.strip()
    assert line.startswith(
        "make test needs programs its tests start as real peers; run 'sudo apt-get install "
    )
    assert line.endswith("', then make test again.")
    packages = line.split("install ")[1].split("'")[0].split()
    assert {"openssh-client", "openssl", "xvfb", "xdotool"} <= set(packages)
    assert len(packages) == len(set(packages))


def test_every_peer_is_there_after_make_test_set_up() -> None:
    # make test runs tools/test_peers.sh before the suite: on this machine it finds everything.
    result = run_sh(PEERS_SH, cwd=ROOT)
    assert (result.returncode, result.stderr) == (0, "")


def test_the_app_needs_no_test_tool_and_no_file_keyring() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime = " ".join(project["dependencies"] + project["optional-dependencies"]["studio"])
    for tool in ("keyrings.alt", "pytest", "hypothesis", "mypy", "ruff", "dask", "aiosmtpd"):
        assert tool not in runtime
    assert "tzdata" in runtime
    assert not any("pyside6" in name.lower() for name in project["dependencies"])
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "$(VENV)/bin/python -m pip install --quiet -e '.[studio]'\n" in makefile
    assert makefile.count("[studio,test,bench]") == 1  # only the tools venv gets the tools
