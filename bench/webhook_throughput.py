"""Signed webhook deliveries per second over real HTTP on loopback, with p50/p99 latency, as a ratio to bare
`Runtime.open_link` in the same run; every delivery is also replayed (as platforms do), and the run counts what was
lost or counted twice.

Starts `app.py serve` on loopback with the demo referral program (entry point giveaway2025) and a stand-in Bot API in
this process (it accepts every sendMessage and counts them per chat). The Telegram bot is connected with
`referflow channels connect telegram` (getMe, setWebhook with a secret). Then N people open `/start giveaway2025` at
once (CONCURRENCY in flight): each update is POSTed to /hooks/telegram with the secret token, and posted again a
moment later (a redelivery). A delivery's latency is from sending the POST to its 200.

Checked at the end: one contact and one counted open per person (0 lost, 0 double-counted), and once the outbox has
drained, exactly one sendMessage per person. The baseline is bare `Runtime.open_link` in this process on a copy of
the same workspace (no HTTP, no outbox) with the same `/start` text; the last line is the ratio:
`telegram webhook/open_link ratio: X.XX`.

Then the same people open m.me/PAGE?ref=giveaway2025 as Messenger referrals (`postback.referral`, each body signed
with X-Hub-Signature-256 and delivered twice), the page connected with `referflow channels connect messenger` against a
stand-in Graph API; each new person's name is asked of its User Profile API, as live. Last line:
`messenger webhook/open_link ratio: X.XX`.
"""

import argparse
import asyncio
import json
import random
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from contextlib import ExitStack
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.support.app_process import describe_latency, run_cli, serving_app
from channels.meta import sign as meta_sign
from channels.meta import webhook_open as meta_webhook_open
from channels.telegram import webhook_open
from runtime.opening import Inbound
from runtime.service import Runtime
from storage.db import open_database
from storage.workspace_templates import seed_demo_workspace
from tests.helpers import subprocess_env

TOKEN = "7012345678:AAHbench-token_for-the-stand-in-000000"


def main() -> None:
    options = _options()
    folder = Path(tempfile.mkdtemp(prefix="referflow-webhook-bench-"))
    api = StandInTelegram()
    try:
        baseline = measure_open_link(folder / "baseline.db", options.baseline)
        graph = StandInGraph()
        with serving(folder, api.url, graph.url) as app:
            result = asyncio.run(deliver(app.url, api.secret(), options.people, options.concurrency))
            result.check(app.db, api, options.people)
            messenger = bench_messenger(app, graph, options)
        report(options, result, baseline)
        report_messenger(options, messenger, baseline)
    finally:
        graph.close()
        api.close()
        shutil.rmtree(folder, ignore_errors=True)


def _options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=500, help="distinct people who open the link")
    parser.add_argument("--concurrency", type=int, default=20, help="deliveries in flight at once")
    parser.add_argument("--baseline", type=int, default=2000, help="opens for the bare open_link baseline")
    return parser.parse_args()


class Result:
    def __init__(self) -> None:
        self.latency: list[float] = []
        self.statuses: Counter[int] = Counter()
        self.seconds = 0.0
        self.lost = self.double_counted = self.messages_missing = self.messages_twice = 0

    def check(self, db: Path, api: "StandInTelegram", people: int) -> None:
        database = open_database(url=f"sqlite:///{db}")
        try:
            with database.raw_connection() as connection:
                opens = dict(connection.execute(
                    "SELECT c.channel_user_id, count(*) FROM link_open o JOIN contact c ON c.id = o.contact_id"
                    " WHERE c.channel = 'telegram' GROUP BY c.channel_user_id").fetchall())
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline and connection.execute(
                        "SELECT count(*) FROM outbox_message WHERE state = 'pending'").fetchone()[0]:
                    time.sleep(0.2)
        finally:
            database.dispose()
        users = [str(user_id(n)) for n in range(people)]
        self.lost = sum(1 for user in users if opens.get(user, 0) == 0)
        self.double_counted = sum(1 for user in users if opens.get(user, 0) > 1)
        sent = api.sent_per_chat()
        self.messages_missing = sum(1 for user in users if sent.get(int(user), 0) == 0)
        self.messages_twice = sum(1 for user in users if sent.get(int(user), 0) > 1)


def user_id(n: int) -> int:
    return 900_000_000 + n


async def deliver(url: str, secret: str, people: int, concurrency: int) -> Result:
    result = Result()
    updates = [webhook_open(user_id=user_id(n), first_name=f"Person {n}", ref="giveaway2025",
                            update_id=random.randrange(1, 2**31)) for n in range(people)]
    # every update twice, the redelivery a little later than the first, in mixed order
    order = [(i, updates[i]) for i in range(people)] + [(i + random.randrange(1, 40), updates[i])
                                                         for i in range(people)]
    order.sort(key=lambda pair: pair[0])
    slots = asyncio.Semaphore(concurrency)
    headers = {"content-type": "application/json", "X-Telegram-Bot-Api-Secret-Token": secret}
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as client:
        async def post(body: bytes) -> None:
            async with slots:
                began = time.perf_counter()
                async with client.post(f"{url}/hooks/telegram", data=body, headers=headers) as answer:
                    await answer.read()
                    result.latency.append(time.perf_counter() - began)
                    result.statuses[answer.status] += 1

        began = time.perf_counter()
        await asyncio.gather(*(post(body) for _, body in order))
        result.seconds = time.perf_counter() - began
    return result


