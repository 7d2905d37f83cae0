"""The bundle's `opsflow` program: the command line (a console program)."""

import sys

from opsflow.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
