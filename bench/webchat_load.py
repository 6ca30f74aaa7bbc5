"""Web chat under load: 100 visitors open the chat and reply at once, over the real HTTP and websocket path.

Starts `app.py serve` on loopback with its own database (the web chat test bot: tests/fixtures/
test_webchat_workspace.json, a welcome with buttons, then a question). Every visitor opens a websocket and says hello,
then all of them at once: open the chat's address (POST), wait for the welcome pushed through the outbox, press
"Yes" (POST), wait for the question, answer "41" (POST), wait for the thanks. A reply's latency is from sending the
POST to the bot's answer arriving on the visitor's websocket (the runtime turn, the outbox, the worker's push).

The per-address limits are raised for the run (all visitors share 127.0.0.1); per-visitor limits stay as shipped.
The baseline is bare `Runtime.open_link` in this process on a copy of the same workspace (no HTTP, no outbox), and
the last line is the reply throughput over it: `webchat reply/open_link ratio: X.XX`.
"""

import argparse
import asyncio
import json
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import aiohttp
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.support.app_process import describe_latency, run_cli, serving_app
from runtime.definitions import load_definitions
from runtime.opening import Inbound
from runtime.service import Runtime
from storage.db import open_database
from storage.workspace_io import import_workspace
from tests.helpers import subprocess_env

ROOT = Path(__file__).resolve().parents[1]
WORKSPACE = ROOT / "tests" / "fixtures" / "test_webchat_workspace.json"


def main() -> None:
    options = _options()
    folder = Path(tempfile.mkdtemp(prefix="referflow-webchat-bench-"))
    try:
        baseline = measure_open_link(folder / "baseline.db", options.baseline)
        with serving(folder) as (url, account):
            result = asyncio.run(run_visitors(url, account, options.visitors))
        report(options, result, baseline)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--visitors", type=int, default=100)
    parser.add_argument("--baseline", type=int, default=2000, help="opens for the bare open_link baseline")
    return parser.parse_args()


# ------------------------------------------------------------------------------------------------ the visitors


class Result:
    def __init__(self) -> None:
        self.open_latency: list[float] = []
        self.reply_latency: list[float] = []
        self.post_latency: list[float] = []
        self.failures: list[str] = []
        self.reply_seconds = 0.0
        self.total_seconds = 0.0


async def run_visitors(url: str, account: str, count: int) -> Result:
    result = Result()
    connector = aiohttp.TCPConnector(limit=count * 2)
    async with aiohttp.ClientSession(base_url=url, connector=connector, timeout=aiohttp.ClientTimeout(30)) as client:
        sockets = await asyncio.gather(*(_say_hello(url) for _ in range(count)))
        start = asyncio.Event()
        replies_started: list[float] = []
        replies_done: list[float] = []
        tasks = [asyncio.create_task(_visit(client, url, account, secret, ws, start, result, replies_started,
                                            replies_done, n)) for n, (secret, ws) in enumerate(sockets)]
        began = time.perf_counter()
        start.set()
        await asyncio.gather(*tasks)
        result.total_seconds = time.perf_counter() - began
        if replies_started and replies_done:
            result.reply_seconds = max(replies_done) - min(replies_started)
        await asyncio.gather(*(ws.close() for _, ws in sockets))
    return result


async def _say_hello(url: str):
    secret = secrets.token_urlsafe(32)
    ws = await websockets.connect(url.replace("http", "ws") + "/webchat/ws", max_queue=None)
    await ws.send(json.dumps({"type": "hello", "visitor": secret}))
    history = json.loads(await ws.recv())
    assert history["type"] == "history", history
    return secret, ws


async def _visit(client, url, account, secret, ws, start, result, replies_started, replies_done, n) -> None:
    await start.wait()
    address = f"{url}/webchat/?p={account}&ref=hello"
    try:
        began = time.perf_counter()
        await _post(client, "open", {"visitor": secret, "name": f"Visitor{n}", "address": address})
        await _expect(ws, "Hi Visitor")
        result.open_latency.append(time.perf_counter() - began)
        for text, answer in (("Yes", "How old are you?"), ("41", "Thanks")):
            began = time.perf_counter()
            replies_started.append(began)
            await _post(client, "reply", {"visitor": secret, "text": text})
            result.post_latency.append(time.perf_counter() - began)
            await _expect(ws, answer)
            done = time.perf_counter()
            replies_done.append(done)
            result.reply_latency.append(done - began)
    except Exception as error:  # a failed visitor is counted and named, the others go on
        result.failures.append(f"visitor {n}: {type(error).__name__}: {error}")


