"""The flow as plain pydantic models: what a `*.flow.json` file means.

Semantics (nodes, edges, inputs, settings) are kept apart from presentation
(`layout`), which the engine never reads. The models hold no behaviour beyond
validating their own shape; node parameters are checked against the node
type's model by `opsflow.validate`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, field_validator

from opsflow.credentials.kinds import CredentialKind

FORMAT = "opsflow.flow"
FORMAT_VERSION = 1

#: Node ids are referenced from expressions as `nodes.<id>`, so they must be
#: valid identifiers there: lower-case letters, digits and underscores.
NODE_ID_PATTERN = r"^[a-z_][a-z0-9_]{0,63}$"
#: Flow, edge and note ids may also use hyphens and dots.
SLUG_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"
PORT_PATTERN = r"^[a-z_][a-z0-9_]{0,63}$"


def _compact_number(value: float) -> float | int:
    value = float(value)
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


#: A float that is written as an integer when it is whole, so 100.0 saves as 100.
Number = Annotated[float, PlainSerializer(_compact_number, when_used="json")]

NodeId = Annotated[str, Field(pattern=NODE_ID_PATTERN)]
Slug = Annotated[str, Field(pattern=SLUG_PATTERN)]
PortName = Annotated[str, Field(pattern=PORT_PATTERN)]

InputType = Literal["string", "integer", "number", "boolean", "object", "array"]
JoinMode = Literal["all", "any"]


class _Strict(BaseModel):
    """Base for every file model: unknown keys are errors, not silently dropped."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


InputFormat = Literal["email", "date", "date-time", "hostname", "uri"]


class FlowInput(_Strict):
    """A typed input of the flow, asked for by the manual trigger and by sub-flow calls."""

    type: InputType = "string"
    title: str = ""
    description: str = ""
    required: bool = False
    default: Any = None
    enum: list[Any] | None = None
    pattern: str | None = Field(
        None,
        description="A regular expression a text value must contain a match of, as in JSON "
        "Schema (anchor it with ^...$ to match the whole value).",
    )
    format: InputFormat | None = Field(None, description="A well-known shape for text values.")
    minimum: Number | None = None
    maximum: Number | None = None

    @field_validator("pattern")
    @classmethod
    def _pattern_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"is not a valid regular expression: {exc}") from None
        return value


class CredentialRequirement(_Strict):
    """A credential the flow needs, by name; its value lives in the keyring, never here."""

    kind: CredentialKind
    description: str = ""


class FlowSettings(_Strict):
    """Run-wide settings that change how the flow executes."""

    max_concurrency: int = Field(32, ge=1, le=1024, description="Nodes running at once.")
    timeout_s: Number | None = Field(
        None, gt=0, le=30 * 24 * 3600, description="Whole-run timeout in seconds."
    )
    file_roots: list[str] = Field(
        default_factory=list,
        description="Folders that file operations may touch; empty means none.",
    )


class RetryPolicy(_Strict):
    """How often a failed node is tried again, with exponential backoff."""

    attempts: int = Field(3, ge=1, le=100, description="Total attempts, the first included.")
    backoff_s: Number = Field(1.0, ge=0, le=3600, description="Wait before the second attempt.")
    max_backoff_s: Number = Field(300.0, ge=0, le=24 * 3600)
    jitter: bool = True


class Node(_Strict):
    """One step of the flow: a trigger, condition, action or control node."""

    id: NodeId
    type: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")]
    type_version: int = Field(1, ge=0)
    title: str = ""
    description: str = ""
    params: dict[str, Any] = Field(default_factory=dict)
    retry: RetryPolicy | None = None
    timeout_s: Number | None = Field(None, gt=0, le=30 * 24 * 3600)
    join: JoinMode = "all"
    disabled: bool = False


class Edge(_Strict):
    """A wire from one node's output port to another node's (single) input."""

    id: Slug
    source: NodeId = Field(alias="from")
    port: PortName
    target: NodeId = Field(alias="to")


class NodePlacement(_Strict):
    x: Number
    y: Number
    width: Number | None = Field(None, gt=0)
    collapsed: bool = False
    color: str | None = Field(None, pattern=r"^#[0-9a-fA-F]{6}$")


class StickyNote(_Strict):
    """A Markdown note on the canvas; presentation only."""

    id: Slug
    x: Number
    y: Number
    width: Number = Field(240.0, gt=0)
    height: Number = Field(120.0, gt=0)
    text: str = ""
    color: str | None = Field(None, pattern=r"^#[0-9a-fA-F]{6}$")


class Layout(_Strict):
    """Where things are drawn. The engine never reads this section."""

    nodes: dict[str, NodePlacement] = Field(default_factory=dict)
    notes: list[StickyNote] = Field(default_factory=list)


class Flow(_Strict):
    """A whole flow file."""

    format: Literal["opsflow.flow"] = "opsflow.flow"
    version: Literal[1] = 1
    id: Slug
    name: str = ""
    description: str = ""
    inputs: dict[str, FlowInput] = Field(default_factory=dict)
    #: What the flow hands back to a caller (sub-flow, for-each): name -> template,
    #: rendered when the run ends.
    outputs: dict[str, str] = Field(default_factory=dict)
    credentials: dict[str, CredentialRequirement] = Field(default_factory=dict)
    vars: dict[str, Any] = Field(default_factory=dict)
    settings: FlowSettings = Field(default_factory=FlowSettings)
    nodes: list[Node] = Field(default_factory=list)
    edges: list[Edge] = Field(default_factory=list)
    layout: Layout = Field(default_factory=Layout)

    def node_map(self) -> dict[str, Node]:
        """Nodes by id (the last one wins if ids repeat; validation reports that)."""
        return {node.id: node for node in self.nodes}
