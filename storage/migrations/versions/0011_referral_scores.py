"""leaderboards: each referrer's counted referrals per entry point and period, so a rank is one index range count

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 16:20:00

Also an index for Analytics' "contacts active in the period" (who wrote to the bot when).

Existing counted referrals are added up into the boards they belong to: their entry point and every entry point
(entry_point_id 0), each for all time, their week (from Monday, UTC) and their month.
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

_PERIODS = ("'all'", "'week:' || date(created_at, 'weekday 0', '-6 days')", "'month:' || substr(created_at, 1, 7)")
# The same keys on PostgreSQL, whose sessions run in UTC: weeks start on Monday there too.
_POSTGRES_PERIODS = ("'all'", "'week:' || to_char(date_trunc('week', created_at), 'YYYY-MM-DD')",
                     "'month:' || to_char(created_at, 'YYYY-MM')")


def upgrade() -> None:
    op.create_table('referral_score',
    sa.Column('entry_point_id', sa.Integer(), nullable=False),
    sa.Column('period', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=False),
    sa.Column('referrals', sa.Integer(), nullable=False),
    sa.Column('reached_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['contact_id'], ['contact.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('entry_point_id', 'period', 'contact_id')
    )
    with op.batch_alter_table('referral_score', schema=None) as batch_op:
        batch_op.create_index('ix_referral_score_board', ['entry_point_id', 'period', 'referrals'], unique=False)
        batch_op.create_index(batch_op.f('ix_referral_score_contact_id'), ['contact_id'], unique=False)
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.create_index('ix_message_direction_time', ['direction', 'created_at'], unique=False)
    for statement in backfill_statements(postgres=op.get_bind().dialect.name == "postgresql"):
        op.execute(statement)


def backfill_statements(*, postgres: bool = False) -> list[str]:
    """The six boards of every counted referral so far (bench/leaderboard_rank.py times them too)."""
    return ["INSERT INTO referral_score (entry_point_id, period, contact_id, referrals, reached_at)"
            f" SELECT {entry}, {period}, referrer_id, count(*), max(created_at) FROM referral"
            " WHERE status IN ('counted', 'repeat') AND referrer_id IS NOT NULL GROUP BY 1, 2, 3"
            for entry in ("entry_point_id", "0") for period in (_POSTGRES_PERIODS if postgres else _PERIODS)]


def downgrade() -> None:
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.drop_index('ix_message_direction_time')
    with op.batch_alter_table('referral_score', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_referral_score_contact_id'))
        batch_op.drop_index('ix_referral_score_board')
    op.drop_table('referral_score')
