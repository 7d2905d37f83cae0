"""Wrap the one-folder bundle (packaging/dist/opsflow) as a .deb and a .tar.gz.

The .deb installs the bundle under /opt/opsflow, links /usr/bin/opsflow and
/usr/bin/opsflow-studio to it, and adds the Studio's desktop entry, its icon (scalable SVG,
plus a 256 px PNG) and the MIME type application/x-opsflow-flow for *.flow.json. The icon,
desktop and MIME caches are refreshed by the dpkg triggers of the packages that own them, so
the package has no maintainer scripts.

Depends is derived from the bundle, not written by hand: every library some file in the bundle
needs and the bundle does not hold must map to a package in SONAME_PACKAGES (else the build
stops and says which), and libc6's minimum version is the newest GLIBC_x.y symbol version any
file uses.

    python packaging/build_deb.py [--bundle packaging/dist/opsflow] [--out packaging/dist]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "src"))

import elfinfo  # noqa: E402

from opsflow import __version__  # noqa: E402

PACKAGE = "opsflow"
PREFIX = Path("opt/opsflow")
#: A release sets OPSFLOW_DEB_MAINTAINER ("Name <address>"); the default is a placeholder.
MAINTAINER = os.environ.get(
    "OPSFLOW_DEB_MAINTAINER", "Opsflow maintainers <maintainers@opsflow.invalid>"
)

#: Libraries the bundle takes from the system, by SONAME -> the Debian/Ubuntu package. glibc's
#: own libraries map to libc6 (its version comes from the symbol versions used).
SONAME_PACKAGES = {
    "ld-linux-x86-64.so.2": "libc6",
    "ld-linux-aarch64.so.1": "libc6",
    "libc.so.6": "libc6",
    "libm.so.6": "libc6",
    "libdl.so.2": "libc6",
    "libpthread.so.0": "libc6",
    "librt.so.1": "libc6",
    "libutil.so.1": "libc6",
    "libresolv.so.2": "libc6",
    "libcrypt.so.1": "libcrypt1",
    "libstdc++.so.6": "libstdc++6",
    "libgcc_s.so.1": "libgcc-s1",
    "libGL.so.1": "libgl1",
    "libEGL.so.1": "libegl1",
    "libOpenGL.so.0": "libopengl0",
    "libGLX.so.0": "libglx0",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libX11.so.6": "libx11-6",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libXext.so.6": "libxext6",
    "libXrender.so.1": "libxrender1",
    "libxcb.so.1": "libxcb1",
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-glx.so.0": "libxcb-glx0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xinput.so.0": "libxcb-xinput0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
}
#: Needed only by the Wayland platform plugins: every Wayland desktop has them, and without
#: them Qt uses X11 (XWayland). Recommended, not required (a server running only the command
#: line needs none of this, nor the X libraries; see packaging/README.md).
OPTIONAL_SONAME_PACKAGES = {
    "libwayland-client.so.0": "libwayland-client0",
    "libwayland-cursor.so.0": "libwayland-cursor0",
    "libwayland-egl.so.1": "libwayland-egl1",
}
#: Python scripts (`action.script` with language python) need a Python of the system's.
RECOMMENDS = ["python3"]


class BuildError(Exception):
    pass


def architecture() -> str:
    return subprocess.run(
        ["dpkg", "--print-architecture"], check=True, capture_output=True, text=True
    ).stdout.strip()


def dependencies(bundle: Path) -> tuple[list[str], list[str], tuple[int, int]]:
    """(Depends, Recommends, glibc needed) derived from what the bundle's files need."""
    infos = {path: elfinfo.read(path) for path in elfinfo.elf_files(bundle)}
    held = {path.name for path in bundle.rglob("*")}
    required: set[str] = set()
    optional: set[str] = set()
    unknown: dict[str, str] = {}
    for path, info in infos.items():
        for name in info.needed:
            if name in held:
                continue
            if name in SONAME_PACKAGES:
                required.add(SONAME_PACKAGES[name])
            elif name in OPTIONAL_SONAME_PACKAGES:
                optional.add(OPTIONAL_SONAME_PACKAGES[name])
            else:
                unknown.setdefault(name, str(path.relative_to(bundle)))
    if unknown:
        lines = [f"  {name} (needed by {user})" for name, user in sorted(unknown.items())]
        raise BuildError(
            "these libraries are neither in the bundle nor mapped to a package; add them to "
            "SONAME_PACKAGES in packaging/build_deb.py (or bundle them):\n" + "\n".join(lines)
        )
    glibc = elfinfo.glibc_needed(list(infos.values()))
    depends = sorted(required - {"libc6"})
    depends.insert(0, f"libc6 (>= {glibc[0]}.{glibc[1]})")
    return depends, sorted(optional) + RECOMMENDS, glibc


