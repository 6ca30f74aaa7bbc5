"""The versioned flow document (nodes, edges, canvas positions): its schema, loading it with problems an admin can
read, and its schema version. The node types it may hold are runtime/node_types.py."""

import gc
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_serializer

SCHEMA_VERSION = 1


class FlowDocumentError(ValueError):
    """The document cannot be read as a flow; `problems` lists every reason, one sentence each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class Position(BaseModel):
    model_config = ConfigDict(extra="ignore")
    x: float = 0.0
    y: float = 0.0

    @field_serializer("x", "y")
    def _whole_numbers_stay_whole(self, value: float) -> int | float:
        return int(value) if float(value).is_integer() else value


class FlowNode(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str = Field(min_length=1)
    type: str
    position: Position = Field(default_factory=Position)
    data: dict[str, Any] = Field(default_factory=dict)


class FlowEdge(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str = Field(min_length=1)
    source: str
    source_handle: str = "next"
    target: str


class FlowDocument(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    schema_version: int = Field(default=SCHEMA_VERSION, alias="schema")
    nodes: list[FlowNode] = Field(default_factory=list)
    edges: list[FlowEdge] = Field(default_factory=list)

    def to_dict(self) -> dict:
        return self.model_dump(by_alias=True)

    def nodes_by_id(self) -> dict[str, FlowNode]:
        return {node.id: node for node in self.nodes}


def load_flow(obj: object) -> FlowDocument:
    """The flow document in `obj` (a stored dict; `{}` is the empty flow). Raises FlowDocumentError when its structure
    is broken; whether the flow makes sense is the validator's job."""
    if isinstance(obj, FlowDocument):
        return obj
    if not isinstance(obj, Mapping):
        raise FlowDocumentError([f"A flow must be an object with 'nodes' and 'edges', not {type(obj).__name__}."])
    schema = obj.get("schema", SCHEMA_VERSION)
    if isinstance(schema, int) and schema > SCHEMA_VERSION:
        raise FlowDocumentError([f"This flow was saved by a newer Referflow (flow schema {schema}); "
                                 f"this version reads schema {SCHEMA_VERSION}."])
    try:
        with paused_gc():
            document = FlowDocument.model_validate(dict(obj))
    except ValidationError as error:
        raise FlowDocumentError(list(dict.fromkeys(_explain(obj, e) for e in error.errors()))) from None
    if problems := _find_duplicate_ids("node", document.nodes) + _find_duplicate_ids("connection", document.edges):
        raise FlowDocumentError(problems)
    return document


@contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic garbage collection inside the block. Reading or checking a big flow creates tens of thousands of
    small objects that hold no cycles; left on, the collector keeps re-scanning them while they are built, and reading
    a 10,000-node flow takes two and a half times as long. Reference counting still frees everything as usual. The
    switch is process-wide; it is turned back on at the end only if it was on at the start."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


_REASONS = {
    "missing": "is missing",
    "string_type": "must be text",
    "string_too_short": "must not be empty",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "dict_type": "must be an object",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "list_type": "must be a list",
}


def _explain(obj: Mapping, error: Any) -> str:
    loc = error["loc"]
    reason = _REASONS.get(error["type"], error["msg"].lower())
    if len(loc) >= 2 and loc[0] in ("nodes", "edges") and isinstance(loc[1], int):
        where, rest = _element_name(obj, loc[0], loc[1]), loc[2:]
    else:
        where, rest = "The flow", loc
    return f"{where}: '{'.'.join(map(str, rest))}' {reason}." if rest else f"{where} {reason}."


def _element_name(obj: Mapping, key: str, index: int) -> str:
    kind = "Node" if key == "nodes" else "Connection"
    element = obj[key][index]
    ident = element.get("id") if isinstance(element, Mapping) else None
    return f"{kind} '{ident}'" if isinstance(ident, str) and ident else f"{kind} #{index + 1}"


def _find_duplicate_ids(kind: str, elements: list[FlowNode] | list[FlowEdge]) -> list[str]:
    seen: set[str] = set()
    repeated = [e.id for e in elements if e.id in seen or seen.add(e.id)]
    return [f"Two {kind}s have the id '{ident}'; every {kind} needs its own id." for ident in dict.fromkeys(repeated)]


# ------------------------------------------------------------------------------------------------ the node catalogue












































































