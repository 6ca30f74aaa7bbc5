"""What storage tests share: the workspace of the opening tests (DOMAIN §4), opening a link as someone, counting
rows."""

import sqlalchemy as sa

from runtime.opening import Inbound
from runtime.service import Runtime
from storage.db import Database
from storage.models import CustomField, EntryPoint, Tag

PAGE = "https://m.me/1234567890?ref="


def define_workspace(database: Database) -> None:
    with database.write_session() as session:
        session.add_all([
            CustomField(id=1, name="referral_points", type="number"),
            CustomField(id=2, name="coupon_code", type="text"),
            CustomField(id=3, name="plan", type="text"),
            CustomField(id=4, name="seats", type="number"),
            CustomField(id=5, name="vip", type="boolean"),
            CustomField(id=6, name="sku", type="text"),
            CustomField(id=7, name="birthday", type="date"),
            Tag(id=1, name="giveaway"),
        ])
        session.flush()
        session.add_all([
            EntryPoint(id=1, name="Giveaway", ref="giveaway2025", default_field_id=2, segment_tag_id=1,
                       response_message="Welcome {{first_name}}!",
                       json_mapping=[{"path": "plan", "field_id": 3}, {"path": "seats", "field_id": 4},
                                     {"path": "order.items[0].sku", "field_id": 6}],
                       payload_mapping=[{"key": "gold", "field_id": 5}]),
            EntryPoint(id=2, name="Giveaway every open", ref="giveaway", referral_policy="every_open"),
            EntryPoint(id=3, name="No referrals", ref="newsletter", referrals_enabled=False),
            EntryPoint(id=4, name="Old campaign", ref="summer", active=False),
            EntryPoint(id=5, name="WhatsApp friends", ref="wa-friends", referrer_match="phone",
                       whatsapp_pattern=r"You were recommended by (?P<referrer>\+?\d{7,15})"),
        ])


def open_as(runtime: Runtime, user: str, text: str, channel: str = "messenger", **kwargs) -> dict:
    return runtime.open_link(Inbound(text=text, channel=channel, channel_user_id=user, **kwargs)).to_dict()


def count(database: Database, sql: str, **params) -> int:
    with database.engine.connect() as connection:
        return connection.execute(sa.text(sql), params).scalar_one()
