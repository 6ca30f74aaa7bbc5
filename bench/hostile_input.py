"""Hostile input against `Runtime.open_link` (issue 10): the slowest call, the 99th percentile and how much memory
grows over 20,000 opens of whatever an attacker sends — lone surrogates, control and right-to-left characters,
percent-encoding, base64 noise, nested JSON after `jsondata--`, one-megabyte strings, WhatsApp text patterns that
backtrack exponentially in a backtracking engine — against plain campaign-link opens in the same process.

Plain and hostile opens alternate in blocks on two copies of one database. Ends with
`hostile/plain ratio: X.XX` (mean time per open, hostile over plain).
"""

import argparse
import base64
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from runtime.opening import Inbound
from runtime.service import Runtime
from runtime.vocabulary import CHANNELS
from storage.db import open_database
from storage.models import CustomField, EntryPoint, Tag

PAGE = "https://m.me/1234567890?ref="
BLOCK = 500
HUGE_EVERY = 40  # one open in 40 carries a one-megabyte string
PREFIXES = ["", PAGE, "https://t.me/b?start=", "https://wa.me/1?text=/", "viber://pa?chatURI=x&context=",
            "https://x.example/?p=1?ref=", "/start ", "giveaway2025", "giveaway2025--", "giveaway2025jsondata--",
            "giveaway2025-c", "code "]
HUGE_UNITS = ["–", "—", "-", "--", "-c", "%", "%25", "a", "9", "\ud800", "😀", "{", "jsondata--", "\x00", " "]
ODD = "\x00\x01\x07\x1b\x7f\x85\u200b\u200e\u200f\u202a\u202e\u2066\u2069\u061c\ufeff\n\r\t\ud800\udfff\ud83d"


def main() -> None:
    options = _options()
    folder = Path(tempfile.mkdtemp(prefix="referflow-hostile-"))
    try:
        build_database(folder / "plain.db")
        shutil.copy(folder / "plain.db", folder / "hostile.db")
        plain_times, hostile_times, rss = run_interleaved(folder, options.opens, random.Random(options.seed))
        report(plain_times, hostile_times, rss)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--opens", type=int, default=20_000, help="hostile opens (and as many plain ones)")
    parser.add_argument("--seed", type=int, default=10)
    return parser.parse_args()


def build_database(path: Path) -> None:
    database = open_database(url=f"sqlite:///{path}")
    with database.write_session() as session:
        session.add_all([CustomField(id=1, name="referral_points", type="number"),
                         CustomField(id=2, name="coupon_code", type="text"),
                         CustomField(id=3, name="plan", type="text"), Tag(id=1, name="giveaway")])
        session.flush()
        session.add_all([
            EntryPoint(name="Giveaway", ref="giveaway2025", default_field_id=2, segment_tag_id=1,
                       response_message="Welcome {{first_name}}!", json_mapping=[{"path": "plan", "field_id": 3}]),
            EntryPoint(name="WhatsApp friends", ref="wa-friends", referrer_match="phone",
                       whatsapp_pattern=r"You were recommended by (?P<referrer>\+?\d{7,15})"),
            # exponential for a backtracking engine; stored unchecked, as an older Referflow could have
            EntryPoint(name="Stuck", ref="wa-stuck", whatsapp_pattern=r"(?P<referrer>(a+)+)$"),
            EntryPoint(name="Old", ref="wa-old", whatsapp_pattern=r"(?P<referrer>\d+)\1"),  # refused by RE2
        ])
    database.dispose()


# ------------------------------------------------------------------------------------------------ the inputs


def plain_inbounds(rng: random.Random) -> Iterator[Inbound]:
    number = 0
    while True:
        number += 1
        referrer = f"-c{rng.randint(1, max(1, number - 1))}" if number > 1 and rng.random() < 0.5 else ""
        yield Inbound(text=f"{PAGE}giveaway2025{referrer}--SAVE{number % 50}", channel="messenger",
                      channel_user_id=f"plain-{number}", first_name="Ann", event_id=f"plain-{number}")


def hostile_inbounds(rng: random.Random) -> Iterator[Inbound]:
    number = 0
    while True:
        number += 1
        pieces = [_huge(rng) if number % HUGE_EVERY == 0 and not index else _piece(rng)
                  for index in range(rng.randint(1, 3))]
        yield Inbound(text=rng.choice(PREFIXES) + "".join(pieces), channel=rng.choice(CHANNELS),
                      channel_user_id=_odd_text(rng, 12) if rng.random() < 0.3 else f"h-{rng.randint(1, 5000)}",
                      first_name=_odd_text(rng, 20), last_name=_odd_text(rng, 10), phone=_odd_text(rng, 8),
                      event_id=rng.choice([None, f"e{rng.randint(1, 3000)}", _odd_text(rng, 6)]))


