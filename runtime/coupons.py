"""The engine's SQL for coupon pools and second-level referral credit: one function per statement, portable SQL
(SQLite and PostgreSQL), run on the turn's connection inside its transaction.

A code is claimed with one `UPDATE ... RETURNING` that picks the oldest free code of the pool: inside the open's
`BEGIN IMMEDIATE` (or a PostgreSQL transaction, where the `claimed_at IS NULL` re-check makes a racing claim find
nothing, and it tries the next free code) no two opens can take the same code, and a claimed code is never freed.
"""

import sqlite3

CLAIM_ATTEMPTS = 5


def claim_code(db: sqlite3.Connection, *, pool_id: int, contact_id: int, stamp: str) -> str | None:
    """The code now given to the contact, or None when the pool has no code left (or no longer exists)."""
    for _ in range(CLAIM_ATTEMPTS):
        row = db.execute(
            "UPDATE coupon_code SET contact_id = ?, claimed_at = ?"
            " WHERE id = (SELECT id FROM coupon_code WHERE pool_id = ? AND claimed_at IS NULL ORDER BY id LIMIT 1)"
            " AND claimed_at IS NULL RETURNING code",
            (contact_id, stamp, pool_id)).fetchone()
        if row is not None:
            return row[0]
        if not has_free_code(db, pool_id=pool_id):
            return None
    return None  # other claims kept winning the race (PostgreSQL only): this open finds the pool empty


def has_free_code(db: sqlite3.Connection, *, pool_id: int) -> bool:
    """Whether a code is still free. Under PostgreSQL's read committed two claims can pick the same oldest code; the
    loser's re-checked `claimed_at IS NULL` then fails although other codes are free, so it tries again."""
    return db.execute("SELECT EXISTS (SELECT 1 FROM coupon_code WHERE pool_id = ? AND claimed_at IS NULL)",
                      (pool_id,)).fetchone()[0] == 1


def record_miss(db: sqlite3.Connection, *, pool_id: int, stamp: str) -> str | None:
    """Note that someone was to get a code from an empty pool (the admin is warned); the pool's name, None when the
    pool does not exist."""
    row = db.execute("UPDATE coupon_pool SET misses = misses + 1, last_miss_at = ? WHERE id = ? RETURNING name",
                     (stamp, pool_id)).fetchone()
    return row[0] if row else None


def count_codes_left(db: sqlite3.Connection, *, pool_name: str) -> int | None:
    """How many codes the pool called `pool_name` can still give; None when there is no such pool."""
    row = db.execute("SELECT (SELECT count(*) FROM coupon_code c WHERE c.pool_id = p.id AND c.claimed_at IS NULL)"
                     " FROM coupon_pool p WHERE p.name = ?", (pool_name,)).fetchone()
    return row[0] if row else None


def find_second_level_referrer(db: sqlite3.Connection, *, referrer_id: int) -> int | None:
    """Who referred the referrer (Z when B joined with A's link and A had joined with Z's), or None."""
    row = db.execute("SELECT referred_by_id FROM contact WHERE id = ?", (referrer_id,)).fetchone()
    return row[0] if row else None
