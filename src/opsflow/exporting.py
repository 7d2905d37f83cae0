"""Exporting a flow for servers: checked, canonical text with no literal secrets.

One place decides whether a flow may leave the workstation, so the command
line and the Studio refuse the same things with the same sentences.
"""

from __future__ import annotations

from opsflow.errors import OpsflowError
from opsflow.flowfile import canonical_document, dump_flow
from opsflow.model.flow import Flow, Layout
from opsflow.secretscan import find_secrets
from opsflow.validate import validate_flow


class ExportRefused(OpsflowError):
    """The flow has errors or literal secrets; `problems` holds one sentence each."""

    def __init__(self, source: str, problems: list[str], reason: str) -> None:
        super().__init__(f"{source}: not exported: {reason}")
        self.problems = problems


def export_text(
    flow: Flow,
    source: str,
    *,
    allow_secret: frozenset[str] = frozenset(),
    strip_layout: bool = False,
) -> str:
    """The canonical text to export, or ExportRefused naming every problem."""
    errors = [d for d in validate_flow(flow) if d.severity == "error"]
    if errors:
        raise ExportRefused(
            source, [d.format(source) for d in errors], "fix the errors above first"
        )
    if strip_layout:
        flow = flow.model_copy(update={"layout": Layout()})
    findings = find_secrets(canonical_document(flow), allow_secret)
    if findings:
        raise ExportRefused(
            source, [f.format(source) for f in findings], "it holds literal secrets"
        )
    return dump_flow(flow)
