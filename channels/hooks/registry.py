"""Every channel Referflow receives webhooks from, declared once (channels/hooks/__init__.py HookChannel).
One line per channel: the Meta engineer adds messenger, instagram and whatsapp here."""

from channels.hooks import HookChannel


def hook_channels() -> tuple[HookChannel, ...]:
    from channels import telegram, viber
    from channels.meta_live import meta_hook_channels

    return (telegram.CHANNEL, *meta_hook_channels(), viber.CHANNEL)
