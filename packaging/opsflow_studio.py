"""The bundle's `opsflow-studio` program: the desktop Studio (no console on Windows/macOS)."""

import sys

from opsflow.studio.app import main

if __name__ == "__main__":
    sys.exit(main())
