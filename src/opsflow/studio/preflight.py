"""Whether the Studio can open a window here, decided before Qt is loaded, said in one sentence.

Qt aborts (exit 134) when no platform plugin starts and blames libxcb-cursor0 whatever is missing,
so this repeats Qt 6's choice of plugin and checks its display and (on Linux, with `ldd`) its
libraries, never importing Qt and letting Qt try wherever it cannot tell.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

#: The Debian/Ubuntu package of each library Qt's X11 and Wayland plugins load (checked with
#: `dpkg -S` on Debian 12; Ubuntu 24.04's renamed "t64" packages provide these names).
DEBIAN_PACKAGES = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-xinerama.so.0": "libxcb-xinerama0",
    "libxcb-xinput.so.0": "libxcb-xinput0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-glx.so.0": "libxcb-glx0",
    "libxcb.so.1": "libxcb1",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libX11.so.6": "libx11-6",
    "libXau.so.6": "libxau6",
    "libXdmcp.so.6": "libxdmcp6",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libwayland-client.so.0": "libwayland-client0",
    "libwayland-cursor.so.0": "libwayland-cursor0",
    "libwayland-egl.so.1": "libwayland-egl1",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libGLX.so.0": "libglx0",
    "libOpenGL.so.0": "libopengl0",
    "libGLdispatch.so.0": "libglvnd0",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libpng16.so.16": "libpng16-16",
    "libdbus-1.so.3": "libdbus-1-3",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
    "libexpat.so.1": "libexpat1",
    "libz.so.1": "zlib1g",
    "libzstd.so.1": "libzstd1",
    "libbrotlidec.so.1": "libbrotli1",
    "libstdc++.so.6": "libstdc++6",
    "libgcc_s.so.1": "libgcc-s1",
}

#: The Studio as a pip install, for messages about Qt itself (PySide6) being absent or broken.
STUDIO_EXTRA = "opsflow[studio]"

NOT_INSTALLED = (
    "the Studio is not installed here: it needs Qt (PySide6), which the command line does not; "
    f"install it with `pip install '{STUDIO_EXTRA}'` (from a source checkout, `make run` "
    "installs it and opens the Studio)"
)

_NO_WINDOW = "the Studio cannot open a window"
_LDD_MISSING = re.compile(r"^\s*(\S+) => not found\s*$", re.MULTILINE)
_LOAD_FAILED = re.compile(r"^(\S+\.so[.\d]*): cannot open shared object file")
#: Libraries only the X11 plugin loads: the Wayland plugin does without them.
_X11_LIBRARIES = ("libxcb", "libX", "libxkbcommon-x11")
#: How long `ldd` may take before we give up and let Qt try (it takes ~50 ms).
_LDD_TIMEOUT = 10.0


@dataclass(frozen=True)
class _Plugin:
    """What one of Qt's windowing plugins is called, where its code is, what it is for people."""

    title: str
    file: str
    #: The bundled Qt library the plugin is a thin shell around.
    support_library: str


_PLUGINS = {
    "xcb": _Plugin("X11", "libqxcb.so", "libQt6XcbQpa.so.6"),
    "wayland": _Plugin("Wayland", "libqwayland.so", "libQt6WaylandClient.so.6"),
}


@dataclass(frozen=True)
class _Blocked:
    """Why one platform cannot start: no display to talk to, or libraries it cannot load."""

    platform: str
    no_display: str = ""
    missing: tuple[str, ...] = ()


def preflight(environ: Mapping[str, str] | None = None, system: str = sys.platform) -> str | None:
    """The sentence saying why the Studio cannot start here, or None when it can (or may)."""
    env = os.environ if environ is None else environ
    qt_package = _pyside_directory()
    if qt_package is None:
        return NOT_INSTALLED
    if not system.startswith("linux"):
        return None  # Windows, macOS, the BSDs: we know too little there, so Qt decides
    blocked: list[_Blocked] = []
    for platform in platform_candidates(env):
        reason = _blocked(platform, env, qt_package)
        if reason is None:
            return None  # Qt tries its candidates in this order: this one gets a chance
        blocked.append(reason)
    return _sentence(blocked, env)


