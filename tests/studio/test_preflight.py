"""The Studio's preflight: one sentence and exit 2 where Qt would abort, silence where Qt starts.

Each verdict is checked against what Qt really does in the same situation: no display, a live
Xvfb, and system libraries really hidden from the loader (a private mount namespace in which the
library folder lacks them), with PySide6's own plugins and the system's `ldd`.
"""

from __future__ import annotations

import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest

from opsflow.studio.preflight import (
    DEBIAN_PACKAGES,
    NOT_INSTALLED,
    install_advice,
    missing_libraries,
    platform_candidates,
    preflight,
    qt_import_problem,
    unresolved_libraries,
)

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="Qt's X11 and Wayland plugins")

SAMPLE = Path(__file__).resolve().parents[2] / "sample_flows" / "backup-verification.flow.json"
PYSIDE = Path(__import__("PySide6").__file__).parent
XCB_PLUGIN = PYSIDE / "Qt" / "plugins" / "platforms" / "libqxcb.so"
#: What decides Qt's platform plugin: each test states its own values of these.
DISPLAY_VARIABLES = (
    "DISPLAY",
    "WAYLAND_DISPLAY",
    "WAYLAND_SOCKET",
    "XDG_SESSION_TYPE",
    "QT_QPA_PLATFORM",
    "QT_QPA_PLATFORM_PLUGIN_PATH",
    "QT_PLUGIN_PATH",
)
#: A bare Qt start: what the Studio would do without the preflight.
QT_PROBE = "from PySide6.QtGui import QGuiApplication\nprint(QGuiApplication([]).platformName())"

NO_DISPLAY = (
    "the Studio cannot open a window: no display was found (DISPLAY and WAYLAND_DISPLAY are not "
    "set); run it from a desktop session, or over SSH with `ssh -X`, or use the `opsflow` command "
    "line, which needs no display (QT_QPA_PLATFORM=offscreen starts the Studio without a window)"
)
ICCCM_AND_KEYSYMS = (
    "the Studio cannot open a window: Qt's X11 plugin needs libxcb-icccm.so.4 and "
    "libxcb-keysyms.so.1, which are not installed; on Debian/Ubuntu run `sudo apt-get install "
    "libxcb-icccm4 libxcb-keysyms1` (on a Wayland desktop, QT_QPA_PLATFORM=wayland does without "
    "them)"
)

