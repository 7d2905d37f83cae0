"""Running flows: the execution semantics, the runners and the run journal."""
