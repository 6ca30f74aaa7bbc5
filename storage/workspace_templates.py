"""Ready-made workspaces an admin adds with one click, and the demo seeded into an empty workspace on first start.

A template is a workspace document (docs/workspace-format.md) without `settings`, so applying one never touches the
admin's channel identities. It goes through `import_workspace`, which matches by name (entry points by ref): applying
a template twice changes nothing the second time, and a clashing element with other content is updated, not doubled.
"""

import json
from dataclasses import dataclass
from pathlib import Path

from sqlmodel import Session, func, select

from storage.coupons import add_codes, list_pools
from storage.models import CustomField, EntryPoint, Flow, Scenario, Tag, Trigger
from storage.scenarios import ScenarioSave, save_scenario
from storage.settings import channel_identities, get_settings
from storage.workspace_io import ImportReport, import_workspace, preview_import

TEMPLATES_DIR = Path(__file__).resolve().parents[1] / "assets" / "templates"
KIND_WORDS = {"fields": ("field", "fields"), "tags": ("tag", "tags"), "coupon_pools": ("coupon pool", "coupon pools"),
              "flows": ("flow", "flows"),
              "entry_points": ("entry point", "entry points"), "triggers": ("trigger", "triggers")}


@dataclass(frozen=True)
class Template:
    name: str
    description: str
    file: Path


TEMPLATES: dict[str, Template] = {template.name: template for template in (
    Template("Referral program",
             "Friends who join with a contact's personal link earn them points; three friends unlock a coupon. "
             "Adds the fields referral_points and coupon_code, the tag rewarded, the entry point giveaway2025, "
             "two referral triggers and the published flows Share and Check reward.",
             TEMPLATES_DIR / "referral_program.json"),
    Template("Tiers, leaderboard and coupon pool",
             "A Friends club with milestone tiers: 3 points give a code from the coupon pool 'Tier rewards' (its "
             "'none left' exit answers when the pool is empty), 5 points silver, 10 points gold, each once, also "
             "when one referral jumps past two tiers. A friend is 1 point, a friend who already knew the bot 3, a "
             "friend of a friend 1 (second-level credit). The welcome message shows the club's leaderboard. Adds "
             "the fields tier_points and tier_code, three tier tags, the pool, the entry point friends-club, six "
             "triggers and two published flows; paste the pool's codes on the Coupon pools page.",
             TEMPLATES_DIR / "tiers_leaderboard_pool.json"),
)}
TIERS_EXAMPLE = "Tiers, leaderboard and coupon pool"
TIERS_SCENARIO = Path(__file__).resolve().parents[1] / "assets" / "scenarios" / "tiers_leaderboard_pool.json"


class TemplateError(ValueError):
    """A template that cannot be applied; the message is for the admin."""


def apply_template(*, session: Session, name: str) -> ImportReport:
    """Create or update everything the template holds; the caller commits (run it inside `write_session()`)."""
    return import_workspace(session=session, document=load_template(name))


def preview_template(*, session: Session, name: str) -> ImportReport:
    """What `apply_template` would create, update or leave unchanged, without writing."""
    return preview_import(session=session, document=load_template(name))


def seed_demo_workspace(*, session: Session) -> bool:
    """On a first start (no fields, tags, flows, entry points or triggers yet) add the Referral program template and
    return True; otherwise do nothing and return False."""
    if any(session.exec(select(func.count()).select_from(model)).one() for model in
           (CustomField, Tag, Flow, EntryPoint, Trigger)):
        return False
    apply_template(session=session, name="Referral program")
    return True


def seed_tiers_example(*, session: Session) -> None:
    """The demo's second example: the tiers template, the starting codes of its pool (the ones its scenario gives
    out) and that scenario, saved for the Simulator page. Called right after the first start's demo seeding."""
    apply_template(session=session, name=TIERS_EXAMPLE)
    scenario = json.loads(TIERS_SCENARIO.read_text(encoding="utf-8"))
    pools = {pool.name: pool.id for pool in list_pools(session=session)}
    for name, codes in scenario.get("coupon_codes", {}).items():
        add_codes(session=session, pool_id=pools[name], text="\n".join(codes))
    if not session.exec(select(Scenario).where(Scenario.name == scenario["name"])).first():
        save_scenario(session=session, data=ScenarioSave(name=scenario["name"], description=scenario["description"],
                                                          document=scenario))


def has_channels(*, session: Session) -> bool:
    """Whether the bot is on at least one channel, so that templates that send personal links can build them."""
    return bool(channel_identities(get_settings(session=session)).configured_channels())


def load_template(name: str) -> dict:
    template = TEMPLATES.get(name)
    if template is None:
        raise TemplateError(f"There is no template called '{name}'; choose one of: {', '.join(TEMPLATES)}.")
    return json.loads(template.file.read_text(encoding="utf-8"))


def summarise_report(report: ImportReport) -> str:
    """One sentence for the admin: what was created and updated, or that everything was already in place."""
    parts = [f"{verb} {_count_names(getattr(report, attribute))}" for verb, attribute in
             (("created", "created"), ("updated", "updated")) if _has_names(getattr(report, attribute))]
    if not parts:
        return "Everything was already in place; nothing changed."
    return _capitalise("; ".join(parts)) + "."


def changed_names(report: ImportReport) -> list[str]:
    """What an update would overwrite, one line per element ("flow 'Share'"), for a confirmation."""
    return [f"{KIND_WORDS[kind][0]} '{name}'" for kind in KIND_WORDS for name in report.updated[kind]]


def _has_names(names: dict[str, list[str]]) -> bool:
    return any(names.get(kind) for kind in KIND_WORDS)


def _count_names(names: dict[str, list[str]]) -> str:
    pieces = []
    for kind, (one, many) in KIND_WORDS.items():
        listed = names.get(kind, [])
        if listed:
            quoted = ", ".join(f"'{name}'" for name in listed)
            pieces.append(f"{len(listed)} {one if len(listed) == 1 else many} ({quoted})")
    return ", ".join(pieces)


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]
