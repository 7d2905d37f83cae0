"""Run every benchmark script in this folder and print their tables."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def main() -> int:
    status = 0
    for script in sorted(Path(__file__).parent.glob("bench_*.py")):
        print(f"== {script.stem}", flush=True)
        status |= subprocess.call([sys.executable, str(script), *sys.argv[1:]])
        print(flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
