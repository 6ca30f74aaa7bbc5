"""definitions version (a counter the runtime's definition cache checks) and trigger runs per contact

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 03:35:00
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

WATCHED = ("workspace_settings", "custom_field", "tag", "entry_point", "flow", "trigger")


def upgrade() -> None:
    op.create_table('definitions_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint('id = 1', name='single_row'),
    sa.PrimaryKeyConstraint('id')
    )
    op.execute("INSERT INTO definitions_version (id, version) VALUES (1, 0)")
    op.create_table('trigger_run',
    sa.Column('trigger_id', sa.Integer(), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=False),
    sa.Column('runs', sa.Integer(), nullable=False),
    sa.Column('last_run_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['contact_id'], ['contact.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['trigger_id'], ['trigger.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('trigger_id', 'contact_id')
    )
    with op.batch_alter_table('trigger_run', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_trigger_run_contact_id'), ['contact_id'], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        _create_postgres_triggers()
        return
    for table in WATCHED:
        for action in ("INSERT", "UPDATE", "DELETE"):
            op.execute(
                f'CREATE TRIGGER bump_definitions_{table}_{action.lower()} AFTER {action} ON "{table}" '
                "BEGIN UPDATE definitions_version SET version = version + 1 WHERE id = 1; END"
            )


def _create_postgres_triggers() -> None:
    # One bump per statement: every instance's definition cache sees the new version on its next open.
    op.execute(
        "CREATE FUNCTION bump_definitions_version() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "UPDATE definitions_version SET version = version + 1 WHERE id = 1; RETURN NULL; END $$"
    )
    for table in WATCHED:
        op.execute(
            f'CREATE TRIGGER bump_definitions_{table} AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON "{table}" '
            "FOR EACH STATEMENT EXECUTE FUNCTION bump_definitions_version()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in WATCHED:
            op.execute(f'DROP TRIGGER IF EXISTS bump_definitions_{table} ON "{table}"')
        op.execute("DROP FUNCTION IF EXISTS bump_definitions_version()")
    else:
        for table in WATCHED:
            for action in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS bump_definitions_{table}_{action}")
    op.drop_table('trigger_run')
    op.drop_table('definitions_version')
