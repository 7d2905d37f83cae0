"""What a node type is: its ports, parameters, documentation and behaviour flags."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel

Category = Literal["trigger", "condition", "action", "control"]
CATEGORIES: tuple[Category, ...] = ("trigger", "condition", "action", "control")

#: The ports every action has: `error` is taken when the action fails and it is wired.
ACTION_PORTS = ("success", "error")
TRIGGER_PORTS = ("out",)

ParamsModel = type[BaseModel]
ParamsMigration = Callable[[dict[str, Any]], dict[str, Any]]
ParamsPredicate = Callable[[Any], bool]


@dataclass(frozen=True)
class NodeSpec:
    """A node type of the catalog.

    `side_effects` and `idempotent` may be a bool for the whole type or a
    function of the validated parameters (an HTTP GET changes nothing, a POST
    may). Dry runs skip nodes with side effects; after a crash, only idempotent
    nodes that were in flight are run again.
    """

    type: str
    category: Category
    title: str
    doc: str
    #: A built-in icon's name ("action-shell": resources/icons/action-shell.svg) or a pack's
    #: own SVG as "package:path/in/package.svg" (see `opsflow.catalog.icons`).
    icon: str
    params: ParamsModel
    ports: tuple[str, ...]
    side_effects: bool | ParamsPredicate
    idempotent: bool | ParamsPredicate
    version: int = 1
    #: The node picks one of several ports (conditions, approvals): a port that
    #: leads nowhere quietly ends the branch, so the validator warns about it.
    routes: bool = False
    #: Output ports that depend on the parameters (a switch's cases).
    dynamic_ports: Callable[[Any], tuple[str, ...]] | None = None
    #: Where the code that runs the node lives, as "module:function" (imported
    #: on first use, so listing the catalog stays cheap). None: the runner itself
    #: runs the node (triggers, approvals, for-each, sub-flows).
    executor: str | None = None
    #: The executor is a quick, non-blocking plain function without side effects
    #: (a condition, setting variables): the runner calls it right on its event
    #: loop instead of in a task or a thread.
    inline: bool = False
    #: `migrations[v]` turns version-`v` params into version-`v + 1` params.
    migrations: Mapping[int, ParamsMigration] = field(default_factory=dict)
    #: The keys the node's output always has and their JSON types ("string", "integer",
    #: ...), for completion before any run; empty when the output's shape varies.
    output_fields: Mapping[str, str] = field(default_factory=dict)

    def output_ports(self, params: BaseModel | None = None) -> tuple[str, ...]:
        """The ports this node can leave through, given its (valid) parameters."""
        if self.dynamic_ports is not None and params is not None:
            return self.dynamic_ports(params)
        return self.ports

    def has_side_effects(self, params: BaseModel | None = None) -> bool:
        return _decide(self.side_effects, params, default=True)

    def is_idempotent(self, params: BaseModel | None = None) -> bool:
        return _decide(self.idempotent, params, default=False)

    def migrate_params(self, params: dict[str, Any], from_version: int) -> dict[str, Any]:
        for version in range(from_version, self.version):
            params = self.migrations[version](params)
        return params


def _decide(flag: bool | ParamsPredicate, params: BaseModel | None, *, default: bool) -> bool:
    if isinstance(flag, bool):
        return flag
    if params is None:
        return default
    return bool(flag(params))
