"""admin sessions: server-side session tokens, one-time login tickets and known browsers; login attempts indexed by
time and remembering the known browser they came from

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 15:00:00
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('admin_session',
    sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('browser_id', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('redirect_to', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('expires_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.CheckConstraint("kind IN ('session', 'ticket', 'device')", name='session_kind'),
    sa.PrimaryKeyConstraint('token_hash')
    )
    with op.batch_alter_table('admin_session', schema=None) as batch_op:
        batch_op.create_index('ix_admin_session_expires', ['expires_at'], unique=False)
    with op.batch_alter_table('login_attempt', schema=None) as batch_op:
        batch_op.add_column(sa.Column('device', sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch_op.create_index('ix_login_attempt_time', ['created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('login_attempt', schema=None) as batch_op:
        batch_op.drop_index('ix_login_attempt_time')
        batch_op.drop_column('device')
    with op.batch_alter_table('admin_session', schema=None) as batch_op:
        batch_op.drop_index('ix_admin_session_expires')
    op.drop_table('admin_session')