def measure_open_link(path: Path, opens: int) -> float:
    """Opens per second of bare Runtime.open_link on the same workspace, new people each time."""
    database = open_database(url=f"sqlite:///{path}")
    try:
        with database.write_session() as session:
            seed_demo_workspace(session=session)
        with Runtime(database) as runtime:
            for n in range(50):
                runtime.open_link(Inbound(text="/start giveaway2025", channel="telegram", channel_user_id=f"w{n}"))
            began = time.perf_counter()
            for n in range(opens):
                runtime.open_link(Inbound(text="/start giveaway2025", channel="telegram", channel_user_id=f"p{n}",
                                          first_name="Person", event_id=str(n), bot="7012345678"))
            return opens / (time.perf_counter() - began)
    finally:
        database.dispose()


# ------------------------------------------------------------------------------------------ the stand-in API


class StandInTelegram:
    """getMe, setWebhook and sendMessage on 127.0.0.1, in a thread of this process."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sent: Counter[int] = Counter()
        self.webhooks: list[dict] = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
                method = self.path.rsplit("/", 1)[1]
                result: object = True
                if method == "getMe":
                    result = {"id": 7012345678, "is_bot": True, "first_name": "Bench", "username": "bench_bot"}
                elif method == "setWebhook":
                    with stand_in.lock:
                        stand_in.webhooks.append(body)
                elif method == "sendMessage":
                    with stand_in.lock:
                        stand_in.sent[body["chat_id"]] += 1
                    result = {"message_id": 1, "chat": {"id": body["chat_id"]}, "date": 0, "text": body["text"]}
                data = json.dumps({"ok": True, "result": result}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def secret(self) -> str:
        with self.lock:
            return self.webhooks[-1]["secret_token"]

    def sent_per_chat(self) -> Counter[int]:
        with self.lock:
            return Counter(self.sent)

    def close(self) -> None:
        self.server.shutdown()


# ------------------------------------------------------------------------------------------------ the app


class serving:
    """`app.py serve` on a free loopback port with the demo program and the Telegram bot connected."""

    def __init__(self, folder: Path, api_url: str, graph_url: str = "") -> None:
        self.folder = folder
        self.db = folder / "referflow.db"
        self.api_url = api_url
        self.graph_url = graph_url
        self.stack = ExitStack()

    def __enter__(self) -> "serving":
        env = subprocess_env(drop=["REFERFLOW_PUBLIC_URL", "REFERFLOW_SECRET_KEY"],
                      REFERFLOW_ADMIN_PASSWORD="bench-password-123", REFERFLOW_STORAGE_SECRET="bench",
                      REFERFLOW_SEED_DEMO="1", REFERFLOW_TELEGRAM_API_URL=self.api_url,
                      REFERFLOW_META_GRAPH_URL=self.graph_url or "http://127.0.0.1:9/unused")
        self.url = self.stack.enter_context(serving_app(db=self.db, env=env, log_path=self.folder / "server.log"))
        run_cli("channels", "connect", "telegram", "--token", TOKEN, db=self.db, env=env)
        if self.graph_url:
            run_cli("channels", "connect", "messenger", "--page-id", PAGE_ID, "--access-token", PAGE_TOKEN,
                    "--app-secret", APP_SECRET, db=self.db, env=env)
        return self

    def __exit__(self, *_: object) -> None:
        self.stack.close()


# --------------------------------------------------------------------------------------------- Messenger

PAGE_ID = "1234567890"
PAGE_TOKEN = "EAAGbench" + "p" * 40
APP_SECRET = "0123456789abcdef0123456789abcdef"


def bench_messenger(app: "serving", graph: "StandInGraph", options: argparse.Namespace) -> Result:
    """The same N opens as Messenger referrals (`postback.referral`, signed X-Hub-Signature-256), each delivered
    twice; checked like Telegram's (one contact and one open per person, one Send API message each)."""
    time.sleep(6)  # the app picks up the CLI's connection within 5 s (channels/hooks CONNECTION_POLL)
    bodies = [meta_webhook_open("messenger", bot=PAGE_ID, user_id=str(psid(n)), ref="giveaway2025",
                                event_id=f"m_{n}_{random.randrange(2**40)}", timestamp=1_764_600_000_000 + n)
              for n in range(options.people)]
    order = sorted([(i, b) for i, b in enumerate(bodies)] + [(i + random.randrange(1, 40), b)
                                                               for i, b in enumerate(bodies)], key=lambda p: p[0])
    result = asyncio.run(_post_all(f"{app.url}/hooks/messenger", [
        (body, {"content-type": "application/json", "X-Hub-Signature-256": meta_sign(body, APP_SECRET)})
        for _, body in order], options.concurrency))
    database = open_database(url=f"sqlite:///{app.db}")
    try:
        with database.raw_connection() as connection:
            opens = dict(connection.execute(
                "SELECT c.channel_user_id, count(*) FROM link_open o JOIN contact c ON c.id = o.contact_id"
                " WHERE c.channel = 'messenger' GROUP BY c.channel_user_id").fetchall())
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and connection.execute(
                    "SELECT count(*) FROM outbox_message WHERE state = 'pending'").fetchone()[0]:
                time.sleep(0.2)
    finally:
        database.dispose()
    users = [str(psid(n)) for n in range(options.people)]
    sent = graph.sent_per_recipient()
    result.lost = sum(1 for user in users if opens.get(user, 0) == 0)
    result.double_counted = sum(1 for user in users if opens.get(user, 0) > 1)
    result.messages_missing = sum(1 for user in users if sent.get(user, 0) == 0)
    result.messages_twice = sum(1 for user in users if sent.get(user, 0) > 1)
    return result


