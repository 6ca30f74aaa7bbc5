"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-22 03:00:20.021516
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('contact',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('channel_user_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('first_name', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('last_name', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('phone', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('referred_by_id', sa.Integer(), nullable=True),
    sa.Column('first_ref', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('last_ref', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('last_seen_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.CheckConstraint("channel IN ('messenger', 'instagram', 'whatsapp', 'telegram', 'viber', 'webchat')", name='known_channel'),
    sa.ForeignKeyConstraint(['referred_by_id'], ['contact.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('channel', 'channel_user_id', name='one_contact_per_channel_user'),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('contact', schema=None) as batch_op:
        batch_op.create_index('ix_contact_created_at', ['created_at'], unique=False)
        batch_op.create_index('ix_contact_phone', ['phone'], unique=False)
        batch_op.create_index('ix_contact_referred_by', ['referred_by_id'], unique=False)

    op.create_table('custom_field',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(), nullable=False),
    sa.Column('type', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('description', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.CheckConstraint("type IN ('text', 'number', 'boolean', 'date', 'datetime', 'json')", name='known_type'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name'),
    sqlite_autoincrement=True
    )
    op.create_table('flow',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(), nullable=False),
    sa.Column('draft', sa.JSON(), nullable=False),
    sa.Column('published', sa.JSON(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('published_version', sa.Integer(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('published_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('processed_event',
    sa.Column('event_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('result', sa.JSON(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('event_id')
    )
    op.create_table('tag',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(), nullable=False),
    sa.Column('description', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('workspace_settings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('bot_name', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('page_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('instagram_username', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('whatsapp_number', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('telegram_bot', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('viber_uri', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('webchat_base_url', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('webchat_account_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('default_reply', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.CheckConstraint('id = 1', name='single_row'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('contact_tag',
    sa.Column('contact_id', sa.Integer(), nullable=False),
    sa.Column('tag_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['contact_id'], ['contact.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tag_id'], ['tag.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('contact_id', 'tag_id')
    )
    with op.batch_alter_table('contact_tag', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contact_tag_tag_id'), ['tag_id'], unique=False)

    op.create_table('entry_point',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('ref', sa.String(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('response_type', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('response_message', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('response_flow_id', sa.Integer(), nullable=True),
    sa.Column('default_field_id', sa.Integer(), nullable=True),
    sa.Column('payload_mapping', sa.JSON(), nullable=False),
    sa.Column('json_mapping', sa.JSON(), nullable=False),
    sa.Column('segment_tag_id', sa.Integer(), nullable=True),
    sa.Column('referrals_enabled', sa.Boolean(), nullable=False),
    sa.Column('referral_policy', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('whatsapp_pattern', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('referrer_match', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.CheckConstraint(_no_double_hyphen('ref'), name='ref_grammar'),
    sa.CheckConstraint("referral_policy IN ('first_only', 'every_open')", name='known_policy'),
    sa.CheckConstraint("referrer_match IN ('id', 'phone', 'id_or_phone')", name='known_match'),
    sa.CheckConstraint("response_type IN ('message', 'flow')", name='known_response'),
    sa.ForeignKeyConstraint(['default_field_id'], ['custom_field.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['response_flow_id'], ['flow.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['segment_tag_id'], ['tag.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('ref')
    )
    op.create_table('field_value',
    sa.Column('contact_id', sa.Integer(), nullable=False),
    sa.Column('field_id', sa.Integer(), nullable=False),
    sa.Column('value', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['contact_id'], ['contact.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['field_id'], ['custom_field.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('contact_id', 'field_id')
    )
    with op.batch_alter_table('field_value', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_field_value_field_id'), ['field_id'], unique=False)

    op.create_table('flow_position',
    sa.Column('contact_id', sa.Integer(), nullable=False),
    sa.Column('flow_id', sa.Integer(), nullable=False),
    sa.Column('node_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('waiting_for', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('use_draft', sa.Boolean(), nullable=False),
    sa.Column('retries', sa.Integer(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['contact_id'], ['contact.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['flow_id'], ['flow.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('contact_id')
    )
    op.create_table('message',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=False),
    sa.Column('direction', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('text', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('buttons', sa.JSON(), nullable=False),
    sa.Column('flow_id', sa.Integer(), nullable=True),
    sa.Column('node_id', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.CheckConstraint("direction IN ('in', 'out')", name='known_direction'),
    sa.ForeignKeyConstraint(['contact_id'], ['contact.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['flow_id'], ['flow.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.create_index('ix_message_contact', ['contact_id', 'id'], unique=False)

    op.create_table('wake_up',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=False),
    sa.Column('flow_id', sa.Integer(), nullable=False),
    sa.Column('node_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('due_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('done', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['contact_id'], ['contact.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['flow_id'], ['flow.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('wake_up', schema=None) as batch_op:
        batch_op.create_index('ix_wake_up_due', ['done', 'due_at'], unique=False)

    op.create_table('event_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('type', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=False),
    sa.Column('other_contact_id', sa.Integer(), nullable=True),
    sa.Column('entry_point_id', sa.Integer(), nullable=True),
    sa.Column('field_id', sa.Integer(), nullable=True),
    sa.Column('tag_id', sa.Integer(), nullable=True),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('depth', sa.Integer(), nullable=False),
    sa.Column('handled', sa.Boolean(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.CheckConstraint("type IN ('contact_created', 'entry_point_opened', 'referred_new_contact', 'referred_existing_contact', 'field_changed', 'tag_added', 'tag_removed')", name='known_type'),
    sa.ForeignKeyConstraint(['contact_id'], ['contact.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['entry_point_id'], ['entry_point.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['field_id'], ['custom_field.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['other_contact_id'], ['contact.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tag_id'], ['tag.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('event_log', schema=None) as batch_op:
        batch_op.create_index('ix_event_log_contact', ['contact_id', 'id'], unique=False)
        batch_op.create_index('ix_event_log_pending', ['handled', 'id'], unique=False)

    op.create_table('link_open',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entry_point_id', sa.Integer(), nullable=True),
    sa.Column('contact_id', sa.Integer(), nullable=False),
    sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('ref', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('is_new_contact', sa.Boolean(), nullable=False),
    sa.Column('event_id', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['contact_id'], ['contact.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['entry_point_id'], ['entry_point.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('link_open', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_link_open_contact_id'), ['contact_id'], unique=False)
        batch_op.create_index('ix_link_open_entry_time', ['entry_point_id', 'created_at'], unique=False)

    op.create_table('referral',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entry_point_id', sa.Integer(), nullable=False),
    sa.Column('referrer_id', sa.Integer(), nullable=True),
    sa.Column('referrer_ref', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('referee_id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.CheckConstraint("kind IN ('new', 'existing')", name='known_kind'),
    sa.CheckConstraint("status IN ('counted', 'repeat', 'duplicate', 'self', 'unknown_referrer', 'disabled')", name='known_status'),
    sa.ForeignKeyConstraint(['entry_point_id'], ['entry_point.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['referee_id'], ['contact.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['referrer_id'], ['contact.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.create_index('ix_referral_entry_time', ['entry_point_id', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_referral_referee_id'), ['referee_id'], unique=False)
        batch_op.create_index('ix_referral_referrer', ['referrer_id', 'status'], unique=False)
        batch_op.create_index('ux_referral_counted_once', ['entry_point_id', 'referee_id'], unique=True, sqlite_where=sa.text("status = 'counted'"), postgresql_where=sa.text("status = 'counted'"))

    op.create_table('trigger',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('event', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('entry_point_id', sa.Integer(), nullable=True),
    sa.Column('field_id', sa.Integer(), nullable=True),
    sa.Column('tag_id', sa.Integer(), nullable=True),
    sa.Column('conditions', sa.JSON(), nullable=False),
    sa.Column('actions', sa.JSON(), nullable=False),
    sa.Column('once_per_contact', sa.Boolean(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.CheckConstraint("event IN ('contact_created', 'entry_point_opened', 'referred_new_contact', 'referred_existing_contact', 'field_changed', 'tag_added', 'tag_removed')", name='known_event'),
    sa.ForeignKeyConstraint(['entry_point_id'], ['entry_point.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['field_id'], ['custom_field.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tag_id'], ['tag.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )


def _no_double_hyphen(column: str) -> str:
    # SQLite has instr(), PostgreSQL strpos(); existing SQLite files keep the constraint text they were created with.
    function = "strpos" if op.get_bind().dialect.name == "postgresql" else "instr"
    return f"{column} <> '' AND {function}({column}, '--') = 0"


def downgrade() -> None:
    op.drop_table('trigger')
    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.drop_index('ux_referral_counted_once', sqlite_where=sa.text("status = 'counted'"))
        batch_op.drop_index('ix_referral_referrer')
        batch_op.drop_index(batch_op.f('ix_referral_referee_id'))
        batch_op.drop_index('ix_referral_entry_time')

    op.drop_table('referral')
    with op.batch_alter_table('link_open', schema=None) as batch_op:
        batch_op.drop_index('ix_link_open_entry_time')
        batch_op.drop_index(batch_op.f('ix_link_open_contact_id'))

    op.drop_table('link_open')
    with op.batch_alter_table('event_log', schema=None) as batch_op:
        batch_op.drop_index('ix_event_log_pending')
        batch_op.drop_index('ix_event_log_contact')

    op.drop_table('event_log')
    with op.batch_alter_table('wake_up', schema=None) as batch_op:
        batch_op.drop_index('ix_wake_up_due')

    op.drop_table('wake_up')
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.drop_index('ix_message_contact')

    op.drop_table('message')
    op.drop_table('flow_position')
    with op.batch_alter_table('field_value', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_field_value_field_id'))

    op.drop_table('field_value')
    op.drop_table('entry_point')
    with op.batch_alter_table('contact_tag', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contact_tag_tag_id'))

    op.drop_table('contact_tag')
    op.drop_table('workspace_settings')
    op.drop_table('tag')
    op.drop_table('processed_event')
    op.drop_table('flow')
    op.drop_table('custom_field')
    with op.batch_alter_table('contact', schema=None) as batch_op:
        batch_op.drop_index('ix_contact_referred_by')
        batch_op.drop_index('ix_contact_phone')
        batch_op.drop_index('ix_contact_created_at')

    op.drop_table('contact')
