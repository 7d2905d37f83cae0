"""Errors meant for people: one sentence naming the place and what to do."""

from __future__ import annotations


class OpsflowError(Exception):
    """Base of every error Opsflow reports to a user instead of a traceback."""


class FlowFileError(OpsflowError):
    """A flow file could not be read, parsed or understood.

    `str(error)` is a single line: `path[:line[:col]]: [node 'id' field x: ]message`.
    """

    def __init__(
        self,
        path: str,
        message: str,
        *,
        line: int | None = None,
        column: int | None = None,
        node: str | None = None,
        field: str | None = None,
    ) -> None:
        self.path = path
        self.message = message
        self.line = line
        self.column = column
        self.node = node
        self.field = field
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = self.path
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        subject = ""
        if self.node is not None:
            subject += f"node '{self.node}' "
        if self.field:
            subject += f"field {self.field}"
        subject = subject.strip()
        return f"{where}: {subject + ': ' if subject else ''}{self.message}"
