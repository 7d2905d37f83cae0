"""The one registry of node types: the built-ins plus packs from entry points.

A node pack is a distribution exposing an entry point in the group
`opsflow.nodes` whose object is a callable returning an iterable of
`NodeSpec`. A pack that fails to load is reported, never fatal.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from importlib.metadata import entry_points

from opsflow.catalog.spec import CATEGORIES, NodeSpec

ENTRY_POINT_GROUP = "opsflow.nodes"


class Catalog:
    """Node types by type id."""

    def __init__(self, specs: Iterable[NodeSpec] = ()) -> None:
        self._specs: dict[str, NodeSpec] = {}
        #: Problems met while loading packs, as sentences for `opsflow nodes`.
        self.load_problems: list[str] = []
        for spec in specs:
            self.register(spec)

    def register(self, spec: NodeSpec) -> None:
        if spec.type in self._specs:
            raise ValueError(f"node type '{spec.type}' is registered twice")
        if spec.category not in CATEGORIES:
            raise ValueError(f"node type '{spec.type}' has unknown category '{spec.category}'")
        self._specs[spec.type] = spec

    def get(self, type_id: str) -> NodeSpec | None:
        return self._specs.get(type_id)

    def __contains__(self, type_id: object) -> bool:
        return type_id in self._specs

    def __iter__(self) -> Iterator[NodeSpec]:
        return iter(
            sorted(self._specs.values(), key=lambda s: (CATEGORIES.index(s.category), s.type))
        )

    def __len__(self) -> int:
        return len(self._specs)

    def load_entry_points(self) -> None:
        """Register the node packs installed in this environment."""
        for entry in entry_points(group=ENTRY_POINT_GROUP):
            try:
                provider = entry.load()
                for spec in provider():
                    self.register(spec)
            except Exception as exc:  # a broken pack must not break Opsflow
                self.load_problems.append(
                    f"node pack '{entry.name}' ({entry.value}) could not be loaded: {exc}"
                )


def builtin_specs() -> list[NodeSpec]:
    from opsflow.catalog import builtin

    return builtin.all_specs()


@functools.cache
def default_catalog() -> Catalog:
    """The built-in node types plus installed packs (loaded once per process)."""
    catalog = Catalog(builtin_specs())
    catalog.load_entry_points()
    return catalog
