"""Per-turn latency of the whole assistant over the REST channel, with concurrent conversations.

Starts the action server and `rasa run` on free local ports (as `shopbot serve` does, with a
temporary shopper store and conversations file), then runs realistic multi-turn shopping dialogues
(search with a budget, narrow to a brand, "show me more", details of "the second one", add to cart,
view the cart, ...), each conversation its own sender, with 1, 8 and 32 conversations in flight at
once. Each conversation sends its next message as soon as the last reply arrives (`--think-ms 0`:
the worst case, every conversation always waiting on the server), or after a shopper's pause
(`--think-ms 3000`: each pause drawn from 0.5-1.5 x 3 s, the conversations starting at random
within the first pause, so shoppers do not act in lockstep). Warm-up conversations run first
and are not counted.

Baseline in the same run, at every concurrency: a turn that calls no custom action ("hi"), so the
gap shows what the actions and the recommender add over NLU + dialogue policies + HTTP.

With `--profile-at 1,8` it starts a second pair of servers with a timing proxy between Rasa and the action
server, and splits a turn's time at each concurrency into: NLU alone (Rasa's /model/parse), the
action server's /webhook as Rasa calls it inside the turns, and the same /webhook requests replayed
straight to the action server (no Rasa running turns at the same time).

Usage: .venv/bin/python bench/rest_latency.py [--concurrency 1,8,32] [--conversations 3] [--profile-at 1,8]
       [--out bench/results/rest_latency.md]   (run `shopbot setup` first)
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shlex
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import click

from _common import load_average, machine_header, p95  # bench/_common.py, next to this file

TARGET_P95_MS = 250.0
TARGET_CONCURRENCY = 8

# What shoppers ask for: (what they type for the category, a brand of it, a budget in dollars). Each
# has over ten products of that brand under that budget in the shipped catalog, so "show me more"
# has a second page.
SHOPPING = (("shampoo", "Suave", 10), ("mascara", "Maybelline", 10), ("lipstick", "Revlon", 10),
            ("nail polish", "OPI", 15), ("foundation", "Revlon", 15), ("eye shadow", "Maybelline", 10),
            ("conditioner", "Suave", 10), ("mascara", "COVERGIRL", 15), ("nail polish", "Essie", 10),
            ("eyeliner", "L'Oreal Paris", 15), ("lipstick", "Maybelline", 15),
            ("foundation", "COVERGIRL", 20))

Turn = tuple[str, str]  # (kind, text): kind labels the turn in the per-kind table


def dialogue(n: int) -> list[Turn]:
    """The n-th shopping conversation: one of three shapes over one of the SHOPPING needs."""
    word, brand, budget = SHOPPING[n % len(SHOPPING)]
    shapes = [
        [("search", f"show me {word} under ${budget}"), ("refine", f"only {brand}"),
         ("more", "show me more"), ("details", "tell me about the second one"),
         ("cart", "add the first one to my cart"), ("cart", "what's in my cart?")],
        [("chat", "hi"), ("search", f"show me {word}"), ("refine", f"under ${budget}"),
         ("more", "show more"), ("details", "what's the first one?"),
         ("cart", "add the second one to my cart"), ("cart", "show my cart"), ("chat", "thanks, bye")],
        [("search", f"{word} from {brand}"), ("refine", f"less than ${budget} please"),
         ("similar", "show me products similar to the first"), ("details", "tell me about the third one"),
         ("cart", "add it to my cart"), ("cart", "what's in my basket")],
    ]
    return shapes[n % len(shapes)]


def baseline_dialogue(n: int) -> list[Turn]:
    """A conversation of greetings only: every turn is NLU + policies, no custom action."""
    return [("hi (baseline)", "hi")] * 6


@dataclass(frozen=True)
class Sample:
    kind: str
    ms: float
    ok: bool


def is_failure(replies: list[dict]) -> bool:
    """Whether a turn's replies are the guard's apology or refusal, or nothing at all."""
    from bot.channels import SORRY, TOO_FAST

    texts = [r.get("text") or "" for r in replies]
    return not replies or any(t in (SORRY, TOO_FAST) or t.startswith("That message is a bit long")
                              for t in texts)


def converse(url: str | Sequence[str], sender: str, turns: list[Turn], think_ms: float,
             rng: random.Random) -> list[Sample]:
    """Send one conversation's turns in order and time each; pause 0.5-1.5 x `think_ms` after each reply.
    Several `url`s (replicas): each turn goes to the next, as a balancer without sticky sessions sends them."""
    from bot.servers import post_message

    urls = [url] if isinstance(url, str) else url
    samples = []
    for n, (kind, text) in enumerate(turns):
        start = time.perf_counter()
        try:
            ok = not is_failure(post_message(urls[n % len(urls)], sender, text, timeout=120))
        except Exception:  # noqa: BLE001 - an HTTP error, a reset or a timeout all count as errors
            ok = False
        samples.append(Sample(kind, (time.perf_counter() - start) * 1000, ok))
        time.sleep(rng.uniform(0.5, 1.5) * think_ms / 1000)
    return samples


def run_level(url: str | Sequence[str], concurrency: int, per_worker: int, make: Callable[[int], list[Turn]],
              tag: str, think_ms: float = 0) -> tuple[list[Sample], float]:
    """`concurrency` threads, each running `per_worker` conversations back to back (a new sender
    for each); returns the samples and the wall time in seconds."""
    results: list[list[Sample]] = [[] for _ in range(concurrency)]

    def worker(w: int) -> None:
        rng = random.Random(f"{tag}-{concurrency}-{w}")  # shoppers act on their own: no lockstep
        time.sleep(rng.uniform(0, think_ms) / 1000)
        for k in range(per_worker):
            n = w * per_worker + k
            results[w] += converse(url, f"bench-{tag}-c{concurrency}-{w}-{k}", make(n), think_ms, rng)

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(concurrency)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return [s for r in results for s in r], time.perf_counter() - start


def row(name: str, samples: list[Sample], seconds: float | None = None) -> dict:
    ms = [s.ms for s in samples]
    return {"name": name, "n": len(ms), "p50": statistics.median(ms), "p95": p95(ms), "max": max(ms),
            "rps": len(ms) / seconds if seconds else None, "errors": sum(not s.ok for s in samples)}


def table(rows: list[dict], first: str = "turns") -> list[str]:
    lines = [f"| {first} | n | p50 ms | p95 ms | max ms | replies/s | errors |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        rps = f"{r['rps']:.1f}" if r["rps"] else ""
        lines.append(f"| {r['name']} | {r['n']} | {r['p50']:.0f} | {r['p95']:.0f} | {r['max']:.0f} | {rps} | {r['errors']} |")
    return lines


def bench_turns(url: str, levels: list[int], conversations: int, think_ms: float) -> list[str]:
    """Time dialogues and the baseline at each concurrency; the Markdown lines of the results."""
    summary, kinds = [], []
    for c in levels:
        per_worker = max(1, conversations if c > 1 else conversations * 3)
        samples, seconds = run_level(url, c, per_worker, dialogue, "shop", think_ms)
        base, base_seconds = run_level(url, c, per_worker, baseline_dialogue, "base", think_ms)
        summary += [row(f"{c} concurrent: shopping turns", samples, seconds),
                    row(f"{c} concurrent: \"hi\" (baseline)", base, base_seconds)]
        by_kind = defaultdict(list)
        for s in samples:
            by_kind[s.kind].append(s)
        kinds += [row(f"{c} concurrent: {kind}", group) for kind, group in sorted(by_kind.items())]
        click.echo("\n".join(table(summary[-2:])[2:]), err=True)
    return table(summary) + ["", "Per kind of turn:", ""] + table(kinds, "kind")


@contextmanager
def state_apart() -> Iterator[Path]:
    """A temporary shopper store and conversations file, so bench carts and chats stay out of var/."""
    folder = Path(tempfile.mkdtemp(prefix="shopbot-bench-"))
    saved = {k: os.environ.get(k) for k in ("SHOPBOT_STORE", "SHOPBOT_TRACKER")}
    os.environ.update(SHOPBOT_STORE=str(folder / "shop.db"), SHOPBOT_TRACKER=str(folder / "conversations.db"))
    try:
        yield folder
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def warm_up(url: str | Sequence[str], conversations: int) -> None:
    """Untimed conversations of every shape (the first loads TensorFlow graphs and the encoder)."""
    run_level(url, 1, 3, dialogue, "warm")
    if conversations > 3:
        run_level(url, 2, conversations // 2, dialogue, "warm2")


# --- profile: where a turn's time goes ---------------------------------------------------------

class ActionProxy:
    """An HTTP proxy in front of the action server that times each /webhook call and keeps its body."""

    def __init__(self, target_port: int) -> None:
        from bot.servers import free_port

        self.target = f"http://127.0.0.1:{target_port}"
        self.port = free_port()
        self.calls: list[tuple[str, float, bytes]] = []  # (action name, ms, request body)
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()
        self._ready.wait(30)

    def _serve(self) -> None:
        from aiohttp import ClientSession, web

        async def forward(request: web.Request) -> web.Response:
            body = await request.read()
            start = time.perf_counter()
            headers = {"Content-Type": "application/json"}
            if "Authorization" in request.headers:                  # the action server's token
                headers["Authorization"] = request.headers["Authorization"]
            async with self.session.request(request.method, self.target + request.path_qs, data=body,
                                            headers=headers) as upstream:
                payload = await upstream.read()
                status = upstream.status
            if request.path == "/webhook":
                name = json.loads(body).get("next_action", "?")
                self.calls.append((name, (time.perf_counter() - start) * 1000, body))
            return web.Response(body=payload, status=status, content_type="application/json")

        async def main() -> None:
            self.session = ClientSession()
            app = web.Application(client_max_size=64 * 2**20)
            app.router.add_route("*", "/{tail:.*}", forward)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", self.port).start()
            self._ready.set()
            await asyncio.Event().wait()

        self._loop.run_until_complete(main())


def timed_posts(url: str, bodies: list[bytes], concurrency: int, headers: dict[str, str] | None = None) -> list[Sample]:
    """POST each body to `url` (with ``headers`` besides the JSON content type) from `concurrency`
    threads; milliseconds per call."""
    samples: list[Sample] = []
    lock, items = threading.Lock(), iter(bodies)

    def worker() -> None:
        while True:
            with lock:
                body = next(items, None)
            if body is None:
                return
            start = time.perf_counter()
            try:
                request = urllib.request.Request(url, data=body,
                                                 headers={"Content-Type": "application/json", **(headers or {})})
                with urllib.request.urlopen(request, timeout=120) as response:
                    ok = response.status == 200
                    response.read()
            except Exception:  # noqa: BLE001
                ok = False
            with lock:
                samples.append(Sample("", (time.perf_counter() - start) * 1000, ok))

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return samples


def bench_profile(levels: list[int], conversations: int, think_ms: float, log_dir: Path) -> list[str]:
    """Servers with a timing proxy: split each concurrency's turn time into NLU and action server."""
    from bot import build
    from bot.servers import endpoints_for, free_port, start_action_server, start_rasa_server, stop
    from bot.settings import secret

    log_dir.mkdir(parents=True, exist_ok=True)
    action_port, rasa_port = free_port(), free_port()
    processes = [start_action_server(action_port, log_dir / "actions.log")]
    try:
        proxy = ActionProxy(action_port)
        endpoints = endpoints_for(proxy.port, log_dir)
        processes.append(start_rasa_server(build.model_path(), rasa_port, endpoints, log_dir / "rasa.log",
                                           enable_api=True))
        url = f"http://127.0.0.1:{rasa_port}/webhooks/rest/webhook"
        parse_url = f"http://127.0.0.1:{rasa_port}/model/parse?token={secret('SHOPBOT_API_TOKEN')}"
        warm_up(url, conversations)
        texts = [text for n in range(24) for kind, text in dialogue(n)]
        rows_ = []
        for c in levels:
            proxy.calls.clear()
            per_worker = max(1, conversations if c > 1 else conversations * 3)
            samples, _ = run_level(url, c, per_worker, dialogue, "prof", think_ms)
            calls = list(proxy.calls)
            nlu = timed_posts(parse_url, [json.dumps({"text": t}).encode() for t in texts], c)
            replay = timed_posts(f"http://127.0.0.1:{action_port}/webhook", [b for _, _, b in calls], c,
                                 headers={"Authorization": f"Bearer {secret('SHOPBOT_ACTION_TOKEN')}"})
            action_ms = [Sample("", ms, True) for _, ms, _ in calls]
            rows_ += [row(f"{c} concurrent: whole turn (through the proxy)", samples),
                      row(f"{c} concurrent: NLU alone (/model/parse)", nlu),
                      row(f"{c} concurrent: action server /webhook inside turns", action_ms),
                      row(f"{c} concurrent: same /webhook calls replayed alone", replay)]
            per_action = defaultdict(list)
            for name, ms, _ in calls:
                per_action[name].append(Sample(name, ms, True))
            rows_ += [row(f"{c} concurrent: {name}", group) for name, group in sorted(per_action.items())]
            click.echo("\n".join(table(rows_[-(4 + len(per_action)):])[2:]), err=True)
        return table(rows_, "part")
    finally:
        for process in reversed(processes):
            stop(process)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--concurrency", default="1,8,32", show_default=True,
              help="Comma-separated numbers of conversations in flight at once.")