def _huge(rng: random.Random) -> str:
    unit = rng.choice(HUGE_UNITS)
    return unit * (1_000_000 // len(unit))


def _piece(rng: random.Random) -> str:
    kind = rng.randrange(8)
    if kind == 0:
        return _odd_text(rng, rng.randint(1, 200))
    if kind == 1:
        return quote(_odd_text(rng, 60).encode("utf-8", "surrogatepass"), safe="")
    if kind == 2:
        return "".join(rng.choice("%0123456789ABCDEFZ-") for _ in range(rng.randint(1, 60)))
    if kind == 3:
        return base64.urlsafe_b64encode(rng.randbytes(rng.randint(1, 300))).decode()
    if kind == 4:
        return json.dumps({"plan": _nested(rng, 4)}, ensure_ascii=False)
    if kind == 5:
        depth = rng.randint(1, 5000)
        return '{"a":' * depth + "1" + "}" * depth
    if kind == 6:
        return "a" * rng.randint(20, 60) + "!"  # for the backtracking pattern
    return "--".join(_odd_text(rng, 6) for _ in range(rng.randint(1, 40)))


def _nested(rng: random.Random, depth: int) -> object:
    if depth == 0 or rng.random() < 0.3:
        return rng.choice([None, True, 3, 2.5, _odd_text(rng, 8)])
    if rng.random() < 0.5:
        return [_nested(rng, depth - 1) for _ in range(rng.randint(0, 3))]
    return {_odd_text(rng, 4): _nested(rng, depth - 1) for _ in range(rng.randint(0, 3))}


def _odd_text(rng: random.Random, size: int) -> str:
    return "".join(rng.choice(ODD) if rng.random() < 0.4 else chr(rng.randint(32, 0x10FFFF) if rng.random() < 0.2
                                                                   else rng.randint(32, 126)) for _ in range(size))


# ------------------------------------------------------------------------------------------------ the run


def run_interleaved(folder: Path, opens: int, rng: random.Random) -> tuple[list[float], list[float], list[float]]:
    plain_db = open_database(url=f"sqlite:///{folder / 'plain.db'}", migrate=False)
    hostile_db = open_database(url=f"sqlite:///{folder / 'hostile.db'}", migrate=False)
    plain, hostile = plain_inbounds(random.Random(rng.random())), hostile_inbounds(random.Random(rng.random()))
    plain_times: list[float] = []
    hostile_times: list[float] = []
    rss = [resident_mb()]
    with Runtime(plain_db) as plain_runtime, Runtime(hostile_db) as hostile_runtime:
        while len(hostile_times) < opens:
            size = min(BLOCK, opens - len(hostile_times))
            plain_times += timed(plain_runtime, plain, size)
            hostile_times += timed(hostile_runtime, hostile, size)
            rss.append(resident_mb())
    plain_db.dispose()
    hostile_db.dispose()
    return plain_times, hostile_times, rss


def timed(runtime: Runtime, inbounds: Iterator[Inbound], count: int) -> list[float]:
    times = []
    for _ in range(count):
        inbound = next(inbounds)  # made outside the clock: building a megabyte string is not the runtime's work
        start = time.perf_counter()
        runtime.open_link(inbound).to_dict(with_contact_data=False)
        times.append(time.perf_counter() - start)
    return times


def resident_mb() -> float:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) / 1024


def report(plain: list[float], hostile: list[float], rss: list[float]) -> None:
    def p99(times: list[float]) -> float:
        return statistics.quantiles(times, n=100)[98]

    print(f"{'':24} {'opens':>8} {'mean ms':>9} {'p99 ms':>9} {'max ms':>9}")
    for name, times in (("plain", plain), ("hostile", hostile)):
        print(f"{name:24} {len(times):>8,} {statistics.fmean(times) * 1e3:>9.2f} {p99(times) * 1e3:>9.2f}"
              f" {max(times) * 1e3:>9.2f}")
    warm, half = rss[min(2, len(rss) - 1)], rss[len(rss) // 2]  # warm: the caches have filled
    print(f"resident memory: {rss[0]:.0f} MB at start, {warm:.0f} MB after {2 * BLOCK:,} hostile opens, "
          f"{half:.0f} MB after {len(hostile) // 2:,}, {rss[-1]:.0f} MB after {len(hostile):,} "
          f"(growth {rss[-1] - warm:+.0f} MB, second half {rss[-1] - half:+.0f} MB)")
    print(f"hostile max call: {max(hostile) * 1e3:.1f} ms; hostile p99: {p99(hostile) * 1e3:.2f} ms")
    print(f"hostile/plain ratio: {statistics.fmean(hostile) / statistics.fmean(plain):.2f}")


if __name__ == "__main__":
    main()
