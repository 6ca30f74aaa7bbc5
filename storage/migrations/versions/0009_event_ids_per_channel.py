"""inbound event ids are unique per channel and bot, not globally; each remembers who sent it

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 15:20:00

Existing rows keep their results: their channel and sender are those of the contact their result names (a row whose
contact is gone keeps an empty channel, so no new event matches it).
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('processed_event_by_channel',
    sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('bot', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('event_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('channel_user_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('result', sa.JSON(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('channel', 'bot', 'event_id')
    )
    if op.get_bind().dialect.name == "postgresql":
        contact_id = ("CASE WHEN json_typeof(p.result -> 'contact' -> 'id') = 'number'"
                      " THEN (p.result -> 'contact' ->> 'id')::numeric END")
    else:
        contact_id = "CASE WHEN json_valid(p.result) THEN json_extract(p.result, '$.contact.id') END"
    op.execute(
        "INSERT INTO processed_event_by_channel (channel, bot, event_id, channel_user_id, result, created_at)"
        " SELECT coalesce(c.channel, ''), '', p.event_id, coalesce(c.channel_user_id, ''), p.result, p.created_at"
        f" FROM processed_event p LEFT JOIN contact c ON c.id = {contact_id}"
    )
    op.drop_table('processed_event')
    op.rename_table('processed_event_by_channel', 'processed_event')


def downgrade() -> None:
    op.create_table('processed_event_global',
    sa.Column('event_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('result', sa.JSON(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('event_id')
    )
    op.execute(  # one row per event id again: the first one processed wins
        "INSERT INTO processed_event_global (event_id, result, created_at)"
        " SELECT event_id, result, created_at FROM processed_event WHERE true ORDER BY created_at"
        " ON CONFLICT (event_id) DO NOTHING"
    )
    op.drop_table('processed_event')
    op.rename_table('processed_event_global', 'processed_event')
