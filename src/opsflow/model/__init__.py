"""The flow model: plain pydantic v2 models of a flow file, and its migrations."""

from opsflow.model.flow import (
    FORMAT,
    FORMAT_VERSION,
    GROUP_COLORS,
    CredentialRequirement,
    Edge,
    Flow,
    FlowInput,
    FlowSettings,
    Layout,
    Node,
    NodeGroup,
    NodePlacement,
    RetryPolicy,
    StickyNote,
)

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "GROUP_COLORS",
    "CredentialRequirement",
    "Edge",
    "Flow",
    "FlowInput",
    "FlowSettings",
    "Layout",
    "Node",
    "NodeGroup",
    "NodePlacement",
    "RetryPolicy",
    "StickyNote",
]
