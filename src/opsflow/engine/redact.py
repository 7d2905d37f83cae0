"""Masking secret values in everything a run writes or shows.

A `Redactor` knows the values of the credentials a run resolved and replaces
them, wherever they occur, in event payloads, log lines and error messages
before these reach the journal, the terminal or the Studio. Besides the plain
value it catches the forms a value most often takes on its way into output:
URL-encoded (query strings, form bodies) and JSON-escaped (a secret inside a
JSON text that was itself logged as a string).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any, TypeVar, cast
from urllib.parse import quote, quote_plus

REDACTED = "«redacted»"

#: Values shorter than this are not masked: replacing every "a" or "42" in
#: the output would destroy it while protecting nothing worth protecting.
MIN_SECRET_LENGTH = 4

T = TypeVar("T")


class Redactor:
    """Replaces known secret values (and their encoded forms) with a mask, recursively.

    Strings are searched with one compiled regular expression holding every
    form of every secret, longest first; where two secrets overlap the union
    of both is masked, so no fragment of either survives. Dict keys are
    redacted too. Values without secrets come back as the very same objects,
    so the common case allocates nothing.
    """

    def __init__(self, secrets: Iterable[str] = (), *, mask: str = REDACTED) -> None:
        self._mask = mask
        self._forms: set[str] = set()
        self._search: re.Pattern[str] | None = None
        self._overlapping: re.Pattern[str] | None = None
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str) -> None:
        """Also mask `secret` from now on (ignored if shorter than MIN_SECRET_LENGTH or blank)."""
        if len(secret) < MIN_SECRET_LENGTH or not secret.strip():
            return
        forms = {
            secret,
            quote(secret, safe=""),
            quote(secret),
            quote_plus(secret),
            json.dumps(secret)[1:-1],
            json.dumps(secret, ensure_ascii=False)[1:-1],
        }
        if forms <= self._forms:
            return
        self._forms |= forms
        alternatives = "|".join(
            re.escape(form) for form in sorted(self._forms, key=lambda f: (-len(f), f))
        )
        self._search = re.compile(alternatives)
        # A zero-width lookahead finds a match at every position, overlapping ones included.
        self._overlapping = re.compile(f"(?=({alternatives}))")

    def redact(self, value: T) -> T:
        """`value` with every secret masked: strings, and dicts, lists and tuples recursively."""
        if self._search is None:
            return value
        return cast(T, self._value(value))

    def _value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self._text(value)
        if isinstance(value, dict):
            return self._dict(value)
        if isinstance(value, list | tuple):
            items = [self._value(item) for item in value]
            if all(new is old for new, old in zip(items, value, strict=True)):
                return value
            return items if isinstance(value, list) else tuple(items)
        return value

    def _dict(self, value: dict[Any, Any]) -> dict[Any, Any]:
        changed = False
        result: dict[Any, Any] = {}
        for key, item in value.items():
            new_key = self._text(key) if isinstance(key, str) else key
            new_item = self._value(item)
            changed = changed or new_key is not key or new_item is not item
            result[new_key] = new_item
        return result if changed else value

    def _text(self, text: str) -> str:
        assert self._search is not None and self._overlapping is not None
        first = self._search.search(text)
        if first is None:
            return text
        spans: list[list[int]] = []
        for match in self._overlapping.finditer(text, first.start()):
            start, end = match.start(), match.end(1)
            if spans and start < spans[-1][1]:
                spans[-1][1] = max(spans[-1][1], end)
            else:
                spans.append([start, end])
        parts = []
        position = 0
        for start, end in spans:
            parts.append(text[position:start])
            parts.append(self._mask)
            position = end
        parts.append(text[position:])
        return "".join(parts)