def platform_candidates(environ: Mapping[str, str]) -> list[str]:
    """The platform plugins Qt 6 tries, in order (as createPlatformIntegration in qtbase does).

    QT_QPA_PLATFORM replaces the list; otherwise Wayland comes first when WAYLAND_DISPLAY is
    set or the session is a Wayland one, and X11 (the default of PySide6's Qt) is always tried.
    """
    chosen = environ.get("QT_QPA_PLATFORM", "")
    if chosen:
        return [name.split(":")[0].strip() for name in chosen.split(";") if name.strip()]
    wayland = "WAYLAND_DISPLAY" in environ or environ.get("XDG_SESSION_TYPE") == "wayland"
    return ["wayland", "xcb"] if wayland else ["xcb"]


def missing_libraries(ldd_output: str) -> list[str]:
    """The libraries `ldd` reports as "not found", each once, in the order it names them."""
    return list(dict.fromkeys(_LDD_MISSING.findall(ldd_output)))


def install_advice(sonames: Sequence[str]) -> str:
    """What to do about missing libraries: the apt-get line for known ones, words for the rest."""
    packages = list(dict.fromkeys(DEBIAN_PACKAGES[s] for s in sonames if s in DEBIAN_PACKAGES))
    qt_own = [s for s in sonames if s.startswith("libQt6") or s.startswith("libicu")]
    unknown = [s for s in sonames if s not in DEBIAN_PACKAGES and s not in qt_own]
    advice = []
    if packages:
        advice.append(f"on Debian/Ubuntu run `sudo apt-get install {' '.join(packages)}`")
    if qt_own:
        shipped = "them" if len(qt_own) == len(sonames) else _and_join(qt_own)
        advice.append(
            f"reinstall Qt, which ships {shipped}, with "
            f"`pip install --force-reinstall '{STUDIO_EXTRA}'`"
        )
    for soname in unknown:
        advice.append(
            f"install the package that provides {soname} (`apt-file search {soname}` names it)"
        )
    return ", and ".join(advice)


def qt_import_problem(exc: ImportError) -> str | None:
    """The sentence for an ImportError of Qt, or None when the error is not Qt's (then: a bug)."""
    # A compiled module that fails to load names itself without its package ("QtWidgets").
    packages = ("PySide6", "shiboken6")
    by_name = bool(exc.name) and str(exc.name).split(".")[0] in packages
    if not by_name and not (exc.path and Path(exc.path).parent.name in packages):
        return None
    if isinstance(exc, ModuleNotFoundError) and exc.name in packages:
        return NOT_INSTALLED
    library = _LOAD_FAILED.match(str(exc))
    if library:
        soname = library.group(1)
        return (
            f"the Studio cannot start: Qt needs {soname}, which is not installed; "
            f"{install_advice([soname])}"
        )
    return (
        f"the Studio cannot start because Qt could not be loaded ({exc}); reinstall it with "
        f"`pip install --force-reinstall '{STUDIO_EXTRA}'`"
    )


def _blocked(platform: str, env: Mapping[str, str], qt_package: Path) -> _Blocked | None:
    """Why `platform` cannot start, or None when it can or we cannot tell."""
    if platform.startswith("wayland"):  # wayland, wayland-egl, wayland-brcm: one plugin
        no_display = _no_wayland_compositor(env)
        platform = "wayland"
    elif platform == "xcb":
        no_display = "" if env.get("DISPLAY") else "DISPLAY is not set"
    else:
        return None  # offscreen, minimal, vnc, eglfs, ...: nothing we know how to check
    if no_display:
        return _Blocked(platform, no_display=no_display)
    missing = _unloadable(_PLUGINS[platform], env, qt_package)
    return _Blocked(platform, missing=tuple(missing)) if missing else None


def _no_wayland_compositor(env: Mapping[str, str]) -> str:
    """Why libwayland would find no compositor, or "" (it connects as wl_display_connect does)."""
    if env.get("WAYLAND_SOCKET"):
        return ""  # an inherited connection: nothing on disk to look at
    name = env.get("WAYLAND_DISPLAY")
    if name is None:
        name, said = "wayland-0", "WAYLAND_DISPLAY is not set"
    else:
        said = f"WAYLAND_DISPLAY={name} names no running compositor"
    if os.path.isabs(name):
        return "" if Path(name).is_socket() else said
    runtime = env.get("XDG_RUNTIME_DIR")
    if not runtime:
        return f"{said} and XDG_RUNTIME_DIR, where compositors listen, is not set"
    return "" if (Path(runtime) / name).is_socket() else said