@click.option("--conversations", type=click.IntRange(1, 100), default=3, show_default=True,
              help="Conversations each concurrent client runs (x3 when alone), 6-8 turns each.")
@click.option("--think-ms", type=click.FloatRange(0, 60_000), default=0, show_default=True,
              help="Pause between a conversation's reply and its next message (0: back to back).")
@click.option("--profile-at", default="", show_default=True,
              help="Comma-separated concurrencies at which to then split turn time into NLU and action "
                   "server (starts a second pair of servers); empty: no profile.")
@click.option("--url", default=None,
              help="Bench an assistant already running at this REST webhook URL instead of starting one "
                   "(its token: $SHOPBOT_REST_TOKEN or var/secrets).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the results as Markdown to this file.")
def main(concurrency: str, conversations: int, think_ms: float, profile_at: str, url: str | None,
         out: Path | None) -> None:
    """Time REST turns of shopping conversations at several concurrencies, against "hi" turns.

    Example:

        .venv/bin/python bench/rest_latency.py --concurrency 1,8,32 --profile-at 1,8 --out bench/results/rest_latency.md
    """
    levels = [int(c) for c in concurrency.split(",") if c.strip()]
    profile = [int(c) for c in profile_at.split(",") if c.strip()]
    load = load_average()
    started = time.perf_counter()
    pauses = (f"a pause of 0.5-1.5 x {think_ms:.0f} ms (uniform) between a reply and the next message, the "
              "conversations starting at random within one pause" if think_ms
              else "no pause between a reply and the next message")
    lines = [machine_header("REST latency"), "",
             f"`{shlex.join(['bench/rest_latency.py', *sys.argv[1:]])}`: milliseconds per REST turn "
             f"(client send to last reply), {pauses}. "
             f"Load average at start: {load}.", ""]
    with state_apart() as folder:
        if url:
            warm_up(url, conversations)
            results = bench_turns(url, levels, conversations, think_ms)
        else:
            from bot import build
            from bot.servers import Assistant

            with Assistant(build.model_path(), log_dir=folder / "servers") as bot:
                warm_up(bot.rest_url, conversations)
                results = bench_turns(bot.rest_url, levels, conversations, think_ms)
        lines += results
        if profile:
            lines += ["", "## Where the time goes (`--profile-at`)", ""]
            lines += bench_profile(profile, conversations, think_ms, folder / "profile")
    lines += ["", f"Whole command: {time.perf_counter() - started:.0f} s. "
                  f"Load average at the end: {load_average()}."]
    click.echo("\n".join(lines))
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
