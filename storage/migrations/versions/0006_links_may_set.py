"""custom fields say whether links may set them; counters start with it off

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 15:00:00

Until now any link could write any custom field by its ID or name (`giveaway2025--referral_points--99`). Fields that
a trigger or a flow increases, decreases or tests in a condition (the points a reward is given for) now refuse that;
every other field keeps accepting it, so existing links that fill fields by key keep working. Entry point mappings
(default payload field, key mapping, JSON mapping) are unaffected. Case-only duplicate names are left as they are
(storage/names.py says why); nothing here can fail on them.
"""

import json

import sqlalchemy as sa
from alembic import op

from runtime.counters import find_counter_fields

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ALTER TABLE: a batch copy would lose AUTOINCREMENT and the definitions_version triggers.
    op.add_column('custom_field', sa.Column('links_may_set', sa.Boolean(), server_default=sa.true(), nullable=False))
    connection = op.get_bind()
    flows = [(name, (_load(draft), _load(published)))
             for name, draft, published in connection.execute(sa.text("SELECT name, draft, published FROM flow"))]
    triggers = [{"name": name, "conditions": _load(conditions), "actions": _load(actions)}
                for name, conditions, actions in connection.execute(
                    sa.text("SELECT name, conditions, actions FROM \"trigger\""))]
    counters = sorted(find_counter_fields(flows, triggers))
    if counters:
        connection.execute(sa.text("UPDATE custom_field SET links_may_set = :off WHERE id = :id"),
                           [{"off": False, "id": field_id} for field_id in counters])


def downgrade() -> None:
    with op.batch_alter_table('custom_field', schema=None) as batch_op:
        batch_op.drop_column('links_may_set')


def _load(text: str | None) -> object:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None