def control(bundle_size_kib: int, depends: list[str], recommends: list[str]) -> str:
    fields = {
        "Package": PACKAGE,
        "Version": __version__,
        "Architecture": architecture(),
        "Maintainer": MAINTAINER,
        "Installed-Size": str(bundle_size_kib),
        "Depends": ", ".join(depends),
        "Recommends": ", ".join(recommends),
        "Section": "utils",
        "Priority": "optional",
        "Description": "design, run and debug IT process automation flows\n"
        " Opsflow Studio is a visual designer for automation flows (*.flow.json): triggers,\n"
        " conditions, actions on hosts, tickets and chat, approvals and sub-flows, with runs\n"
        " shown live. The opsflow command validates, runs, serves and schedules the same\n"
        " flows. This package is a self-contained bundle (Python and Qt included) installed\n"
        " under /opt/opsflow.",
    }
    return "".join(f"{key}: {value}\n" for key, value in fields.items())


def size_kib(folder: Path) -> int:
    total = sum(p.lstat().st_size for p in folder.rglob("*") if p.is_file() or p.is_symlink())
    return (total + 1023) // 1024


def stage(bundle: Path, staging: Path, icons: Path) -> None:
    if staging.exists():
        shutil.rmtree(staging)
    target = staging / PREFIX
    target.parent.mkdir(parents=True)
    shutil.copytree(bundle, target, symlinks=True)
    bin_dir = staging / "usr" / "bin"
    bin_dir.mkdir(parents=True)
    for program in ("opsflow", "opsflow-studio"):
        if not (target / program).is_file():
            raise BuildError(f"{bundle / program} is missing; build the bundle first")
        (bin_dir / program).symlink_to(Path("/") / PREFIX / program)
    share = staging / "usr" / "share"
    installs = {
        HERE / "linux" / "opsflow-studio.desktop": share / "applications",
        HERE / "linux" / "opsflow.xml": share / "mime" / "packages",
        HERE / "linux" / "copyright": share / "doc" / PACKAGE,
    }
    for source, folder in installs.items():
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, folder / source.name)
    app_svg = ROOT / "resources" / "icons" / "app.svg"
    hicolor = share / "icons" / "hicolor"
    for kind, name in (
        ("scalable/apps", "opsflow.svg"),
        ("scalable/mimetypes", "application-x-opsflow-flow.svg"),
    ):
        (hicolor / kind).mkdir(parents=True, exist_ok=True)
        shutil.copy2(app_svg, hicolor / kind / name)
    png = icons / "opsflow-256.png"
    if png.is_file():
        (hicolor / "256x256" / "apps").mkdir(parents=True)
        shutil.copy2(png, hicolor / "256x256" / "apps" / "opsflow.png")
    for path in staging.rglob("*"):
        if not path.is_symlink():
            mode = path.stat().st_mode
            executable = path.is_dir() or mode & 0o111
            path.chmod(0o755 if executable else 0o644)


def build_deb(bundle: Path, out: Path, icons: Path) -> Path:
    depends, recommends, glibc = dependencies(bundle)
    staging = HERE / "build" / "deb"
    stage(bundle, staging, icons)
    debian = staging / "DEBIAN"
    debian.mkdir(mode=0o755)
    (debian / "control").write_text(control(size_kib(staging), depends, recommends))
    (debian / "control").chmod(0o644)
    deb = out / f"{PACKAGE}_{__version__}_{architecture()}.deb"
    out.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["dpkg-deb", "--root-owner-group", "-Zxz", "--build", str(staging), str(deb)], check=True
    )
    print(f"wrote {deb} (needs glibc >= {glibc[0]}.{glibc[1]})")
    print("Depends: " + ", ".join(depends))
    return deb


def build_tarball(bundle: Path, out: Path) -> Path:
    machine = os.uname().machine
    tarball = out / f"{PACKAGE}-{__version__}-linux-{machine}.tar.gz"
    with tarfile.open(tarball, "w:gz", compresslevel=6) as archive:
        archive.add(bundle, arcname=f"{PACKAGE}-{__version__}")
    print(f"wrote {tarball}")
    return tarball


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=HERE / "dist" / "opsflow")
    parser.add_argument("--out", type=Path, default=HERE / "dist")
    parser.add_argument("--icons", type=Path, default=HERE / "build" / "icons")
    parser.add_argument("--no-tarball", action="store_true")
    args = parser.parse_args(argv)
    if not sys.platform.startswith("linux"):
        print("build_deb.py: the .deb is built on Linux only", file=sys.stderr)
        return 2
    try:
        build_deb(args.bundle, args.out, args.icons)
        if not args.no_tarball:
            build_tarball(args.bundle, args.out)
    except BuildError as exc:
        print(f"build_deb.py: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
