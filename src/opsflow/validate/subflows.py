"""Checks that reach into other flow files: the sub-flows a flow calls.

`action.subflow` and `control.foreach` name another flow file relative to the
calling flow's file. A flow that calls itself, directly or through other files,
would only fail at run time once the nesting limit is hit, so it is found here
instead, by following every plain (untemplated) reference, each file once.
Missing or unreadable files are reported only for the flow being validated;
deeper files get their own report when they are validated themselves.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from opsflow.catalog.builtin.actions_flow import check_flow_file
from opsflow.catalog.registry import Catalog
from opsflow.errors import FlowFileError, OpsflowError
from opsflow.expr import is_template
from opsflow.flowfile import load_flow
from opsflow.model.flow import Flow, Node
from opsflow.validate.diagnostics import Diagnostic

#: Node types that run another flow file named by their `flow` parameter.
CALLING_TYPES = frozenset({"action.subflow", "control.foreach"})
#: At most this many files are read per validation, so a huge tree cannot stall it.
MAX_FILES = 200
#: Longer call chains are shortened in messages to their first and last files.
MAX_SHOWN = 8

_HINT_CYCLE = "remove this call, or change a flow on the chain so it no longer calls back"


def check_subflows(flow: Flow, flow_path: Path | None, catalog: Catalog) -> list[Diagnostic]:
    """Problems with the sub-flow files `flow` (saved at `flow_path`) calls, if it is saved."""
    if flow_path is None:
        return []
    walk = _Walk(flow, flow_path.resolve(), catalog)
    calls = list(_references(flow, walk.root))
    found: list[Diagnostic] = []
    for node, written, target in calls:
        problem = walk.problem(target)
        if problem is not None:
            found.append(_unusable(node, written, *problem))
    for node, written, target in calls:
        loop = walk.loop_from(target)
        if loop is not None:
            found.append(
                Diagnostic(
                    "subflow-cycle",
                    "error",
                    _cycle_message(written, [walk.shown(path) for path in loop]),
                    _HINT_CYCLE,
                    node=node.id,
                    field="params.flow",
                )
            )
    return found


def _references(flow: Flow, flow_path: Path) -> Iterator[tuple[Node, str, Path]]:
    """(node, path as written, resolved file) of every call that can be checked statically."""
    for node in flow.nodes:
        written = node.params.get("flow")
        if node.type not in CALLING_TYPES or node.disabled or not isinstance(written, str):
            continue  # a disabled node never runs; a non-text path is a parameter error
        if is_template(written):
            continue  # known only at run time
        try:
            check_flow_file(written)
        except ValueError:
            continue  # the parameter check already reports it
        # Resolved as the engine does, so symlinks and '..' lead to the same file.
        yield node, written, (flow_path.parent / written).resolve()


class _Walk:
    """The files reachable from one flow, each read at most once."""

    def __init__(self, flow: Flow, root: Path, catalog: Catalog) -> None:
        self.root = root
        self._catalog = catalog
        # The flow being validated is taken as given: it may differ from its saved file.
        self._calls: dict[Path, list[Path]] = {
            root: _unique(target for *_, target in _references(flow, root))
        }
        self._problems: dict[Path, tuple[str, str]] = {}
        self._loop_free: set[Path] = set()
        self._loops: dict[Path, list[Path] | None] = {}

    def shown(self, path: Path) -> str:
        """A file's name relative to the validated flow's folder, as a person would write it."""
        try:
            return Path(os.path.relpath(path, self.root.parent)).as_posix()
        except ValueError:  # another drive: no relative path exists
            return path.as_posix()

    def problem(self, path: Path) -> tuple[str, str] | None:
        """Why the validated flow cannot call `path` (diagnostic code, reason), or None."""
        # Read whatever the budget: the flow's own references are what it is judged on.
        self._read(path, always=True)
        return self._problems.get(path)

    def loop_from(self, target: Path) -> list[Path] | None:
        """The chain from the root through `target` back to a file already on it, if any."""
        if target not in self._loops:
            self._loops[target] = self._search(target, [self.root])
        return self._loops[target]

    def _search(self, path: Path, chain: list[Path]) -> list[Path] | None:
        if path in chain:
            return [*chain, path]
        if path in self._loop_free:
            return None
        for callee in self._read(path):
            loop = self._search(callee, [*chain, path])
            if loop is not None:
                return loop
        # Nothing reachable from here comes back: no later chain can loop through it either.
        self._loop_free.add(path)
        return None

    def _read(self, path: Path, always: bool = False) -> list[Path]:
        """The files `path` calls; none when it cannot be read or the budget is spent."""
        if path in self._calls:
            return self._calls[path]
        calls: list[Path] = []
        if always or len(self._calls) < MAX_FILES:
            try:
                callee = load_flow(path, self._catalog)
            except OpsflowError as exc:
                self._problems[path] = (
                    ("subflow-missing", "")
                    if not path.exists()
                    else ("subflow-unreadable", self._reason(exc, path))
                )
            else:
                calls = _unique(target for *_, target in _references(callee, path))
        self._calls[path] = calls
        return calls

    def _reason(self, exc: OpsflowError, path: Path) -> str:
        """The loader's one-line reason, naming the file as a person would write it."""
        text = str(exc)
        if isinstance(exc, FlowFileError) and text.startswith(exc.path):
            text = self.shown(path) + text[len(exc.path) :]
        return text


def _unique(paths: Iterable[Path]) -> list[Path]:
    return list(dict.fromkeys(paths))


def _unusable(node: Node, written: str, code: str, reason: str) -> Diagnostic:
    if code == "subflow-missing":
        message = f"calls sub-flow {written}, which does not exist"
        hint = "create that flow file, or fix the path: it is relative to this flow's file"
    else:
        message = f"calls sub-flow {written}, which cannot be loaded: {reason}"
        hint = f"open {written} and fix it, or point this node at another flow"
    return Diagnostic(code, "error", message, hint, node=node.id, field="params.flow")


def _cycle_message(written: str, chain: list[str]) -> str:
    again = chain[-1]
    if len(chain) == 2:
        how = f"calls its own file {again}"
    elif len(chain) == 3 and again == chain[1]:
        how = f"calls sub-flow {written}, which calls itself"
    elif len(chain) == 3:
        how = f"calls sub-flow {written}, which calls {again} again"
    else:
        how = f"calls sub-flow {written}, which leads back to {again}"
    if len(chain) > MAX_SHOWN:
        chain = [*chain[: MAX_SHOWN // 2], "…", *chain[-(MAX_SHOWN // 2) :]]
    return f"{how}: a flow may not call itself ({' → '.join(chain)})"
