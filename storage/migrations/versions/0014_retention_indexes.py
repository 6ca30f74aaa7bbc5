"""indexes by age on the event ids kept against webhook retries, which the app now prunes (storage/retention.py)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 22:45:00

Pruning deletes the oldest rows of `processed_event` and `hook_event` in batches; without these indexes each batch
would read the whole table. No row changes.
"""

from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_processed_event_created', 'processed_event', ['created_at'], unique=False)
    op.create_index('ix_hook_event_received', 'hook_event', ['received_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_hook_event_received', table_name='hook_event')
    op.drop_index('ix_processed_event_created', table_name='processed_event')
