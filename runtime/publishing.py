"""Publishing checks: validation of the stored workspace (and of the flow or trigger open in an editor), publishing
a flow (refused while errors exist), discarding drafts, and keeping a trigger that would loop switched off."""

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from sqlmodel import Session

from runtime.links import USER_ID_PLACEHOLDER, ChannelIdentities, lint_link
from runtime.validation import (
    ERROR,
    InvalidFlowError,
    ValidationIssue,
    WorkspaceIndex,
    has_errors,
    validate_flow,
    validate_workspace,
)
from runtime.vocabulary import IDENTITY_FIELDS
from storage.fields_tags import Choices, fetch_row, save_row
from storage.models import Flow, Trigger, utcnow
from storage.names import name_key
from storage.settings import get_settings
from storage.workspace_io import definitions_version, export_workspace


def workspace_problems(*, session: Session, use_draft: bool = True, drafts: Mapping[int, dict] | None = None,
                       trigger_draft: tuple[int, dict] | None = None) -> list[ValidationIssue]:
    """Every problem of the workspace's flows (drafts, or the published copies the live bot runs), its triggers and
    its entry links. `drafts` replaces stored drafts (the canvas validates what is on screen before saving);
    `trigger_draft` (id, trigger in the workspace format) replaces or adds one trigger the same way (id 0: new)."""
    return _check_workspace(export_workspace(session=session), use_draft, drafts or {}, trigger_draft)


class FlowChecks:
    """The problems of the flow open in one editor, errors first, checked after every edit. The rest of the
    workspace is exported once and again only when a definition changed since (the definitions version moved:
    another admin's edit, or this editor's own saved draft), instead of on every edit."""

    def __init__(self, flow_id: int) -> None:
        self.flow_id = flow_id
        self._workspace: dict | None = None
        self._version: int | None = None

    def problems(self, *, session: Session, document: dict, index: WorkspaceIndex) -> list[ValidationIssue]:
        """The flow's own problems in the `document` on screen, plus loops that run through other flows or triggers
        and come back (their steps in other flows are left out of `node_ids`)."""
        own = validate_flow(self.flow_id, document, index)
        workspace = _check_workspace(self._exported(session), True, {self.flow_id: document}, None)
        across = [replace(issue, node_ids=tuple(node for flow, node in issue.flow_nodes if flow == self.flow_id))
                  for issue in workspace if issue.code == "unguarded_cycle" and issue.flow_id != self.flow_id
                  and self.flow_id in issue.flow_ids]
        return sorted(own + across, key=lambda issue: issue.severity != ERROR)

    def _exported(self, session: Session) -> dict:
        version = definitions_version(session=session)
        if self._workspace is None or version != self._version:
            self._workspace, self._version = export_workspace(session=session), version
        return self._workspace


def names_of(choices: Choices) -> WorkspaceIndex:
    """What summaries and validation call things: fields, tags and flows by name, entry points by ref."""
    return WorkspaceIndex(fields={i: c.name for i, c in choices.fields.items()}, tags=choices.tags,
                          flows=choices.flows, entry_points={i: c.ref for i, c in choices.entry_points.items()},
                          field_types={i: c.type for i, c in choices.fields.items()}, pools=choices.pools)


def _check_workspace(document: dict, use_draft: bool, drafts: Mapping[int, dict],
                     trigger_draft: tuple[int, dict] | None) -> list[ValidationIssue]:
    """The problems of an exported workspace, with `drafts` and `trigger_draft` in place; `document` is left as
    it was (FlowChecks keeps it for the next edit)."""
    triggers = document["triggers"]
    if trigger_draft is not None:
        trigger_id, trigger = trigger_draft
        triggers = [*(t for t in triggers if t.get("id") != trigger_id), {**trigger, "id": trigger_id}]
    index = replace(WorkspaceIndex.from_dicts(fields=document["fields"], tags=document["tags"],
                                              entry_points=document["entry_points"], flows=document["flows"],
                                              pools=document["coupon_pools"]),
                    channels=tuple(_identities(document).configured_channels()))
    flows = {flow["id"]: (flow["name"], _copy(flow, use_draft, drafts)) for flow in document["flows"]}
    return validate_workspace(flows, triggers, index, fields=document["fields"],
                              entry_points=document["entry_points"],
                              link_lint=_lint_entry_links(document) + _find_case_only_duplicates(document))


def publish_flow(*, session: Session, flow_id: int) -> Flow:
    """Copy the draft to the published copy; raises InvalidFlowError listing the errors that concern this flow."""
    flow = session.get(Flow, flow_id)
    if flow is None:
        raise LookupError(f"There is no flow with ID {flow_id}.")
    problems = [issue for issue in workspace_problems(session=session, use_draft=False, drafts={flow_id: flow.draft})
                if issue.severity == "error" and (issue.flow_id == flow_id or flow_id in issue.flow_ids)]
    if has_errors(problems):
        raise InvalidFlowError(problems)
    flow.published = flow.draft
    flow.published_version = flow.version
    flow.published_at = utcnow()
    session.add(flow)
    session.flush()
    return flow


