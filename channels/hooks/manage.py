"""Connecting, disconnecting and reporting channels: what the Channels page and `referflow channels ...` share."""

import asyncio
from dataclasses import dataclass
from typing import Any

from channels.hooks import HookChannel, Hooks, read_public_url, when
from channels.hooks.http import ApiUrls, PlatformApi, api_timeout
from storage.db import Database


class _NoWorker:
    """Outside the app nothing delivers: the running app picks up a new connection within seconds."""

    def register_sender(self, *_: Any, **__: Any) -> None:
        return None


def standalone_hooks(database: Database, env: dict[str, str] | None = None) -> Hooks:
    """Hooks for the command line: no runtime and no delivery here, only connecting and reporting."""
    from channels.hooks.registry import hook_channels
    from storage.secrets import load_secret_box

    return Hooks(database=database, runtime=None, worker=_NoWorker(),  # type: ignore[arg-type]
                 box=load_secret_box(database_url=database.url, env=env), urls=ApiUrls.from_env(env),
                 api=PlatformApi(timeout=api_timeout(env)), channels={spec.name: spec for spec in hook_channels()},
                 public_url=lambda: read_public_url(database))


@dataclass(frozen=True)
class ChannelReport:
    channel: str
    label: str
    connected: bool
    bot_id: str = ""
    settings: dict[str, Any] | None = None
    secrets: dict[str, str] | None = None  # masked
    connected_at: str = ""
    last_event_at: str = ""
    last_error: str = ""
    platform: tuple[tuple[str, str], ...] = ()  # what the platform says now (Telegram's getWebhookInfo)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"channel": self.channel, "connected": self.connected}
        if self.connected:
            data |= {"bot_id": self.bot_id, "settings": self.settings, "secrets": self.secrets,
                     "connected_at": self.connected_at, "last_event_at": self.last_event_at,
                     "last_error": self.last_error, "platform": dict(self.platform)}
        return data


async def report(hooks: Hooks, channel: str, *, ask_platform: bool = True) -> ChannelReport:
    spec: HookChannel = hooks.channels[channel]
    connections = await hooks.connections(channel)
    if not connections:
        return ChannelReport(channel, spec.label, False)
    connection = connections[0]
    platform: tuple[tuple[str, str], ...] = ()
    if ask_platform and spec.status is not None:
        try:
            platform = tuple(await asyncio.wait_for(spec.status(hooks, connection), hooks.api.timeout + 1))
        except Exception as error:  # the page and the status command still show what is stored
            platform = (("Platform", f"could not be asked ({type(error).__name__})"),)
    return ChannelReport(channel, spec.label, True, connection.bot_id, connection.settings, connection.masked(),
                         when(connection.connected_at), when(connection.last_event_at), connection.last_error,
                         platform)
