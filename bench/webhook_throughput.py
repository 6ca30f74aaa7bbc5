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
"""

import argparse
import asyncio
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from channels.telegram import webhook_open
from runtime.opening import Inbound
from runtime.service import Runtime
from storage.db import open_database
from storage.templates import seed_demo_workspace

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "7012345678:AAHbench-token_for-the-stand-in-000000"


def main() -> None:
    options = _options()
    folder = Path(tempfile.mkdtemp(prefix="referflow-webhook-bench-"))
    api = StandInTelegram()
    try:
        baseline = measure_open_link(folder / "baseline.db", options.baseline)
        with serving(folder, api.url) as app:
            result = asyncio.run(deliver(app.url, api.secret(), options.people, options.concurrency))
            result.check(app.db, api, options.people)
        report(options, result, baseline)
    finally:
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

    def __init__(self, folder: Path, api_url: str) -> None:
        self.folder = folder
        self.db = folder / "referflow.db"
        self.api_url = api_url

    def __enter__(self) -> "serving":
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST") and not k.lower().endswith("_proxy")}
        env.update(REFERFLOW_ADMIN_PASSWORD="bench-password-123", REFERFLOW_STORAGE_SECRET="bench",
                   REFERFLOW_SEED_DEMO="1", REFERFLOW_TELEGRAM_API_URL=self.api_url)
        for name in ("REFERFLOW_DATABASE_URL", "REFERFLOW_PUBLIC_URL", "REFERFLOW_SECRET_KEY"):
            env.pop(name, None)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.log = (self.folder / "server.log").open("w")
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "app.py"), "serve", "--host", "127.0.0.1", "--port", str(port),
             "--db", str(self.db)], cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{port}"
        _wait_until_up(self.url, self.process, self.folder / "server.log")
        subprocess.run([sys.executable, str(ROOT / "app.py"), "--db", str(self.db), "channels", "connect",
                        "telegram", "--token", TOKEN], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
        return self

    def __exit__(self, *_: object) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def _wait_until_up(url: str, process: subprocess.Popen, log: Path, timeout: float = 30) -> None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the app exited with {process.returncode}:\n{log.read_text()}")
        try:
            opener.open(f"{url}/login", timeout=1)
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the app did not answer within {timeout} s:\n{log.read_text()}")


# ------------------------------------------------------------------------------------------------ the report


def report(options: argparse.Namespace, result: Result, baseline: float) -> None:
    deliveries = len(result.latency)
    throughput = deliveries / result.seconds if result.seconds else 0.0
    print(f"{options.people} people open /start giveaway2025 over Telegram webhooks, each update delivered twice "
          f"({deliveries} signed deliveries, {options.concurrency} in flight) in {result.seconds:.2f} s")
    statuses = ", ".join(f"{status}: {count}" for status, count in sorted(result.statuses.items()))
    print(f"{'HTTP statuses':28} {statuses}")
    print(f"{'delivery latency':28} p50 {_ms(result.latency, 50):7.1f} ms   p99 {_ms(result.latency, 99):7.1f} ms   "
          f"max {max(result.latency) * 1000:7.1f} ms")
    print(f"{'lost / double-counted':28} {result.lost} / {result.double_counted} opens; sendMessage missing "
          f"{result.messages_missing}, twice {result.messages_twice}")
    print(f"{'telegram webhooks':28} {throughput:>10,.0f} deliveries/s (signed POST to its 200)")
    print(f"{'bare Runtime.open_link':28} {baseline:>10,.0f} opens/s (in process, no HTTP, no outbox)")
    print(f"telegram webhook/open_link ratio: {throughput / baseline:.3f}")


def _ms(values: list[float], percentile: int) -> float:
    if len(values) == 1:
        return values[0] * 1000
    return statistics.quantiles(values, n=100, method="inclusive")[percentile - 1] * 1000


if __name__ == "__main__":
    main()
