"""outbox for live delivery; public address and Referflow's own web chat account in the settings

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 15:00:00
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'outbox_message',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('contact_id', sa.Integer(), nullable=False),
        sa.Column('message_id', sa.Integer(), nullable=True),
        sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('body', sa.JSON(), nullable=False),
        sa.Column('state', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('last_error', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('next_attempt_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('last_attempt_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column('claimed_by', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column('claimed_until', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('sent_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.CheckConstraint("state IN ('pending', 'sent', 'failed')", name='known_state'),
        sa.ForeignKeyConstraint(['contact_id'], ['contact.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['message_id'], ['message.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_due', ['state', 'channel', 'next_attempt_at'], unique=False)
        batch_op.create_index('ix_outbox_contact', ['contact_id', 'state', 'id'], unique=False)
        batch_op.create_index('ix_outbox_message', ['message_id'], unique=False)
    # plain ADD COLUMN (no table rebuild): the definitions_version triggers on workspace_settings stay as they are
    for column in ('public_url', 'served_url', 'webchat_own_account'):
        op.add_column('workspace_settings', sa.Column(column, sqlmodel.sql.sqltypes.AutoString(), nullable=False,
                                                      server_default=''))


def downgrade() -> None:
    for column in ('webchat_own_account', 'served_url', 'public_url'):
        op.drop_column('workspace_settings', column)
    op.drop_table('outbox_message')
