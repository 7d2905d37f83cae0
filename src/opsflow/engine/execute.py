"""Finding and calling a node type's executor: the runner's side of `opsflow.nodeapi`.

Executors themselves import only `opsflow.nodeapi` (`NodeCall`, `NodeOutcome`, `NodeError`);
this module imports them by their "module:function" reference and says how to call them.
"""

from __future__ import annotations

import functools
import importlib
import inspect

from opsflow.catalog.spec import NodeSpec
from opsflow.nodeapi import Executor


@functools.cache
def load_executor(reference: str) -> Executor:
    """Import "module:function" once; a broken reference is a bug in the node type."""
    module_name, _, attribute = reference.partition(":")
    module = importlib.import_module(module_name)
    executor: Executor = getattr(module, attribute)
    return executor


@functools.cache
def is_async(executor: Executor) -> bool:
    return inspect.iscoroutinefunction(executor)


def default_port(spec: NodeSpec) -> str:
    """The port a node leaves through when its executor names none."""
    return next(port for port in spec.ports if port != "error")
