"""The links an entry point gets on each configured channel, and the channel limits they break (DOMAIN §2)."""

from dataclasses import dataclass

from runtime.links import (
    USER_ID_PLACEHOLDER,
    ChannelIdentities,
    LintProblem,
    build_link,
    check_entry_ref,
    lint_link,
    referral_template,
)


@dataclass(frozen=True)
class ChannelLinks:
    """A channel's entry link, the personal referral link template, and the channel limits either breaks."""

    channel: str
    entry_link: str
    referral_link: str
    problems: tuple[LintProblem, ...]
    entry_fits: bool = True  # the entry link itself keeps the channel's limits (a QR code of it would work)


def build_entry_links(ref: str, identities: ChannelIdentities) -> list[ChannelLinks]:
    """Links for every configured channel; empty when none is set up or the ref cannot name an entry point."""
    if check_entry_ref(ref):
        return []
    links = []
    for channel in identities.configured_channels():
        entry_problems = lint_link(channel, ref)
        problems = (*entry_problems, *lint_link(channel, ref + "-c" + USER_ID_PLACEHOLDER))
        links.append(ChannelLinks(channel, build_link(channel, ref, identities),
                                  referral_template(channel, ref, identities), tuple(dict.fromkeys(problems)),
                                  entry_fits=not entry_problems))
    return links
