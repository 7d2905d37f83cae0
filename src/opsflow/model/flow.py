"""The flow as plain pydantic models: what a `*.flow.json` file means.

Semantics (nodes, edges, inputs, settings) are kept apart from presentation
(`layout`), which the engine never reads. The models hold no behaviour beyond
validating their own shape; node parameters are checked against the node
type's model by `opsflow.validate`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, get_args

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
#: The JSON Schema key that names how a field's strings are read (template, expression, ...);
#: `opsflow.catalog.fields` documents the kinds.
KIND_KEY = "x-opsflow"


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

    type: InputType = Field("string", description="What kind of value the input takes.")
    title: str = Field("", description="The label the run form shows; the name when empty.")
    description: str = Field("", description="Help for the person giving the value.")
    required: bool = Field(False, description="A run cannot start without a value.")
    default: Any = Field(None, description="The value used when a run gives none.")
    enum: list[Any] | None = Field(
        None, title="Allowed values", description="When set, the only values the input takes."
    )
    pattern: str | None = Field(
        None,
        description="A regular expression a text value must contain a match of, as in JSON "
        "Schema (anchor it with ^...$ to match the whole value).",
    )
    format: InputFormat | None = Field(None, description="A well-known shape for text values.")
    minimum: Number | None = Field(None, description="The smallest number allowed.")
    maximum: Number | None = Field(None, description="The largest number allowed.")

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

    kind: CredentialKind = Field(
        description="What the credential holds; the node fields using it accept some kinds only."
    )
    description: str = Field("", description="What the credential is for, and who can give it.")


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


#: The colours a group frame can take: names rather than hex values, so each theme (light,
#: dark) draws its own readable tint of them.
GroupColor = Literal["blue", "green", "yellow", "orange", "red", "purple", "grey"]
GROUP_COLORS: tuple[GroupColor, ...] = get_args(GroupColor)


class NodeGroup(_Strict):
    """A titled, coloured frame around some nodes, moved and collapsed as one; presentation only.

    Its rectangle is not stored: it is drawn around its members' cards, so moving a node
    changes one line and the frame can never disagree with the nodes inside it.
    """

    id: Slug
    title: str = Field("", description="The name shown on the frame's title bar.")
    color: GroupColor = Field("blue", description="A palette name; each theme has its own tint.")
    nodes: list[str] = Field(
        default_factory=list, description="The ids of the member nodes; a node is in one group."
    )
    collapsed: bool = Field(False, description="Drawn as one compact card instead of its nodes.")


class Layout(_Strict):
    """Where things are drawn. The engine never reads this section."""

    nodes: dict[str, NodePlacement] = Field(default_factory=dict)
    notes: list[StickyNote] = Field(default_factory=list)
    groups: list[NodeGroup] = Field(default_factory=list)


class Flow(_Strict):
    """A whole flow file."""

    format: Literal["opsflow.flow"] = "opsflow.flow"
    version: Literal[1] = 1
    id: Slug = Field(
        description="The flow's stable id. Runs are filed under it: a new id starts a new history."
    )
    name: str = Field("", description="The name people see in lists and the window title.")
    description: str = Field("", description="What the flow does, for people reading it.")
    inputs: dict[str, FlowInput] = Field(
        default_factory=dict,
        description="Typed values a run starts with, read as inputs.<name>; the manual trigger "
        "and sub-flow calls ask for them.",
    )
    outputs: dict[str, str] = Field(
        default_factory=dict,
        description="What the flow hands back to a caller (sub-flow, for-each): name -> "
        "template, rendered when the run ends.",
        json_schema_extra={KIND_KEY: "template"},
    )
    credentials: dict[str, CredentialRequirement] = Field(
        default_factory=dict,
        description="The credentials the flow's nodes use, by name and kind; their values stay "
        "in the keyring.",
    )
    vars: dict[str, Any] = Field(
        default_factory=dict,
        title="Variables",
        description="Run variables and their starting values (any JSON), read as vars.<name>.",
    )
    settings: FlowSettings = Field(default_factory=FlowSettings, description="Run-wide settings.")
    nodes: list[Node] = Field(default_factory=list)
    edges: list[Edge] = Field(default_factory=list)
    layout: Layout = Field(default_factory=Layout)

    def node_map(self) -> dict[str, Node]:
        """Nodes by id (the last one wins if ids repeat; validation reports that)."""
        return {node.id: node for node in self.nodes}
