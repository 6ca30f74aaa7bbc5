"""PostgreSQL: a row inserted with its own id moves the id sequence past it (SQLite's AUTOINCREMENT does this by itself)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 16:15:00

A contact, a definition or a scenario written with an explicit id (an import, a copy, a hand-made fixture) would
otherwise leave the sequence behind, and the next row created without an id would collide with it, or a contact id
already shared in links could be given again. Nothing changes on SQLite.
"""

from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

FOLLOWED = ("contact", "custom_field", "tag", "flow", "entry_point", "trigger", "scenario")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "CREATE FUNCTION follow_explicit_id() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "IF NEW.id > coalesce((SELECT last_value FROM pg_sequences WHERE schemaname = TG_TABLE_SCHEMA"
        " AND sequencename = TG_TABLE_NAME || '_id_seq'), 0) THEN "
        "PERFORM setval(pg_get_serial_sequence(quote_ident(TG_TABLE_NAME), 'id'), NEW.id); END IF; "
        "RETURN NEW; END $$"
    )
    for table in FOLLOWED:
        op.execute(f'CREATE TRIGGER follow_explicit_id_{table} BEFORE INSERT ON "{table}" '
                   "FOR EACH ROW EXECUTE FUNCTION follow_explicit_id()")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in FOLLOWED:
        op.execute(f'DROP TRIGGER IF EXISTS follow_explicit_id_{table} ON "{table}"')
    op.execute("DROP FUNCTION IF EXISTS follow_explicit_id()")
