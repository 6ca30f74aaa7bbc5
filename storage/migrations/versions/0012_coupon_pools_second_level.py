"""coupon pools (single-use codes), second-level referral credit per entry point, the referred_second_level event

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 16:20:00

Existing entry points keep crediting one level only (second_level_credit off). The event CHECK constraints of
`event_log` and `trigger` are rebuilt to know the new event; their rows are kept.
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

OLD_EVENTS = ("contact_created", "entry_point_opened", "referred_new_contact", "referred_existing_contact",
              "field_changed", "tag_added", "tag_removed")
NEW_EVENTS = (*OLD_EVENTS[:4], "referred_second_level", *OLD_EVENTS[4:])


def upgrade() -> None:
    op.create_table('coupon_pool',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(), nullable=False),
    sa.Column('misses', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('last_miss_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('coupon_code',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pool_id', sa.Integer(), nullable=False),
    sa.Column('code', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=True),
    sa.Column('claimed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['contact_id'], ['contact.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['pool_id'], ['coupon_pool.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('pool_id', 'code', name='one_code_per_pool')
    )
    op.create_index('ix_coupon_code_free', 'coupon_code', ['pool_id', 'claimed_at', 'id'], unique=False)
    with op.batch_alter_table('entry_point', schema=None) as batch_op:
        batch_op.add_column(sa.Column('second_level_credit', sa.Boolean(), nullable=False, server_default=sa.false()))
    _rebuild_event_checks(NEW_EVENTS)
    # The sandbox copies pools and codes when the definitions version moves; a claim (an UPDATE of a code) or a
    # miss must not move it, or every code given out would empty the runtime's definitions cache.
    if _postgres():
        for table, actions in (("coupon_pool", "INSERT OR DELETE OR UPDATE OF name"), ("coupon_code", "INSERT OR DELETE")):
            op.execute(f'CREATE TRIGGER bump_definitions_{table} AFTER {actions} ON "{table}" '
                       "FOR EACH STATEMENT EXECUTE FUNCTION bump_definitions_version()")
        return
    for table, action in (("coupon_pool", "INSERT"), ("coupon_pool", "DELETE"), ("coupon_pool", "UPDATE OF name"),
                          ("coupon_code", "INSERT"), ("coupon_code", "DELETE")):
        _bump_on(table, action)


def downgrade() -> None:
    op.execute("DELETE FROM event_log WHERE type = 'referred_second_level'")
    op.execute("DELETE FROM \"trigger\" WHERE event = 'referred_second_level'")
    _rebuild_event_checks(OLD_EVENTS)
    with op.batch_alter_table('entry_point', schema=None) as batch_op:
        batch_op.drop_column('second_level_credit')
    if _postgres():
        for table in ("coupon_pool", "coupon_code"):
            op.execute(f'DROP TRIGGER IF EXISTS bump_definitions_{table} ON "{table}"')
    op.drop_index('ix_coupon_code_free', table_name='coupon_code')
    op.drop_table('coupon_code')
    op.drop_table('coupon_pool')


def _bump_on(table: str, action: str) -> None:
    op.execute(
        f'CREATE TRIGGER IF NOT EXISTS bump_definitions_{table}_{action.split()[0].lower()} AFTER {action} ON "{table}" '
        "BEGIN UPDATE definitions_version SET version = version + 1 WHERE id = 1; END"
    )


def _rebuild_event_checks(events: tuple[str, ...]) -> None:
    """Recreating a table drops its SQL triggers, so the definitions-version triggers of `trigger` come back after."""
    listed = ", ".join(f"'{event}'" for event in events)
    if _postgres():  # constraints change in place; the table keeps its statement triggers and foreign keys
        for table, column, name in (("event_log", "type", "known_type"), ("trigger", "event", "known_event")):
            op.drop_constraint(name, table, type_="check")
            op.create_check_constraint(name, table, f"{column} IN ({listed})")
        return
    for table, column, name in (("event_log", "type", "known_type"), ("trigger", "event", "known_event")):
        with op.batch_alter_table(table, schema=None, recreate="always") as batch_op:
            batch_op.drop_constraint(name, type_="check")
            batch_op.create_check_constraint(name, f"{column} IN ({listed})")
    for action in ("INSERT", "UPDATE", "DELETE"):
        _bump_on("trigger", action)
        _bump_on("entry_point", action)


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"
