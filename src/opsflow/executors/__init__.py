"""Executors of the built-in node types (see `opsflow.engine.execute`)."""