def unresolved_libraries(path: Path, environ: Mapping[str, str]) -> list[str] | None:
    """What the loader cannot find of what `path` needs, asking `ldd` (None: we cannot tell)."""
    ldd = shutil.which("ldd", path=environ.get("PATH", os.defpath))
    if ldd is None:
        return None
    try:
        listing = subprocess.run(
            [ldd, str(path)],
            env=dict(environ),  # LD_LIBRARY_PATH and friends matter as they will to Qt
            capture_output=True,
            text=True,
            timeout=_LDD_TIMEOUT,
            check=False,
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    return missing_libraries(listing)


def _unloadable(plugin: _Plugin, env: Mapping[str, str], qt_package: Path) -> list[str]:
    """What every copy of the plugin lacks ([] when one can load, or when we cannot tell).

    Qt's search order among the plugin folders is intricate (QT_PLUGIN_PATH wins, a broken
    QT_QPA_PLATFORM_PLUGIN_PATH copy is passed over), so only a plugin no copy of which can load
    counts as blocked; the message names what PySide6's own copy lacks.
    """
    missing: list[str] = []
    for path in _plugin_files(plugin, env, qt_package):
        # ldd follows dependencies of dependencies, but not below one it cannot find: the
        # bundled support library is asked on its own so a broken Qt install names all it lacks.
        support = path.parent.parent.parent / "lib" / plugin.support_library
        missing = []
        for target in (path, support) if support.is_file() else (path,):
            lacking = unresolved_libraries(target, env)
            if lacking is None:
                return []
            missing += lacking
        if not missing:
            return []
    return list(dict.fromkeys(missing))


def _plugin_files(plugin: _Plugin, env: Mapping[str, str], qt_package: Path) -> list[Path]:
    """Every copy of the plugin Qt may load: the override variables' folders, PySide6's own."""
    folders = [env.get("QT_QPA_PLATFORM_PLUGIN_PATH", "")]
    folders += [str(Path(root) / "platforms") for root in env.get("QT_PLUGIN_PATH", "").split(":")]
    folders.append(str(qt_package / "Qt" / "plugins" / "platforms"))
    files = [Path(folder) / plugin.file for folder in filter(None, folders)]
    return list(dict.fromkeys(path for path in files if path.is_file()))


def _pyside_directory() -> Path | None:
    """PySide6's package folder, found without importing it (None when it is not installed)."""
    try:
        spec = importlib.util.find_spec("PySide6")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _sentence(blocked: Sequence[_Blocked], env: Mapping[str, str]) -> str:
    """One sentence for people: the missing libraries if a display was there, else the display."""
    for reason in blocked:
        if reason.missing:
            plugin = _PLUGINS[reason.platform]
            missing = list(reason.missing)
            verb = "is" if len(missing) == 1 else "are"
            x11_only = all(name.startswith(_X11_LIBRARIES) for name in missing)
            alternative = (
                " (on a Wayland desktop, QT_QPA_PLATFORM=wayland does without them)"
                if reason.platform == "xcb" and x11_only
                else ""
            )
            return (
                f"{_NO_WINDOW}: Qt's {plugin.title} plugin needs {_and_join(missing)}, which "
                f"{verb} not installed; {install_advice(missing)}{alternative}"
            )
    reasons = list(dict.fromkeys(reason.no_display for reason in blocked))
    if not env.get("QT_QPA_PLATFORM") and reasons == ["DISPLAY is not set"]:
        reasons = ["DISPLAY and WAYLAND_DISPLAY are not set"]
    asked = env.get("QT_QPA_PLATFORM")
    where = f" for QT_QPA_PLATFORM={asked}" if asked else ""
    return (
        f"{_NO_WINDOW}: no display was found{where} ({' and '.join(reasons)}); run it from a "
        "desktop session, or over SSH with `ssh -X`, or use the `opsflow` command line, which "
        "needs no display (QT_QPA_PLATFORM=offscreen starts the Studio without a window)"
    )


def _and_join(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
