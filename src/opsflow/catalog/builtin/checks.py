"""Parameter checks shared by several built-in node types (HTTP URLs, status lists)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from opsflow.expr import is_template

STATUS_RANGE_PATTERN = re.compile(r"^(\d{3})(?:-(\d{3}))?$")


def check_http_url(url: str, field: str) -> None:
    """A URL without template syntax must be an absolute http(s) URL."""
    if is_template(url):
        return
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        parts = urlsplit("")
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or any(char.isspace() for char in url)
    ):
        raise ValueError(
            f"`{field}` is '{url}'; give a full http:// or https:// URL such as "
            "https://api.example.com/v1"
        )


def parse_statuses(text: str) -> list[tuple[int, int]]:
    """Parse a status list such as `200-299,304` into inclusive ranges."""
    ranges: list[tuple[int, int]] = []
    for part in text.split(","):
        match = STATUS_RANGE_PATTERN.match(part.strip())
        if match is None:
            raise ValueError(
                f"'{part.strip()}' in '{text}' is not a status or a range; write e.g. '200-299,304'"
            )
        low = int(match.group(1))
        high = int(match.group(2) or low)
        if not 100 <= low <= high <= 599:
            raise ValueError(
                f"'{part.strip()}' in '{text}' is not a range of HTTP statuses; "
                "statuses run from 100 to 599, low before high"
            )
        ranges.append((low, high))
    return ranges