#: `ldd PySide6/Qt/plugins/platforms/libqxcb.so` on Debian 12 with libxcb-icccm4 and
#: libxcb-keysyms1 hidden (the first 33 lines; the virtualenv moved to /srv/app).
LDD_WITH_TWO_MISSING = """\
\tlinux-vdso.so.1 (0x00007f6b49140000)
\tlibQt6XcbQpa.so.6 => {qt}/libQt6XcbQpa.so.6 (0x00007f6b49072000)
\tlibQt6Gui.so.6 => {qt}/libQt6Gui.so.6 (0x00007f6b48400000)
\tlibGL.so.1 => /lib/x86_64-linux-gnu/libGL.so.1 (0x00007f6b48fe2000)
\tlibQt6Core.so.6 => {qt}/libQt6Core.so.6 (0x00007f6b47c00000)
\tlibxkbcommon.so.0 => /lib/x86_64-linux-gnu/libxkbcommon.so.0 (0x00007f6b48f9a000)
\tlibxkbcommon-x11.so.0 => /lib/x86_64-linux-gnu/libxkbcommon-x11.so.0 (0x00007f6b48f8f000)
\tlibxcb-cursor.so.0 => /lib/x86_64-linux-gnu/libxcb-cursor.so.0 (0x00007f6b48f88000)
\tlibxcb-icccm.so.4 => not found
\tlibxcb-util.so.1 => /lib/x86_64-linux-gnu/libxcb-util.so.1 (0x00007f6b48f80000)
\tlibxcb-image.so.0 => /lib/x86_64-linux-gnu/libxcb-image.so.0 (0x00007f6b48f7a000)
\tlibxcb-keysyms.so.1 => not found
\tlibxcb-randr.so.0 => /lib/x86_64-linux-gnu/libxcb-randr.so.0 (0x00007f6b48f67000)
\tlibxcb-render-util.so.0 => /lib/x86_64-linux-gnu/libxcb-render-util.so.0 (0x00007f6b47800000)
\tlibxcb-shm.so.0 => /lib/x86_64-linux-gnu/libxcb-shm.so.0 (0x00007f6b48f62000)
\tlibxcb-sync.so.1 => /lib/x86_64-linux-gnu/libxcb-sync.so.1 (0x00007f6b48f5a000)
\tlibxcb-xfixes.so.0 => /lib/x86_64-linux-gnu/libxcb-xfixes.so.0 (0x00007f6b48f51000)
\tlibxcb-render.so.0 => /lib/x86_64-linux-gnu/libxcb-render.so.0 (0x00007f6b48f41000)
\tlibxcb-shape.so.0 => /lib/x86_64-linux-gnu/libxcb-shape.so.0 (0x00007f6b48f3c000)
\tlibxcb-xkb.so.1 => /lib/x86_64-linux-gnu/libxcb-xkb.so.1 (0x00007f6b48f1f000)
\tlibxcb.so.1 => /lib/x86_64-linux-gnu/libxcb.so.1 (0x00007f6b483d6000)
\tlibX11-xcb.so.1 => /lib/x86_64-linux-gnu/libX11-xcb.so.1 (0x00007f6b48f1a000)
\tlibX11.so.6 => /lib/x86_64-linux-gnu/libX11.so.6 (0x00007f6b47abe000)
\tlibstdc++.so.6 => /lib/x86_64-linux-gnu/libstdc++.so.6 (0x00007f6b47400000)
\tlibm.so.6 => /lib/x86_64-linux-gnu/libm.so.6 (0x00007f6b47720000)
\tlibgcc_s.so.1 => /lib/x86_64-linux-gnu/libgcc_s.so.1 (0x00007f6b483b6000)
\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f6b4721e000)
\tlibxcb-icccm.so.4 => not found
\tlibxcb-keysyms.so.1 => not found
\tlibglib-2.0.so.0 => /lib/x86_64-linux-gnu/libglib-2.0.so.0 (0x00007f6b470e6000)
\tlibgthread-2.0.so.0 => /lib/x86_64-linux-gnu/libgthread-2.0.so.0 (0x00007f6b48f11000)
\tlibEGL.so.1 => /lib/x86_64-linux-gnu/libEGL.so.1 (0x00007f6b483a0000)
\tlibfontconfig.so.1 => /lib/x86_64-linux-gnu/libfontconfig.so.1 (0x00007f6b48355000)
""".replace(
    "{qt}", "/srv/app/.venv/lib/python3.11/site-packages/PySide6/Qt/plugins/platforms/../../lib"
)


def environment(tmp_path: Path, **values: str) -> dict[str, str]:
    """This process's environment without its display settings, with `values`, state in tmp."""
    env = {name: value for name, value in os.environ.items() if name not in DISPLAY_VARIABLES}
    env.update(
        OPSFLOW_STORE=str(tmp_path / "runs.sqlite"),
        OPSFLOW_RECOVERY_DIR=str(tmp_path / "recovery"),
        OPSFLOW_CREDENTIALS_FILE=str(tmp_path / "credentials.json"),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
    )
    env.update(values)
    return env


