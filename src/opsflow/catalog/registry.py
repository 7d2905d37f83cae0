"""The one registry of node types: the built-ins plus packs from entry points.

A node pack is a distribution exposing an entry point in the group
`opsflow.nodes` whose object is a callable returning an iterable of
`NodeSpec`. A pack that fails to load is reported, never fatal. The catalog
remembers which pack each type came from, so that a type that cannot run
(no executor, or one that cannot be imported) is explained in terms of its
pack rather than of Opsflow.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from importlib.metadata import EntryPoint, entry_points

from opsflow.catalog.icons import icon_file
from opsflow.catalog.spec import CATEGORIES, NodeSpec

ENTRY_POINT_GROUP = "opsflow.nodes"


class Catalog:
    """Node types by type id."""

    def __init__(self, specs: Iterable[NodeSpec] = ()) -> None:
        self._specs: dict[str, NodeSpec] = {}
        #: The node pack of each type that came from one, as "node pack 'NAME' (DIST VERSION)".
        self._packs: dict[str, str] = {}
        #: Problems met while loading packs, as sentences for `opsflow nodes`.
        self.load_problems: list[str] = []
        for spec in specs:
            self.register(spec)

    def register(self, spec: NodeSpec, *, pack: str | None = None) -> None:
        if spec.type in self._specs:
            raise ValueError(f"node type '{spec.type}' is registered twice")
        if spec.category not in CATEGORIES:
            raise ValueError(f"node type '{spec.type}' has unknown category '{spec.category}'")
        self._specs[spec.type] = spec
        if pack is not None:
            self._packs[spec.type] = pack

    def pack_of(self, type_id: str) -> str | None:
        """The node pack a type came from ("node pack 'NAME' (DIST VERSION)"), None if built in."""
        return self._packs.get(type_id)

    def cannot_run(self, spec: NodeSpec, error: BaseException | None = None) -> str:
        """Why nodes of `spec` cannot run: it has no executor, or importing it raised `error`."""
        pack = self.pack_of(spec.type)
        if error is not None:
            source = f" from the {pack}" if pack else ""
            return (
                f"{spec.type} cannot run here: its executor '{spec.executor}'{source} could not be "
                f"imported ({type(error).__name__}: {error}); install the pack into the "
                "environment Opsflow runs in, or correct `executor` in its NodeSpec"
            )
        if pack is None:
            return (
                f"{spec.type} cannot run here: its NodeSpec names no executor (give it "
                'executor="module:function"); `--dry-run` shows what it would do'
            )
        return (
            f"{spec.type} cannot run here: the {pack} gives it no executor; the pack's NodeSpec "
            'must name the function that runs it, executor="module:function" (see "Writing a '
            'node pack" in the README), or install a version of the pack that has one'
        )

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
            pack = _pack_name(entry)
            try:
                provider = entry.load()
                for spec in provider():
                    self.register(spec, pack=pack)
                    if icon_file(spec.icon) is None:
                        self.load_problems.append(
                            f"{pack}: node type '{spec.type}' names icon '{spec.icon}', which "
                            "is neither a built-in icon nor an SVG file in an installed package "
                            '("package:path/in/package.svg"); the Studio draws the generic icon'
                        )
            except Exception as exc:  # a broken pack must not break Opsflow
                self.load_problems.append(
                    f"node pack '{entry.name}' ({entry.value}) could not be loaded: {exc}"
                )


def _pack_name(entry: EntryPoint) -> str:
    """How messages name a pack: its entry point, and its distribution when known."""
    dist = entry.dist
    if dist is None:
        return f"node pack '{entry.name}'"
    return f"node pack '{entry.name}' ({dist.name} {dist.version})"


def builtin_specs() -> list[NodeSpec]:
    from opsflow.catalog import builtin

    return builtin.all_specs()


@functools.cache
def default_catalog() -> Catalog:
    """The built-in node types plus installed packs (loaded once per process)."""
    catalog = Catalog(builtin_specs())
    catalog.load_entry_points()
    return catalog
