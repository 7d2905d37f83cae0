"""Start-up time of the `opsflow` command: median wall time of N runs of a few commands.

The Studio rows time a process from its start to the first paint of a window (offscreen), next
to a bare Qt window as their floor. Run with `make bench` (or
`python benchmarks/bench_startup.py [--runs N] [--before REF]`).
Each command runs as its own process, as a person or a script runs it; `python -c pass`
in the same run is the floor no command can go below. Bytecode caches are written by a
warm-up run into a temporary folder (an installed copy has them too), so the times do
not depend on whether this checkout may write caches. `--uncached` writes none: modules
that have none yet (Opsflow's own, in a checkout that never wrote them) compile on
every run.

`--before REF` adds a column for the same commands run with the code of another commit
(unpacked from git into a temporary folder), or of another checkout's source folder
(`--before PATH`, the folder holding the `opsflow` package or its parent). With
`--strict`, a time over its target makes the exit code 1.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = Path("sample_flows") / "web-outage-remediation.flow.json"
#: What the installed `opsflow` program runs.
ENTRY = "import sys; from opsflow.cli.main import main; sys.exit(main())"
#: Exits at the first paint event of any widget: the time to a first painted window.
FIRST_PAINT = """
import os, sys
from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QApplication
class FirstPaint(QObject):
    def eventFilter(self, watched, event):
        if event.type() == QEvent.Type.Paint:
            os._exit(0)
        return False
app = QApplication(["opsflow-studio"])
first_paint = FirstPaint()
app.installEventFilter(first_paint)
"""
BARE_WINDOW = (
    FIRST_PAINT + "from PySide6.QtWidgets import QWidget\nw = QWidget()\nw.show()\napp.exec()"
)
STUDIO = FIRST_PAINT + (
    "from pathlib import Path\nfrom opsflow.studio.app import run\nrun([Path(sys.argv[1])])"
)
#: (label, arguments of `opsflow`, target in milliseconds or None).
COMMANDS: list[tuple[str, list[str], float | None]] = [
    ("opsflow --version", ["--version"], 150),
    ("opsflow --help", ["--help"], None),
    (f"opsflow validate {SAMPLE.name}", ["validate", str(SAMPLE)], 350),
    ("opsflow nodes", ["nodes"], None),
]


def wall_ms(command: list[str], env: dict[str, str]) -> float:
    """How long one process takes from start to exit, output thrown away."""
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=env, capture_output=True, check=False)
    return (time.perf_counter() - start) * 1000


def environment(source: Path, caches: Path | None) -> dict[str, str]:
    """Run with the code in `source`; bytecode caches written to `caches`, or not at all."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(source)
    env["QT_QPA_PLATFORM"] = "offscreen"  # the Studio rows paint without a display
    if caches is None:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    else:
        env["PYTHONPYCACHEPREFIX"] = str(caches)
    return env


def unpack_source(before: str, into: Path) -> Path:
    """The source folder of `before`: a folder as given, or a commit unpacked from git."""
    given = Path(before)
    for folder in (given, given / "src"):
        if (folder / "opsflow" / "__init__.py").is_file():
            return folder
    archive = subprocess.run(
        ["git", "archive", "--format=tar", before, "src"],
        cwd=ROOT,
        capture_output=True,
        check=False,
    )
    if archive.returncode != 0:
        message = archive.stderr.decode(errors="replace").strip()
        raise SystemExit(f"bench_startup: --before {before}: {message or 'git archive failed'}")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        if hasattr(tarfile, "data_filter"):  # Python 3.11.4 and later
            tar.extractall(into, filter="data")
        else:
            tar.extractall(into)
    return into / "src"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--runs", type=int, default=11, help="runs per command (default: 11)")
    parser.add_argument("--before", metavar="REF|PATH", help="also time this commit's code")
    parser.add_argument(
        "--uncached", action="store_true", help="without bytecode caches: every run compiles"
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when over a target")
    args, _ = parser.parse_known_args()  # `make bench` passes every script the same options

    with tempfile.TemporaryDirectory() as folder:

        def caches(name: str) -> Path | None:
            return None if args.uncached else Path(folder) / name

        variants = {"now": environment(ROOT / "src", caches("caches-now"))}
        if args.before:
            source = unpack_source(args.before, Path(folder) / "before")
            variants = {"before": environment(source, caches("caches-before")), **variants}
        rows: list[tuple[str, list[str], float | None]] = [
            ("python -c pass (floor)", ["-c", "pass"], None),
            *((label, ["-c", ENTRY, *argv], target) for label, argv, target in COMMANDS),
            ("a bare Qt window, to first paint (floor)", ["-c", BARE_WINDOW], None),
            (f"opsflow studio {SAMPLE.name}, to first paint", ["-c", STUDIO, str(SAMPLE)], 1200),
        ]
        notes = []
        for label, argv, _ in rows:  # warm-up: writes the bytecode caches
            for name, env in variants.items():
                warm = subprocess.run(
                    [sys.executable, *argv], cwd=ROOT, env=env, capture_output=True, check=False
                )
                if warm.returncode != 0:
                    notes.append(f"note: {label} exits {warm.returncode} with the {name} code")
        results: dict[tuple[str, str], list[float]] = {}
        for _ in range(args.runs):  # interleaved, so that a busy moment hits every column
            for label, argv, _ in rows:
                for name, env in variants.items():
                    ms = wall_ms([sys.executable, *argv], env)
                    results.setdefault((label, name), []).append(ms)

    cached = "without bytecode caches" if args.uncached else "bytecode cached"
    print(f"opsflow start-up: median wall time of {args.runs} runs per command, {cached}, in ms")
    header = "".join(f"{name:>10}" for name in variants)
    print(f"{'command':<60}{header} {'target':>8}")
    failed = False
    for label, _, target in rows:
        medians = [statistics.median(results[(label, name)]) for name in variants]
        now = medians[-1]
        mark = "" if target is None else ("ok" if now <= target else "OVER")
        failed |= mark == "OVER"
        shown = "" if target is None else f"<= {target:g}"
        cells = "".join(f"{ms:>10.0f}" for ms in medians)
        print(f"{label:<60}{cells} {shown:>8} {mark}")
    for note in notes:
        print(note)
    return 1 if failed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
