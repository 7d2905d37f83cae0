r"""Masking secret values in everything a run writes or shows.

A `Redactor` knows the values of the credentials a run resolved and replaces
them, wherever they occur, in event payloads, log lines and error messages
before these reach the journal, the terminal or the Studio. Besides the plain
value it catches every form a value takes on its way into output, also mixed
within one value: each character may appear as itself, JSON-escaped (`\"`,
`\\`, `\/` as PHP writes slashes, `\n`, or `\uXXXX` in either case, with
surrogate pairs beyond the BMP), or URL-encoded (`%XX` of its UTF-8 bytes in
either case, `+` for a space); and the whole value base64-encoded (standard
and URL-safe alphabets, at each of the three alignments it can have inside a
longer base64 text) or hex-encoded (either case). Encoded forms shorter than
`MIN_ENCODED_LENGTH` characters are not masked (they would match ordinary
output).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from typing import Any, TypeVar, cast

REDACTED = "«redacted»"

#: Values shorter than this are not masked: replacing every "a" or "42" in
#: the output would destroy it while protecting nothing worth protecting.
MIN_SECRET_LENGTH = 4
#: Base64 and hex forms shorter than this are not masked.
MIN_ENCODED_LENGTH = 8

#: How JSON writers escape characters (besides `\uXXXX`, which works for every one).
_JSON_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "/": "\\/",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
}

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
        forms = {_text_pattern(secret), *map(re.escape, _encoded_forms(secret))}
        if forms <= self._forms:
            return
        self._forms |= forms
        alternatives = "|".join(sorted(self._forms, key=lambda f: (-len(f), f)))
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


def _text_pattern(secret: str) -> str:
    """A pattern for the secret with each character in any of its text encodings."""
    return "".join(_char_pattern(char) for char in secret)


def _char_pattern(char: str) -> str:
    forms = [re.escape(char)]
    if char in _JSON_ESCAPES:
        forms.append(re.escape(_JSON_ESCAPES[char]))
    code = ord(char)
    if code > 0xFFFF:
        high, low = 0xD800 + ((code - 0x10000) >> 10), 0xDC00 + ((code - 0x10000) & 0x3FF)
        forms.append(f"(?i:\\\\u{high:04x}\\\\u{low:04x})")
    else:
        forms.append(f"(?i:\\\\u{code:04x})")
    forms.append("(?i:" + "".join(f"%{byte:02x}" for byte in char.encode("utf-8")) + ")")
    if char == " ":
        forms.append("\\+")
    return "(?:" + "|".join(forms) + ")"


def _encoded_forms(secret: str) -> set[str]:
    """The secret's base64 (each alignment, both alphabets) and hex forms, long enough to mask."""
    data = secret.encode("utf-8")
    forms = {data.hex(), data.hex().upper()}
    for offset in range(3):
        encoded = base64.b64encode(bytes(offset) + data).decode("ascii").rstrip("=")
        # Characters that depend on bytes outside the secret differ in a longer text.
        first = (offset * 4 + 2) // 3
        last = ((offset + len(data)) * 4) // 3
        for alphabet in (encoded, encoded.replace("+", "-").replace("/", "_")):
            forms.add(alphabet[first:last])
    return {form for form in forms if len(form) >= MIN_ENCODED_LENGTH}
