"""The `opsflow` command line."""
