"""Coupon pools as the admin handles them: create, rename, delete, paste or upload single-use codes, and how many are
left. Giving codes out is the engine's job (runtime/coupons.py); this module never hands one out.

Decisions where the brief was silent:
- Codes are separated by new lines, commas or semicolons (a pasted column, a CSV file's first column, a list typed
  in one line); spaces around a code are dropped, a code inside keeps its spaces out: it must have none.
- A code is 1-64 printable characters without spaces; anything else is listed back to the admin, never stored.
- The same code twice in a pool is kept once (the second is reported as already there), also when it was given out.
- A paste or upload holds at most MAX_CODES_PER_ADD codes and MAX_UPLOAD_BYTES; codes are never deleted one by one
  (a given code stays as proof of who got it); deleting the pool deletes them all.
- Codes never travel in workspace exports: each is single-use, and a copy in another workspace would give it twice.
"""

import re
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, func, select

from storage.models import CouponCode, CouponPool, utcnow

MAX_CODE_LENGTH = 64
MAX_CODES_PER_ADD = 20_000
MAX_UPLOAD_BYTES = 1_000_000
MAX_POOL_NAME = 60
_SEPARATORS = re.compile(r"[\r\n,;]+")
_CODE = re.compile(rf"[^\s\x00-\x1f\x7f]{{1,{MAX_CODE_LENGTH}}}")
POOL_NAME = re.compile(r"[\w .-]+")


class CouponError(ValueError):
    """A pool operation that cannot be done; the message is for the admin."""


@dataclass(frozen=True)
class PoolSummary:
    id: int
    name: str
    total: int
    left: int
    misses: int  # times someone was to get a code while none was left
    last_miss_at: datetime | None

    @property
    def given(self) -> int:
        return self.total - self.left

    @property
    def warning(self) -> str | None:
        """What the admin is told on the Overview and the pool's page, None while codes are left."""
        if self.left:
            return None
        missed = f" {self.misses} {'person was' if self.misses == 1 else 'people were'} to get one and got none." \
            if self.misses else ""
        return f"Coupon pool '{self.name}' has no codes left.{missed} Add codes, or flows take their “none left” exit."


@dataclass
class AddReport:
    added: int = 0
    already: list[str] = field(default_factory=list)  # in the pool before (given or not) or twice in the paste
    refused: list[str] = field(default_factory=list)  # not a code: too long, spaces, control characters

    def sentence(self) -> str:
        parts = [f"Added {self.added} {'code' if self.added == 1 else 'codes'}"]
        if self.already:
            parts.append(f"{len(self.already)} already in the pool ({_sample(self.already)})")
        if self.refused:
            parts.append(f"{len(self.refused)} not saved: a code is 1-{MAX_CODE_LENGTH} characters without spaces "
                         f"({_sample(self.refused)})")
        return "; ".join(parts) + "."


def list_pools(*, session: Session) -> list[PoolSummary]:
    left = func.sum(sa.case((sa.and_(CouponCode.id.is_not(None), CouponCode.claimed_at.is_(None)), 1), else_=0))
    rows = session.exec(
        select(CouponPool.id, CouponPool.name, func.count(CouponCode.id), func.coalesce(left, 0), CouponPool.misses,
               CouponPool.last_miss_at)
        .join(CouponCode, CouponCode.pool_id == CouponPool.id, isouter=True)
        .group_by(CouponPool.id).order_by(CouponPool.name)).all()
    return [PoolSummary(*row) for row in rows]


def get_pool(*, session: Session, pool_id: int) -> PoolSummary:
    for pool in list_pools(session=session):
        if pool.id == pool_id:
            return pool
    raise CouponError(f"There is no coupon pool with ID {pool_id}; it may have been deleted.")


def empty_pool_warnings(*, session: Session) -> list[str]:
    return [pool.warning for pool in list_pools(session=session) if pool.warning]


def create_pool(*, session: Session, name: str) -> CouponPool:
    pool = CouponPool(name=_check_name(session, name))
    session.add(pool)
    session.flush()
    return pool


def rename_pool(*, session: Session, pool_id: int, name: str) -> CouponPool:
    pool = _get(session, pool_id)
    pool.name = _check_name(session, name, pool_id)
    session.add(pool)
    session.flush()
    return pool


def delete_pool(*, session: Session, pool_id: int) -> None:
    session.delete(_get(session, pool_id))
    session.flush()


def add_codes(*, session: Session, pool_id: int, text: str) -> AddReport:
    """Add the codes in `text` (pasted, or an uploaded file's text) to the pool; see the module's rules."""
    _get(session, pool_id)
    if len(text.encode("utf-8", "surrogatepass")) > MAX_UPLOAD_BYTES:
        raise CouponError(f"That is more than {MAX_UPLOAD_BYTES // 1_000_000} MB of codes; add them in parts.")
    candidates = [piece.strip() for piece in _SEPARATORS.split(text)]
    candidates = [piece for piece in candidates if piece]
    if len(candidates) > MAX_CODES_PER_ADD:
        raise CouponError(f"That is {len(candidates):,} codes; add at most {MAX_CODES_PER_ADD:,} at a time.")
    report, seen = AddReport(), set()
    report.refused = [code[:MAX_CODE_LENGTH + 1] for code in candidates if not _is_code(code)]
    valid = [code for code in candidates if _is_code(code)]
    stored = set(session.exec(select(CouponCode.code).where(CouponCode.pool_id == pool_id,
                                                            CouponCode.code.in_(set(valid))))) if valid else set()
    new = []
    for code in valid:  # in the paste's order, so the admin finds them
        (report.already if code in stored or code in seen else new).append(code)
        seen.add(code)
    if new:
        now = utcnow()
        session.execute(sa.insert(CouponCode), [{"pool_id": pool_id, "code": code, "created_at": now} for code in new])
    report.added = len(new)
    session.flush()
    return report


def codes_in_file(text: str) -> str:
    """The codes of an uploaded .txt or .csv file: each line's first column, without a header row such as
    "code" or "Coupon code" (a code is never one of those words)."""
    cells = [line.split(",", 1)[0].split(";", 1)[0].strip().strip('"') for line in text.splitlines()]
    if cells and cells[0].lower().replace("_", " ") in _HEADERS:
        cells = cells[1:]
    return "\n".join(cells)


_HEADERS = ("code", "codes", "coupon", "coupons", "coupon code", "coupon codes", "voucher", "promo code")


def _is_code(code: str) -> bool:
    return bool(_CODE.fullmatch(code)) and code.isprintable() and "\ufffd" not in code


def _get(session: Session, pool_id: int) -> CouponPool:
    pool = session.get(CouponPool, pool_id)
    if pool is None:
        raise CouponError(f"There is no coupon pool with ID {pool_id}; it may have been deleted.")
    return pool


def _check_name(session: Session, name: str, pool_id: int | None = None) -> str:
    name = (name or "").strip()
    if not name:
        raise CouponError("Give the coupon pool a name.")
    if len(name) > MAX_POOL_NAME or not POOL_NAME.fullmatch(name):
        raise CouponError(f"A pool name uses letters, digits, spaces, '.', '-' and '_', at most {MAX_POOL_NAME} "
                          "characters.")
    clash = session.exec(select(CouponPool).where(func.lower(CouponPool.name) == name.lower(),
                                                  CouponPool.id != (pool_id or 0))).first()
    if clash is not None:
        raise CouponError(f"There is already a coupon pool called '{clash.name}'; choose another name.")
    return name


def _sample(items: list[str], limit: int = 3) -> str:
    shown = ", ".join(f"'{item}'" for item in items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")
