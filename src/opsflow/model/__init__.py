"""The flow model: plain pydantic v2 models of a flow file, and its migrations."""

from opsflow.model.flow import (
    FORMAT,
    FORMAT_VERSION,
    CredentialRequirement,
    Edge,
    Flow,
    FlowInput,
    FlowSettings,
    Layout,
    Node,
    NodePlacement,
    RetryPolicy,
    StickyNote,
)

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "CredentialRequirement",
    "Edge",
    "Flow",
    "FlowInput",
    "FlowSettings",
    "Layout",
    "Node",
    "NodePlacement",
    "RetryPolicy",
    "StickyNote",
]