def discard_draft(*, session: Session, flow_id: int) -> Flow:
    flow = session.get(Flow, flow_id)
    if flow is None or flow.published is None:
        raise LookupError("This flow was never published, so there is no published copy to go back to.")
    flow.draft = flow.published
    flow.version += 1
    flow.published_version = flow.version  # the draft is the published copy again: nothing left to publish
    flow.updated_at = utcnow()
    session.add(flow)
    session.flush()
    return flow


def _copy(flow: dict[str, Any], use_draft: bool, drafts: Mapping[int, dict]) -> dict:
    if flow["id"] in drafts:
        return drafts[flow["id"]]
    return flow["draft"] if use_draft or flow["published"] is None else flow["published"]


def bot_channels(*, session: Session) -> tuple[str, ...]:
    """The channels the bot is on (those with an identity in the settings), which messages are checked against."""
    return tuple(_identities({"settings": get_settings(session=session).model_dump()}).configured_channels())


def _identities(document: dict) -> ChannelIdentities:
    return ChannelIdentities(**{key: document["settings"].get(key, "") for key in IDENTITY_FIELDS})


def _lint_entry_links(document: dict) -> list[ValidationIssue]:
    identities = _identities(document)
    issues = []
    for entry in document["entry_points"]:
        for channel in identities.configured_channels():
            for problem in lint_link(channel, entry["ref"] + "-c" + USER_ID_PLACEHOLDER):
                issues.append(ValidationIssue(
                    code="link_limit", severity="warning", flow_id=None, node_ids=(), trigger_ids=(), flow_ids=(),
                    message=f"Entry point '{entry['ref']}' on {channel}: {problem.message}"))
    return issues


CASE_NOUNS = {"fields": ("name", "fields"), "tags": ("name", "tags"), "flows": ("name", "flows"),
              "triggers": ("name", "triggers"), "entry_points": ("ref", "entry point refs")}


def _find_case_only_duplicates(document: dict) -> list[ValidationIssue]:
    """Names that differ only in case, kept from before names ignored case (storage/names.py): each pair works, but
    is easy to mix up, and the next save of either must choose a free name."""
    issues = []
    for kind, (key, words) in CASE_NOUNS.items():
        groups: dict[str, list[str]] = {}
        for element in document[kind]:
            groups.setdefault(name_key(element[key]), []).append(element[key])
        issues += [ValidationIssue(
            code="names_differ_in_case", severity="warning", flow_id=None, node_ids=(), trigger_ids=(), flow_ids=(),
            message=f"The {words} {' and '.join(repr(name) for name in names)} differ only in upper and lower case. "
                    "Rename all but one: names ignore case, so saving one of them asks for a free name.")
            for names in groups.values() if len(names) > 1]
    return issues


def trigger_problems(*, session: Session) -> dict[int, list[ValidationIssue]]:
    """Each trigger's validation problems (missing references, no actions, loops through it), by trigger id."""
    problems: dict[int, list[ValidationIssue]] = {}
    for issue in workspace_problems(session=session):
        for trigger_id in issue.trigger_ids:
            problems.setdefault(trigger_id, []).append(issue)
    return problems


NEW_TRIGGER = 0  # the id problems of a trigger not saved yet carry


def draft_trigger_problems(*, session: Session, trigger_id: int | None, draft: dict) -> list[ValidationIssue]:
    """The problems a trigger would have with these settings (the editor's form, not saved yet), loops included."""
    own = trigger_id if trigger_id is not None else NEW_TRIGGER
    return [issue for issue in workspace_problems(session=session, trigger_draft=(own, draft))
            if own in issue.trigger_ids]


def switch_off_if_looping(*, session: Session, trigger: Trigger) -> ValidationIssue | None:
    """An enabled trigger in a loop that never waits would run until the depth guard stops it, on every event: it is
    kept switched off, and the loop is returned so the admin can read why."""
    if not trigger.enabled:
        return None
    session.flush()
    loop = next((issue for issue in trigger_problems(session=session).get(trigger.id, [])
                 if issue.code == "unguarded_cycle"), None)
    if loop is not None:
        trigger.enabled = False
        save_row(session, trigger)
    return loop


def set_trigger_enabled(*, session: Session, trigger_id: int, enabled: bool) -> Trigger:
    """Raises LoopError, and leaves the trigger off, when switching it on would start a loop that never waits."""
    trigger = fetch_row(session, Trigger, trigger_id, "trigger")
    trigger.enabled = enabled
    save_row(session, trigger)
    if enabled and (loop := switch_off_if_looping(session=session, trigger=trigger)):
        raise LoopError(loop)
    return trigger


class LoopError(ValueError):
    """A trigger that stays off because it would run in a loop; the message says why and how to break it."""

    def __init__(self, loop: ValidationIssue) -> None:
        self.loop = loop
        super().__init__(f"It stays off: {loop.message}")