def psid(n: int) -> int:
    return 27_000_000_000_000 + n


async def _post_all(url: str, requests: list[tuple[bytes, dict]], concurrency: int) -> Result:
    result = Result()
    slots = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as client:
        async def post(body: bytes, headers: dict) -> None:
            async with slots:
                began = time.perf_counter()
                async with client.post(url, data=body, headers=headers) as answer:
                    await answer.read()
                    result.latency.append(time.perf_counter() - began)
                    result.statuses[answer.status] += 1

        began = time.perf_counter()
        await asyncio.gather(*(post(body, headers) for body, headers in requests))
        result.seconds = time.perf_counter() - began
    return result


class StandInGraph:
    """The Graph API calls of connecting a page (page, Get Started, subscribed_apps), the User Profile API and the
    Send API, on 127.0.0.1 in a thread of this process; counts messages per recipient."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sent: Counter[str] = Counter()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                user = self.path.split("?")[0].rsplit("/", 1)[1]
                self._answer({"id": user, "name": "Bench page", "first_name": "Person", "last_name": user[-4:]})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
                if self.path.split("?")[0].endswith("/messages"):
                    with stand_in.lock:
                        stand_in.sent[body["recipient"]["id"]] += 1
                    self._answer({"recipient_id": body["recipient"]["id"], "message_id": "m_1"})
                else:
                    self._answer({"success": True})

            def _answer(self, answer: dict) -> None:
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_: object) -> None:
                return None

        self.server = _Backlogged(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v21.0"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def sent_per_recipient(self) -> Counter[str]:
        with self.lock:
            return Counter(self.sent)

    def close(self) -> None:
        self.server.shutdown()


class _Backlogged(ThreadingHTTPServer):
    request_queue_size = 128  # the default 5 drops connections under load: a 1 s SYN retry, not the app's time


def report_messenger(options: argparse.Namespace, result: Result, baseline: float) -> None:
    deliveries = len(result.latency)
    throughput = deliveries / result.seconds if result.seconds else 0.0
    statuses = ", ".join(f"{status}: {count}" for status, count in sorted(result.statuses.items()))
    print(f"{options.people} people open m.me/PAGE?ref=giveaway2025 over Messenger webhooks (postback.referral), "
          f"each delivered twice ({deliveries} signed deliveries) in {result.seconds:.2f} s")
    print(f"{'HTTP statuses':28} {statuses}")
    print(f"{'delivery latency':28} {describe_latency(result.latency)}")
    print(f"{'lost / double-counted':28} {result.lost} / {result.double_counted} opens; Send API missing "
          f"{result.messages_missing}, twice {result.messages_twice}")
    print(f"{'messenger webhooks':28} {throughput:>10,.0f} deliveries/s (signed POST to its 200)")
    print(f"messenger webhook/open_link ratio: {throughput / baseline:.3f}")


# ------------------------------------------------------------------------------------------------ the report


def report(options: argparse.Namespace, result: Result, baseline: float) -> None:
    deliveries = len(result.latency)
    throughput = deliveries / result.seconds if result.seconds else 0.0
    print(f"{options.people} people open /start giveaway2025 over Telegram webhooks, each update delivered twice "
          f"({deliveries} signed deliveries, {options.concurrency} in flight) in {result.seconds:.2f} s")
    statuses = ", ".join(f"{status}: {count}" for status, count in sorted(result.statuses.items()))
    print(f"{'HTTP statuses':28} {statuses}")
    print(f"{'delivery latency':28} {describe_latency(result.latency)}")
    print(f"{'lost / double-counted':28} {result.lost} / {result.double_counted} opens; sendMessage missing "
          f"{result.messages_missing}, twice {result.messages_twice}")
    print(f"{'telegram webhooks':28} {throughput:>10,.0f} deliveries/s (signed POST to its 200)")
    print(f"{'bare Runtime.open_link':28} {baseline:>10,.0f} opens/s (in process, no HTTP, no outbox)")
    print(f"telegram webhook/open_link ratio: {throughput / baseline:.3f}")


if __name__ == "__main__":
    main()
