"""`kill -9` of the action server in the middle of a burst of concurrent conversations (issue 17, item 12).

Runs the real `shopbot serve` (its supervisor, the action server and `rasa run`) in a cache folder of
its own (`bot.servers.cache_apart`: the set-up's catalog and models, a new shopper store and
conversations file, fresh secrets), warms it up with one conversation, then runs `--conversations`
conversations at once over the REST channel, each: a search, "add the first one to my cart", another
search, "add the first one", "what's in my cart?". Once a quarter of the burst's turns got their reply,
the action server gets SIGKILL; `shopbot serve` starts it again. A shopper whose turn gets the apology
sends the same message again (with the same client message id, as a retrying app does) after a
pause, until it gets a reply.

Figures: turns sent (re-sends included), replies, apologies, turns lost (neither reply nor apology:
an HTTP error, a timeout, an empty answer), and the final carts against the products each
conversation added: lines lost, lines doubled.

Usage: .venv/bin/python bench/action_crash.py [--conversations 8] [--out bench/results/action_crash.md]
       (run `shopbot setup` first)

`tests/test_action_crash.py` runs the same drill (`drill`) and asserts what this script prints.
The searches name kinds of products of the shipped catalog.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import click

from bot import settings
from bot.channels import SORRY, TOO_FAST
from bot.servers import HOST, cache_apart, free_port, post_message, rasa_env, stop, wait_until_ready
from recommender import config

SEARCHES = ("shampoo", "mascara", "lipstick", "nail polish", "foundation", "eye shadow", "conditioner", "eyeliner")
RETRY_PAUSE = 3.0  # seconds before a shopper sends an apologised message again (under the guard's 30 a minute)
DEADLINE = 420.0  # seconds a conversation may take, apologies and re-sends included (a loaded machine is slow)


@dataclass
class Conversation:
    """What one shopper sent and got."""

    sender: str
    sent: int = 0  # messages posted, re-sends included
    replies: int = 0
    apologies: int = 0
    refused: int = 0  # the guard's "too fast" (a shopper re-sending too often)
    lost: int = 0  # posts answered by neither a reply, the apology nor a refusal
    unexpected: list[str] = field(default_factory=list)  # turns whose reply was not the kind asked for
    added: list[str] = field(default_factory=list)  # the product of each add that got its reply
    cart: dict[str, int] | None = None  # product id -> quantity in the final cart view; None: never reached

    @property
    def lines_lost(self) -> int:
        return sum((Counter(self.added) - Counter(self.cart or {})).values())

    @property
    def lines_doubled(self) -> int:
        return sum((Counter(self.cart or {}) - Counter(self.added)).values())


@dataclass
class Drill:
    """The outcome of one drill."""

    conversations: list[Conversation]
    replies_before_kill: int = 0
    down_seconds: float | None = None  # from the kill until the new action server answered /health
    restarted: bool = False  # the supervisor logged the restart and a new action server runs
    serve_exit: int | None = None  # `shopbot serve`'s exit code after SIGTERM at the end
    serve_error: str | None = None  # the last line of its log when it stopped before that SIGTERM
    left_running: int = 0  # its servers (the restarted one included) still running after that

    def total(self, name: str) -> int:
        return sum(getattr(c, name) for c in self.conversations)

    def figures(self) -> dict[str, object]:
        return {"conversations": len(self.conversations), "turns sent": self.total("sent"),
                "replies": self.total("replies"), "apologies": self.total("apologies"),
                "refused (too fast)": self.total("refused"), "lost": self.total("lost"), "reached the cart view": sum(c.cart is not None for c in self.conversations),
                "cart lines lost": self.total("lines_lost"), "cart lines doubled": self.total("lines_doubled"),
                "unexpected replies": self.total_unexpected(), "replies before the kill": self.replies_before_kill,
                "action server down (s)": None if self.down_seconds is None else round(self.down_seconds, 1),
                "restarted by shopbot serve": self.restarted, "serve exit code on SIGTERM": self.serve_exit,
                "servers left running": self.left_running}

    def total_unexpected(self) -> int:
        return sum(len(c.unexpected) for c in self.conversations)


@dataclass
class Served:
    """A running `shopbot serve` of the drill."""

    process: subprocess.Popen
    url: str
    token: str
    log: Path
    left_running: list[int] = field(default_factory=list)  # its servers still running after it stopped
    error: list[str] = field(default_factory=list)  # the last line of its log when it stopped on its own

    def children(self) -> dict[int, bytes]:
        """The live processes `shopbot serve` started (its servers): pid -> command line."""
        found = {}
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                if int(stat[1]) == self.process.pid and stat[0] not in "ZX":
                    found[int(pid)] = Path(f"/proc/{pid}/cmdline").read_bytes()
            except (OSError, IndexError, ValueError):
                continue
        return found

    def action_server(self) -> int | None:
        """The pid of the action server `shopbot serve` runs now."""
        return next((pid for pid, command in self.children().items() if b"bot.action_server" in command), None)


@contextmanager
def served(folder: Path) -> Iterator[Served]:
    """`shopbot serve` on free ports with a cache folder of its own under `folder`; SIGTERM at the end."""
    cache, port = cache_apart(folder / "var"), free_port()
    tokens = {name: secrets.token_urlsafe(32) for name in settings.SECRETS}
    log = folder / "serve.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve", "--port", str(port), "--action-port", str(free_port())],
            cwd=config.REPO_ROOT, env=rasa_env(SHOPBOT_CACHE=str(cache), SHOPBOT_TRACKER=str(cache / "conversations.db"),
                                               SHOPBOT_STORE=str(cache / "shop.db"), **tokens),
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    server = Served(process, f"http://{HOST}:{port}/webhooks/rest/webhook", tokens["SHOPBOT_REST_TOKEN"], log)
    try:
        wait_until_ready(f"http://{HOST}:{port}/webhooks/rest/", process, 600, log)
        yield server
    finally:
        servers = server.children()
        if process.poll() is not None:
            server.error = log.read_text(errors="replace").strip().splitlines()[-1:] or ["(no output)"]
        else:
            process.send_signal(signal.SIGTERM)  # to the supervisor only: it stops its servers
            try:
                process.wait(timeout=120)
            except subprocess.TimeoutExpired:
                stop(process)
        server.left_running = [pid for pid in servers if Path(f"/proc/{pid}").exists()]
        for pid in server.left_running:  # what a failed stop left behind
            os.kill(pid, signal.SIGKILL)


def turns(n: int) -> list[tuple[str, str]]:
    """The n-th conversation's (kind, text) turns: two searches of different kinds, each's first added."""
    first, second = SEARCHES[n % len(SEARCHES)], SEARCHES[(n + len(SEARCHES) // 2) % len(SEARCHES)]
    return [("search", f"show me {first}"), ("add", "add the first one to my cart"),
            ("search", f"show me {second}"), ("add", "add the first one to my cart"),
            ("view", "what's in my cart?")]


def _payload(replies: list[dict], key: str) -> object:
    return next(((r.get("custom") or {})[key] for r in replies if key in (r.get("custom") or {})), None)


class Shopper:
    """Runs one conversation, re-sending a message that got the apology, and counts what came back."""

    def __init__(self, served: Served, sender: str, on_reply: threading.Semaphore | None = None) -> None:
        self.served, self.result, self.on_reply = served, Conversation(sender), on_reply

    def run(self, steps: list[tuple[str, str]]) -> Conversation:
        deadline, shown = time.monotonic() + DEADLINE, None
        for kind, text in steps:
            replies = self._until_answered(text, deadline)
            if replies is None:
                break
            if kind == "search":
                shown = (_payload(replies, "products") or [None])[0]
                if shown is None:
                    self.result.unexpected.append(text)
            elif kind == "add" and shown is not None:
                if _payload(replies, "cart") is None:
                    self.result.unexpected.append(text)
                else:
                    self.result.added.append(shown["id"])
            elif kind == "view":
                cart = _payload(replies, "cart")
                if cart is None:
                    self.result.unexpected.append(text)
                else:
                    self.result.cart = {line["id"]: line["quantity"] for line in cart["lines"]}
        return self.result

    def _until_answered(self, text: str, deadline: float) -> list[dict] | None:
        """Post `text` (one client message id for all its re-sends) until a reply that is not the
        apology, or a refusal; None when the deadline passes first, or `shopbot serve` stopped."""
        message_id = uuid.uuid4().hex
        while time.monotonic() < deadline and self.served.process.poll() is None:
            self.result.sent += 1
            try:
                replies = post_message(self.served.url, self.result.sender, text, token=self.served.token,
                                       timeout=120, message_id=message_id)
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                replies = []
            texts = [r.get("text") for r in replies]
            if texts == [SORRY]:
                self.result.apologies += 1
            elif texts == [TOO_FAST]:
                self.result.refused += 1
            elif not replies:
                self.result.lost += 1
            else:
                self.result.replies += 1
                if self.on_reply is not None:
                    self.on_reply.release()
                return replies
            time.sleep(RETRY_PAUSE)
        return None


def _kill_when(served: Served, replies: threading.Semaphore, after: int, drill: Drill) -> None:
    """After `after` replies, SIGKILL the action server; then time it until the new one answers."""
    for _ in range(after):
        replies.acquire()
    pid = served.action_server()
    if pid is None:
        return
    drill.replies_before_kill = after
    os.kill(pid, signal.SIGKILL)
    killed = time.monotonic()
    while time.monotonic() - killed < DEADLINE:
        new = served.action_server()
        if new not in (None, pid) and "is running again" in served.log.read_text(errors="replace"):
            drill.down_seconds, drill.restarted = time.monotonic() - killed, True
            return
        time.sleep(0.5)


def drill(folder: Path, conversations: int = 8) -> Drill:
    """Start `shopbot serve` under `folder`, run the burst with its kill, stop it; the outcome."""
    shoppers: list[Shopper] = []
    outcome = Drill([])
    with served(folder) as server:
        Shopper(server, "crash-warm-up").run(turns(0))  # TensorFlow's first turns are slow: not in the burst
        replies = threading.Semaphore(0)
        shoppers = [Shopper(server, f"crash-{n}", replies) for n in range(conversations)]
        threads = [threading.Thread(target=s.run, args=(turns(n),)) for n, s in enumerate(shoppers)]
        killer = threading.Thread(target=_kill_when,
                                  args=(server, replies, conversations * len(turns(0)) // 4, outcome), daemon=True)
        killer.start()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        killer.join(timeout=DEADLINE)
    outcome.conversations = [s.result for s in shoppers]
    outcome.serve_exit, outcome.left_running = server.process.returncode, len(server.left_running)
    outcome.serve_error = server.error[0] if server.error else None
    return outcome


def report(outcome: Drill) -> list[str]:
    """The Markdown lines of the result."""
    lines = ["| figure | value |", "|---|---|"] + [f"| {k} | {v} |" for k, v in outcome.figures().items()]
    lines += ["", "| conversation | sent | replies | apologies | lost | added | final cart |", "|---|---|---|---|---|---|---|"]
    for c in outcome.conversations:
        cart = "not reached" if c.cart is None else ", ".join(f"{pid} x{q}" for pid, q in c.cart.items())
        lines.append(f"| {c.sender} | {c.sent} | {c.replies} | {c.apologies} | {c.lost} | {', '.join(c.added)} | {cart} |")
    return lines


@click.command()
@click.option("--conversations", type=int, default=8, show_default=True, help="Conversations in the burst.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the result here (Markdown), e.g. bench/results/action_crash.md.")
def main(conversations: int, out: Path | None) -> None:
    """Kill -9 the action server of a real `shopbot serve` during a burst of conversations; print the figures."""
    from _common import load_average, machine_header  # bench/_common.py, next to this script

    start = time.monotonic()
    outcome = drill(Path(tempfile.mkdtemp(prefix="shopbot-crash-")), conversations)
    text = "\n".join([machine_header("Action server killed during a burst", f"load {load_average()}"), "",
                      f"{conversations} concurrent REST conversations on `shopbot serve`; SIGKILL to the action "
                      f"server after {outcome.replies_before_kill} replies; an apologised message re-sent every "
                      f"{RETRY_PAUSE:.0f} s with the same client message id. Drill: {time.monotonic() - start:.0f} s "
                      "(server start included).", "", *report(outcome)]) + "\n"
    click.echo(text)
    if out:
        out.write_text(text)


if __name__ == "__main__":
    main()
