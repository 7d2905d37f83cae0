"""The bundle's `opsflow-studio` program: the desktop Studio (no console on Windows/macOS)."""

import sys

from opsflow.cli.studio_command import main

if __name__ == "__main__":
    sys.exit(main())
