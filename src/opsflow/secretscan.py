"""Finding literal secrets in a flow before it leaves the workstation.

Flows hold credential names, never values. Export scans every string of the
canonical document and refuses values that look like secrets: private keys,
well-known token formats, auth headers, passwords in URLs, and literal
values under keys named like secrets. Templates (`{{ ... }}`) are not
secrets: they are resolved at run time.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

_VALUE_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("a private key", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")),
    ("an AWS access key id", re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("a GitHub token", re.compile(r"\b(ghp|gho|ghu|ghs|ghr|github_pat)_[A-Za-z0-9_]{20,}")),
    ("a Slack token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}")),
    (
        "a chat incoming-webhook URL",
        re.compile(r"hooks\.slack\.com/services/\S+|webhook\.office\.com/\S+|/hooks/[a-z0-9]{20,}"),
    ),
    ("a JSON Web Token", re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.")),
    (
        "an Authorization header value",
        re.compile(r"^\s*(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]{8,}"),
    ),
    ("a password inside a URL", re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@{}]+:[^/\s@{}]+@", re.I)),
]

_SECRET_KEY = re.compile(
    r"(^|[_.-])(password|passwd|pwd|secret|token|api[_-]?key|apikey|private[_-]?key|"
    r"authorization|client[_-]?secret|access[_-]?key)($|[_.-])",
    re.I,
)


@dataclass(frozen=True)
class SecretFinding:
    path: str
    reason: str

    def format(self, source: str) -> str:
        return (
            f"{source}: {self.path} holds what looks like {self.reason}; store it with "
            "`opsflow credentials set` and refer to the credential by name "
            f"(or pass --allow-secret {self.path} if it is not a secret)"
        )


def find_secrets(document: Any, allowed: frozenset[str] = frozenset()) -> list[SecretFinding]:
    """Secret-looking literal values in a JSON document, by dotted path."""
    findings = []
    for path, key, value in _strings(document, ""):
        if path in allowed:
            continue
        reason = _looks_secret(key, value)
        if reason is not None:
            findings.append(SecretFinding(path, reason))
    return findings


def _looks_secret(key: str, value: str) -> str | None:
    for reason, pattern in _VALUE_PATTERNS:
        if pattern.search(value):
            return reason
    literal = value.strip()
    is_template = "{{" in literal or "{%" in literal
    if literal and not is_template and _SECRET_KEY.search(key) and " " not in literal:
        return f"a literal value for '{key}'"
    return None


def _strings(value: Any, path: str, key: str = "") -> Iterator[tuple[str, str, str]]:
    if isinstance(value, str):
        yield path, key, value
    elif isinstance(value, dict):
        for child_key, child in value.items():
            yield from _strings(child, f"{path}.{child_key}" if path else child_key, child_key)
    elif isinstance(value, list):
        for index, child in enumerate(value):
            label = child.get("id") if isinstance(child, dict) else None
            step = f"{path}.{label}" if isinstance(label, str) else f"{path}[{index}]"
            yield from _strings(child, step, key)
