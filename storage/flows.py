"""Flows as the builder handles them: list, create, rename, duplicate, delete, save drafts, one-flow import/export."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from runtime.flowdoc import SCHEMA_VERSION, load_flow
from storage.models import EntryPoint, Flow, Trigger, utcnow
from storage.names import check_new_name, free_name

EMPTY_FLOW = {"schema": SCHEMA_VERSION, "nodes": [
    {"id": "start", "type": "start", "position": {"x": 40, "y": 160}, "data": {}}], "edges": []}
FLOW_FORMAT = "referflow-flow"


class FlowError(ValueError):
    """A flow operation that cannot be done; the message is for the admin."""


class DraftConflict(FlowError):
    """The draft changed since the editor loaded it (another tab or admin saved in between)."""


@dataclass(frozen=True)
class FlowSummary:
    id: int
    name: str
    status: str  # "draft" (never published), "published", "changed" (published, with unpublished edits)
    version: int
    updated_at: datetime


def list_flows(*, session: Session) -> list[FlowSummary]:
    return [FlowSummary(flow.id, flow.name, flow_status(flow), flow.version, flow.updated_at)
            for flow in session.exec(select(Flow).order_by(Flow.name)).all()]


def flow_status(flow: Flow) -> str:
    """draft (never published), published, or changed (the draft differs from the published copy: edits undone
    back to what was published leave it published)."""
    if flow.published is None:
        return "draft"
    return "published" if flow.published_version == flow.version or flow.draft == flow.published else "changed"


def create_flow(*, session: Session, name: str, document: dict | None = None) -> Flow:
    flow = Flow(name=_check_name(session, name), draft=_checked(document or EMPTY_FLOW))
    session.add(flow)
    session.flush()
    return flow


def rename_flow(*, session: Session, flow_id: int, name: str) -> Flow:
    flow = _get(session, flow_id)
    flow.name = _check_name(session, name, flow_id)
    flow.updated_at = utcnow()
    session.add(flow)
    session.flush()
    return flow


def duplicate_flow(*, session: Session, flow_id: int) -> Flow:
    original = _get(session, flow_id)
    name = free_name(session, "flow", f"{original.name} (copy)", lambda number: f"{original.name} (copy {number})")
    return create_flow(session=session, name=name, document=original.draft)


def delete_flow(*, session: Session, flow_id: int) -> list[str]:
    """Delete the flow; returns what pointed at it (entry points now answer with nothing, triggers lose the action's
    target) so the page can say so. `flow_users` tells the same before deleting."""
    users = flow_users(session=session, flow_id=flow_id)
    session.delete(_get(session, flow_id))
    session.flush()
    return users


def flow_users(*, session: Session, flow_id: int) -> list[str]:
    users = [f"entry point '{ref}'" for ref in session.exec(
        select(EntryPoint.ref).where(EntryPoint.response_flow_id == flow_id))]
    users += [f"trigger '{trigger.name}'" for trigger in session.exec(select(Trigger))
              if any(a.get("type") == "start_flow" and a.get("flow_id") == flow_id for a in trigger.actions)]
    users += [f"flow '{flow.name}'" for flow in session.exec(select(Flow).where(Flow.id != flow_id))
              if any(n.get("type") == "go_to_flow" and n.get("data", {}).get("flow_id") == flow_id
                     for n in flow.draft.get("nodes", []))]
    return users


def save_draft(*, session: Session, flow_id: int, document: dict, base_version: int | None = None) -> Flow:
    """Store the canvas's document as the draft (version + 1). With `base_version`, refuse to overwrite a draft
    someone else saved meanwhile."""
    flow = _get(session, flow_id)
    if base_version is not None and flow.version != base_version:
        raise DraftConflict(f"Flow '{flow.name}' was changed elsewhere (version {flow.version}, this editor has "
                            f"{base_version}). Reload to see the newest draft.")
    flow.draft = _checked(document)
    flow.version += 1
    flow.updated_at = utcnow()
    session.add(flow)
    session.flush()
    return flow


def export_flow(*, session: Session, flow_id: int) -> dict[str, Any]:
    flow = _get(session, flow_id)
    return {"format": FLOW_FORMAT, "version": 1, "name": flow.name, "flow": flow.draft}


def import_flow(*, session: Session, document: object) -> Flow:
    """A flow exported by `export_flow` becomes a new flow (a free name is chosen if the name is taken)."""
    if not isinstance(document, dict) or document.get("format") != FLOW_FORMAT:
        raise FlowError("This file is not a Referflow flow export (its 'format' should be 'referflow-flow').")
    name = free_name(session, "flow", str(document.get("name") or "Imported flow").strip())
    return create_flow(session=session, name=name, document=document.get("flow"))


def _get(session: Session, flow_id: int) -> Flow:
    flow = session.get(Flow, flow_id)
    if flow is None:
        raise FlowError(f"There is no flow with ID {flow_id}; it may have been deleted.")
    return flow


def _check_name(session: Session, name: str, flow_id: int | None = None) -> str:
    name = (name or "").strip()
    if problem := check_new_name(session, "flow", name, flow_id):
        raise FlowError(problem)
    return name


def _checked(document: object) -> dict:
    return load_flow(document).to_dict()  # raises FlowDocumentError with the broken parts named
