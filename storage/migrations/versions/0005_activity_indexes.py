"""indexes for per-entry-point activity counts (entry points list, analytics)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 04:15:00
"""

from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('link_open', schema=None) as batch_op:
        batch_op.create_index('ix_link_open_entry_new', ['entry_point_id', 'is_new_contact'], unique=False)
    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.create_index('ix_referral_entry_status', ['entry_point_id', 'status'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.drop_index('ix_referral_entry_status')
    with op.batch_alter_table('link_open', schema=None) as batch_op:
        batch_op.drop_index('ix_link_open_entry_new')