async def _post(client: aiohttp.ClientSession, path: str, body: dict) -> None:
    async with client.post(f"/webchat/api/{path}", json=body) as response:
        if response.status != 200:
            raise RuntimeError(f"{path} answered {response.status}: {await response.text()}")


async def _expect(ws, prefix: str) -> None:
    while True:
        data = json.loads(await asyncio.wait_for(ws.recv(), 30))
        if data.get("type") == "message" and data["message"]["text"].startswith(prefix):
            return


# ------------------------------------------------------------------------------------------------ the baseline


def measure_open_link(path: Path, opens: int) -> float:
    """Opens per second of bare Runtime.open_link on the same workspace, new visitors each time."""
    database = open_database(url=f"sqlite:///{path}")
    try:
        with database.write_session() as session:
            import_workspace(session=session, document=json.loads(WORKSPACE.read_text()))
        with Runtime(database) as runtime:
            address = "http://127.0.0.1/webchat/?p=acc-test&ref=hello"
            for n in range(50):  # warm the definition cache and the connection
                runtime.open_link(Inbound(text=address, channel="webchat", channel_user_id=f"warm{n}"))
            began = time.perf_counter()
            for n in range(opens):
                runtime.open_link(Inbound(text=address, channel="webchat", channel_user_id=f"v{n}",
                                          first_name="Visitor"))
            return opens / (time.perf_counter() - began)
    finally:
        database.dispose()


# ------------------------------------------------------------------------------------------------ the app


@contextmanager
def serving(folder: Path) -> Iterator[tuple[str, str]]:
    """`app.py serve` on a free loopback port, with the test bot imported first; yields its URL and chat account."""
    db = folder / "referflow.db"
    env = subprocess_env(REFERFLOW_ADMIN_PASSWORD="bench-password-123", REFERFLOW_STORAGE_SECRET="bench",
                  REFERFLOW_SEED_DEMO="0", REFERFLOW_WEBCHAT_ADDRESS_RATE="1000000/1000000",
                  REFERFLOW_WEBCHAT_CHATS_PER_ADDRESS="100000")
    run_cli("import", str(WORKSPACE), db=db, env=env)
    with serving_app(db=db, env=env, log_path=folder / "server.log", probe="/webchat/chat.css") as url:
        yield url, _account(db)


def _account(db: Path) -> str:
    """The account id the workspace's web chat links carry (p=)."""
    database = open_database(url=f"sqlite:///{db}")
    try:
        with database.raw_connection() as connection:
            return load_definitions(connection).identities.webchat_account_id
    finally:
        database.dispose()


# ------------------------------------------------------------------------------------------------ the report


def report(options: argparse.Namespace, result: Result, baseline: float) -> None:
    replies = len(result.reply_latency)
    throughput = replies / result.reply_seconds if result.reply_seconds else 0.0
    print(f"{options.visitors} visitors, each: open, press a button, answer a question "
          f"({replies} replies, {len(result.failures)} failed visitors) in {result.total_seconds:.2f} s")
    for failure in result.failures[:5]:
        print(f"  {failure}")
    for name, values in (("open", result.open_latency), ("reply", result.reply_latency),
                         ("reply POST answered", result.post_latency)):
        if values:
            print(f"{name + ' latency':28} {describe_latency(values)}")
    print(f"{'webchat replies':28} {throughput:>10,.0f} replies/s (HTTP POST to the answer on the websocket)")
    print(f"{'bare Runtime.open_link':28} {baseline:>10,.0f} opens/s (in process, no HTTP, no outbox)")
    print(f"webchat reply/open_link ratio: {throughput / baseline:.3f}")


if __name__ == "__main__":
    main()
