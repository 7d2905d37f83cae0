"""Executors of the built-in node types (see `opsflow.nodeapi`, the only
part of Opsflow's runner they import)."""
