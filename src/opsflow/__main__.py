"""`python -m opsflow` is the same as the `opsflow` command."""

import sys

from opsflow.cli.main import main

sys.exit(main())
