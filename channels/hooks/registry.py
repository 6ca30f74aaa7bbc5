"""Every channel Referflow receives webhooks from, declared once (channels/hooks/__init__.py HookChannel).
One line per channel: the Meta engineer adds messenger, instagram and whatsapp here."""

from channels.hooks import HookChannel


def hook_channels() -> tuple[HookChannel, ...]:
    from channels import telegram, viber

    return (telegram.CHANNEL, viber.CHANNEL)
