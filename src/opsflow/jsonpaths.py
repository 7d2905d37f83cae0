"""JSON values read by path: type names, one-line summaries, the expression text of a path
and back, a depth-first walk, and a search that goes on a slice at a time.

Qt-free, so the Studio's JSON trees, its expression completion and the command line all
name a value's type, shorten it and write its path the same way. A path is a list of keys
(`["items", 3, "name"]`); its expression text below a root is `output.items[3].name`.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any, Literal

#: Characters of a string a summary shows.
CELL_CHARS = 200
#: A search gives up after visiting this many values.
SEARCH_LIMIT = 5_000_000

Key = str | int
SearchOutcome = Literal["found", "none", "limit", "busy"]

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: One step of a path's text: `.name`, `name` (first), `[3]` or `["a b"]`.
_STEP = re.compile(r'\.?([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]')


def is_container(value: Any) -> bool:
    return isinstance(value, dict | list)


def type_name(value: Any) -> str:
    """The JSON name of the value's type (Python's for values JSON does not have)."""
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if value is None:
        return "null"
    return type(value).__name__


def summary(value: Any, chars: int = CELL_CHARS) -> str:
    """One line: `{3 keys}`, `[120 items]`, a quoted string elided after `chars`, `true`."""
    if isinstance(value, dict):
        return f"{{{len(value):,} {'key' if len(value) == 1 else 'keys'}}}"
    if isinstance(value, list):
        return f"[{len(value):,} {'item' if len(value) == 1 else 'items'}]"
    if isinstance(value, str):
        shown = json.dumps(value[:chars], ensure_ascii=False)  # escapes newlines and tabs
        return shown[:-1] + '…"' if len(value) > chars else shown
    return scalar_text(value)


def scalar_text(value: Any) -> str:
    """A scalar as JSON writes it (`true`, `null`, `1.5`); strings unquoted."""
    if isinstance(value, str):
        return value
    if value is None or isinstance(value, bool | int | float):
        return json.dumps(value)
    return str(value)


def value_text(value: Any) -> str:
    """The value as indented JSON (what "Copy value" copies)."""
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def format_path(root: str, path: list[Key]) -> str:
    """The expression that reads `path` below `root`: `output.items[3].name`, `output["a b"]`."""
    text = root
    for key in path:
        if isinstance(key, int):
            text += f"[{key}]"
        elif _IDENTIFIER.fullmatch(key):
            text += f".{key}" if text else key
        else:
            text += f"[{json.dumps(key, ensure_ascii=False)}]"
    return text


def parse_path(text: str) -> list[Key] | None:
    """The keys `format_path("", keys)` writes as `text`; None when `text` is not a path."""
    keys: list[Key] = []
    position = 0
    while position < len(text):
        step = _STEP.match(text, position)
        if step is None or (step.group(0).startswith(".") and position == 0):
            return None
        name, index, quoted = step.groups()
        if name is not None:
            if position and not step.group(0).startswith("."):
                return None  # `a b` or `[0]name`: not one path
            keys.append(name)
        elif index is not None:
            keys.append(int(index))
        else:
            keys.append(json.loads(quoted))
        position = step.end()
    return keys


def value_at(value: Any, path: list[Key]) -> tuple[bool, Any]:
    """(True, the value at `path`), or (False, None) when nothing is there."""
    for key in path:
        in_dict = isinstance(value, dict) and isinstance(key, str) and key in value
        in_list = isinstance(value, list) and isinstance(key, int) and 0 <= key < len(value)
        if not (in_dict or in_list):
            return False, None
        value = value[key]
    return True, value


def children(value: Any, limit: int) -> Iterator[tuple[Key, Any]]:
    """The first `limit` (key, value) pairs of a container, in order; nothing for a scalar."""
    if isinstance(value, dict):
        for count, pair in enumerate(value.items()):
            if count >= limit:
                return
            yield pair
    elif isinstance(value, list):
        yield from enumerate(value[:limit])


def walk(value: Any) -> Iterator[tuple[list[Key], Key | None, Any]]:
    """Every value below `value` depth-first, as a tree shows them, as (path, key, value).

    An explicit stack, not recursion, so deeply nested values cannot exhaust it.
    """
    stack: list[tuple[list[Key], Iterator[tuple[Key, Any]]]] = [([], _items(value))]
    while stack:
        path, items = stack[-1]
        step = next(items, None)
        if step is None:
            stack.pop()
            continue
        key, child = step
        child_path = [*path, key]
        yield child_path, key, child
        if is_container(child) and child:
            stack.append((child_path, _items(child)))


def _items(value: Any) -> Iterator[tuple[Key, Any]]:
    if isinstance(value, dict):
        return iter(value.items())
    if isinstance(value, list):
        return enumerate(value)
    return iter(())


class Search:
    """One depth-first search of a value for a text in keys and scalars, advanced by slices.

    `advance` walks until a match, the end, `SEARCH_LIMIT` values or a deadline, so a
    caller with an event loop can give it back between slices. It starts after the path
    `start` (None: from the top) and wraps round once.
    """

    def __init__(self, value: Any, needle: str, start: list[Key] | None) -> None:
        self.value = value
        self.needle = needle.casefold()
        self.start = start
        #: The path of the last match (or where the search began).
        self.last: list[Key] | None = start
        self.running = False
        self.visited = 0
        self._armed = start is None
        self._wrapped = False
        self._walk = self._nodes()

    def resume_after_last(self) -> None:
        """Go on from the last match, wrapping round to it at most once."""
        self.start = self.last
        self._wrapped = False

    def _nodes(self) -> Iterator[tuple[list[Key], Key | None, Any]]:
        if not is_container(self.value):
            yield [], None, self.value
        else:
            yield from walk(self.value)

    def _hit(self, key: Key | None, value: Any) -> bool:
        if isinstance(key, str) and self.needle in key.casefold():
            return True
        return not is_container(value) and self.needle in scalar_text(value).casefold()

    def advance(self, deadline: float) -> SearchOutcome:
        """Walk on until a match ("found"), the end ("none"), the limit or `deadline`
        (a `time.perf_counter()` moment: "busy")."""
        checked = 0
        while True:
            step = next(self._walk, None)
            if step is None:
                if self._wrapped or self.start is None:
                    return "none"
                self._wrapped, self._armed = True, True  # from the top, back to where we began
                self._walk = self._nodes()
                continue
            path, key, value = step
            self.visited += 1
            if self.visited > SEARCH_LIMIT:
                return "limit"
            if not self._armed:
                self._armed = path == self.start
            elif self._hit(key, value):
                self.last = path
                return "found"
            elif self._wrapped and path == self.start:
                return "none"
            checked += 1
            if checked % 256 == 0 and time.perf_counter() > deadline:
                return "busy"
