"""What the validator reports: one `Diagnostic` per problem, never an exception."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Severity = Literal["error", "warning"]
_RANK = {"error": 0, "warning": 1}


@dataclass(frozen=True)
class Diagnostic:
    """A problem in a flow, pinned to the node, edge and field it concerns.

    `code` is stable (tools may filter on it); `message` says what is wrong
    and `hint` what to do about it.
    """

    code: str
    severity: Severity
    message: str
    hint: str = ""
    node: str | None = None
    field: str | None = None
    edge: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {key: value for key, value in asdict(self).items() if value not in (None, "")}

    def format(self, source: str = "") -> str:
        """One line for a terminal: `file: error [code] node 'x' field y: message. hint`."""
        where = []
        if self.node is not None:
            where.append(f"node '{self.node}'")
        if self.edge is not None:
            where.append(f"edge '{self.edge}'")
        if self.field:
            where.append(f"field {self.field}")
        place = " ".join(where)
        text = f"{self.severity} [{self.code}] {place + ': ' if place else ''}{self.message}"
        if self.hint:
            text += f" — {self.hint}"
        return f"{source}: {text}" if source else text


def sort_key(diagnostic: Diagnostic) -> tuple[int, str, str, str, str]:
    return (
        _RANK[diagnostic.severity],
        diagnostic.node or "",
        diagnostic.edge or "",
        diagnostic.code,
        diagnostic.field or "",
    )


def has_errors(diagnostics: list[Diagnostic]) -> bool:
    return any(d.severity == "error" for d in diagnostics)