def run(argv: Sequence[str], env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """Run `argv` without leaving a core dump behind when Qt aborts."""
    return subprocess.run(
        ["sh", "-c", 'ulimit -c 0; exec "$@"', "sh", *argv],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def qt_tried(env: Mapping[str, str]) -> list[str]:
    """The platform plugins a bare Qt start loads, in order (from QT_DEBUG_PLUGINS's log)."""
    result = run([sys.executable, "-c", QT_PROBE], {**env, "QT_DEBUG_PLUGINS": "1"})
    return re.findall(r'platforms/libq(\w+)\.so" (?:loaded library|cannot load)', result.stderr)


# -- which plugin Qt uses -------------------------------------------------------------------


@pytest.mark.parametrize(
    "values",
    [{}, {"WAYLAND_DISPLAY": "wayland-absent"}, {"XDG_SESSION_TYPE": "wayland"}],
    ids=["nothing", "wayland-display", "wayland-session"],
)
def test_candidates_are_the_plugins_qt_tries_in_its_order(
    tmp_path: Path, values: dict[str, str]
) -> None:
    """With no display at all Qt tries every candidate, then aborts: the order is visible."""
    env = environment(tmp_path, XDG_RUNTIME_DIR=str(tmp_path), **values)
    assert qt_tried(env) == platform_candidates(env)
    assert len(platform_candidates(env)) == 1 + bool(values)


def test_qt_qpa_platform_replaces_the_candidates() -> None:
    assert platform_candidates({"QT_QPA_PLATFORM": "vnc:size=800x600", "DISPLAY": ":0"}) == ["vnc"]
    assert platform_candidates({"QT_QPA_PLATFORM": "xcb;wayland"}) == ["xcb", "wayland"]


# -- no display -----------------------------------------------------------------------------


def test_opsflow_studio_without_a_display_says_so_and_exits_2(tmp_path: Path) -> None:
    env = environment(tmp_path)
    assert run([sys.executable, "-c", QT_PROBE], env).returncode == -signal.SIGABRT  # Qt alone

    result = run([sys.executable, "-m", "opsflow", "studio", str(SAMPLE)], env)

    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == f"opsflow: {NO_DISPLAY}\n"


def test_opsflow_studio_entry_without_a_display_says_so_and_exits_2(tmp_path: Path) -> None:
    result = run(
        [sys.executable, "-m", "opsflow.cli.studio_command", str(SAMPLE)], environment(tmp_path)
    )
    assert (result.returncode, result.stderr) == (2, f"opsflow-studio: {NO_DISPLAY}\n")


def test_an_explicit_platform_without_its_display_is_named(tmp_path: Path) -> None:
    assert preflight(environment(tmp_path, QT_QPA_PLATFORM="xcb")) == NO_DISPLAY.replace(
        "found (DISPLAY and WAYLAND_DISPLAY are not set)",
        "found for QT_QPA_PLATFORM=xcb (DISPLAY is not set)",
    )


def test_a_wayland_display_without_a_compositor_is_no_display(tmp_path: Path) -> None:
    env = environment(tmp_path, WAYLAND_DISPLAY="wayland-absent", XDG_RUNTIME_DIR=str(tmp_path))
    assert preflight(env) == NO_DISPLAY.replace(
        "(DISPLAY and WAYLAND_DISPLAY are not set)",
        "(WAYLAND_DISPLAY=wayland-absent names no running compositor and DISPLAY is not set)",
    )


def test_a_listening_wayland_socket_counts_as_a_display(tmp_path: Path) -> None:
    with socket.socket(socket.AF_UNIX) as compositor:
        compositor.bind(str(tmp_path / "wayland-t"))
        compositor.listen()
        verdict = preflight(
            environment(tmp_path, WAYLAND_DISPLAY="wayland-t", XDG_RUNTIME_DIR=str(tmp_path))
        )
    # The display is there; what may remain is the plugin's own libraries on this machine.
    assert verdict is None or verdict.startswith(
        "the Studio cannot open a window: Qt's Wayland plugin needs "
    )


@pytest.mark.parametrize("platform", ["offscreen", "minimal", "vnc"])
def test_platforms_without_a_display_pass(tmp_path: Path, platform: str) -> None:
    assert preflight(environment(tmp_path, QT_QPA_PLATFORM=platform)) is None


def test_other_systems_are_left_to_qt(tmp_path: Path) -> None:
    assert preflight(environment(tmp_path), system="darwin") is None


# -- a live X server ------------------------------------------------------------------------


@pytest.fixture
def x_display() -> Iterator[str]:
    """A virtual X server on a display number it picks itself (-displayfd): no clash."""
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed (`make test` installs it: tools/test_peers.sh)")
    ready, told = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(told), "-nolisten", "tcp", "-screen", "0", "800x600x24"],
        pass_fds=(told,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(told)
    try:
        assert select.select([ready], [], [], 30)[0], "Xvfb did not start within 30 s"
        number = os.read(ready, 32).decode().strip()
        assert number.isdigit(), f"Xvfb did not start (exit {server.poll()})"
        yield f":{number}"
    finally:
        os.close(ready)
        server.terminate()
        server.wait(10)


def test_with_a_live_x_server_the_preflight_agrees_with_qt(tmp_path: Path, x_display: str) -> None:
    env = environment(tmp_path, DISPLAY=x_display)
    qt = run([sys.executable, "-c", QT_PROBE], env)
    verdict = preflight(env)
    if unresolved_libraries(XCB_PLUGIN, env):  # a machine without Qt's X11 libraries
        assert qt.returncode == -signal.SIGABRT
        assert verdict is not None and "Qt's X11 plugin needs" in verdict
    else:
        assert (qt.returncode, qt.stdout) == (0, "xcb\n"), qt.stderr
        assert verdict is None


# -- libraries really missing ---------------------------------------------------------------


def test_missing_libraries_are_read_from_ldd_once_each_in_order() -> None:
    assert missing_libraries(LDD_WITH_TWO_MISSING) == ["libxcb-icccm.so.4", "libxcb-keysyms.so.1"]
    assert missing_libraries(LDD_WITH_TWO_MISSING.replace(" => not found", " => /lib/x.so")) == []


def test_install_advice_names_packages_and_what_it_cannot_name() -> None:
    assert install_advice(["libxcb-icccm.so.4", "libxcb-keysyms.so.1", "libGL.so.1"]) == (
        "on Debian/Ubuntu run `sudo apt-get install libxcb-icccm4 libxcb-keysyms1 libgl1`"
    )
    assert install_advice(["libglib-2.0.so.0", "libgthread-2.0.so.0"]) == (
        "on Debian/Ubuntu run `sudo apt-get install libglib2.0-0`"
    )
    assert install_advice(["libEGL.so.1", "libQt6Gui.so.6", "libfoo.so.3"]) == (
        "on Debian/Ubuntu run `sudo apt-get install libegl1`, and reinstall Qt, which ships "
        "libQt6Gui.so.6, with `pip install --force-reinstall 'opsflow[studio]'`, and install "
        "the package that provides libfoo.so.3 (`apt-file search libfoo.so.3` names it)"
    )


def test_each_soname_maps_to_the_package_that_installed_it_here() -> None:
    """dpkg says which package owns each library present on this machine."""
    if shutil.which("dpkg") is None:
        pytest.skip("not a Debian/Ubuntu system: no dpkg to ask")
    owners = subprocess.run(
        ["dpkg", "-S", *(f"*/{soname}" for soname in DEBIAN_PACKAGES)],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    found: dict[str, set[str]] = {}
    for line in owners.splitlines():
        packages, path = line.split(": ", 1)
        for package in packages.split(", "):
            found.setdefault(Path(path).name, set()).add(package.split(":")[0])
    present = {soname: found[soname] for soname in DEBIAN_PACKAGES if soname in found}
    assert {"libstdc++.so.6", "libz.so.1"} <= present.keys()  # on every Debian system
    assert {s: p for s, p in DEBIAN_PACKAGES.items() if s in present and p not in present[s]} == {}


def test_a_plugin_copied_away_from_qt_lacks_qts_own_libraries(tmp_path: Path) -> None:
    """A real ELF whose neighbours are missing: its RUNPATH ($ORIGIN/../../lib) finds nothing."""
    copy = tmp_path / "plugins" / "platforms" / "libqxcb.so"
    copy.parent.mkdir(parents=True)
    shutil.copy2(XCB_PLUGIN, copy)
    env = environment(tmp_path)
    assert unresolved_libraries(copy, env) == [
        "libQt6XcbQpa.so.6",
        "libQt6Gui.so.6",
        "libQt6Core.so.6",
    ]
    assert unresolved_libraries(XCB_PLUGIN, {**env, "PATH": str(tmp_path)}) is None  # no ldd


@pytest.fixture
def hide_libraries(tmp_path: Path) -> Iterator[HideLibraries]:
    """Runs commands in a mount namespace where some system libraries are really not there."""
    probe = subprocess.run(
        ["unshare", "--user", "--map-root-user", "--mount", "true"],
        capture_output=True,
        check=False,
    )
    if probe.returncode != 0:
        pytest.skip(f"this machine forbids user namespaces ({probe.stderr.decode().strip()})")
    yield HideLibraries(tmp_path / "namespace")


class HideLibraries:
    """`run(hidden, argv, env)`: the library folder is replaced by one without `hidden`."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.runs = 0

    def __call__(
        self, hidden: Sequence[str], argv: Sequence[str], env: Mapping[str, str]
    ) -> subprocess.CompletedProcess[str]:
        system = _system_folder(hidden[0])
        self.runs += 1
        original, without = self.work / f"original{self.runs}", self.work / f"without{self.runs}"
        original.mkdir(parents=True)
        without.mkdir()
        prefixes = tuple(soname.split(".so")[0] + ".so" for soname in hidden)
        for entry in system.iterdir():
            if not entry.name.startswith(prefixes):
                (without / entry.name).symlink_to(original / entry.name)
        # The original folder stays reachable (the links point into it) under another name.
        script = (
            'mount --bind "$1" "$2" && mount --bind "$3" "$1" && shift 3 && ulimit -c 0 && '
            'exec "$@"'
        )
        return subprocess.run(
            [
                *("unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script, "sh"),
                *(str(system), str(original), str(without), *argv),
            ],
            env=dict(env),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )


def _system_folder(soname: str) -> Path:
    """The real folder the loader finds `soname` in, as ldd of Qt's X11 plugin says."""
    listing = subprocess.run(["ldd", str(XCB_PLUGIN)], capture_output=True, text=True).stdout
    found = re.search(rf"^\s*{re.escape(soname)} => (\S+)", listing, re.MULTILINE)
    assert found, f"{soname} is not installed here, so it cannot be hidden"
    return Path(found.group(1)).resolve().parent


def test_missing_x11_libraries_are_named_with_their_packages(
    tmp_path: Path, x_display: str, hide_libraries: HideLibraries
) -> None:
    """The case Qt reports as "xcb-cursor0 or libxcb-cursor0 is needed", with a live X server."""
    hidden = ["libxcb-icccm.so.4", "libxcb-keysyms.so.1"]
    env = environment(tmp_path, DISPLAY=x_display)

    qt = hide_libraries(hidden, [sys.executable, "-c", QT_PROBE], env)
    assert qt.returncode == -signal.SIGABRT
    assert "xcb-cursor0 or libxcb-cursor0 is needed" in qt.stderr  # Qt's misleading hint

    result = hide_libraries(hidden, [sys.executable, "-m", "opsflow", "studio", str(SAMPLE)], env)
    assert (result.returncode, result.stderr) == (2, f"opsflow: {ICCCM_AND_KEYSYMS}\n")


def test_a_library_qt_itself_needs_is_named_when_importing_fails(
    tmp_path: Path, hide_libraries: HideLibraries
) -> None:
    """Offscreen needs no X11 plugin, but QtGui itself needs libEGL: the import fails."""
    env = environment(tmp_path, QT_QPA_PLATFORM="offscreen")
    result = hide_libraries(
        ["libEGL.so.1"], [sys.executable, "-m", "opsflow", "studio", str(SAMPLE)], env
    )
    assert (result.returncode, result.stderr) == (
        2,
        "opsflow: the Studio cannot start: Qt needs libEGL.so.1, which is not installed; "
        "on Debian/Ubuntu run `sudo apt-get install libegl1`\n",
    )


# -- Qt not installed, or not Qt's fault ----------------------------------------------------


def test_without_pyside6_the_studio_extra_is_named(tmp_path: Path) -> None:
    """PySide6 made unimportable the way Python documents: a None entry in sys.modules."""
    code = (
        "import sys; sys.modules['PySide6'] = None\n"
        f"from opsflow.cli.main import main; sys.exit(main(['studio', {str(SAMPLE)!r}]))"
    )
    result = run([sys.executable, "-c", code], environment(tmp_path, QT_QPA_PLATFORM="offscreen"))
    assert (result.returncode, result.stderr) == (2, f"opsflow: {NOT_INSTALLED}\n")
    assert "pip install 'opsflow[studio]'" in NOT_INSTALLED and "make run" in NOT_INSTALLED


def test_a_broken_studio_module_is_reported_as_a_bug_not_as_missing_qt(tmp_path: Path) -> None:
    """It used to say "Qt is not available" (exit 2) for any ImportError, ours included."""
    code = (
        "import sys; sys.modules['opsflow.studio.mainwindow'] = None\n"
        f"from opsflow.cli.main import main; sys.exit(main(['studio', {str(SAMPLE)!r}]))"
    )
    result = run([sys.executable, "-c", code], environment(tmp_path, QT_QPA_PLATFORM="offscreen"))
    assert (result.returncode, result.stderr) == (
        70,
        "opsflow: internal error (ModuleNotFoundError: import of opsflow.studio.mainwindow halted; "
        "None in sys.modules); this is a bug — run again with OPSFLOW_DEBUG=1 and report the "
        "traceback\n",
    )


def test_an_import_error_of_opsflow_is_a_bug_not_a_qt_problem() -> None:
    assert qt_import_problem(ImportError("cannot import name 'x'", name="opsflow.engine")) is None
    assert qt_import_problem(ModuleNotFoundError("No module named 'PySide6'", name="PySide6")) == (
        NOT_INSTALLED
    )
